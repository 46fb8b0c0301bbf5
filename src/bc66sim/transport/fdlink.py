"""A module's UART over a pair of non-blocking file descriptors.

Shared by the pty, serial and stdio transports.  Output waits in a bounded
buffer while the other end does not read; past the bound the oldest bytes are
dropped with a warning, as bytes on a real wire are lost when nobody listens.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable

from bc66sim.module.modem import Modem
from bc66sim.transport.pacing import Pacer
from bc66sim.transport.trace import Trace

log = logging.getLogger(__name__)

#: Bytes of module output kept while the host does not read.
MAX_OUTPUT_BACKLOG = 1024 * 1024
READ_SIZE = 65536


class FdLink:
    """Feeds ``read_fd`` into the modem and writes the modem's output to ``write_fd``."""

    def __init__(
        self, modem: Modem, read_fd: int, write_fd: int, trace: Trace, baud: int | None = None
    ) -> None:
        self._modem = modem
        self._read_fd = read_fd
        self._write_fd = write_fd
        self._trace = trace
        self._out = bytearray()
        self._loop = asyncio.get_running_loop()
        self._writing = False
        self._dropped_warned = False
        self.closed = asyncio.Event()
        # --baud: both directions at line rate (transport/pacing.py); else as fast as I/O.
        self._to_modem: Callable[[bytes], None] = modem.receive_data
        self._to_host: Callable[[bytes], None] = self._write_now
        if baud is not None:
            self._to_modem = Pacer(baud, modem.receive_data)
            self._to_host = Pacer(baud, self._write_now)
        os.set_blocking(read_fd, False)
        os.set_blocking(write_fd, False)

    def start(self) -> None:
        self._loop.add_reader(self._read_fd, self._on_readable)
        self._modem.attach_output(self.write)

    def stop(self) -> None:
        self._modem.attach_output(None)
        self._loop.remove_reader(self._read_fd)
        if self._writing:
            self._loop.remove_writer(self._write_fd)
            self._writing = False
        self.flush_blocking()

    def _on_readable(self) -> None:
        try:
            data = os.read(self._read_fd, READ_SIZE)
        except BlockingIOError:
            return
        except OSError as exc:
            log.info("UART read ended: %s", exc)
            data = b""
        if not data:
            self._loop.remove_reader(self._read_fd)
            self.closed.set()
            return
        self._trace.host_to_module(data)
        self._to_modem(data)

    def write(self, data: bytes) -> None:
        self._trace.module_to_host(data)
        self._to_host(data)

    def _write_now(self, data: bytes) -> None:
        self._out += data
        overflow = len(self._out) - MAX_OUTPUT_BACKLOG
        if overflow > 0:
            del self._out[:overflow]
            if not self._dropped_warned:
                log.warning("the host is not reading: module output is being dropped")
                self._dropped_warned = True
        if not self._writing:
            self._on_writable()

    def _on_writable(self) -> None:
        try:
            while self._out:
                written = os.write(self._write_fd, self._out)
                del self._out[:written]
        except BlockingIOError:
            pass
        except OSError as exc:
            log.info("UART write failed: %s", exc)
            self._out.clear()
        if self._out and not self._writing:
            self._loop.add_writer(self._write_fd, self._on_writable)
            self._writing = True
        elif not self._out and self._writing:
            self._loop.remove_writer(self._write_fd)
            self._writing = False
            self._dropped_warned = False

    def flush_blocking(self, timeout: float = 1.0) -> None:
        """Best effort at shutdown: hand what is left to the kernel."""
        try:
            while self._out:
                written = os.write(self._write_fd, self._out)
                del self._out[:written]
        except OSError:
            self._out.clear()
