"""A module's UART over a pair of non-blocking file descriptors.

Shared by the pty, serial and stdio transports.  Output waits in a buffer while
the other end does not read.  Past :data:`HIGH_WATER` bytes the module is told its
output is congested and holds back what it can (direct-push sockets stop reading,
so TCP flow control reaches the remote sender); below :data:`LOW_WATER` it goes on.
What still comes past :data:`MAX_OUTPUT_BACKLOG` is dropped a whole write at a
time, with a warning — never part of a write, so no URC is ever cut.
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

#: Waiting output at which the module is told to hold back, and at which it may go on.
HIGH_WATER = 256 * 1024
LOW_WATER = 64 * 1024
#: Bytes of module output kept at most while the host does not read.
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
        self._congested = False
        self.closed = asyncio.Event()
        # --baud: both directions at line rate (transport/pacing.py); else as fast as I/O.
        self._to_modem: Callable[[bytes], None] = modem.receive_data
        self._to_host: Callable[[bytes], None] = self._write_now
        if baud is not None:
            self._to_modem = Pacer(baud, modem.receive_data)
            self._to_host = Pacer(baud, self._write_now, self._pacer_congested)
        os.set_blocking(read_fd, False)
        os.set_blocking(write_fd, False)

    def start(self) -> None:
        self._loop.add_reader(self._read_fd, self._on_readable)
        self._modem.attach_output(self.write)

    def stop(self) -> None:
        self._modem.attach_output(None)
        for source in ("uart", "pacer"):
            self._modem.set_output_congested(source, False)
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

    def _pacer_congested(self, congested: bool) -> None:
        self._modem.set_output_congested("pacer", congested)

    def _write_now(self, data: bytes) -> None:
        if len(self._out) + len(data) > MAX_OUTPUT_BACKLOG:
            log.warning("the host is not reading: a write of %d bytes dropped", len(data))
            return
        self._out += data
        if not self._writing:
            self._on_writable()
        self._check_congestion()

    def _check_congestion(self) -> None:
        waiting = len(self._out)
        if not self._congested and waiting > HIGH_WATER:
            self._congested = True
            self._modem.set_output_congested("uart", True)
        elif self._congested and waiting < LOW_WATER:
            self._congested = False
            self._modem.set_output_congested("uart", False)

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
        self._check_congestion()

    def flush_blocking(self, timeout: float = 1.0) -> None:
        """Best effort at shutdown: hand what is left to the kernel."""
        try:
            while self._out:
                written = os.write(self._write_fd, self._out)
                del self._out[:written]
        except OSError:
            self._out.clear()
