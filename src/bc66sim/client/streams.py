"""The byte stream to a BC66: any pyserial URL or path, as asyncio reads and writes.

``socket://host:port`` (the emulator's ``--tcp``) is opened natively by asyncio;
anything else (``/dev/ttyUSB0``, a pty path, ``rfc2217://``, ``loop://``) through
pyserial, with one thread that blocks in ``read`` and hands bytes to the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import urllib.parse
from typing import Protocol

import serial as pyserial

from bc66sim.client.errors import ConnectionLost


class ByteStream(Protocol):
    async def read(self) -> bytes:
        """Some bytes; ``b""`` when the port is gone."""
        ...

    async def write(self, data: bytes) -> None: ...

    async def close(self) -> None: ...


async def open_stream(port: str, baudrate: int = 115200) -> ByteStream:
    """Open ``port``; raises :class:`ConnectionLost` when it cannot be opened."""
    if port.startswith("socket://"):
        parts = urllib.parse.urlsplit(port)
        if parts.hostname is None or parts.port is None:
            raise ConnectionLost(f"expected socket://HOST:PORT, got {port!r}")
        try:
            reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        except OSError as exc:
            raise ConnectionLost(f"cannot connect to {port}: {exc}") from exc
        return _TcpStream(reader, writer)
    try:
        serial_port = pyserial.serial_for_url(port, baudrate=baudrate, timeout=0.05)
    except (pyserial.SerialException, ValueError, OSError) as exc:
        raise ConnectionLost(f"cannot open {port}: {exc}") from exc
    return _SerialStream(serial_port)


class _TcpStream:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader, self._writer = reader, writer

    async def read(self) -> bytes:
        try:
            return await self._reader.read(65536)
        except ConnectionError:
            return b""

    async def write(self, data: bytes) -> None:
        try:
            self._writer.write(data)
            await self._writer.drain()
        except ConnectionError as exc:
            raise ConnectionLost(f"port closed: {exc}") from exc

    async def close(self) -> None:
        self._writer.close()
        with contextlib.suppress(ConnectionError):
            await self._writer.wait_closed()


class _SerialStream:
    """pyserial in a reader thread; writes go through the default executor."""

    def __init__(self, port: pyserial.SerialBase) -> None:
        self._port = port
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[bytes] = asyncio.Queue()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._pump, name="bc66-serial", daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        while not self._stop.is_set():
            try:
                data = self._port.read(max(1, getattr(self._port, "in_waiting", 1)))
            except (pyserial.SerialException, OSError, TypeError):
                data = None
            if data is None:
                self._loop.call_soon_threadsafe(self._queue.put_nowait, b"")
                return
            if data:
                self._loop.call_soon_threadsafe(self._queue.put_nowait, data)

    async def read(self) -> bytes:
        return await self._queue.get()

    async def write(self, data: bytes) -> None:
        try:
            await self._loop.run_in_executor(None, self._port.write, data)
        except (pyserial.SerialException, OSError) as exc:
            raise ConnectionLost(f"port closed: {exc}") from exc

    async def close(self) -> None:
        self._stop.set()
        await self._loop.run_in_executor(None, self._thread.join, 1.0)
        self._port.close()
