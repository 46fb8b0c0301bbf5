"""The module's UART as a pseudo-terminal: ``--pty PATH``.

A raw pty pair is opened; the slave's name is linked at ``PATH`` (a stable path
for the host program to open, whatever number the kernel gave the pty).  The
emulator keeps a slave descriptor open itself, so a host program may close and
reopen the port as it would a USB-UART.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import tty
from pathlib import Path

from bc66sim.module.modem import Modem
from bc66sim.transport.base import PortError
from bc66sim.transport.fdlink import FdLink
from bc66sim.transport.trace import Trace

DEFAULT_PTY_LINK = Path("/tmp/bc66sim/ttyBC66")


class PtyError(PortError):
    """The pty or its link could not be made."""


class PtyPort:
    """A pty whose slave is linked at ``link``; see the module docstring."""

    def __init__(self, link: Path, baud: int | None = None) -> None:
        self.link = link
        self.baud = baud
        self._master = -1
        self._slave = -1
        self._lock = -1
        self._fdlink: FdLink | None = None
        self.ended = asyncio.Event()  # a pty never ends: hosts may close and reopen it

    async def open(self, modem: Modem, trace: Trace) -> str:
        """Open the pty, link it and start serving; returns the link's path."""
        self._take_the_path()
        try:
            self._master, self._slave = os.openpty()
            tty.setraw(self._slave)  # bytes pass unchanged: no echo, no CR/LF mapping
            slave_name = os.ttyname(self._slave)
            self.link.parent.mkdir(parents=True, exist_ok=True)
            if self.link.is_symlink():
                self.link.unlink()
            elif self.link.exists():
                raise PtyError(f"{self.link} exists and is not a link; choose another --pty path")
            self.link.symlink_to(slave_name)
        except OSError as exc:
            self._close()
            raise PtyError(f"cannot create a pty at {self.link}: {exc}") from exc
        except PtyError:
            self._close()
            raise
        self._fdlink = FdLink(modem, self._master, self._master, trace, self.baud)
        self._fdlink.start()
        return str(self.link)

    def _take_the_path(self) -> None:
        """One serve per link path: a second one would silently take the host's port
        away from the first.  A lock beside the link, held while serving, says who has
        it (the kernel drops it when that process ends, however it ends)."""
        lock_path = self.link.with_name(self.link.name + ".lock")
        try:
            self.link.parent.mkdir(parents=True, exist_ok=True)
            self._lock = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._lock)
            self._lock = -1
            raise PtyError(f"{self.link} is in use by another bc66sim serve; stop it, or "
                           "choose another --pty path") from None  # fmt: skip
        except OSError as exc:
            if self._lock >= 0:
                os.close(self._lock)
                self._lock = -1
            raise PtyError(f"cannot use {self.link}: {exc}") from exc

    async def close(self) -> None:
        self._close()

    def _close(self) -> None:
        if self._fdlink is not None:
            self._fdlink.stop()
            self._fdlink = None
        with contextlib.suppress(OSError):
            if self.link.is_symlink() and os.readlink(self.link) == os.ttyname(self._slave):
                self.link.unlink()
        for fd in (self._master, self._slave, self._lock):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._master = self._slave = self._lock = -1
