"""Direct push never drops TCP data when the host reads slowly (issue 9 §2).

A peer floods a direct-push TCP socket while the host reads nothing for 10 s, then
everything.  The module's output backs up in its transport; past the high-water
mark the socket stops reading, so TCP flow control holds the peer back.  Nothing
is lost (SHA-256 equal), no URC is cut, and the emulator's memory stays bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
import tty
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from support.links import ServeProcess

FLOOD = 16 * 1024 * 1024
STALL = 10.0
RECV = re.compile(rb'\r\n\+QIURC: "recv",0,(\d+)\r\n')


class Flood:
    """A TCP server that sends FLOOD random bytes to whoever connects, as fast as it may."""

    def __init__(self) -> None:
        self.data = os.urandom(FLOOD)
        self.sent = 0
        self.port = 0
        self._server: asyncio.Server | None = None

    async def start(self) -> Flood:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        view = memoryview(self.data)
        with contextlib.suppress(ConnectionError):
            for start in range(0, FLOOD, 65536):
                writer.write(view[start : start + 65536])
                await writer.drain()  # returns only as the emulator reads: flow control
                self.sent = min(FLOOD, start + 65536)
            await reader.read()  # keep the connection until the module closes it

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()


class Host:
    """The host side of the UART: raw reads and writes, and a switch to stop reading."""

    def __init__(
        self,
        read: AsyncIterator[bytes],
        write: Callable[[bytes], None],
        stop_reading: Callable[[], None] = lambda: None,
        start_reading: Callable[[], None] = lambda: None,
    ) -> None:
        self._chunks = read
        self.write = write
        self.stop_reading, self.start_reading = stop_reading, start_reading
        self.buffer = bytearray()

    async def read_until(self, pattern: bytes, timeout: float = 10) -> bytes:
        async def fill() -> bytes:
            while (end := self.buffer.find(pattern)) < 0:
                self.buffer += await anext(self._chunks)
            got = bytes(self.buffer[: end + len(pattern)])
            del self.buffer[: end + len(pattern)]
            return got

        return await asyncio.wait_for(fill(), timeout)

    async def payload(self, total: int, timeout: float = 120) -> bytes:
        """Every ``+QIURC: "recv"`` URC's data, by count, until ``total`` bytes came."""
        received = bytearray()

        async def collect() -> None:
            while len(received) < total:
                match = RECV.match(self.buffer)
                if match is None:
                    assert len(self.buffer) < 64 or self.buffer.startswith(b"\r\n+QIURC"), (
                        f"not a URC: {bytes(self.buffer[:80])!r}"
                    )
                    self.buffer += await anext(self._chunks)
                    continue
                length = int(match.group(1))
                end = match.end() + length
                while len(self.buffer) < end + 2:
                    self.buffer += await anext(self._chunks)
                assert self.buffer[end : end + 2] == b"\r\n", "a URC was cut"
                received.extend(self.buffer[match.end() : end])
                del self.buffer[: end + 2]

        await asyncio.wait_for(collect(), timeout)
        return bytes(received)


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


@contextlib.asynccontextmanager
async def host_over(kind: str, tmp_path: Path) -> AsyncIterator[tuple[Host, ServeProcess]]:
    where = ["--tcp", "127.0.0.1:0"] if kind == "tcp" else ["--pty", str(tmp_path / "tty")]
    server = await ServeProcess(*where, "--attach-delay", "0", "--state-dir", str(tmp_path)).start()
    try:
        if kind == "tcp":
            host_name, port = server.where.rsplit(":", 1)
            reader, writer = await asyncio.open_connection(host_name, int(port))

            async def chunks() -> AsyncIterator[bytes]:
                while data := await reader.read(65536):
                    yield data
                raise ConnectionError("the emulator closed the connection")

            def write(data: bytes) -> None:
                writer.write(data)

            yield Host(chunks(), write), server
            writer.close()
        else:
            fd = os.open(tmp_path / "tty", os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
            tty.setraw(fd)
            arrived: asyncio.Queue[bytes] = asyncio.Queue()
            loop = asyncio.get_running_loop()

            def readable() -> None:
                with contextlib.suppress(BlockingIOError):
                    arrived.put_nowait(os.read(fd, 65536))

            loop.add_reader(fd, readable)

            async def pty_chunks() -> AsyncIterator[bytes]:
                while True:
                    yield await arrived.get()

            def pty_write(data: bytes) -> None:
                os.write(fd, data)

            host = Host(pty_chunks(), pty_write, lambda: loop.remove_reader(fd),
                        lambda: loop.add_reader(fd, readable))  # fmt: skip
            try:
                yield host, server
            finally:
                loop.remove_reader(fd)  # no-op if already removed
                os.close(fd)
    finally:
        await server.stop()


@pytest.mark.parametrize("kind", ["tcp", "pty"])
async def test_a_host_that_stops_reading_loses_nothing(kind: str, tmp_path: Path) -> None:
    flood = await Flood().start()
    async with host_over(kind, tmp_path) as (host, server):
        assert server.process is not None
        pid = server.process.pid
        host.write(b"ATE0\r\n")
        await host.read_until(b"OK\r\n")
        host.write(f'AT+QIOPEN=1,0,"TCP","127.0.0.1",{flood.port},0,1\r\n'.encode())
        await host.read_until(b"+QIOPEN: 0,0\r\n")
        before = rss_kib(pid)
        # The host reads nothing now, while the peer floods.  (Over TCP nobody reads
        # the connection: asyncio stops at 128 KiB.)
        host.stop_reading()
        await asyncio.sleep(STALL)
        held_back_at = flood.sent
        growth = rss_kib(pid) - before
        assert held_back_at < FLOOD, "the sender was never held back"
        assert growth < 16 * 1024, f"the emulator grew by {growth} KiB while the host slept"
        host.start_reading()
        data = await host.payload(FLOOD)
    await flood.stop()
    assert hashlib.sha256(data).hexdigest() == hashlib.sha256(flood.data).hexdigest()
