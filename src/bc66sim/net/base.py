"""The world behind the radio, behind one small interface (DESIGN: ``net/``).

The module opens *flows* (a TCP connection or a connected UDP socket) through a
:class:`Network` and receives their data and their end through a
:class:`FlowListener`; it resolves names, pings and asks NTP servers through the
same interface, and nothing else.  :class:`bc66sim.net.host.HostNetwork` is the
real network; :class:`bc66sim.net.memory.MemoryNetwork` is an in-memory one on
module time, for tests; anything else with the same shape (a shaped or faulty
network) can stand in.
"""

from __future__ import annotations

import datetime as dt
import enum
import ipaddress
import socket
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from bc66sim.note.errors import Err

#: The class real sockets are opened with (host.py, icmp.py): the standard library's.
#: Under Locust, gevent's monkey-patching replaces ``socket.socket``; bc66sim.locust
#: sets this to the class it replaced, so that no gevent socket (and no gevent hub)
#: ever lives on the emulator's event loop thread.
SOCKET_CLASS: type[socket.socket] = socket.socket


def open_socket(family: int, kind: int, proto: int = 0) -> socket.socket:
    """A real socket, of :data:`SOCKET_CLASS`."""
    return SOCKET_CLASS(family, kind, proto)


class Transport(enum.Enum):
    TCP = "TCP"
    UDP = "UDP"


class Family(enum.IntEnum):
    """``<protocol_type>`` of §2.3.1."""

    IPV4 = 0
    IPV6 = 1


@dataclass(frozen=True)
class Resolution:
    """The addresses of a name and the TTL of the answer (``<DNS_ttl>``, §2.3.10)."""

    addresses: tuple[str, ...]
    ttl: int


def ip_family(text: str) -> Family | None:
    """The family of an IP address written as text; None for anything else (a name)."""
    try:
        version = ipaddress.ip_address(text).version
    except ValueError:
        return None
    return Family.IPV6 if version == 6 else Family.IPV4


class NetError(Exception):
    """A flow could not be opened; ``code`` is the note's Chapter 3 code."""

    def __init__(self, code: Err, detail: str = "") -> None:
        super().__init__(f"{code.name}: {detail}" if detail else code.name)
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class Echo:
    """One echo reply: round trip in milliseconds and the reply's TTL."""

    milliseconds: int
    ttl: int


class Pinger(Protocol):
    """ICMP echo to one address (``AT+QPING``)."""

    async def echo(self, sequence: int, size: int, timeout: float) -> Echo | None:
        """One request of ``size`` data bytes; None when no reply came in ``timeout``."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Signal:
    """What the radio measures of the serving cell (``AT+CSQ``, ``AT+CESQ``, ``AT+QENG``).

    The defaults are a good cell: what the module reported before link profiles.
    """

    rsrp: int = -86  # dBm
    rsrq: int = -9  # dB
    sinr: int = 15  # dB
    #: Coverage enhancement level 0-2 (``<sc_ecl>`` of ``AT+QENG``).
    ecl: int = 0
    tx_power: int = 23  # dBm

    @property
    def rssi(self) -> int:
        """RSSI over the NB-IoT carrier's 12 subcarriers: about RSRP + 10 log10(12)."""
        return self.rsrp + 11


@dataclass
class LinkConditions:
    """The radio's view of the link, which the module reports; listeners hear changes."""

    signal: Signal = field(default_factory=Signal)
    #: False during a coverage loss: the module is out of service.
    in_service: bool = True
    _listeners: list[Callable[[], None]] = field(default_factory=list)

    def subscribe(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    def update(self, *, signal: Signal | None = None, in_service: bool | None = None) -> None:
        self.signal = signal or self.signal
        self.in_service = self.in_service if in_service is None else in_service
        for listener in list(self._listeners):
            listener()


class FlowListener(Protocol):
    """What a flow reports to its owner, on the event loop."""

    def flow_data(self, data: bytes) -> None:
        """Bytes arrived: one TCP read (at most one node) or one UDP datagram."""

    def flow_closed(self, reason: str) -> None:
        """The peer closed the flow or the network broke it."""


class Flow(ABC):
    """One open TCP connection or connected UDP socket."""

    @property
    @abstractmethod
    def local_port(self) -> int: ...

    @abstractmethod
    def send(self, data: bytes) -> bool:
        """Hand bytes to the stack; False when its bounded send buffer is full."""

    @abstractmethod
    def unacked(self) -> int:
        """Bytes sent but not yet acknowledged by the peer (TCP; 0 for UDP)."""

    @abstractmethod
    def pause_reading(self) -> None:
        """Stop taking data from the network (TCP flow control holds the peer)."""

    @abstractmethod
    def resume_reading(self) -> None: ...

    @abstractmethod
    def close(self) -> None:
        """Close at once; the listener is not told."""

    def abort(self) -> None:
        """Break the flow as a reset does (TCP: an RST to the peer, unsent data
        dropped); the listener is not told.  A flow without a reset closes."""
        self.close()


class Network(Protocol):
    """Opens flows and resolves names on the network behind the radio."""

    #: The link's conditions as the radio sees them (net/link.py changes them).
    conditions: LinkConditions

    async def open_flow(
        self,
        transport: Transport,
        address: str,
        port: int,
        *,
        local_port: int,
        family: Family,
        listener: FlowListener,
        timeout: float,
    ) -> Flow:
        """Open a flow to an IP address; raises :class:`NetError` with the note's code."""
        ...

    async def resolve(
        self, name: str, family: Family, *, servers: Sequence[str], timeout: float
    ) -> Resolution:
        """Ask ``servers`` (the host's resolvers when empty) for ``name``'s addresses."""
        ...

    def host_resolvers(self, family: Family) -> list[str]:
        """The DNS servers used before ``AT+QIDNSCFG`` sets any (CLARIFICATIONS §23)."""
        ...

    def pinger(self, address: str) -> Pinger:
        """Something to send echo requests to ``address``; raises :class:`NetError`."""
        ...

    async def ntp_query(self, address: str, port: int, timeout: float) -> dt.datetime:
        """The time an NTP server gives, corrected for the round trip; raises NetError."""
        ...
