"""``bc66sim echo-server``: a TCP and UDP echo server for the quick start and examples.

What a module's socket needs to talk to when a walkthrough must not depend on the
internet: every byte received on a TCP connection, and every UDP datagram, is sent
back unchanged.  Loopback by default; one port number serves both TCP and UDP.
"""

from __future__ import annotations

import asyncio
import logging

log = logging.getLogger(__name__)


class _TcpEcho(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport: asyncio.Transport = transport  # type: ignore[assignment]
        log.info("echo: TCP connection from %s", transport.get_extra_info("peername"))

    def data_received(self, data: bytes) -> None:
        self._transport.write(data)


class _UdpEcho(asyncio.DatagramProtocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport: asyncio.DatagramTransport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, address: tuple[str, int]) -> None:
        self._transport.sendto(data, address)


async def serve_echo(host: str, port: int, stop: asyncio.Event) -> None:
    """Echo TCP and UDP on ``host:port`` (port 0: a free one) until ``stop`` is set."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_TcpEcho, host, port)
    port = server.sockets[0].getsockname()[1]
    udp, _ = await loop.create_datagram_endpoint(_UdpEcho, local_addr=(host, port))
    log.info("echo server on %s:%d (TCP and UDP) — Ctrl+C stops it", host, port)
    try:
        await stop.wait()
    finally:
        udp.close()
        server.close()
        await server.wait_closed()
