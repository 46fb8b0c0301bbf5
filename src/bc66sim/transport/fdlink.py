"""A module's UART over a pair of non-blocking file descriptors.

Shared by the pty, serial and stdio transports.  Output waits in a buffer while
the other end does not read; the bounds on it, the trace and the pacing are
:class:`~bc66sim.transport.base.UartLink`'s, as for every transport.
"""

from __future__ import annotations

import asyncio
import logging
import os

from bc66sim.transport.base import UartDevice, UartLink
from bc66sim.transport.trace import Trace

log = logging.getLogger(__name__)

READ_SIZE = 65536


class FdLink:
    """Feeds ``read_fd`` into the modem and writes the modem's output to ``write_fd``."""

    def __init__(
        self,
        modem: UartDevice,
        read_fd: int,
        write_fd: int,
        trace: Trace,
        baud: int | None = None,
        *,
        escape: int | None = None,
    ) -> None:
        #: A byte that ends the link instead of reaching the module (a terminal's quit key).
        self._escape = escape
        self._read_fd = read_fd
        self._write_fd = write_fd
        self._out = bytearray()
        self._loop = asyncio.get_running_loop()
        self._writing = False
        self.closed = asyncio.Event()
        self._uart = UartLink(modem, trace, self._write_now, lambda: len(self._out), baud)
        os.set_blocking(read_fd, False)
        os.set_blocking(write_fd, False)

    def start(self) -> None:
        self._loop.add_reader(self._read_fd, self._on_readable)
        self._uart.attach()

    def stop(self) -> None:
        self._uart.detach()
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
        if self._escape is not None and self._escape in data:
            data = data[: data.index(self._escape)]
            if data:
                self._uart.from_host(data)
            data = b""
        if not data:
            self._loop.remove_reader(self._read_fd)
            self.closed.set()
            return
        self._uart.from_host(data)

    def _write_now(self, data: bytes) -> None:
        self._out += data
        if not self._writing:
            self._on_writable()
        self._uart.output_changed()

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
        self._uart.output_changed()

    def flush_blocking(self) -> None:
        """Best effort at shutdown: hand what is left to the kernel."""
        try:
            while self._out:
                written = os.write(self._write_fd, self._out)
                del self._out[:written]
        except OSError:
            self._out.clear()
