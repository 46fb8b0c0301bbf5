"""The module's UART as a TCP port: ``--tcp HOST:PORT``.

One TCP connection at a time is the UART; its bytes are exactly what a serial
line would carry (no telnet negotiation, no line translation).  A second
connection while one is active is refused (closed at once, logged).  While no
host is connected, the module's output is lost, as on an unplugged wire.  The
transport is an asyncio ``Protocol``: its write-buffer callbacks are the back-pressure
of docs/RELIABILITY.md.
"""

from __future__ import annotations

import asyncio
import logging
from typing import cast

from bc66sim.transport.base import HIGH_WATER, LOW_WATER, PortError, UartDevice, UartLink
from bc66sim.transport.trace import Trace

log = logging.getLogger(__name__)


class TcpError(PortError):
    """The listening socket could not be opened."""


def parse_address(text: str) -> tuple[str, int]:
    """``HOST:PORT`` or ``[V6]:PORT`` to a pair; raises ValueError with a clear message."""
    host, sep, port = text.rpartition(":")
    if not sep or not (port.isascii() and port.isdigit()) or not 0 <= int(port) <= 65535:
        raise ValueError(f"expected HOST:PORT, got {text!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


class TcpPort:
    """A listening socket whose one connection is the UART."""

    def __init__(self, host: str, port: int, baud: int | None = None) -> None:
        self.host = host
        self.port = port
        #: --baud: both directions paced at line rate (transport/pacing.py).
        self.baud = baud
        self._server: asyncio.Server | None = None
        self._active: _HostConnection | None = None
        self._modem: UartDevice | None = None
        self._trace = Trace()
        self.ended = asyncio.Event()  # hosts come and go; the port stays

    async def open(self, modem: UartDevice, trace: Trace) -> str:
        self._modem, self._trace = modem, trace
        loop = asyncio.get_running_loop()
        try:
            self._server = await loop.create_server(
                lambda: _HostConnection(self), self.host, self.port
            )
        except OSError as exc:
            raise TcpError(f"cannot listen on {self.host}:{self.port}: {exc}") from exc
        self.port = int(self._server.sockets[0].getsockname()[1])
        return f"{self.host}:{self.port}"

    async def close(self) -> None:
        """Stop listening; a connected host is disconnected."""
        if self._active is not None:
            self._active.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


class _HostConnection(asyncio.Protocol):
    """One host's TCP connection: its bytes to the module, the module's bytes to it.

    The module's output waits in the asyncio transport's buffer while the host
    does not read; its high- and low-water marks are the shared ones
    (``transport/base.py``), and asyncio's :meth:`pause_writing` /
    :meth:`resume_writing` tell the module to hold back and to go on.
    """

    def __init__(self, port: TcpPort) -> None:
        self._port = port
        self._transport: asyncio.Transport | None = None
        self._uart: UartLink | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport (asyncio's or uvloop's: the latter is not a subclass).
        transport = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername")
        modem = self._port._modem
        if self._port._active is not None or modem is None:
            log.warning("refusing %s: the UART already has a host", peer)
            transport.close()
            return
        log.info("host connected from %s", peer)
        self._transport = transport
        transport.set_write_buffer_limits(high=HIGH_WATER, low=LOW_WATER)
        self._port._active = self
        self._uart = UartLink(modem, self._port._trace, self._deliver,
                              transport.get_write_buffer_size, self._port.baud)  # fmt: skip
        self._uart.attach()
        modem.host_connected()

    def data_received(self, data: bytes) -> None:
        if self._uart is not None:
            self._uart.from_host(data)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._port._active is not self or self._uart is None:
            return
        self._uart.detach()
        self._port._active = None
        if exc is not None:
            log.info("host connection broke: %s", exc)
        log.info("host disconnected")

    def pause_writing(self) -> None:
        if self._uart is not None:
            self._uart.set_congested(True)

    def resume_writing(self) -> None:
        if self._uart is not None:
            self._uart.set_congested(False)

    def close(self) -> None:
        """At shutdown: at once, even if the host reads nothing (close() would wait for
        the write buffer to drain, and asyncio 3.12's wait_closed waits for that)."""
        if self._transport is not None:
            self._transport.abort()

    def _deliver(self, data: bytes) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(data)
