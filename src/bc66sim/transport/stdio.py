"""The module's UART on standard input and output: ``--stdio``.

When standard input is a terminal it is put in raw mode, so Enter sends CR as a
UART would and every byte reaches the module (Ctrl+C included), except Ctrl+]:
that quits, as in telnet and miniterm (said at start).  The terminal is restored
on exit.  End of input stops the emulator.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import termios
import tty
from typing import Any

from bc66sim.transport.base import UartDevice
from bc66sim.transport.fdlink import FdLink
from bc66sim.transport.trace import Trace

log = logging.getLogger(__name__)

#: Ctrl+], telnet's and miniterm's escape: on a terminal it ends ``serve --stdio``.
QUIT_KEY = 0x1D


class StdioPort:
    def __init__(self) -> None:
        self._saved_tty: list[Any] | None = None
        self._link: FdLink | None = None
        self._blocking: list[tuple[int, bool]] = []
        #: End of standard input: the emulator stops.
        self.ended = asyncio.Event()

    async def open(self, modem: UartDevice, trace: Trace) -> str:
        stdin, stdout = sys.stdin.fileno(), sys.stdout.fileno()
        escape = None
        if os.isatty(stdin):
            self._saved_tty = termios.tcgetattr(stdin)
            tty.setraw(stdin)  # Ctrl+C is a byte for the module now: Ctrl+] quits instead
            escape = QUIT_KEY
            log.info("standard input is a terminal: Ctrl+] quits")
        self._blocking = [(fd, os.get_blocking(fd)) for fd in (stdin, stdout)]
        self._link = FdLink(modem, stdin, stdout, trace, escape=escape)
        self.ended = self._link.closed
        self._link.start()
        return "standard input/output"

    async def close(self) -> None:
        if self._link is not None:
            self._link.stop()
            self._link = None
        for fd, blocking in self._blocking:
            with contextlib.suppress(OSError):
                os.set_blocking(fd, blocking)
        if self._saved_tty is not None:
            termios.tcsetattr(sys.stdin.fileno(), termios.TCSADRAIN, self._saved_tty)
            self._saved_tty = None
