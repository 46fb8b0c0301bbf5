"""The driver's exceptions: one family, the module's error code on each (STYLE §7)."""

from __future__ import annotations

from bc66sim.note.errors import CmeError, Err


class BC66Error(Exception):
    """Anything that went wrong talking to a BC66; ``code`` is the module's, if any.

    For TCP/IP commands ``code`` is the note's Chapter 3 ``<err>`` (as
    ``AT+QIGETERROR`` reports it); for others, the ``+CME ERROR`` number.
    """

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message if code is None else f"{message} (error {code}: {meaning(code)})")
        self.code = code


def meaning(code: int) -> str:
    """What a module error code means: the note's Chapter 3 text, or 27.007's."""
    for family in (Err, CmeError):
        try:
            return family(code).description
        except ValueError:
            continue
    return "an error code the BC66 manuals do not list"


class CommandError(BC66Error):
    """The module answered ``ERROR`` (or ``+CME ERROR``) to a command."""


class BC66Timeout(BC66Error, TimeoutError):
    """No answer within the timeout: never an empty result instead."""


class ProtocolError(BC66Error):
    """The module said something no BC66 says (a length beyond its limits, bad hex).

    The call in flight fails with it; the driver resynchronises on the next line
    and the session goes on.
    """


class LocalProtocolError(BC66Error):
    """The driver's own code broke the protocol: a command sent while another is in
    flight, a payload the module did not ask for (h11's ``LocalProtocolError``).

    A bug on this side, never something the module did.
    """


class ConnectionLost(BC66Error):
    """The port itself went away (the emulator died, the USB-UART was unplugged)."""


class ModuleRebooted(BC66Error):
    """The module said ``RDY`` again: every socket it had is gone."""


class NetworkLost(BC66Error):
    """The module detached from the network: its sockets were closed."""


class SocketClosed(BC66Error):
    """The socket is closed (by the peer, the network, or this side)."""


class MqttError(BC66Error):
    """The module's MQTT client reported a failure: ``code`` is the ``<result>`` of
    its URC (``+QMTOPEN``, ``+QMTCONN``, ``+QMTPUB`` ...) or ``+QMTSTAT``'s ``<err_code>``.

    Its message says what the code means (the MQTT note's, not Chapter 3's).
    """

    def __init__(self, message: str, code: int | None = None) -> None:
        Exception.__init__(self, message if code is None else f"{message} (code {code})")
        self.code = code


class MqttRefused(MqttError):
    """The broker answered CONNECT with a refusal: ``code`` is the CONNACK's return code."""
