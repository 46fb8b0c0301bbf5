"""The host side of the BC66's AT protocol, sans-IO: :class:`Connection`.

As h11 does (STYLE §1): :meth:`Connection.send` turns a command into the bytes to
write and records what answer it awaits; :meth:`Connection.receive_data` takes what
the module wrote; :meth:`Connection.next_event` hands back one typed event
(:mod:`bc66sim.client.events`) at a time, or :data:`NEED_DATA`.  It reads no clock
and does no I/O: timeouts, futures and the port belong to ``aio.py``.

Everything that affects the command state machine lives here, as data
(:data:`TRANSITIONS`, like h11's ``_state.py``)::

    IDLE --send--> AWAITING_ANSWER --final--> IDLE
     |                    +--OK, a trailer due--> AWAITING_TRAILER --trailer--> IDLE
     +--send (data mode)--> AWAITING_PROMPT --final--> IDLE
                                  +--"> "--> DATA_MODE --send_data--> AWAITING_ANSWER

    every state --RDY, escape(), abandon()--> IDLE

A step the table lacks is misuse when the driver takes it (:class:`LocalProtocolError`)
and a :class:`~events.ProtocolViolation` when the module does — except answers
nobody waits for, which are dropped: any in ``IDLE`` (a late answer after
:meth:`abandon`), and a trailer out of turn (one the driver did not wait for).
URCs are routed whatever the state.  The connection also knows which
sockets are in direct push mode (their ``"recv"`` URCs carry data) and which
service runs (``AT+QPING``, ``AT+QNTP``, ``AT+QIDNSGIP``) are going on, and when
each is finished.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field, replace
from typing import TypeVar

from bc66sim.client import events
from bc66sim.client.errors import LocalProtocolError
from bc66sim.client.events import NEED_DATA, Event, NeedData, ProtocolViolation, Service
from bc66sim.client.protocol import (
    Final,
    Garbled,
    Info,
    Pending,
    Prompt,
    ResponseParser,
    Trailer,
    Urc,
    int_fields,
)
from bc66sim.note.errors import Err
from bc66sim.note.limits import (
    MAX_DATA_MODE_HEX,
    MAX_DATA_MODE_TEXT,
    MAX_MQTT_DATA_MODE_MESSAGE,
    MAX_PEM,
)

#: Lines kept for one answer or one service run: far more than any has.
MAX_ANSWERS = 256
CTRL_Z = b"\x1a"
ESC = b"\x1b"


class State(enum.Enum):
    """Where the command in flight is."""

    IDLE = "no command in flight"
    AWAITING_ANSWER = "awaiting the answer"
    AWAITING_PROMPT = "awaiting the '> ' prompt"
    DATA_MODE = "in data mode"
    AWAITING_TRAILER = "awaiting SEND OK, SEND FAIL or CLOSE OK"


class Step(enum.Enum):
    """What moves the state: the driver's calls, and what the module writes."""

    SEND = "send a command"
    SEND_PROMPTING = "send a command that enters data mode"
    SEND_DATA = "send data"
    PROMPT = "the module's prompt"
    FINAL = "a final result code"
    OK_TRAILER_DUE = "OK with a trailer to come"
    TRAILER = "a trailer"
    RESET = "forget the command"


#: The command state machine: (state, step) -> the next state.
TRANSITIONS: dict[tuple[State, Step], State] = {
    (State.IDLE, Step.SEND): State.AWAITING_ANSWER,
    (State.IDLE, Step.SEND_PROMPTING): State.AWAITING_PROMPT,
    (State.AWAITING_ANSWER, Step.FINAL): State.IDLE,
    (State.AWAITING_ANSWER, Step.OK_TRAILER_DUE): State.AWAITING_TRAILER,
    (State.AWAITING_TRAILER, Step.TRAILER): State.IDLE,
    (State.AWAITING_PROMPT, Step.PROMPT): State.DATA_MODE,
    (State.AWAITING_PROMPT, Step.FINAL): State.IDLE,
    (State.DATA_MODE, Step.SEND_DATA): State.AWAITING_ANSWER,
    **{(state, Step.RESET): State.IDLE for state in State},
}


# -- what a command line awaits ------------------------------------------------------

#: Commands whose outcome is a URC: their write form has no information lines.
_ASYNC_WRITES = (
    *("+QIOPEN=", "+QPING=", "+QNTP=", "+QNTTP=", "+QIDNSGIP="),
    *("+QMTOPEN=", "+QMTCLOSE=", "+QMTCONN=", "+QMTDISC="),
    *("+QMTSUB=", "+QMTUNS=", "+QMTPUB="),
)
_PLAIN_ANSWERS = ("ATI", "AT+CGMI", "AT+CGMM", "AT+CGMR", "AT+CIMI", "AT+CGSN")
_NAME = re.compile(r"AT([+$^][A-Z0-9]+)", re.IGNORECASE)
_SEND_TRAILERS = ("SEND OK", "SEND FAIL")
#: Commands answered OK, then a trailer (§2.3.2, §2.3.4, §2.3.6).
_TRAILERS = {"+QICLOSE=": ("CLOSE OK",), "+QISEND=": _SEND_TRAILERS, "+QISENDEX=": _SEND_TRAILERS}
#: Commands that start a service run once answered OK, and the prefix of its URCs
#: (CLARIFICATIONS §21-23; AT+QNTTP answers with its own prefix).
SERVICES = {
    "+QPING=": (Service.PING, "+QPING:"),
    "+QNTP=": (Service.NTP, "+QNTP:"),
    "+QNTTP=": (Service.NTP, "+QNTTP:"),
    "+QIDNSGIP=": (Service.DNS, '+QIURC: "dnsgip"'),
}
#: AT+QISEND=<id>[,<n>]: data mode (n > 0), or the query (n = 0) (§2.3.4).
_DATA_MODE = re.compile(r"AT\+QISEND=(\d+)(?:,(\d+))?", re.IGNORECASE)
#: The commands after whose OK a socket is, or is not, in direct push mode (§2.3.1,
#: §2.3.2, §2.3.7): the connect id and the access mode.
_ACCESS_MODE = (
    re.compile(r'AT\+QIOPEN=\d+,(\d+),"[^"]*","[^"]*",\d+(?:,\d+(?:,(\d+))?)?', re.IGNORECASE),
    re.compile(r"AT\+QISWTMD=(\d+),(\d+)", re.IGNORECASE),
    re.compile(r"AT\+QICLOSE=(\d+)()", re.IGNORECASE),
)
_PUSH = "1"
#: AT+QMTPUB=<id>,<msgID>,<qos>,<retain>,"<topic>" without its message: the message
#: is typed after the prompt, up to Ctrl+Z, in that client's send format (MQTT note).
_MQTT_PUBLISH = re.compile(r'AT\+QMTPUB=(\d+),\d+,\d+,\d+,"[^"]*"', re.IGNORECASE)
#: AT+QSSLCFG=<ctx>,<conn>,"cacert"|"clientcert"|"clientkey": a PEM typed after the prompt.
_PEM_UPLOAD = re.compile(r'AT\+QSSLCFG=\d+,\d+,"(?:CACERT|CLIENTCERT|CLIENTKEY)"', re.IGNORECASE)
#: AT+QMTCFG="dataformat",<id>,<send>,<recv>: after its OK, that client's formats.
_MQTT_FORMAT = re.compile(r'AT\+QMTCFG="DATAFORMAT",(\d+),([01]),([01])', re.IGNORECASE)
T = TypeVar("T")


def pending_for(line: str) -> Pending:
    """What belongs to the answer of ``line`` (so URCs are never taken for it)."""
    upper = line.upper()
    match = _NAME.match(upper)
    if match is None:
        return Pending(line, plain_lines=True)
    name = match.group(1)
    if upper[2:].startswith(_ASYNC_WRITES) and not upper.endswith("=?"):
        return Pending(line)
    return Pending(line, prefix=name + ":", plain_lines=upper.startswith(_PLAIN_ANSWERS))


@dataclass(frozen=True)
class Command:
    """A command line and everything the connection expects of it."""

    line: str
    answer: Pending
    #: The trailers that may follow its OK.
    trailers: tuple[str, ...] = ()
    #: Data mode with a fixed length: the payload's bytes (None: up to Ctrl+Z).
    data_length: int | None = None
    #: Data mode up to Ctrl+Z, not AT+QISEND's: the most bytes (empty is allowed),
    #: and whether they go as hex digits.
    data_limit: int | None = None
    data_hex: bool = False
    #: The service run its OK starts, and the prefix of that run's URCs.
    service: tuple[Service, str] | None = None
    #: After its OK: a connect id and whether that socket is in direct push mode.
    access_mode: tuple[int, bool] | None = None
    #: After its OK: an MQTT client's send and receive formats (hex or not).
    mqtt_format: tuple[int, bool, bool] | None = None


def command_for(line: str, *, mqtt_send_hex: AbstractSet[int] = frozenset()) -> Command:
    """How the connection reads the answer to ``line``; ``mqtt_send_hex``: the MQTT
    clients whose messages are typed as hex digits."""
    upper = line.upper()
    if upper.endswith("=?"):  # the test form: information lines only (note Table 1)
        return Command(line, pending_for(line))
    if upper.startswith(("AT+QMT", "AT+QSSL")):  # the MQTT and SSL notes' commands
        special = _mqtt_or_ssl_command(line, upper, mqtt_send_hex)
        if special is not None:
            return special
    body = upper[2:]
    access_mode = _access_mode(upper)
    data_mode = _DATA_MODE.fullmatch(upper)
    if data_mode is not None and (length := data_mode.group(2)) != "0":
        prompting = Pending(line, prompt=True)
        size = None if length is None else int(length)
        return Command(line, prompting, _SEND_TRAILERS, data_length=size)
    trailers = () if data_mode is not None else _first(_TRAILERS, body) or ()
    service = _first(SERVICES, body)
    return Command(line, pending_for(line), trailers, service=service, access_mode=access_mode)


def _mqtt_or_ssl_command(line: str, upper: str, mqtt_send_hex: AbstractSet[int]) -> Command | None:
    """The data-mode forms of AT+QMTPUB and AT+QSSLCFG, and AT+QMTCFG="dataformat"."""
    if publish := _MQTT_PUBLISH.fullmatch(upper):
        hex_data = int(publish.group(1)) in mqtt_send_hex
        prompting = Pending(line, prompt=True)
        return Command(line, prompting, data_limit=MAX_MQTT_DATA_MODE_MESSAGE, data_hex=hex_data)
    if _PEM_UPLOAD.fullmatch(upper):
        prompting = Pending(line, prefix="+QSSLCFG:", prompt=True)
        return Command(line, prompting, data_limit=MAX_PEM)
    if mqtt_format := _MQTT_FORMAT.fullmatch(upper):
        client, send, recv = (int(group) for group in mqtt_format.groups())
        return Command(line, pending_for(line), mqtt_format=(client, bool(send), bool(recv)))
    return None


def _first(table: dict[str, T], body: str) -> T | None:
    """The value of the first prefix of ``body`` in ``table``."""
    return next((value for prefix, value in table.items() if body.startswith(prefix)), None)


def _put(members: set[int], member: int, present: bool) -> None:
    if present:
        members.add(member)
    else:
        members.discard(member)


def _access_mode(upper: str) -> tuple[int, bool] | None:
    for pattern in _ACCESS_MODE:
        if (match := pattern.fullmatch(upper)) is not None:
            return int(match.group(1)), match.group(2) == _PUSH
    return None


# -- service runs ----------------------------------------------------------------------


def _ping_finished(lines: list[str]) -> bool:
    """The summary (seven fields) or an error alone; ``+QPING: 569`` is one request's
    timeout (§2.3.8, CLARIFICATIONS §21)."""
    last = int_fields(lines[-1])
    return len(last) == 7 or (len(last) == 1 and last[0] != Err.TIMEOUT)


def _dns_finished(lines: list[str]) -> bool:
    """An error, or the header and its ``<IP_count>`` addresses (§2.3.10)."""
    first = int_fields(lines[0])
    return first[0] != Err.OK or len(lines) == 1 + first[1]


#: When a run is finished, given its lines so far (a field that is not there raises).
FINISHED: dict[Service, Callable[[list[str]], bool]] = {
    Service.PING: _ping_finished,
    Service.NTP: lambda lines: True,  # one line (§2.3.9)
    Service.DNS: _dns_finished,
}


@dataclass
class _Run:
    prefix: str
    lines: list[str] = field(default_factory=list)


# -- URCs ------------------------------------------------------------------------------


def _attached(text: str, payload: bytes | None) -> events.Attached:
    return events.Attached(text.split(":", 1)[1].strip(), text=text)


def _registration(text: str, payload: bytes | None) -> events.Registration:
    return events.Registration(int_fields(text)[0], text=text)


def _opened(text: str, payload: bytes | None) -> events.SocketOpened:
    connect_id, err = int_fields(text)[:2]
    return events.SocketOpened(connect_id, err, text=text)


def _recv(text: str, payload: bytes | None) -> events.DataReceived | events.DataWaiting:
    connect_id = int_fields(text)[0]
    if payload is None:
        return events.DataWaiting(connect_id, text=text)
    return events.DataReceived(connect_id, payload, text=text)


def _closed(text: str, payload: bytes | None) -> events.SocketClosed:
    return events.SocketClosed(int_fields(text)[0], text=text)


def _pdp_deactivated(text: str, payload: bytes | None) -> events.PdpDeactivated:
    return events.PdpDeactivated(int_fields(text)[0], text=text)


#: The MQTT URCs of two numbers: ``+QMT<x>: <id>,<result or err_code>``.
_ClientCode = TypeVar(
    "_ClientCode", events.MqttOpened, events.MqttClosed, events.MqttDisconnected, events.MqttStatus
)


def _client_and_code(kind: type[_ClientCode]) -> Callable[[str, bytes | None], _ClientCode]:
    def parse(text: str, payload: bytes | None) -> _ClientCode:
        client, code = int_fields(text)[:2]
        return kind(client, code, text=text)

    return parse


def _mqtt_connected(text: str, payload: bytes | None) -> events.MqttConnected:
    fields = int_fields(text)
    code = fields[2] if len(fields) > 2 else None
    return events.MqttConnected(fields[0], fields[1], code, text=text)


def _mqtt_outcome(text: str, payload: bytes | None) -> events.MqttOutcome:
    report = text[4:7]  # "+QMTSUB:" -> "SUB"
    client, msg_id, result, *values = int_fields(text)
    return events.MqttOutcome(client, report, msg_id, result, tuple(values), text=text)


#: ``+QMTRECV: <id>,<msgID>,"<topic>",[<len>,]"<payload>"``: hex payloads can be told
#: from the topic by their digits; text ones by ``<len>`` when it is shown.
_QMTRECV_HEX = re.compile(r'\+QMTRECV: (\d+),(\d+),"(.*)",(?:(\d+),)?"([0-9A-Fa-f]*)"', re.DOTALL)
_QMTRECV_COUNTED = re.compile(r'\+QMTRECV: (\d+),(\d+),"(.*?)",(\d+),"', re.DOTALL)
_QMTRECV_TEXT = re.compile(r'\+QMTRECV: (\d+),(\d+),"(.*?)","(.*)"', re.DOTALL)


def mqtt_message(text: str, *, recv_hex: bool) -> events.MqttMessage:
    """A ``+QMTRECV`` line (read as latin-1, so a character is a byte); ValueError if
    it is not one."""
    if recv_hex:
        if (match := _QMTRECV_HEX.fullmatch(text)) is None:
            raise ValueError("not a +QMTRECV line with hex data")
        client, msg_id, topic, length, digits = match.groups()
        payload = bytes.fromhex(digits)
        if length is not None and int(length) != len(payload):
            raise ValueError(f"{len(payload)} bytes where {length} were announced")
    elif (
        (counted := _QMTRECV_COUNTED.match(text)) is not None
        and text.endswith('"')
        and len(text) - counted.end() - 1 == int(counted.group(4))
    ):
        client, msg_id, topic, _ = counted.groups()
        payload = text[counted.end() : -1].encode("latin-1")
    elif (match := _QMTRECV_TEXT.fullmatch(text)) is not None:
        client, msg_id, topic, data = match.groups()
        payload = data.encode("latin-1")
    else:
        raise ValueError("not a +QMTRECV line")
    return events.MqttMessage(int(client), int(msg_id), topic, payload, text=text)


#: The MQTT URCs (+QMTRECV needs the client's receive format: Connection reads it).
MQTT_ROUTES: tuple[tuple[str, Callable[[str, bytes | None], Event]], ...] = (
    ("+QMTOPEN:", _client_and_code(events.MqttOpened)),
    ("+QMTCLOSE:", _client_and_code(events.MqttClosed)),
    ("+QMTCONN:", _mqtt_connected),
    ("+QMTDISC:", _client_and_code(events.MqttDisconnected)),
    ("+QMTSUB:", _mqtt_outcome),
    ("+QMTUNS:", _mqtt_outcome),
    ("+QMTPUB:", _mqtt_outcome),
    ("+QMTSTAT:", _client_and_code(events.MqttStatus)),
)


#: URCs by prefix; a field that is not there raises, and is a ProtocolViolation.
ROUTES: tuple[tuple[str, Callable[[str, bytes | None], Event]], ...] = (
    ("+IP:", _attached),
    ("+CEREG:", _registration),
    ("+QIOPEN:", _opened),
    ('+QIURC: "recv"', _recv),
    ('+QIURC: "closed"', _closed),
    ('+QIURC: "pdpdeact"', _pdp_deactivated),
    *MQTT_ROUTES,
)


def _bad_urc(text: str, exc: Exception, service: Service | None = None) -> ProtocolViolation:
    return ProtocolViolation(f"a URC no BC66 sends: {text!r} ({exc})", service)


# -- the connection --------------------------------------------------------------------


class Connection:
    """One host's side of the conversation with one BC66; see the module docstring.

    It assumes the settings the driver makes (echo off, ``showlength`` 1); view
    mode and data formats are given to it.
    """

    def __init__(
        self, *, view_mode: int = 0, recv_hex: bool = False, hex_send: bool = False
    ) -> None:
        self.hex_send = hex_send
        self.state = State.IDLE
        self._parser = ResponseParser(view_mode=view_mode, recv_hex=recv_hex, is_push=self.is_push)
        self._command: Command | None = None
        self._lines: list[Info] = []
        self._push: set[int] = set()
        self._runs: dict[Service, _Run] = {}
        #: The MQTT clients whose messages go, and come, as hex digits.
        self._mqtt_send_hex: set[int] = set()
        self._mqtt_recv_hex: set[int] = set()

    @property
    def view_mode(self) -> int:
        return self._parser.view_mode

    @property
    def recv_hex(self) -> bool:
        return self._parser.recv_hex

    @property
    def command(self) -> str | None:
        """The command in flight."""
        return None if self._command is None else self._command.line

    def is_push(self, connect_id: int) -> bool:
        """Whether the socket is in direct push mode (its ``"recv"`` URCs carry data)."""
        return connect_id in self._push

    def running(self, service: Service) -> bool:
        """Whether a run of ``service`` was accepted and is not finished."""
        return service in self._runs

    # -- what the driver sends -------------------------------------------------------

    def send(self, command: str) -> bytes:
        """The bytes that send ``command``; only while no other is in flight."""
        if "\r" in command or "\n" in command:
            raise LocalProtocolError(f"{command!r}: a command is one line")
        wire = command.encode("latin-1") + b"\r"
        expected = command_for(command, mqtt_send_hex=self._mqtt_send_hex)
        self._move(Step.SEND_PROMPTING if expected.answer.prompt else Step.SEND)
        self._command, self._lines = expected, []
        self._parser.pending = expected.answer
        return wire

    def send_data(self, data: bytes) -> bytes:
        """The bytes that send the payload the module prompted for (in ``DATA_MODE``):
        hex digits in hex send format; Ctrl+Z ends a payload of no fixed length."""
        command = self._command
        if self.state is not State.DATA_MODE or command is None:
            raise LocalProtocolError(f"cannot send data while {self.state.name}")
        wire = self._payload(command, data)
        self._move(Step.SEND_DATA)
        self._parser.pending = replace(command.answer, prompt=False)
        return wire

    def _payload(self, command: Command, data: bytes) -> bytes:
        if command.data_limit is not None:  # AT+QMTPUB's message, a certificate
            if len(data) > command.data_limit:
                raise LocalProtocolError(
                    f"{command.line!r} takes at most {command.data_limit} bytes"
                )
            wire = data.hex().upper().encode() if command.data_hex else bytes(data)
            if CTRL_Z in wire or ESC in wire:
                raise LocalProtocolError("text data up to Ctrl+Z cannot hold Ctrl+Z or Esc")
            return wire + CTRL_Z
        wire = data.hex().upper().encode() if self.hex_send else bytes(data)
        if command.data_length is not None:
            if len(data) != command.data_length:
                raise LocalProtocolError(f"{command.line!r} takes {command.data_length} bytes")
            return wire
        limit = MAX_DATA_MODE_HEX if self.hex_send else MAX_DATA_MODE_TEXT
        if not 0 < len(data) <= limit:  # §2.3.4; ARCHITECTURE decisions 5 and 6
            raise LocalProtocolError(f"{command.line!r} takes 1 to {limit} bytes")
        if CTRL_Z in wire or ESC in wire:  # they end or cancel the data (§2.3.4)
            raise LocalProtocolError("text data up to Ctrl+Z cannot hold Ctrl+Z or Esc")
        return wire + CTRL_Z

    def escape(self) -> bytes:
        """Esc then CR: leaves a data mode and ends a partly sent line, in any state.

        The command in flight is forgotten; the module answers a partial line
        ``ERROR``, which arrives in ``IDLE`` and is dropped.
        """
        self._reset()
        return ESC + b"\r"

    def abandon(self) -> None:
        """The driver stopped waiting for the command in flight (a timeout, a failure it
        raised): forget it.  What still comes of its answer is dropped."""
        self._reset()

    def discard_input(self) -> None:
        """Forget half-read input (a payload counted from a bad header): the next line
        is read afresh."""
        self._parser.reset()

    def _move(self, step: Step) -> None:
        try:
            self.state = TRANSITIONS[self.state, step]
        except KeyError:
            in_flight = f" ({self.command!r} is in flight)" if self._command else ""
            raise LocalProtocolError(
                f"cannot {step.value} while {self.state.name}{in_flight}"
            ) from None

    def _follow(self, step: Step) -> bool:
        """Take a step the module made, if the table allows it."""
        following = TRANSITIONS.get((self.state, step))
        if following is None:
            return False
        self.state = following
        if following is State.IDLE:
            self._command = None
        if following is not State.AWAITING_ANSWER:
            self._parser.pending = None
        return True

    def _reset(self) -> None:
        self._move(Step.RESET)
        self._command, self._lines = None, []
        self._parser.pending = None

    # -- what the module says --------------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        """Take bytes the module wrote; :meth:`next_event` reads them, lazily."""
        self._parser.receive_data(data)

    def next_event(self) -> Event | NeedData:
        """The next event, or :data:`NEED_DATA` until more bytes come."""
        while (raw := self._parser.next_event()) is not None:
            event = self._handle(raw)
            if event is not None:
                return event
        return NEED_DATA

    def _handle(self, raw: Info | Final | Prompt | Trailer | Urc | Garbled) -> Event | None:
        if isinstance(raw, Info):
            if len(self._lines) < MAX_ANSWERS:
                self._lines.append(raw)
            return None
        if isinstance(raw, Final):
            return self._on_final(raw)
        if isinstance(raw, Prompt):  # the parser reads one only in AWAITING_PROMPT
            line = self.command or ""
            self._follow(Step.PROMPT)
            return events.PromptReady(line)
        if isinstance(raw, Trailer):
            return self._on_trailer(raw)
        if isinstance(raw, Garbled):
            return ProtocolViolation(f"the module's answer: {raw.reason}")
        return self._on_urc(raw)

    def _on_final(self, final: Final) -> Event | None:
        command = self._command
        if command is None:
            return None  # an answer nobody waits for: dropped
        trailer_due = final.ok and command.trailers and self.state is State.AWAITING_ANSWER
        if not self._follow(Step.OK_TRAILER_DUE if trailer_due else Step.FINAL):
            return ProtocolViolation(
                f"{command.line!r}: a final result code while {self.state.value}"
            )
        response = events.Response(command.line, tuple(self._lines), final.ok, final.code)
        self._lines = []
        if final.ok:
            self._accepted(command)
        return response

    def _accepted(self, command: Command) -> None:
        """What a command changes once the module took it."""
        if command.service is not None:
            service, prefix = command.service
            self._runs[service] = _Run(prefix)  # an unfinished run of it is over
        if command.access_mode is not None:
            connect_id, push = command.access_mode
            if push:
                self._push.add(connect_id)
            else:
                self._push.discard(connect_id)
        if command.mqtt_format is not None:
            client, send_hex, recv_hex = command.mqtt_format
            _put(self._mqtt_send_hex, client, send_hex)
            _put(self._mqtt_recv_hex, client, recv_hex)

    def _on_trailer(self, trailer: Trailer) -> Event | None:
        command = self._command
        if self.state is not State.AWAITING_TRAILER or command is None:
            return None  # a trailer nobody waits for (the driver did not): dropped
        if trailer.text not in command.trailers:
            return ProtocolViolation(f"{command.line!r}: {trailer.text} after its OK")
        self._follow(Step.TRAILER)
        if trailer.text == "CLOSE OK":
            return events.CloseResult()
        return events.SendResult(sent=trailer.text == "SEND OK")

    def _on_urc(self, urc: Urc) -> Event:
        text = urc.text
        if text == "RDY":
            return self._rebooted(text)
        for service, run in self._runs.items():
            if text.startswith(run.prefix):
                return self._run_line(service, run, text)
        if text.startswith("+QMTRECV:"):
            try:
                return mqtt_message(text, recv_hex=int_fields(text)[0] in self._mqtt_recv_hex)
            except (ValueError, IndexError) as exc:
                return _bad_urc(text, exc)
        for prefix, route in ROUTES:
            if text.startswith(prefix):
                try:
                    return route(text, urc.payload)
                except (ValueError, IndexError) as exc:
                    return _bad_urc(text, exc)
        return events.Urc(text=text)

    def _rebooted(self, text: str) -> events.Rebooted:
        interrupted = self.command
        self._reset()
        self._push.clear()
        self._runs.clear()
        self._mqtt_send_hex.clear()  # the module's MQTT settings are back to defaults
        self._mqtt_recv_hex.clear()
        return events.Rebooted(interrupted, text=text)

    def _run_line(self, service: Service, run: _Run, text: str) -> Event:
        run.lines.append(text)
        try:
            if len(run.lines) > MAX_ANSWERS:
                raise ValueError("more lines than any run has")
            finished = FINISHED[service](run.lines)
        except (ValueError, IndexError) as exc:
            del self._runs[service]
            return _bad_urc(text, exc, service)
        if not finished:
            return events.ServiceProgress(service, text=text)
        del self._runs[service]
        return events.ServiceResult(service, tuple(run.lines), text=text)
