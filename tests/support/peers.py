"""Real servers on loopback that the tests control: the far end of the module's sockets."""

from __future__ import annotations

import asyncio
import contextlib


class TcpPeer:
    """A TCP server on 127.0.0.1 that records, sends on command, and may echo."""

    def __init__(self, *, echo: bool = False) -> None:
        self.echo = echo
        self.port = 0
        self.received = bytearray()
        self._server: asyncio.Server | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._connected = asyncio.Event()
        self._data = asyncio.Condition()
        self.closed = asyncio.Event()
        self.reading = asyncio.Event()
        self.reading.set()

    async def start(self, host: str = "127.0.0.1") -> TcpPeer:
        self._server = await asyncio.start_server(self._serve, host, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writer = writer
        self.closed.clear()
        self._connected.set()
        try:
            while True:
                await self.reading.wait()
                data = await reader.read(65536)
                if not data:
                    break
                async with self._data:
                    self.received += data
                    self._data.notify_all()
                if self.echo:
                    writer.write(data)
                    await writer.drain()
        except ConnectionError:
            pass
        finally:
            self.closed.set()
            with contextlib.suppress(Exception):
                writer.close()

    async def connection(self, timeout: float = 5) -> asyncio.StreamWriter:
        await asyncio.wait_for(self._connected.wait(), timeout)
        assert self._writer is not None
        return self._writer

    async def send(self, data: bytes) -> None:
        writer = await self.connection()
        writer.write(data)
        await writer.drain()

    async def expect(self, data: bytes, timeout: float = 5) -> None:
        """The next bytes the peer received are exactly ``data``."""
        async with self._data:
            await asyncio.wait_for(
                self._data.wait_for(lambda: len(self.received) >= len(data)), timeout
            )
            got = bytes(self.received[: len(data)])
            del self.received[: len(data)]
        assert got == data, f"peer received {got!r}, expected {data!r}"

    async def wait_received(self, count: int, timeout: float = 30) -> bytes:
        async with self._data:
            await asyncio.wait_for(
                self._data.wait_for(lambda: len(self.received) >= count), timeout
            )
            got = bytes(self.received[:count])
            del self.received[:count]
        return got

    async def close_connection(self) -> None:
        writer = await self.connection()
        writer.close()
        await self.closed.wait()

    async def reset_connection(self) -> None:
        writer = await self.connection()
        writer.transport.abort()
        await self.closed.wait()

    async def wait_closed(self, timeout: float = 5) -> None:
        """The connection is over: closed by either end."""
        await asyncio.wait_for(self.closed.wait(), timeout)

    def pause_reading(self) -> None:
        """Stop reading (after the read under way): windows and buffers fill up."""
        self.reading.clear()

    def resume_reading(self) -> None:
        self.reading.set()

    async def module_port(self) -> int:
        """The module's local port of the connection, as the peer sees it."""
        writer = await self.connection()
        return int(writer.get_extra_info("peername")[1])

    async def stop(self) -> None:
        if self._writer is not None:
            self._writer.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


class UdpPeer(asyncio.DatagramProtocol):
    """A UDP server on loopback that records datagrams and may echo them."""

    def __init__(self, *, echo: bool = True) -> None:
        self.echo = echo
        self.port = 0
        self.datagrams: asyncio.Queue[bytes] = asyncio.Queue()
        self.last_addr: tuple[str, int] | None = None
        self._transport: asyncio.DatagramTransport | None = None

    async def start(self, host: str = "127.0.0.1") -> UdpPeer:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(lambda: self, local_addr=(host, 0))
        self._transport = transport
        self.port = transport.get_extra_info("sockname")[1]
        return self

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:  # type: ignore[override]
        self.last_addr = addr
        self.datagrams.put_nowait(data)
        if self.echo and self._transport is not None:
            self._transport.sendto(data, addr)

    async def next_datagram(self, timeout: float = 5) -> bytes:
        return await asyncio.wait_for(self.datagrams.get(), timeout)

    def send(self, data: bytes) -> None:
        """One datagram to whoever sent the last one."""
        assert self._transport is not None and self.last_addr is not None
        self._transport.sendto(data, self.last_addr)

    async def stop(self) -> None:
        if self._transport is not None:
            self._transport.close()
