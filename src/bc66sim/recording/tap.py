"""``bc66sim tap DEVICE --pty PATH``: between a host program and a real BC66.

The tap opens the real module's serial port (any pyserial URL: ``/dev/ttyUSB0``,
``socket://HOST:PORT``, ``rfc2217://…``) and offers the host a port of its own
(a pty, a TCP port, …: the same options as ``serve``).  Every byte passes
unchanged, each way, and the session is recorded in the same format as
``serve --record`` (source "tap"), so ``bc66sim diff`` can hold a real module's
session against the emulator's.

Flow control: when the host does not keep up with the module, the tap stops
reading the module's port, and the module's port then holds the module back if it
has hardware flow control (``--rtscts``; without it a real UART's buffer
overflows, as it would with the host reading directly).  What the host sends is
written to the module by a thread of its own, so a slow port never stalls the
event loop; if the module's port takes nothing for :data:`WRITE_TIMEOUT` seconds,
or :data:`MAX_PENDING` bytes wait for it, the tap ends with an error (exit 1)
rather than drop the host's bytes.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable

import serial as pyserial

from bc66sim.transport.base import PortError

log = logging.getLogger(__name__)

#: Seconds a read of the module's port waits, so that the reader sees a close.
_READ_TIMEOUT = 0.05
#: Bytes read from the module's port at a time.
_READ_SIZE = 4096
#: Seconds a write to the module's port may block before the port counts as failed.
WRITE_TIMEOUT = 10.0
#: Bytes of the host's that may wait for the module's port.
MAX_PENDING = 1024 * 1024


class TapError(PortError):
    """The module's port could not be opened."""


class Tap:
    """The far side of the host's UART (transport/base.py's UartDevice): a real module."""

    def __init__(self, device: str, baud: int, *, on_connect: Callable[[], None],
                 rtscts: bool = False) -> None:  # fmt: skip
        self.device = device
        self.baud = baud
        self.rtscts = rtscts
        self._on_connect = on_connect
        self._port: pyserial.SerialBase | None = None
        self._writer: Callable[[bytes], None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._reading = threading.Event()
        self._stopping = threading.Event()
        self._congested: set[str] = set()
        self._thread: threading.Thread | None = None
        self._writer_thread: threading.Thread | None = None
        self._pending: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._pending_bytes = 0
        self._pending_lock = threading.Lock()
        #: Set when the module's port failed or closed; ``failure`` says how, if it did.
        self.ended = asyncio.Event()
        self.failure: str | None = None

    def open(self) -> str:
        try:
            self._port = pyserial.serial_for_url(self.device, self.baud, timeout=_READ_TIMEOUT,
                                                 write_timeout=WRITE_TIMEOUT,
                                                 rtscts=self.rtscts)  # fmt: skip
        except (pyserial.SerialException, ValueError, OSError) as exc:
            raise TapError(f"cannot open the module's port {self.device}: {exc}") from exc
        self._loop = asyncio.get_running_loop()
        self._reading.set()
        self._thread = threading.Thread(target=self._read, name="bc66sim-tap", daemon=True)
        self._thread.start()
        self._writer_thread = threading.Thread(target=self._write, name="bc66sim-tap-write",
                                               daemon=True)  # fmt: skip
        self._writer_thread.start()
        return f"{self.device} @ {self.baud} baud"

    def close(self) -> None:
        self._stopping.set()
        self._reading.set()
        self._pending.put(None)
        for thread in (self._thread, self._writer_thread):
            if thread is not None:
                thread.join(2)
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
        """The host's bytes, to the module as they are (by the writing thread)."""
        if self._port is None or self.failure is not None:
            return
        with self._pending_lock:
            self._pending_bytes += len(data)
            over = self._pending_bytes > MAX_PENDING
        if over:
            self._fail(f"more than {MAX_PENDING} bytes of the host's wait for it")
            return
        self._pending.put(data)

    def _write(self) -> None:
        """In its own thread: the host's bytes, written to the module's port in order."""
        assert self._port is not None and self._loop is not None
        while (data := self._pending.get()) is not None:
            try:
                self._port.write(data)
            except (pyserial.SerialException, OSError) as exc:  # a write timeout too
                if not self._stopping.is_set():
                    self._loop.call_soon_threadsafe(self._fail, str(exc))
                return
            with self._pending_lock:
                self._pending_bytes -= len(data)

    def _fail(self, why: str) -> None:
        if self.failure is None:
            self.failure = why
            log.error("the module's port %s failed: %s", self.device, why)
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
                    self._loop.call_soon_threadsafe(self._fail, str(exc))
                return
            if data:
                self._loop.call_soon_threadsafe(self._to_host, bytes(data))

    def _to_host(self, data: bytes) -> None:
        if self._writer is not None:
            self._writer(data)
