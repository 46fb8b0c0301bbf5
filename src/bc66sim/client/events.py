"""What :meth:`Connection.next_event <bc66sim.client.connection.Connection.next_event>`
hands back: small frozen dataclasses with noun names (STYLE §5, h11's ``_events.py``).

Answers belong to the command in flight (:data:`Answer`).  Every URC the module
writes becomes exactly one :class:`UrcEvent`, whose ``text`` is the line as the
module wrote it (without a pushed payload).  Bad input is an event too
(:class:`ProtocolViolation`), never an exception (STYLE §6).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Final

from bc66sim.client.protocol import Info


class NeedData(enum.Enum):
    """The type of :data:`NEED_DATA`."""

    NEED_DATA = "no event until more bytes come"


#: :meth:`Connection.next_event` returns this when the bytes so far make no event.
NEED_DATA: Final = NeedData.NEED_DATA


class Service(enum.Enum):
    """A network service whose outcome comes as URCs after the command's ``OK``."""

    PING = "AT+QPING (§2.3.8)"
    NTP = "AT+QNTP (§2.3.9)"
    DNS = "AT+QIDNSGIP (§2.3.10)"


# -- answers to the command in flight ----------------------------------------------


@dataclass(frozen=True, slots=True)
class Response:
    """A command's information lines and its final result code."""

    command: str
    lines: tuple[Info, ...]
    ok: bool
    #: The number of ``+CME ERROR: <n>``, when the module gave one.
    code: int | None = None


@dataclass(frozen=True, slots=True)
class PromptReady:
    """The module wrote ``> `` (§2.3.4): it waits for the payload."""

    command: str


@dataclass(frozen=True, slots=True)
class SendResult:
    """``SEND OK`` (``sent``) or ``SEND FAIL`` (the module's buffer is full), after ``OK``."""

    sent: bool


@dataclass(frozen=True, slots=True)
class CloseResult:
    """``CLOSE OK`` after ``AT+QICLOSE``'s ``OK`` (§2.3.2)."""


Answer = Response | PromptReady | SendResult | CloseResult


# -- URCs ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UrcEvent:
    """The base of every URC event: ``text`` is the line the module wrote."""

    text: str = field(kw_only=True)


@dataclass(frozen=True, slots=True)
class Rebooted(UrcEvent):
    """``RDY``: the module started again; its sockets and runs are gone."""

    #: The command in flight, which will get no answer now.
    interrupted: str | None


@dataclass(frozen=True, slots=True)
class Attached(UrcEvent):
    """``+IP: <address>``: the PDN is active."""

    address: str


@dataclass(frozen=True, slots=True)
class Registration(UrcEvent):
    """``+CEREG: <stat>``; anything but registered (1, 5) is a detach."""

    stat: int

    @property
    def registered(self) -> bool:
        return self.stat in (1, 5)


@dataclass(frozen=True, slots=True)
class SocketOpened(UrcEvent):
    """``+QIOPEN: <connectID>,<err>`` (§2.3.1); ``err`` 0 is success."""

    connect_id: int
    err: int


@dataclass(frozen=True, slots=True)
class DataWaiting(UrcEvent):
    """``+QIURC: "recv",<connectID>[,<length>]``: buffer access mode, data to read with
    ``AT+QIRD`` (§2.4.2), or ``+QIURC: "recv",<connectID>,"buff full"`` (§2.4.3)."""

    connect_id: int


@dataclass(frozen=True, slots=True)
class DataReceived(UrcEvent):
    """``+QIURC: "recv",<connectID>,<length>`` with the data: direct push (§2.4.2)."""

    connect_id: int
    data: bytes


@dataclass(frozen=True, slots=True)
class SocketClosed(UrcEvent):
    """``+QIURC: "closed",<connectID>``: the peer or the network closed it (§2.4.1)."""

    connect_id: int


@dataclass(frozen=True, slots=True)
class PdpDeactivated(UrcEvent):
    """``+QIURC: "pdpdeact",<contextID>``: not in the BC66 note, but its sibling
    modules' (BG96) report a lost PDP context so."""

    context_id: int


@dataclass(frozen=True, slots=True)
class ServiceProgress(UrcEvent):
    """A line of a service run that does not finish it (a ping reply)."""

    service: Service


@dataclass(frozen=True, slots=True)
class ServiceResult(UrcEvent):
    """A whole service run, once its last line came (``text`` is that line)."""

    service: Service
    lines: tuple[str, ...]


# -- the module's MQTT clients (BC66 MQTT note; docs/research/mqtt.md) --------------


@dataclass(frozen=True, slots=True)
class MqttUrc(UrcEvent):
    """The base of the MQTT URCs: ``client`` is the ``<TCP_connectID>`` (0-5)."""

    client: int


@dataclass(frozen=True, slots=True)
class MqttOpened(MqttUrc):
    """``+QMTOPEN: <id>,<result>``: 0 opened; -1 and 1-5 say why not."""

    result: int


@dataclass(frozen=True, slots=True)
class MqttClosed(MqttUrc):
    """``+QMTCLOSE: <id>,<result>`` after ``AT+QMTCLOSE``."""

    result: int


@dataclass(frozen=True, slots=True)
class MqttConnected(MqttUrc):
    """``+QMTCONN: <id>,<result>[,<ret_code>]``: result 0 with ``code`` the CONNACK's
    return code (0 accepted), 1 a retransmission, 2 failed."""

    result: int
    code: int | None


@dataclass(frozen=True, slots=True)
class MqttDisconnected(MqttUrc):
    """``+QMTDISC: <id>,<result>`` after ``AT+QMTDISC``."""

    result: int


@dataclass(frozen=True, slots=True)
class MqttOutcome(MqttUrc):
    """``+QMTSUB``, ``+QMTUNS`` or ``+QMTPUB: <id>,<msgID>,<result>[,<value>...]``:
    result 0 done (a SUBACK's granted QoS in ``values``), 1 a retransmission (its
    count in ``values``), 2 failed."""

    report: str  # "SUB", "UNS" or "PUB"
    msg_id: int
    result: int
    values: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class MqttMessage(MqttUrc):
    """``+QMTRECV: <id>,<msgID>,"<topic>",[<len>,]"<payload>"``: a message from the broker."""

    msg_id: int
    topic: str
    payload: bytes


@dataclass(frozen=True, slots=True)
class MqttStatus(MqttUrc):
    """``+QMTSTAT: <id>,<err>``: the connection is gone (1 closed by the peer or the
    network, 2 keep-alive unanswered, ... 5 a normal DISCONNECT)."""

    err: int


@dataclass(frozen=True, slots=True)
class Urc(UrcEvent):
    """Any other URC."""


# -- bad input -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProtocolViolation:
    """Bytes or fields no BC66 writes; the connection skipped past them.

    ``service``: the run the bad line belonged to (that run is over); otherwise
    whatever was in flight cannot be trusted.
    """

    reason: str
    service: Service | None = None


Event = (
    Response
    | PromptReady
    | SendResult
    | CloseResult
    | Rebooted
    | Attached
    | Registration
    | SocketOpened
    | DataWaiting
    | DataReceived
    | SocketClosed
    | PdpDeactivated
    | ServiceProgress
    | ServiceResult
    | MqttOpened
    | MqttClosed
    | MqttConnected
    | MqttDisconnected
    | MqttOutcome
    | MqttMessage
    | MqttStatus
    | Urc
    | ProtocolViolation
)
