"""The real network: asyncio sockets on the host machine.

TCP reads go into buffers of one node (1460 bytes, CLARIFICATIONS §16), so each
read is one node and pausing stops the kernel from handing over more: data that
the module cannot hold stays in the kernel and TCP flow control holds the peer
back (DESIGN principle 3).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import errno
import fcntl
import logging
import socket
import struct
import termios
from collections.abc import Sequence
from typing import cast

from bc66sim.net import dns, icmp, ntp
from bc66sim.net.base import (
    Family,
    Flow,
    FlowListener,
    LinkConditions,
    NetError,
    Resolution,
    Transport,
    open_socket,
)
from bc66sim.note.errors import Err
from bc66sim.note.limits import MAX_TCP_SEND_BACKLOG, NODE_SIZE

log = logging.getLogger(__name__)

_AF = {Family.IPV4: socket.AF_INET, Family.IPV6: socket.AF_INET6}


class HostNetwork:
    """Flows are real sockets of this host; names are real DNS queries."""

    def __init__(self) -> None:
        #: A good cell; ``--network`` puts a shaped link (net/link.py) in front.
        self.conditions = LinkConditions()

    async def resolve(
        self, name: str, family: Family, *, servers: Sequence[str], timeout: float
    ) -> Resolution:
        return await dns.resolve(name, family, servers, timeout)

    def host_resolvers(self, family: Family) -> list[str]:
        return dns.host_resolvers(family)

    def pinger(self, address: str) -> icmp.Pinger:
        return icmp.Pinger(address)

    async def ntp_query(self, address: str, port: int, timeout: float) -> dt.datetime:
        return await ntp.query(address, port, timeout)

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
        sock = _bound_socket(transport, family, local_port)
        try:
            if transport is Transport.TCP:
                return await _connect_tcp(sock, address, port, listener, timeout)
            return await _connect_udp(sock, address, port, listener)
        except BaseException:
            sock.close()
            raise


def _bound_socket(transport: Transport, family: Family, local_port: int) -> socket.socket:
    kind = socket.SOCK_STREAM if transport is Transport.TCP else socket.SOCK_DGRAM
    try:
        sock = open_socket(_AF[family], kind)
    except OSError as exc:
        raise NetError(Err.CREATE_SOCKET_FAILED, str(exc)) from exc
    sock.setblocking(False)
    if local_port:
        if transport is Transport.TCP:
            # A module may reuse its local port at once after a close; without
            # SO_REUSEADDR the host would refuse while the old one is in TIME_WAIT.
            # Not for UDP: there it would let a second socket bind the same port
            # (and take the first's datagrams) instead of being refused (574).
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("::" if family is Family.IPV6 else "0.0.0.0", local_port))
        except OSError as exc:
            sock.close()
            code = Err.PORT_BUSY if exc.errno == errno.EADDRINUSE else Err.SOCKET_BIND_FAILED
            raise NetError(code, str(exc)) from exc
    return sock


async def _connect_tcp(
    sock: socket.socket, address: str, port: int, listener: FlowListener, timeout: float
) -> Flow:
    loop = asyncio.get_running_loop()
    try:
        await asyncio.wait_for(loop.sock_connect(sock, (address, port)), timeout)
    except TimeoutError as exc:
        raise NetError(Err.TIMEOUT, f"no answer from {address}:{port}") from exc
    except OSError as exc:
        raise NetError(Err.SOCKET_CONNECT_FAILED, f"{address}:{port}: {exc}") from exc
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    protocol = _TcpProtocol(listener)
    await loop.create_connection(lambda: protocol, sock=sock)
    return protocol.flow


async def _connect_udp(
    sock: socket.socket, address: str, port: int, listener: FlowListener
) -> Flow:
    loop = asyncio.get_running_loop()
    try:
        sock.connect((address, port))  # UDP: sets the peer only, never blocks
    except OSError as exc:
        raise NetError(Err.SOCKET_CONNECT_FAILED, f"{address}:{port}: {exc}") from exc
    protocol = _UdpProtocol(listener)
    await loop.create_datagram_endpoint(lambda: protocol, sock=sock)
    return protocol.flow


class _TcpFlow(Flow):
    """A connected TCP socket.

    Sends made in one turn of the event loop go to the kernel as one write, at the
    end of the turn: a host that pipelines 32 ``AT+QISEND`` in one burst costs one
    system call, not 32 (TCP is a byte stream, so the peer sees the same bytes).
    """

    def __init__(self, transport: asyncio.Transport, protocol: _TcpProtocol) -> None:
        self._transport = transport
        self._protocol = protocol
        self._gathered: list[bytes] = []  # sent this turn, written at its end
        self._gathered_bytes = 0
        sockname = transport.get_extra_info("sockname")
        self._local_port = int(sockname[1]) if sockname else 0

    @property
    def local_port(self) -> int:
        return self._local_port

    def send(self, data: bytes) -> bool:
        if self._transport.is_closing():
            return False
        held = self._gathered_bytes + self._transport.get_write_buffer_size()
        if held + len(data) > MAX_TCP_SEND_BACKLOG:
            return False
        if not self._gathered:
            asyncio.get_running_loop().call_soon(self._write_gathered)
        self._gathered.append(data)
        self._gathered_bytes += len(data)
        return True

    def _write_gathered(self) -> None:
        data = b"".join(self._gathered)
        self._gathered.clear()
        self._gathered_bytes = 0
        if data and not self._transport.is_closing():
            self._transport.write(data)

    def unacked(self) -> int:
        """CLARIFICATIONS §15: what the kernel still holds (SIOCOUTQ) plus our backlog."""
        held = self._gathered_bytes + self._transport.get_write_buffer_size()
        sock = self._transport.get_extra_info("socket")
        if sock is None or sock.fileno() < 0:
            return held
        raw = fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0\0\0\0")  # SIOCOUTQ
        return held + int(struct.unpack("i", raw)[0])

    def pause_reading(self) -> None:
        if self._transport.is_reading():
            self._transport.pause_reading()

    def resume_reading(self) -> None:
        if not self._transport.is_closing() and not self._transport.is_reading():
            self._transport.resume_reading()

    def close(self) -> None:
        # Graceful: bytes already answered with SEND OK still reach the peer.
        self._protocol.listener = None
        self._write_gathered()
        self._transport.close()

    def abort(self) -> None:
        # SO_LINGER on with a zero timeout: the kernel sends an RST, not a FIN.
        self._protocol.listener = None
        sock = self._transport.get_extra_info("socket")
        if sock is not None and sock.fileno() >= 0:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self._transport.abort()


class _TcpProtocol(asyncio.BufferedProtocol):
    """Reads one node at a time into a fixed buffer."""

    def __init__(self, listener: FlowListener) -> None:
        self.listener: FlowListener | None = listener
        self._buffer = bytearray(NODE_SIZE)
        self.flow: _TcpFlow

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.flow = _TcpFlow(cast(asyncio.Transport, transport), self)

    def get_buffer(self, sizehint: int) -> bytearray:
        return self._buffer

    def buffer_updated(self, nbytes: int) -> None:
        if self.listener is not None:
            self.listener.flow_data(bytes(self._buffer[:nbytes]))

    def eof_received(self) -> bool:
        return False  # close our side too: the module reports "closed" (§2.4.1)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.listener is not None:
            self.listener.flow_closed("peer closed" if exc is None else str(exc))
            self.listener = None


class _UdpFlow(Flow):
    def __init__(self, transport: asyncio.DatagramTransport, protocol: _UdpProtocol) -> None:
        self._transport = transport
        self._protocol = protocol
        self._local_port = int(transport.get_extra_info("sockname")[1])

    @property
    def local_port(self) -> int:
        return self._local_port

    def send(self, data: bytes) -> bool:
        if self._transport.is_closing():
            return False
        self._transport.sendto(data)
        return True

    def unacked(self) -> int:
        return 0

    def pause_reading(self) -> None:
        pass  # UDP is never paused: the module drops instead (CLARIFICATIONS §16)

    def resume_reading(self) -> None:
        pass

    def close(self) -> None:
        self._protocol.listener = None
        self._transport.close()


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, listener: FlowListener) -> None:
        self.listener: FlowListener | None = listener
        self.flow: _UdpFlow

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # 3.11's selector datagram transport does not subclass DatagramTransport.
        self.flow = _UdpFlow(cast(asyncio.DatagramTransport, transport), self)

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        if self.listener is not None:
            self.listener.flow_data(data)

    def error_received(self, exc: Exception) -> None:
        # ICMP port unreachable and the like: UDP has no connection to break.
        log.info("UDP error ignored: %s", exc)
