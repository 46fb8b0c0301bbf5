"""MQTT 3.1 / 3.1.1 packets on the wire, through amqtt's packet classes.

The protocol state (which packet when, retransmission, the AT side) is ours
(``client.py``); the bytes of each packet are amqtt's, a codec its broker and client
use against every other MQTT implementation.  Why amqtt: docs/ARCHITECTURE.md.

amqtt decodes from an asynchronous reader.  Here every packet is framed first (the
fixed header says its length), so its decoder reads from a buffer that holds the
whole packet and never waits: :func:`_finish` runs it to its end in one step.
This module's types are the only ones the rest of the code sees.
"""

from __future__ import annotations

from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

from amqtt.adapters import ReaderAdapter
from amqtt.errors import AMQTTError
from amqtt.mqtt import (
    ConnectPacket,
    DisconnectPacket,
    PingReqPacket,
    PubackPacket,
    PubcompPacket,
    PublishPacket,
    PubrecPacket,
    PubrelPacket,
    SubscribePacket,
    UnsubscribePacket,
    packet_class,
)
from amqtt.mqtt.connect import ConnectPayload, ConnectVariableHeader
from amqtt.mqtt.packet import MQTTFixedHeader

#: The protocol name and level of the CONNECT packet per ``AT+QMTCFG="version"``:
#: 0 is MQTT 3.1 ("MQIsdp", level 3), 1 is MQTT 3.1.1 ("MQTT", level 4).
PROTOCOL = {0: ("MQIsdp", 3), 1: ("MQTT", 4)}

# Packet types (MQTT 3.1.1 §2.2.1).
CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP = 2, 3, 4, 5, 6, 7
SUBACK, UNSUBACK, PINGRESP = 9, 11, 13

#: The largest packet the module takes from a broker (its fixed header included).
#: A broker that sends more breaks the connection's framing budget: the module
#: drops the connection rather than grow a buffer without bound.
MAX_INCOMING_PACKET = 64 * 1024


class MalformedPacket(Exception):
    """The broker sent bytes that are not an MQTT packet a client may receive."""


@dataclass(frozen=True)
class Will:
    topic: str
    message: bytes
    qos: int
    retain: bool


# -- what a broker sends -------------------------------------------------------------


@dataclass(frozen=True)
class ConnAck:
    session_present: bool
    code: int  # 0 accepted, 1-5 refused (MQTT 3.1.1 §3.2.2.3)


@dataclass(frozen=True)
class SubAck:
    mid: int
    codes: tuple[int, ...]  # granted QoS per topic, 0x80 refused


@dataclass(frozen=True)
class UnsubAck:
    mid: int


@dataclass(frozen=True)
class Publish:
    topic: str
    payload: bytes
    qos: int
    retain: bool
    dup: bool
    mid: int | None  # None for QoS 0


@dataclass(frozen=True)
class Ack:
    """PUBACK, PUBREC, PUBREL or PUBCOMP (``kind`` is the packet type)."""

    kind: int
    mid: int


@dataclass(frozen=True)
class PingResp:
    pass


Incoming = ConnAck | SubAck | UnsubAck | Publish | Ack | PingResp


# -- what the module sends -------------------------------------------------------------


def connect(
    client_id: str,
    *,
    version: int,
    keepalive: int,
    clean_session: bool,
    will: Will | None = None,
    username: str | None = None,
    password: str | None = None,
) -> bytes:
    name, level = PROTOCOL[version]
    header = ConnectVariableHeader(keep_alive=keepalive, proto_name=name, proto_level=level)
    header.clean_session_flag = clean_session
    payload = ConnectPayload(client_id=client_id)
    if will is not None:
        header.will_flag = True
        header.will_qos = will.qos
        header.will_retain_flag = will.retain
        payload.will_topic = will.topic
        payload.will_message = will.message
    if username is not None:
        header.username_flag = True
        payload.username = username
        if password is not None:
            header.password_flag = True
            payload.password = password
    return bytes(ConnectPacket(variable_header=header, payload=payload).to_bytes())


def publish(
    topic: str, payload: bytes, *, qos: int, retain: bool, mid: int | None, dup: bool = False
) -> bytes:
    packet = PublishPacket.build(topic, payload, mid if qos else None, dup, qos, retain)
    return bytes(packet.to_bytes())


def subscribe(mid: int, topics: Sequence[tuple[str, int]]) -> bytes:
    return bytes(SubscribePacket.build(list(topics), mid).to_bytes())


def unsubscribe(mid: int, topics: Sequence[str]) -> bytes:
    return bytes(UnsubscribePacket.build(list(topics), mid).to_bytes())


_ACKS: dict[int, Any] = {
    PUBACK: PubackPacket,
    PUBREC: PubrecPacket,
    PUBREL: PubrelPacket,
    PUBCOMP: PubcompPacket,
}


def ack(kind: int, mid: int) -> bytes:
    return bytes(_ACKS[kind].build(mid).to_bytes())


def pingreq() -> bytes:
    return bytes(PingReqPacket().to_bytes())


def disconnect() -> bytes:
    return bytes(DisconnectPacket().to_bytes())


# -- framing and decoding ----------------------------------------------------------------


class Decoder:
    """Bytes from the broker in, whole packets out (bounded: MAX_INCOMING_PACKET)."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[Incoming]:
        """The packets ``data`` completes; raises :class:`MalformedPacket`."""
        self._buffer += data
        packets = []
        while (size := self._next_size()) is not None:
            frame = bytes(self._buffer[:size])
            del self._buffer[:size]
            packets.append(decode(frame))
        return packets

    def _next_size(self) -> int | None:
        """The size of the first packet if the buffer holds all of it."""
        length, multiplier = 0, 1
        for index in range(1, 5):  # the remaining length: 1-4 bytes (§2.2.3)
            if index >= len(self._buffer):
                return None
            byte = self._buffer[index]
            length += (byte & 0x7F) * multiplier
            if not byte & 0x80:
                size = 1 + index + length
                if size > MAX_INCOMING_PACKET:
                    raise MalformedPacket(
                        f"a packet of {size} bytes is larger than the module takes"
                    )
                return size if len(self._buffer) >= size else None
            multiplier *= 128
        raise MalformedPacket("the remaining length takes more than 4 bytes")


def decode(frame: bytes) -> Incoming:
    """One whole packet from a broker."""
    kind = frame[0] >> 4
    if kind not in (CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK, UNSUBACK, PINGRESP):
        raise MalformedPacket(f"packet type {kind} is not one a broker sends to a client")
    try:
        header = MQTTFixedHeader(kind, frame[0] & 0x0F, 0)
        reader = _Frame(frame)
        packet = _finish(packet_class(header).from_stream(reader))
        if reader.left:
            raise MalformedPacket(f"packet type {kind}: its length and its fields disagree")
    except (AMQTTError, UnicodeDecodeError, ValueError, IndexError) as exc:
        raise MalformedPacket(f"packet type {kind}: {exc}") from exc
    return _typed(kind, packet)


class _Frame(ReaderAdapter):  # type: ignore[misc]
    """One whole packet, read by amqtt's decoders; ``left`` says what they did not read."""

    def __init__(self, frame: bytes) -> None:
        self._frame = frame
        self._at = 0

    async def read(self, n: int = -1) -> bytes:
        end = len(self._frame) if n < 0 else self._at + n
        data = self._frame[self._at : end]
        self._at += len(data)
        return data

    def feed_eof(self) -> None:
        pass

    @property
    def left(self) -> int:
        return len(self._frame) - self._at


def _finish(coro: Coroutine[Any, Any, Any]) -> Any:
    """Run a decoder over a whole frame: it never waits, so one step ends it."""
    try:
        coro.send(None)
    except StopIteration as done:
        return done.value
    coro.close()
    raise MalformedPacket("the decoder wanted more bytes than the packet holds")


def _typed(kind: int, packet: Any) -> Incoming:
    if kind == CONNACK:
        return ConnAck(bool(packet.session_parent), int(packet.return_code or 0))
    if kind == PUBLISH:
        qos = int(packet.qos or 0)
        if qos > 2:
            raise MalformedPacket("a PUBLISH with QoS 3")
        mid = packet.packet_id if qos else None
        return Publish(
            packet.topic_name, bytes(packet.data or b""), qos, bool(packet.retain_flag),
            bool(packet.dup_flag), mid,
        )  # fmt: skip
    if kind == SUBACK:
        return SubAck(packet.variable_header.packet_id, tuple(packet.payload.return_codes))
    if kind == UNSUBACK:
        return UnsubAck(packet.variable_header.packet_id)
    if kind == PINGRESP:
        return PingResp()
    return Ack(kind, packet.variable_header.packet_id)
