"""One MQTT client of the module (``<TCP_connectID>`` 0-5): its connection and session.

The AT side (module/mqtt/commands.py) asks; the client does it on the real network
and reports the outcome as the note's URCs.  Its life is one transition table, as
a socket's is: every change of phase goes through :meth:`MqttClient._move`.

- ``AT+QMTOPEN`` opens the network connection (TLS on it with ``"ssl"``):
  CLOSED -> OPENING -> OPENED, ``+QMTOPEN: <id>,<result>``.
- ``AT+QMTCONN`` sends CONNECT: OPENED -> CONNECTING -> CONNECTED on CONNACK 0.
- ``AT+QMTDISC`` sends DISCONNECT and closes: -> DISCONNECTING -> CLOSED.
- ``AT+QMTCLOSE`` closes the network connection from any phase.
- The broker's close, a lapsed keep-alive or the network's loss close it as well,
  reported by ``+QMTSTAT: <id>,<err>``.

Every packet that expects an answer (CONNECT, SUBSCRIBE, UNSUBSCRIBE, PUBLISH with
QoS 1 or 2, PUBREL) waits ``<pkt_timeout>`` seconds of module time and is sent again
(PUBLISH with DUP set) up to ``<retry_times>`` times; with ``<timeout_notice>`` 1 each
resend is reported (result 1 and the count), and when the tries are spent the
command's URC says 2 (failed).  Incoming QoS 2 messages are reported once: a
repeated PUBLISH with a packet ID still waiting for its PUBREL is acknowledged again
but not shown again (MQTT 3.1.1 §4.3.3, method B).
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bc66sim.clock import TimerHandle
from bc66sim.module.mqtt import codec
from bc66sim.module.mqtt.reception import Reception
from bc66sim.module.mqtt.tls import TlsError, TlsFlow
from bc66sim.net.base import Family, Flow, NetError, Transport

if TYPE_CHECKING:
    from bc66sim.module.modem import Modem
    from bc66sim.module.mqtt.service import MqttService

log = logging.getLogger(__name__)


class Phase(enum.Enum):
    CLOSED = "closed"
    OPENING = "opening"
    OPENED = "opened"  # network connection up, no MQTT session
    CONNECTING = "connecting"  # CONNECT sent
    CONNECTED = "connected"
    DISCONNECTING = "disconnecting"  # DISCONNECT sent


class Event(enum.Enum):
    OPEN = "open"
    OPENED = "opened"
    CONNECT = "connect"
    ACCEPTED = "accepted"
    REFUSED = "refused"  # CONNACK with a refusal code, or the CONNECT given up
    DISCONNECT = "disconnect"
    CLOSE = "close"  # by the host, the broker, the keep-alive or the network


#: (phase, event) -> the next phase; anything else is a bug, never a silent change.
TRANSITIONS: dict[tuple[Phase, Event], Phase] = {
    (Phase.CLOSED, Event.OPEN): Phase.OPENING,
    (Phase.OPENING, Event.OPENED): Phase.OPENED,
    (Phase.OPENED, Event.CONNECT): Phase.CONNECTING,
    (Phase.CONNECTING, Event.ACCEPTED): Phase.CONNECTED,
    (Phase.CONNECTING, Event.REFUSED): Phase.OPENED,
    (Phase.CONNECTED, Event.DISCONNECT): Phase.DISCONNECTING,
    **{(phase, Event.CLOSE): Phase.CLOSED for phase in Phase},
}

#: ``+QMTCONN: <id>,<state>`` of ``AT+QMTCONN?``: 1 initializing, 2 connecting,
#: 3 connected, 4 disconnecting.
CONN_STATE = {Phase.OPENED: 1, Phase.CONNECTING: 2, Phase.CONNECTED: 3, Phase.DISCONNECTING: 4}


class OpenResult(enum.IntEnum):
    """``<result>`` of ``+QMTOPEN``."""

    FAILED = -1  # the network connection could not be opened
    OK = 0
    WRONG_PARAMETER = 1
    IDENTIFIER_OCCUPIED = 2
    PDP_FAILED = 3
    DNS_FAILED = 4
    NETWORK_DISCONNECTED = 5


class Stat(enum.IntEnum):
    """``<err_code>`` of ``+QMTSTAT``: why a connection ended without being asked to."""

    CLOSED_BY_PEER = 1  # the broker closed or reset it (or the network broke it)
    PING_TIMEOUT = 2  # no PINGRESP: the keep-alive lapsed
    CONNECT_TIMEOUT = 3  # CONNECT sent, no CONNACK after every try
    CONNACK_REFUSED = 4  # unused: a refusal is shown by +QMTCONN
    DISCONNECTED = 5  # DISCONNECT sent and the connection closed (normal)
    SEND_FAILED = 6  # a packet was sent every time and never acknowledged
    LINK_DOWN = 7  # the network is gone (detach, out of service)


class Result(enum.IntEnum):
    """``<result>`` of ``+QMTCONN``/``+QMTSUB``/``+QMTUNS``/``+QMTPUB``."""

    OK = 0  # sent and acknowledged
    RETRANSMITTED = 1  # sent again (reported with <timeout_notice> 1)
    FAILED = 2  # given up


@dataclass
class Will:
    flag: int = 0
    qos: int = 0
    retain: int = 0
    topic: str = ""
    message: str = ""


@dataclass
class ClientConfig:
    """``AT+QMTCFG`` for one client: what the next ``AT+QMTOPEN``/``AT+QMTCONN`` uses."""

    version: int = 1  # 0: MQTT 3.1, 1: MQTT 3.1.1
    keepalive: int = 120
    clean_session: int = 1
    pkt_timeout: int = 10
    retry_times: int = 3
    timeout_notice: int = 0
    will: Will = field(default_factory=Will)
    send_hex: int = 0
    recv_hex: int = 0
    echomode: int = 1
    show_recv_length: int = 0
    ssl: int = 0
    ssl_context: int = 0
    ssl_connect_id: int = 0
    aliauth: tuple[str, str, str] | None = None


@dataclass
class _Pending:
    """A packet waiting for its answer: resent on timeout, reported when answered."""

    report: str  # "CONN", "SUB", "UNS" or "PUB": the URC that tells the outcome
    mid: int
    packet: bytes
    tries: int = 0
    timer: TimerHandle | None = None
    #: QoS 2 publish: PUBREC came, PUBREL is what is resent now.
    released: bool = False


class InvalidTransition(Exception):
    """An event the client's phase does not expect: a bug in the module."""


class MqttClient:
    """One ``<TCP_connectID>``; see the module docstring."""

    def __init__(self, service: MqttService, client_id: int) -> None:
        self._service = service
        self._modem: Modem = service.modem
        self.id = client_id
        self.config = ClientConfig()
        self.phase = Phase.CLOSED
        self.host = ""
        self.port = 0
        self._wire: Flow | TlsFlow | None = None
        #: The connection's downlink and reading pause (None while closed).
        self.reception: Reception | None = None
        self._decoder = codec.Decoder()
        self._pending: dict[tuple[str, int], _Pending] = {}
        #: QoS 2 messages shown to the host whose PUBREL has not come yet.
        self._awaiting_release: set[int] = set()
        self._keepalive_timer: TimerHandle | None = None
        self._ping_timer: TimerHandle | None = None
        #: Bumps at every close: late callbacks of an old connection are ignored.
        self._generation = 0
        #: Module time of the last packet sent: the keep-alive counts from it.
        self._last_sent = 0.0

    def _move(self, event: Event) -> None:
        try:
            self.phase = TRANSITIONS[self.phase, event]
        except KeyError:
            raise InvalidTransition(
                f"MQTT client {self.id}: {event.value} while {self.phase.value}"
            ) from None

    # -- AT+QMTOPEN / AT+QMTCLOSE ----------------------------------------------------

    def open(self, host: str, port: int) -> None:
        """Open the network connection; ``+QMTOPEN`` tells the outcome."""
        if self.phase is not Phase.CLOSED:
            self._urc(f"+QMTOPEN: {self.id},{int(OpenResult.IDENTIFIER_OCCUPIED)}")
            return
        if not self._modem.radio.attached:
            self._urc(f"+QMTOPEN: {self.id},{int(OpenResult.PDP_FAILED)}")
            return
        self._move(Event.OPEN)
        self.host, self.port = host, port
        self._modem.power.uplink()  # the handshake
        self._modem.spawn(self._open(self._generation))

    async def _open(self, generation: int) -> None:
        try:
            address = await self._modem.dns.address_of(self.host, Family.IPV4, self.port)
        except NetError as exc:
            log.info("MQTT client %d: lookup of %s failed: %s", self.id, self.host, exc)
            self._open_failed(generation, OpenResult.DNS_FAILED)
            return
        listener = self.reception = Reception(self._modem, self, f"MQTT client {self.id}")
        try:
            flow = await self._modem.network.open_flow(
                Transport.TCP, address, self.port, local_port=0, family=Family.IPV4,
                listener=listener, timeout=self._modem.config.open_timeout,
            )  # fmt: skip
        except NetError as exc:
            log.info("MQTT client %d: connection to %s:%d failed: %s", self.id, address,
                     self.port, exc)  # fmt: skip
            self._open_failed(generation, OpenResult.FAILED)
            return
        if generation != self._generation or self.phase is not Phase.OPENING:
            flow.close()  # closed (AT+QMTCLOSE, the network lost) while opening
            return
        if self.config.ssl:
            pair = (self.config.ssl_context, self.config.ssl_connect_id)
            try:
                context = self._service.ssl.context(*pair)
                tls = TlsFlow(flow, context, self.host, self._modem.power.uplink)
                self._wire = listener.wire = listener.tls = tls
                await tls.handshake(self._modem.clock, self._service.ssl.get(*pair).timeout)
            except TlsError as exc:
                log.info("MQTT client %d: TLS with %s failed: %s", self.id, self.host, exc)
                if generation == self._generation:
                    flow.close()
                    self._wire = None
                    self._open_failed(generation, OpenResult.FAILED)
                return
            if generation != self._generation:
                return
        else:
            self._wire = listener.wire = flow
        log.info("MQTT client %d: connected to %s:%d (%s)%s", self.id, self.host, self.port,
                 address, " over TLS" if self.config.ssl else "")  # fmt: skip
        self._move(Event.OPENED)
        self._urc(f"+QMTOPEN: {self.id},{int(OpenResult.OK)}")
        listener.release()

    def _open_failed(self, generation: int, result: OpenResult) -> None:
        if generation != self._generation or self.phase is not Phase.OPENING:
            return
        self._move(Event.CLOSE)
        self._urc(f"+QMTOPEN: {self.id},{int(result)}")

    def close(self) -> None:
        """``AT+QMTCLOSE``: the network connection goes, whatever the phase."""
        if self.phase is Phase.CLOSED:
            self._urc(f"+QMTCLOSE: {self.id},-1")
            return
        self._teardown()
        self._move(Event.CLOSE)
        self._urc(f"+QMTCLOSE: {self.id},0")

    # -- AT+QMTCONN / AT+QMTDISC -----------------------------------------------------

    def connect(self, client_id: str, username: str | None, password: str | None) -> None:
        config = self.config
        will = None
        if config.will.flag:
            will = codec.Will(config.will.topic, config.will.message.encode("latin-1"),
                              config.will.qos, bool(config.will.retain))  # fmt: skip
        packet = codec.connect(
            client_id, version=config.version, keepalive=config.keepalive,
            clean_session=bool(config.clean_session), will=will, username=username,
            password=password,
        )  # fmt: skip
        self._move(Event.CONNECT)
        self._send_expecting("CONN", 0, packet)

    def disconnect(self) -> None:
        """``AT+QMTDISC``: DISCONNECT, then the connection closes (``+QMTDISC: <id>,0``)."""
        if self.phase is not Phase.CONNECTED:
            self._urc(f"+QMTDISC: {self.id},-1")
            return
        self._move(Event.DISCONNECT)
        self._send(codec.disconnect())
        self._teardown()
        self._move(Event.CLOSE)
        self._urc(f"+QMTDISC: {self.id},0")

    # -- AT+QMTSUB / AT+QMTUNS / AT+QMTPUB -------------------------------------------

    def in_flight(self, report: str, mid: int) -> bool:
        return (report, mid) in self._pending

    @property
    def pending_count(self) -> int:
        return len(self._pending)

    def subscribe(self, mid: int, topics: list[tuple[str, int]]) -> None:
        self._send_expecting("SUB", mid, codec.subscribe(mid, topics))

    def unsubscribe(self, mid: int, topics: list[str]) -> None:
        self._send_expecting("UNS", mid, codec.unsubscribe(mid, topics))

    def publish(self, mid: int, qos: int, retain: bool, topic: str, payload: bytes) -> None:
        packet = codec.publish(topic, payload, qos=qos, retain=retain, mid=mid)
        if qos == 0:
            self._send(packet)
            self._report("PUB", mid, Result.OK)
            return
        self._send_expecting("PUB", mid, packet)

    # -- sending and retransmission --------------------------------------------------

    def _send(self, packet: bytes) -> None:
        if self._wire is None:
            return
        if isinstance(self._wire, Flow):
            self._modem.power.uplink(len(packet))  # TLS counts its records itself
        self._wire.send(packet)
        self._last_sent = self._modem.clock.now()
        if self._keepalive_timer is None:
            self._arm_keepalive()

    def _send_expecting(self, report: str, mid: int, packet: bytes) -> None:
        pending = _Pending(report, mid, packet)
        self._pending[report, mid] = pending
        self._send(packet)
        self._arm_retry(pending)

    def _arm_retry(self, pending: _Pending) -> None:
        generation = self._generation
        pending.timer = self._modem.clock.call_later(
            self.config.pkt_timeout, lambda: self._retry(pending, generation)
        )

    def _retry(self, pending: _Pending, generation: int) -> None:
        if (
            generation != self._generation
            or self._pending.get((pending.report, pending.mid)) is not pending
        ):
            return
        if pending.tries >= self.config.retry_times:
            del self._pending[pending.report, pending.mid]
            log.info("MQTT client %d: %s %d unanswered after %d tries", self.id,
                     pending.report, pending.mid, pending.tries + 1)  # fmt: skip
            if pending.report == "CONN":
                self._move(Event.REFUSED)
            self._report(pending.report, pending.mid, Result.FAILED)
            return
        pending.tries += 1
        packet = pending.packet
        if pending.report == "PUB" and not pending.released:
            packet = bytes([packet[0] | 0x08]) + packet[1:]  # DUP (MQTT 3.1.1 §3.3.1.1)
        self._send(packet)
        if self.config.timeout_notice:
            count = () if pending.report == "CONN" else (pending.tries,)
            self._report(pending.report, pending.mid, Result.RETRANSMITTED, *count)
        self._arm_retry(pending)

    def _report(self, report: str, mid: int, result: Result, *values: int) -> None:
        """The outcome URC: ``+QMTCONN: <id>,<result>[,...]`` or
        ``+QMT<report>: <id>,<msgID>,<result>[,...]``."""
        head = f"+QMTCONN: {self.id}" if report == "CONN" else f"+QMT{report}: {self.id},{mid}"
        self._urc(",".join([head, str(int(result)), *map(str, values)]))

    def _answered(self, report: str, mid: int) -> _Pending | None:
        pending = self._pending.pop((report, mid), None)
        if pending is not None and pending.timer is not None:
            pending.timer.cancel()
        return pending

    # -- keep-alive (MQTT 3.1.1 §3.1.2.10) -------------------------------------------

    def _arm_keepalive(self) -> None:
        """A PINGREQ goes out when nothing else was sent for ``keepalive`` seconds.

        The deadline moves with every packet sent; one timer, re-armed when it fires
        early, checks it (not a timer cancelled and armed again per packet).
        """
        if self.phase not in (Phase.CONNECTING, Phase.CONNECTED) or not self.config.keepalive:
            return
        if self._keepalive_timer is not None:
            return
        due = self._last_sent + self.config.keepalive - self._modem.clock.now()
        generation = self._generation
        self._keepalive_timer = self._modem.clock.call_later(
            max(due, 0.0), lambda: self._keepalive_due(generation)
        )

    def _keepalive_due(self, generation: int) -> None:
        if generation != self._generation:
            return
        self._keepalive_timer = None
        if self.phase is not Phase.CONNECTED:
            return  # the CONNACK re-arms it
        if self._modem.clock.now() - self._last_sent < self.config.keepalive:
            self._arm_keepalive()  # something was sent since
            return
        self._send(codec.pingreq())
        if self._ping_timer is None:
            self._ping_timer = self._modem.clock.call_later(
                self.config.pkt_timeout, lambda: self._ping_lapsed(generation)
            )

    def _ping_lapsed(self, generation: int) -> None:
        self._ping_timer = None
        if generation == self._generation and self.phase is not Phase.CLOSED:
            log.info("MQTT client %d: no PINGRESP in %d s", self.id, self.config.pkt_timeout)
            self.lost(Stat.PING_TIMEOUT)

    # -- what the broker sends -------------------------------------------------------

    def on_data(self, data: bytes) -> None:
        wire = self._wire
        if wire is None:
            return
        plain = wire.decrypt(data) if not isinstance(wire, Flow) else data
        if plain is None:  # TLS broke
            self.lost(Stat.CLOSED_BY_PEER)
            return
        try:
            packets = self._decoder.feed(plain)
        except codec.MalformedPacket as exc:
            log.warning("MQTT client %d: %s; the connection is closed", self.id, exc)
            wire.abort()
            self.lost(Stat.CLOSED_BY_PEER)
            return
        generation = self._generation
        for packet in packets:
            if generation != self._generation:
                return  # a packet closed the connection: the rest is for nobody
            self._handle(packet)
        if isinstance(wire, TlsFlow) and wire.ended and generation == self._generation:
            self.lost(Stat.CLOSED_BY_PEER)  # the broker's close_notify

    def _handle(self, packet: codec.Incoming) -> None:
        if isinstance(packet, codec.ConnAck):
            if self._answered("CONN", 0) is None or self.phase is not Phase.CONNECTING:
                return
            self._move(Event.ACCEPTED if packet.code == 0 else Event.REFUSED)
            self._report("CONN", 0, Result.OK, packet.code)
            self._arm_keepalive()
        elif isinstance(packet, codec.SubAck):
            if self._answered("SUB", packet.mid) is not None:
                self._report("SUB", packet.mid, Result.OK, *packet.codes)
        elif isinstance(packet, codec.UnsubAck):
            if self._answered("UNS", packet.mid) is not None:
                self._report("UNS", packet.mid, Result.OK)
        elif isinstance(packet, codec.PingResp):
            if self._ping_timer is not None:
                self._ping_timer.cancel()
                self._ping_timer = None
        elif isinstance(packet, codec.Publish):
            self._received(packet)
        else:
            self._acked(packet)

    def _acked(self, packet: codec.Ack) -> None:
        if packet.kind == codec.PUBACK:
            if self._answered("PUB", packet.mid) is not None:
                self._report("PUB", packet.mid, Result.OK)
        elif packet.kind == codec.PUBREC:
            pending = self._pending.get(("PUB", packet.mid))
            if pending is not None:  # QoS 2, step 2: release it (again, if PUBREC repeats)
                if pending.timer is not None:
                    pending.timer.cancel()
                pending.released, pending.tries = True, 0
                pending.packet = codec.ack(codec.PUBREL, packet.mid)
                self._send(pending.packet)
                self._arm_retry(pending)
        elif packet.kind == codec.PUBCOMP:
            pending = self._pending.get(("PUB", packet.mid))
            if pending is not None and pending.released:
                self._answered("PUB", packet.mid)
                self._report("PUB", packet.mid, Result.OK)
        elif packet.kind == codec.PUBREL:
            self._awaiting_release.discard(packet.mid)
            self._send(codec.ack(codec.PUBCOMP, packet.mid))

    def _received(self, packet: codec.Publish) -> None:
        mid = packet.mid or 0
        if packet.qos == 2:
            self._send(codec.ack(codec.PUBREC, mid))
            if mid in self._awaiting_release:
                return  # shown already; the broker did not hear the PUBREC
            self._awaiting_release.add(mid)
        elif packet.qos == 1:
            self._send(codec.ack(codec.PUBACK, mid))
        self._service.show_message(self, mid, packet.topic, packet.payload)

    # -- the end of a connection -----------------------------------------------------

    def on_closed(self) -> None:
        """The broker closed the connection (or the network broke it)."""
        if self.phase is not Phase.CLOSED:
            log.info("MQTT client %d: the broker closed the connection", self.id)
            self.lost(Stat.CLOSED_BY_PEER)

    def lost(self, why: Stat) -> None:
        """The connection ended without the host asking: ``+QMTSTAT: <id>,<err>``."""
        opening = self.phase is Phase.OPENING
        self._teardown()
        self._move(Event.CLOSE)
        if opening:
            self._urc(f"+QMTOPEN: {self.id},{int(OpenResult.NETWORK_DISCONNECTED)}")
        else:
            self._urc(f"+QMTSTAT: {self.id},{int(why)}")

    def shut(self) -> None:
        """Reboot or power-down: the connection goes, and nothing is said."""
        self._teardown()
        self.phase = Phase.CLOSED
        self.config = ClientConfig()

    def _teardown(self) -> None:
        self._generation += 1
        if self._wire is not None:
            self._wire.close()
            self._wire = None
        if self.reception is not None:
            self.reception.detach()
            self.reception = None
        for pending in self._pending.values():
            if pending.timer is not None:
                pending.timer.cancel()
        self._pending.clear()
        self._awaiting_release.clear()
        for timer in (self._keepalive_timer, self._ping_timer):
            if timer is not None:
                timer.cancel()
        self._keepalive_timer = self._ping_timer = None
        self._decoder = codec.Decoder()
        self._service.connection_gone()

    def _urc(self, text: str) -> None:
        self._service.urc(text)
