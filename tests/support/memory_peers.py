"""Test-side peers on a MemoryNetwork, with the API of the real ones (support/peers.py).

A test written against :class:`~support.peers.TcpPeer` / :class:`~support.peers.UdpPeer`
runs on memory with these: every wait moves module time on, timer by timer
(:func:`run_until`), instead of sleeping, and a timeout is module time.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from bc66sim.clock import ManualClock
from bc66sim.net.base import Transport
from bc66sim.net.memory import MemoryNetwork, MemoryPeer

#: Where the peers listen unless told: loopback, as the real peers do.
LOOPBACK = "127.0.0.1"


async def run_until(
    clock: ManualClock, ready: Callable[[], bool], timeout: float, what: Callable[[], str]
) -> None:
    """Move module time on, timer by timer, until ``ready()``.

    Fails (``AssertionError``, saying ``what()``) once no timer is left before
    ``timeout`` seconds of module time: nothing could make ``ready()`` true any more.
    """
    deadline = clock.now() + timeout
    await clock.advance(0)
    while not ready():
        due = clock.next_timer
        if due is None or due > deadline:
            raise AssertionError(f"timed out; {what()}")
        await clock.advance(due - clock.now())


def manual_clock(network: MemoryNetwork) -> ManualClock:
    """The network's clock, which the tests drive."""
    assert isinstance(network.clock, ManualClock), "memory tests run on a ManualClock"
    return network.clock


class MemoryTcpPeer:
    """A TCP server on a MemoryNetwork that records, sends on command, and may echo."""

    def __init__(
        self, network: MemoryNetwork, port: int = 47001, *, host: str = LOOPBACK, echo: bool = False
    ) -> None:
        self.clock = manual_clock(network)
        self.host = host
        self.port = port
        self.echo = echo
        self.received = bytearray()
        self.connections: list[MemoryPeer] = []
        self._reading = True
        network.peer(Transport.TCP, host, port, accept=self._accept, on_receive=self._receive)

    async def start(self) -> MemoryTcpPeer:
        return self

    def _accept(self, connection: MemoryPeer) -> None:
        self.connections.append(connection)
        if not self._reading:
            connection.pause_reading()

    def _receive(self, connection: MemoryPeer, data: bytes) -> None:
        self.received += data
        if self.echo:
            connection.send(data)

    async def connection(self, timeout: float = 5) -> MemoryPeer:
        """The latest connection, once the module has opened one."""
        await run_until(self.clock, lambda: bool(self.connections), timeout,
                        lambda: "the module never connected")  # fmt: skip
        return self.connections[-1]

    async def send(self, data: bytes) -> None:
        (await self.connection()).send(data)

    async def expect(self, data: bytes, timeout: float = 5) -> None:
        """The next bytes the peer received are exactly ``data``."""
        got = await self.wait_received(len(data), timeout)
        assert got == data, f"peer received {got!r}, expected {data!r}"

    async def wait_received(self, count: int, timeout: float = 30) -> bytes:
        await run_until(self.clock, lambda: len(self.received) >= count, timeout,
                        lambda: f"the peer had received {bytes(self.received)!r}")  # fmt: skip
        got = bytes(self.received[:count])
        del self.received[:count]
        return got

    async def close_connection(self) -> None:
        (await self.connection()).close()
        await self.wait_closed()

    async def reset_connection(self) -> None:
        (await self.connection()).reset()
        await self.wait_closed()

    async def wait_closed(self, timeout: float = 5) -> None:
        """The latest connection is over: closed by either end."""
        connection = await self.connection()
        await run_until(self.clock, lambda: connection.closed, timeout,
                        lambda: "the connection is still open")  # fmt: skip

    def pause_reading(self) -> None:
        """Stop reading: what the module sends waits unacknowledged in its stack."""
        self._reading = False
        for connection in self.connections:
            connection.pause_reading()

    def resume_reading(self) -> None:
        self._reading = True
        for connection in self.connections:
            connection.resume_reading()

    async def module_port(self) -> int:
        """The module's local port of the latest connection, as the peer sees it."""
        return (await self.connection()).module_port

    async def stop(self) -> None:
        pass


class MemoryUdpPeer:
    """A UDP server on a MemoryNetwork that records datagrams and may echo them."""

    def __init__(
        self, network: MemoryNetwork, port: int = 47002, *, host: str = LOOPBACK, echo: bool = True
    ) -> None:
        self.clock = manual_clock(network)
        self.host = host
        self.port = port
        self.echo = echo
        self.datagrams: deque[bytes] = deque()
        self.last_sender: MemoryPeer | None = None
        network.peer(Transport.UDP, host, port, on_receive=self._receive)

    async def start(self) -> MemoryUdpPeer:
        return self

    def _receive(self, sender: MemoryPeer, data: bytes) -> None:
        self.last_sender = sender
        self.datagrams.append(data)
        if self.echo:
            sender.send(data)

    async def next_datagram(self, timeout: float = 5) -> bytes:
        await run_until(self.clock, lambda: bool(self.datagrams), timeout,
                        lambda: "no datagram arrived")  # fmt: skip
        return self.datagrams.popleft()

    def send(self, data: bytes) -> None:
        """One datagram to whoever sent the last one."""
        assert self.last_sender is not None
        self.last_sender.send(data)

    async def stop(self) -> None:
        pass
