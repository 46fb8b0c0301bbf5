"""An in-memory network on module time: peers, a DNS zone, NTP and ping, no sockets.

:class:`MemoryNetwork` has the shape of :class:`~bc66sim.net.base.Network` and runs
on the module's :class:`~bc66sim.clock.Clock`.  With a
:class:`~bc66sim.clock.ManualClock` the module's behaviour is tested without real
sockets and without waiting: a peer that never answers costs the open timeout in
module time, which a test skips over with ``advance``.

Peers are set up by address and port:

- :meth:`MemoryNetwork.tcp_echo` / :meth:`udp_echo`: what arrives goes back;
- :meth:`tcp_refuse`: the connection is refused (566);
- :meth:`tcp_silent`: the SYN is never answered (569 after the open timeout);
- :meth:`tcp_close_after`: the peer closes after so many bytes;
- :meth:`peer`: a :class:`MemoryPeer` the test drives itself (``send``, ``received``,
  ``close``, ``reset``, ``pause_reading``).

Names resolve from :attr:`MemoryNetwork.zone`; pings to :attr:`ping_replies`;
NTP servers from :attr:`ntp_servers`.  Anything not set up behaves as a real
network would: refused, unanswered, not found.  Every exchange takes
:attr:`MemoryNetwork.latency` seconds of module time each way.
"""

from __future__ import annotations

import datetime as dt
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from bc66sim.clock import Clock
from bc66sim.net.base import (
    Echo,
    Family,
    Flow,
    FlowListener,
    LinkConditions,
    NetError,
    Resolution,
    Transport,
)
from bc66sim.note.errors import Err
from bc66sim.note.limits import MAX_TCP_SEND_BACKLOG, NODE_SIZE

Endpoint = tuple[Transport, str, int]


class MemoryPeer:
    """The far end of one flow: what it received, and ways to answer.

    TCP from the module reaches the peer :attr:`MemoryNetwork.latency` after it is
    sent, and only while the peer reads (:meth:`pause_reading`): until then the bytes
    are unacknowledged and fill the module's send buffer, as a closed TCP window does.
    The module's close reaches the peer after the data it sent before it.
    """

    def __init__(
        self,
        network: MemoryNetwork,
        endpoint: Endpoint,
        listener: FlowListener,
        module_port: int,
        on_receive: Callable[[MemoryPeer, bytes], None] | None = None,
    ) -> None:
        self._network = network
        #: Where the peer is: (transport, address, port).
        self.endpoint = endpoint
        self.transport = endpoint[0]
        self._listener = listener
        #: The module's end of the flow (its local port), as the peer sees it.
        self.module_port = module_port
        self._paused = False  # the module takes no data: its flow is paused
        self._held: list[bytes | str] = []  # data, or the end (its reason), not taken yet
        self._attached = True  # the module still has the flow and hears of it
        self._reading = True
        #: TCP from the module not taken by the peer yet: (arrival, data or None: the close).
        self._in_flight: deque[tuple[float, bytes | None]] = deque()
        #: TCP bytes from the module that the peer has not taken (acknowledged) yet.
        self.unacked = 0
        self.received = bytearray()
        self.datagrams: list[bytes] = []
        #: The connection is over for the peer: it closed it, or the module's close arrived.
        self.closed = False
        self.on_receive = on_receive

    def send(self, data: bytes) -> None:
        """Bytes (TCP: in reads of at most one node, as a host stack hands them over) or
        one datagram (UDP) to the module."""
        step = NODE_SIZE if self.transport is Transport.TCP else max(len(data), 1)
        for start in range(0, len(data), step):
            piece = data[start : start + step]
            self._network._later(lambda piece=piece: self._deliver(piece))  # type: ignore[misc]

    def close(self) -> None:
        """The peer closes the connection, after what it sent before."""
        self._network._later(lambda: self._deliver("the peer closed the connection"))

    def reset(self) -> None:
        """The peer aborts the connection (a TCP RST)."""
        self._network._later(lambda: self._deliver("connection reset by peer"))

    def pause_reading(self) -> None:
        """The peer's application stops reading: what the module sends waits, unacknowledged."""
        self._reading = False

    def resume_reading(self) -> None:
        """The peer reads again: what waited arrives, in order."""
        self._reading = True
        self._take()

    def _deliver(self, item: bytes | str) -> None:
        if not self._attached:
            return  # the module closed the flow: nobody hears of it
        if self._paused:
            self._held.append(item)
            return
        if isinstance(item, str):
            self._attached = False
            self.closed = True
            self._listener.flow_closed(item)
        else:
            self._listener.flow_data(item)

    def _resume(self) -> None:
        self._paused = False
        held, self._held = self._held, []
        for item in held:
            self._deliver(item)

    # -- from the module -------------------------------------------------------------

    def _from_module(self, data: bytes | None) -> None:
        """The module sent ``data`` (None: it closed the flow); it arrives after the latency."""
        if self.transport is Transport.UDP:
            if data is None:
                self.closed = True
            else:
                self._network._later(lambda: self._arrived(data))
            return
        self._in_flight.append((self._network.clock.now() + self._network.latency, data))
        self.unacked += len(data or b"")
        self._network._later(self._take)

    def _take(self) -> None:
        """Take, in order, what has arrived, while the peer reads (TCP)."""
        now = self._network.clock.now()
        while self._in_flight and self._in_flight[0][0] <= now and self._reading:
            _, data = self._in_flight.popleft()
            if data is None:
                self.closed = True
                continue
            self.unacked -= len(data)
            self._arrived(data)

    def _arrived(self, data: bytes) -> None:
        self.received += data
        self.datagrams.append(data)
        if self.on_receive is not None:
            self.on_receive(self, data)


class _MemoryFlow(Flow):
    """The module's end of a flow to a :class:`MemoryPeer`.

    Its stack holds at most :data:`MAX_TCP_SEND_BACKLOG` unacknowledged TCP bytes:
    beyond that a send fails (``SEND FAIL``), as on the host.
    """

    def __init__(self, peer: MemoryPeer) -> None:
        self._peer = peer
        self._open = True

    @property
    def local_port(self) -> int:
        return self._peer.module_port

    def send(self, data: bytes) -> bool:
        if not self._open:
            return False
        tcp = self._peer.transport is Transport.TCP
        if tcp and self._peer.unacked + len(data) > MAX_TCP_SEND_BACKLOG:
            return False
        self._peer._from_module(data)
        return True

    def unacked(self) -> int:
        return self._peer.unacked

    def pause_reading(self) -> None:
        self._peer._paused = True

    def resume_reading(self) -> None:
        self._peer._resume()

    def close(self) -> None:
        if self._open:
            self._open = False
            self._peer._attached = False
            self._peer._from_module(None)


def _echo(peer: MemoryPeer, data: bytes) -> None:
    peer.send(data)


@dataclass
class _Behaviour:
    kind: str  # "peer", "refuse", "silent"
    #: What the peer does with what the module sends it (None: keep it).
    on_receive: Callable[[MemoryPeer, bytes], None] | None = None
    #: Told of each new flow to the endpoint, as a server's accept.
    accept: Callable[[MemoryPeer], None] | None = None


@dataclass
class MemoryNetwork:
    """See the module docstring."""

    clock: Clock
    #: Seconds of module time each way (connect, data, DNS, NTP; a ping's round trip is 2x).
    latency: float = 0.05
    #: name -> (addresses, TTL)
    zone: dict[str, tuple[list[str], int]] = field(default_factory=dict)
    #: The DNS servers before AT+QIDNSCFG sets any; only these (and those set) answer.
    resolvers: dict[Family, list[str]] = field(
        default_factory=lambda: {Family.IPV4: ["10.0.0.53"], Family.IPV6: ["fd00::53"]}
    )
    #: Servers that answer DNS queries, besides ``resolvers``.
    dns_servers: set[str] = field(default_factory=set)
    #: address -> TTL of its echo replies; other addresses do not answer.
    ping_replies: dict[str, int] = field(default_factory=dict)
    #: (address, port) -> offset of that server's time from ``clock.utc()``.
    ntp_servers: dict[tuple[str, int], dt.timedelta] = field(default_factory=dict)
    #: Every peer a flow was opened to, in order.
    peers: list[MemoryPeer] = field(default_factory=list)
    #: What the radio measures: a good cell (net/link.py shapes a link on top).
    conditions: LinkConditions = field(default_factory=LinkConditions)
    _endpoints: dict[Endpoint, _Behaviour] = field(default_factory=dict)
    _next_port: int = 49152
    #: (endpoint, local port) of the TCP connections under way.
    _connecting: set[tuple[Endpoint, int]] = field(default_factory=set)

    # -- setting up the world -------------------------------------------------------------

    def tcp_echo(self, address: str, port: int) -> None:
        self._endpoints[(Transport.TCP, address, port)] = _Behaviour("peer", _echo)

    def udp_echo(self, address: str, port: int) -> None:
        self._endpoints[(Transport.UDP, address, port)] = _Behaviour("peer", _echo)

    def tcp_refuse(self, address: str, port: int) -> None:
        self._endpoints[(Transport.TCP, address, port)] = _Behaviour("refuse")

    def tcp_silent(self, address: str, port: int) -> None:
        self._endpoints[(Transport.TCP, address, port)] = _Behaviour("silent")

    def tcp_close_after(self, address: str, port: int, count: int) -> None:
        """The peer closes once it has received ``count`` bytes."""

        def on_receive(peer: MemoryPeer, data: bytes) -> None:
            if len(peer.received) >= count:
                peer.close()

        self._endpoints[(Transport.TCP, address, port)] = _Behaviour("peer", on_receive)

    def peer(
        self,
        transport: Transport,
        address: str,
        port: int,
        *,
        accept: Callable[[MemoryPeer], None] | None = None,
        on_receive: Callable[[MemoryPeer, bytes], None] | None = None,
    ) -> None:
        """A peer the test drives: through :attr:`peers`, or through ``accept`` (called
        with each new flow's :class:`MemoryPeer`) and ``on_receive`` (with what arrives)."""
        self._endpoints[(transport, address, port)] = _Behaviour("peer", on_receive, accept)

    # -- the Network interface -----------------------------------------------------------

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
        endpoint = (transport, address, port)
        behaviour = self._endpoints.get(endpoint)
        if transport is Transport.TCP:
            await self._connect(endpoint, local_port, behaviour, timeout)
        elif local_port and any(p._attached and p.transport is Transport.UDP
                                and p.module_port == local_port for p in self.peers):  # fmt: skip
            # A UDP port is one socket's, as the host's bind() says (net/host.py).
            raise NetError(Err.PORT_BUSY, f"UDP port {local_port} already used")
        local_port = local_port or self._ephemeral_port()
        on_receive = behaviour.on_receive if behaviour is not None else None
        peer = MemoryPeer(self, endpoint, listener, local_port, on_receive)
        self.peers.append(peer)
        if behaviour is not None and behaviour.accept is not None:
            behaviour.accept(peer)
        return _MemoryFlow(peer)

    async def _connect(
        self, endpoint: Endpoint, local_port: int, behaviour: _Behaviour | None, timeout: float
    ) -> None:
        """The TCP handshake: answered, refused or never answered."""
        _, address, port = endpoint
        connection = (endpoint, local_port)
        if local_port and (connection in self._connecting or self._connected(*connection)):
            # A connection is its four numbers: the host's connect() refuses a second one.
            raise NetError(Err.SOCKET_CONNECT_FAILED, f"port {local_port} already used there")
        self._connecting.add(connection)
        try:
            if behaviour is None or behaviour.kind == "refuse":
                await self._wait(2 * self.latency)
                raise NetError(Err.SOCKET_CONNECT_FAILED, f"{address}:{port} refused")
            if behaviour.kind == "silent":
                await self._wait(timeout)
                raise NetError(Err.TIMEOUT, f"no answer from {address}:{port}")
            await self._wait(2 * self.latency)
        finally:
            self._connecting.discard(connection)

    async def resolve(
        self, name: str, family: Family, *, servers: Sequence[str], timeout: float
    ) -> Resolution:
        resolvers = self.resolvers.get(family, [])
        known = self.dns_servers | set(resolvers)
        if not any(server in known for server in list(servers) or resolvers):
            await self._wait(timeout)
            raise NetError(Err.TIMEOUT, f"no DNS server answered for {name}")
        await self._wait(2 * self.latency)
        addresses, ttl = self.zone.get(name.lower().rstrip("."), ([], 0))
        wanted = [a for a in addresses if (":" in a) == (family is Family.IPV6)]
        if not wanted:
            raise NetError(Err.DNS_PARSE_FAILED, f"{name} has no address")
        return Resolution(tuple(wanted), ttl)

    def host_resolvers(self, family: Family) -> list[str]:
        return list(self.resolvers.get(family, []))

    def pinger(self, address: str) -> _MemoryPinger:
        return _MemoryPinger(self, address)

    async def ntp_query(self, address: str, port: int, timeout: float) -> dt.datetime:
        offset = self.ntp_servers.get((address, port))
        if offset is None:
            await self._wait(timeout)
            raise NetError(Err.TIMEOUT, f"no NTP answer from {address}:{port}")
        await self._wait(2 * self.latency)
        return self.clock.utc() + offset

    def _connected(self, endpoint: Endpoint, local_port: int) -> bool:
        """A flow the module still has goes from ``local_port`` to ``endpoint``."""
        return any(p._attached and p.endpoint == endpoint and p.module_port == local_port
                   for p in self.peers)  # fmt: skip

    def _ephemeral_port(self) -> int:
        """The next local port of the ephemeral range that no open flow uses."""
        busy = {p.module_port for p in self.peers if p._attached}
        while self._next_port in busy:
            self._next_port += 1
        port, self._next_port = self._next_port, self._next_port + 1
        return port

    # -- module time ---------------------------------------------------------------------

    async def _wait(self, seconds: float) -> None:
        await self.clock.sleep_until(self.clock.now() + seconds)

    def _later(self, callback: Callable[[], None]) -> None:
        self.clock.call_later(self.latency, callback)


class _MemoryPinger:
    def __init__(self, network: MemoryNetwork, address: str) -> None:
        self._network = network
        self._address = address

    async def echo(self, sequence: int, size: int, timeout: float) -> Echo | None:
        ttl = self._network.ping_replies.get(self._address)
        round_trip = 2 * self._network.latency
        if ttl is None or round_trip > timeout:
            await self._network._wait(timeout)
            return None
        await self._network._wait(round_trip)
        return Echo(milliseconds=int(round_trip * 1000), ttl=ttl)

    def close(self) -> None:
        pass
