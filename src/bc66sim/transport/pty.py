"""The module's UART as a pseudo-terminal: ``--pty PATH``.

A raw pty pair is opened; the slave's name is linked at ``PATH`` (a stable path
for the host program to open, whatever number the kernel gave the pty).  The
emulator keeps a slave descriptor open itself, so a host program may close and
reopen the port as it would a USB-UART.

Each time a host opens the port the module hears of it (``Modem.host_connected``), as
from a TCP connection: so ``--power-on-at-connect`` boots the module when a terminal
opens the port, and the terminal sees ``RDY``.  The kernel says when the slave is
opened through inotify (Linux); a pty keeps no count of its openers otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import fcntl
import os
import struct
import sys
import tty
from collections.abc import Callable
from pathlib import Path

from bc66sim.transport.base import PortError, UartDevice
from bc66sim.transport.fdlink import FdLink
from bc66sim.transport.trace import Trace

DEFAULT_PTY_LINK = Path("/tmp/bc66sim/ttyBC66")


class PtyError(PortError):
    """The pty or its link could not be made."""


class _OpenWatch:
    """Calls ``opened`` each time anyone opens ``path`` (inotify ``IN_OPEN``).

    Our own descriptors were opened before the watch starts, and nothing else here
    opens the slave again, so every event is a host opening the port.
    """

    _IN_OPEN = 0x20
    _IN_NONBLOCK, _IN_CLOEXEC = os.O_NONBLOCK, os.O_CLOEXEC
    _EVENT = struct.Struct("iIII")  # wd, mask, cookie, length of the name that follows

    def __init__(self, path: str, opened: Callable[[], None]) -> None:
        self._opened = opened
        self._fd = -1
        if not sys.platform.startswith("linux"):
            raise PtyError("knowing when a host opens the pty needs Linux (inotify)")
        libc = ctypes.CDLL(None, use_errno=True)
        fd = libc.inotify_init1(self._IN_NONBLOCK | self._IN_CLOEXEC)
        if fd < 0:
            raise PtyError(f"inotify: {os.strerror(ctypes.get_errno())}")
        if libc.inotify_add_watch(fd, os.fsencode(path), self._IN_OPEN) < 0:
            error = ctypes.get_errno()
            os.close(fd)
            raise PtyError(f"inotify on {path}: {os.strerror(error)}")
        self._fd = fd
        asyncio.get_running_loop().add_reader(fd, self._read)

    def _read(self) -> None:
        try:
            events = os.read(self._fd, 4096)
        except BlockingIOError:
            return
        offset = 0
        while offset + self._EVENT.size <= len(events):
            _wd, mask, _cookie, name_length = self._EVENT.unpack_from(events, offset)
            offset += self._EVENT.size + name_length
            if mask & self._IN_OPEN:
                self._opened()

    def close(self) -> None:
        if self._fd >= 0:
            with contextlib.suppress(Exception):
                asyncio.get_running_loop().remove_reader(self._fd)
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = -1


class PtyPort:
    """A pty whose slave is linked at ``link``; see the module docstring."""

    def __init__(self, link: Path, baud: int | None = None) -> None:
        self.link = link
        self.baud = baud
        self._master = -1
        self._slave = -1
        self._lock = -1
        self._fdlink: FdLink | None = None
        self._watch: _OpenWatch | None = None
        self.ended = asyncio.Event()  # a pty never ends: hosts may close and reopen it

    async def open(self, modem: UartDevice, trace: Trace) -> str:
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
            self._watch = _OpenWatch(slave_name, modem.host_connected)
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
        if self._watch is not None:
            self._watch.close()
            self._watch = None
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
