"""``bc66sim tap DEVICE --pty PATH``: between a host program and a real BC66.

The tap opens the real module's serial port (any pyserial URL: ``/dev/ttyUSB0``,
``socket://HOST:PORT``, ``rfc2217://…``) and offers the host a port of its own
(a pty, a TCP port, …: the same options as ``serve``).  Every byte passes
unchanged, each way, and the session is recorded in the same format as
``serve --record`` (source "tap"), so ``bc66sim diff`` can hold a real module's
session against the emulator's.

Flow control: when the host does not keep up with the module, the tap stops
reading the module's port (its UART then holds the module back, with RTS/CTS if
the cable has them); what the host sends is written to the module as it comes.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable

import serial as pyserial

from bc66sim.transport.base import PortError

log = logging.getLogger(__name__)

#: Seconds a read of the module's port waits, so that the reader sees a close.
_READ_TIMEOUT = 0.05
#: Bytes read from the module's port at a time.
_READ_SIZE = 4096


class TapError(PortError):
    """The module's port could not be opened."""


class Tap:
    """The far side of the host's UART (transport/base.py's UartDevice): a real module."""

    def __init__(self, device: str, baud: int, *, on_connect: Callable[[], None]) -> None:
        self.device = device
        self.baud = baud
        self._on_connect = on_connect
        self._port: pyserial.SerialBase | None = None
        self._writer: Callable[[bytes], None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._reading = threading.Event()
        self._stopping = threading.Event()
        self._congested: set[str] = set()
        self._thread: threading.Thread | None = None
        #: Set when the module's port failed or closed.
        self.ended = asyncio.Event()

    def open(self) -> str:
        try:
            self._port = pyserial.serial_for_url(self.device, self.baud, timeout=_READ_TIMEOUT)
        except (pyserial.SerialException, ValueError, OSError) as exc:
            raise TapError(f"cannot open the module's port {self.device}: {exc}") from exc
        self._loop = asyncio.get_running_loop()
        self._reading.set()
        self._thread = threading.Thread(target=self._read, name="bc66sim-tap", daemon=True)
        self._thread.start()
        return f"{self.device} @ {self.baud} baud"

    def close(self) -> None:
        self._stopping.set()
        self._reading.set()
        if self._thread is not None:
            self._thread.join(2)
        if self._port is not None:
            self._port.close()

    # -- the host's UART (transport/base.py's UartDevice) ------------------------------

    def attach_output(self, writer: Callable[[bytes], None] | None) -> None:
        self._writer = writer

    def host_connected(self) -> None:
        self._on_connect()

    def set_output_congested(self, source: str, congested: bool) -> None:
        if congested:
            self._congested.add(source)
            self._reading.clear()
        else:
            self._congested.discard(source)
            if not self._congested:
                self._reading.set()

    def receive_data(self, data: bytes) -> None:
        """The host's bytes, to the module as they are."""
        if self._port is None:
            return
        try:
            self._port.write(data)
        except (pyserial.SerialException, OSError) as exc:
            log.error("the module's port %s failed: %s", self.device, exc)
            self.ended.set()

    # -- the module's port ------------------------------------------------------------

    def _read(self) -> None:
        """In its own thread: the module's bytes, handed to the event loop in order."""
        assert self._port is not None and self._loop is not None
        while not self._stopping.is_set():
            self._reading.wait()
            try:
                data = self._port.read(_READ_SIZE)
            except (pyserial.SerialException, OSError) as exc:
                if not self._stopping.is_set():
                    log.error("the module's port %s failed: %s", self.device, exc)
                    self._loop.call_soon_threadsafe(self.ended.set)
                return
            if data:
                self._loop.call_soon_threadsafe(self._to_host, bytes(data))

    def _to_host(self, data: bytes) -> None:
        if self._writer is not None:
            self._writer(data)
