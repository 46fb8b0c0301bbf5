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
from collections.abc import Callable

from bc66sim.module.modem import Modem
from bc66sim.transport.fdlink import HIGH_WATER, LOW_WATER, MAX_OUTPUT_BACKLOG
from bc66sim.transport.pacing import Pacer
from bc66sim.transport.trace import Trace

log = logging.getLogger(__name__)


class TcpError(Exception):
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
        self._modem: Modem | None = None
        self._trace = Trace()

    async def open(self, modem: Modem, trace: Trace) -> str:
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
    does not read.  Past the high-water mark the transport calls
    :meth:`pause_writing` and the module holds back what it can (direct-push
    sockets stop reading: TCP flow control reaches the remote sender); below the
    low-water mark :meth:`resume_writing` lets it go on.  Whatever else comes past
    :data:`MAX_OUTPUT_BACKLOG` is dropped a whole write at a time, never part of one.
    """

    def __init__(self, port: TcpPort) -> None:
        self._port = port
        self._transport: asyncio.Transport | None = None
        self._peer: object = None
        self._to_modem: Callable[[bytes], None] = lambda data: None
        self._to_host: Callable[[bytes], None] = self._write_now

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._peer = transport.get_extra_info("peername")
        modem = self._port._modem
        if self._port._active is not None or modem is None:
            log.warning("refusing %s: the UART already has a host", self._peer)
            transport.close()
            return
        log.info("host connected from %s", self._peer)
        self._transport = transport
        transport.set_write_buffer_limits(high=HIGH_WATER, low=LOW_WATER)
        self._port._active = self
        modem.host_changed()
        baud = self._port.baud
        self._to_modem = Pacer(baud, modem.receive_data) if baud else modem.receive_data
        if baud:
            self._to_host = Pacer(baud, self._write_now, self._pacer_congested)
        modem.attach_output(self._write)

    def data_received(self, data: bytes) -> None:
        self._port._trace.host_to_module(data)
        self._to_modem(data)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._port._active is not self:
            return
        modem = self._port._modem
        assert modem is not None
        modem.attach_output(None)
        for source in ("tcp", "pacer"):
            modem.set_output_congested(source, False)  # an unplugged wire holds nothing back
        self._port._active = None
        if exc is not None:
            log.info("host connection broke: %s", exc)
        log.info("host disconnected")

    def pause_writing(self) -> None:
        self._congested("tcp", True)

    def resume_writing(self) -> None:
        self._congested("tcp", False)

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    def _congested(self, source: str, congested: bool) -> None:
        modem = self._port._modem
        if modem is not None and self._port._active is self:
            modem.set_output_congested(source, congested)

    def _pacer_congested(self, congested: bool) -> None:
        self._congested("pacer", congested)

    def _write(self, data: bytes) -> None:
        self._port._trace.module_to_host(data)
        self._to_host(data)

    def _write_now(self, data: bytes) -> None:
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        if transport.get_write_buffer_size() + len(data) > MAX_OUTPUT_BACKLOG:
            log.warning("the host is not reading: a write of %d bytes dropped", len(data))
            return
        transport.write(data)
