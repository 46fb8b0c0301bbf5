"""The module's UART as a TCP port: ``--tcp HOST:PORT``.

One TCP connection at a time is the UART; its bytes are exactly what a serial
line would carry (no telnet negotiation, no line translation).  A second
connection while one is active is refused (closed at once, logged).  While no
host is connected, the module's output is lost, as on an unplugged wire.
"""

from __future__ import annotations

import asyncio
import logging

from bc66sim.module.modem import Modem
from bc66sim.transport.fdlink import MAX_OUTPUT_BACKLOG
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
        self._active: asyncio.StreamWriter | None = None
        #: The task serving the active host, awaited by close() so it ends cleanly.
        self._serving: asyncio.Task[None] | None = None
        self._modem: Modem | None = None
        self._trace = Trace()

    async def open(self, modem: Modem, trace: Trace) -> str:
        self._modem, self._trace = modem, trace
        try:
            self._server = await asyncio.start_server(self._serve, self.host, self.port)
        except OSError as exc:
            raise TcpError(f"cannot listen on {self.host}:{self.port}: {exc}") from exc
        self.port = int(self._server.sockets[0].getsockname()[1])
        return f"{self.host}:{self.port}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        if self._active is not None or self._modem is None:
            log.warning("refusing %s: the UART already has a host", peer)
            writer.close()
            return
        log.info("host connected from %s", peer)
        self._active = writer
        self._modem.host_changed()
        self._serving = asyncio.current_task()
        modem = self._modem

        def write_now(data: bytes) -> None:
            if writer.transport.get_write_buffer_size() > MAX_OUTPUT_BACKLOG:
                log.warning("the host is not reading: %d bytes of output dropped", len(data))
                return
            writer.write(data)

        to_host = Pacer(self.baud, write_now) if self.baud else write_now
        to_modem = Pacer(self.baud, modem.receive_data) if self.baud else modem.receive_data

        def write(data: bytes) -> None:
            self._trace.module_to_host(data)
            to_host(data)

        modem.attach_output(write)
        try:
            while data := await reader.read(65536):
                self._trace.host_to_module(data)
                to_modem(data)
        except ConnectionError as exc:
            log.info("host connection broke: %s", exc)
        finally:
            modem.attach_output(None)
            self._active = None
            self._serving = None
            writer.close()
            log.info("host disconnected")

    async def close(self) -> None:
        """Stop listening; a connected host is disconnected and its task ends (no traceback)."""
        serving = self._serving
        if self._active is not None:
            self._active.close()
        if serving is not None:
            await asyncio.wait({serving}, timeout=2)
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
