"""The floor of the I/O path: answers every CR with ``\\r\\nOK\\r\\n`` and does nothing else.

Same asyncio machinery as the emulator (pty via add_reader, TCP via start_server),
no AT processing: the emulator's latency over this is what AT handling costs.

    python bench/floor.py tcp            -> prints "ready on HOST:PORT"
    python bench/floor.py pty PATH       -> prints "ready on PATH"
    python bench/floor.py blocking-tcp   -> a blocking echo, a thread a connection (no asyncio)
    python bench/floor.py blocking-pty PATH  -> a blocking echo on a pty
    python bench/floor.py echo           -> a TCP echo server (the far end of the sockets)
    python bench/floor.py source N       -> a TCP server that sends N bytes to each client
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import threading
import tty
from pathlib import Path

OK = b"\r\nOK\r\n"


async def serve_tcp() -> None:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            writer.write(OK * data.count(b"\r"))

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    host, port = server.sockets[0].getsockname()[:2]
    print(f"ready on {host}:{port}", flush=True)
    await asyncio.Event().wait()


async def serve_echo() -> None:
    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()

    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    host, port = server.sockets[0].getsockname()[:2]
    print(f"ready on {host}:{port}", flush=True)
    await asyncio.Event().wait()


async def serve_source(size: int) -> None:
    async def send(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(os.urandom(size))
        await writer.drain()
        await reader.read()  # keep the connection until the client closes it

    server = await asyncio.start_server(send, "127.0.0.1", 0)
    host, port = server.sockets[0].getsockname()[:2]
    print(f"ready on {host}:{port}", flush=True)
    await asyncio.Event().wait()


async def serve_pty(link: Path) -> None:
    master, slave = os.openpty()
    tty.setraw(slave)
    link.unlink(missing_ok=True)
    link.symlink_to(os.ttyname(slave))
    os.set_blocking(master, False)

    def answer() -> None:
        data = os.read(master, 65536)
        os.write(master, OK * data.count(b"\r"))

    asyncio.get_running_loop().add_reader(master, answer)
    print(f"ready on {link}", flush=True)
    await asyncio.Event().wait()


def serve_blocking_tcp() -> None:
    """The plainest Python server there is: blocking sockets, a thread a connection."""
    listener = socket.create_server(("127.0.0.1", 0))
    host, port = listener.getsockname()[:2]
    print(f"ready on {host}:{port}", flush=True)

    def echo(connection: socket.socket) -> None:
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with connection:
            while data := connection.recv(65536):
                connection.sendall(data)

    while True:
        connection, _ = listener.accept()
        threading.Thread(target=echo, args=(connection,), daemon=True).start()


def serve_blocking_pty(link: Path) -> None:
    master, slave = os.openpty()
    tty.setraw(master)
    tty.setraw(slave)
    link.unlink(missing_ok=True)
    link.symlink_to(os.ttyname(slave))
    print(f"ready on {link}", flush=True)
    while data := os.read(master, 65536):
        os.write(master, data)


if __name__ == "__main__":
    kind = sys.argv[1]
    if kind == "blocking-tcp":
        serve_blocking_tcp()
    elif kind == "blocking-pty":
        serve_blocking_pty(Path(sys.argv[2]))
    elif kind == "tcp":
        asyncio.run(serve_tcp())
    elif kind == "echo":
        asyncio.run(serve_echo())
    elif kind == "source":
        asyncio.run(serve_source(int(sys.argv[2])))
    else:
        asyncio.run(serve_pty(Path(sys.argv[2])))
