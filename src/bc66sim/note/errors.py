"""Error codes: note Chapter 3 (TCP/IP) and 3GPP TS 27.007 §9.2 (+CME ERROR).

Part of the note's vocabulary (``bc66sim.note``): the module, the network layer
and the driver all speak it, and it imports nothing of theirs.
"""

from __future__ import annotations

import enum


class Err(enum.IntEnum):
    """The ``<err>`` codes of note Chapter 3, Table 2."""

    OK = 0
    UNKNOWN = 550
    BLOCKED = 551
    INVALID_PARAMETERS = 552
    MEMORY_NOT_ENOUGH = 553
    CREATE_SOCKET_FAILED = 554
    NOT_SUPPORTED = 555
    SOCKET_BIND_FAILED = 556
    SOCKET_LISTEN_FAILED = 557
    SOCKET_WRITE_FAILED = 558
    SOCKET_READ_FAILED = 559
    SOCKET_ACCEPT_FAILED = 560
    OPEN_PDP_FAILED = 561
    CLOSE_PDP_FAILED = 562
    SOCKET_ID_USED = 563
    DNS_BUSY = 564
    DNS_PARSE_FAILED = 565
    SOCKET_CONNECT_FAILED = 566
    SOCKET_CLOSED = 567
    OPERATION_BUSY = 568
    TIMEOUT = 569
    PDP_BROKEN = 570
    CANCEL_SEND = 571
    NOT_ALLOWED = 572
    APN_NOT_CONFIGURED = 573
    PORT_BUSY = 574

    @property
    def description(self) -> str:
        """Table 2's text in lower case, as ``AT+QIGETERROR`` shows it (CLARIFICATIONS §6)."""
        return _DESCRIPTIONS[self]


_DESCRIPTIONS = {
    Err.OK: "operation successful",
    Err.UNKNOWN: "unknown error",
    Err.BLOCKED: "operation blocked",
    Err.INVALID_PARAMETERS: "invalid parameters",
    Err.MEMORY_NOT_ENOUGH: "memory not enough",
    Err.CREATE_SOCKET_FAILED: "create socket failed",
    Err.NOT_SUPPORTED: "operation not supported",
    Err.SOCKET_BIND_FAILED: "socket bind failed",
    Err.SOCKET_LISTEN_FAILED: "socket listen failed",
    Err.SOCKET_WRITE_FAILED: "socket write failed",
    Err.SOCKET_READ_FAILED: "socket read failed",
    Err.SOCKET_ACCEPT_FAILED: "socket accept failed",
    Err.OPEN_PDP_FAILED: "open pdp context failed",
    Err.CLOSE_PDP_FAILED: "close pdp context failed",
    Err.SOCKET_ID_USED: "socket identity has been used",
    Err.DNS_BUSY: "dns busy",
    Err.DNS_PARSE_FAILED: "dns parse failed",
    Err.SOCKET_CONNECT_FAILED: "socket connection failed",
    Err.SOCKET_CLOSED: "socket has been closed",
    Err.OPERATION_BUSY: "operation busy",
    Err.TIMEOUT: "operation timeout",
    Err.PDP_BROKEN: "pdp context broken down",
    Err.CANCEL_SEND: "cancel send",
    Err.NOT_ALLOWED: "operation not allowed",
    Err.APN_NOT_CONFIGURED: "apn not configured",
    Err.PORT_BUSY: "port busy",
}


class CmeError(enum.IntEnum):
    """The 3GPP TS 27.007 §9.2 codes the general (non-TCP/IP) commands use."""

    PHONE_FAILURE = 0
    NOT_ALLOWED = 3
    NOT_SUPPORTED = 4
    SIM_NOT_INSERTED = 10
    SIM_FAILURE = 13
    NO_NETWORK_SERVICE = 30
    INCORRECT_PARAMETERS = 50
    UNKNOWN = 100

    @property
    def description(self) -> str:
        return _CME_DESCRIPTIONS[self]


_CME_DESCRIPTIONS = {
    CmeError.PHONE_FAILURE: "phone failure",
    CmeError.NOT_ALLOWED: "operation not allowed",
    CmeError.NOT_SUPPORTED: "operation not supported",
    CmeError.SIM_NOT_INSERTED: "SIM not inserted",
    CmeError.SIM_FAILURE: "SIM failure",
    CmeError.NO_NETWORK_SERVICE: "no network service",
    CmeError.INCORRECT_PARAMETERS: "incorrect parameters",
    CmeError.UNKNOWN: "unknown",
}
