"""No loss: 1 MiB of random bytes through a TCP socket, both directions, SHA-256 equal.

The host side here reads the module's output by byte count, as a real driver must:
payloads hold every byte value, CR and LF included.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re

import pytest

from support.links import Link
from support.peers import TcpPeer

SIZE = 1024 * 1024
CHUNK = 1460  # the data-mode maximum in text (§2.3.4)
URC_RECV = re.compile(rb'\+QIURC: "recv",0,(\d+)')


async def open_socket(link: Link, peer: TcpPeer, mode: int) -> None:
    await link.command("ATE0")
    await link.command('AT+QICFG="echomode",0')
    link.buffer.clear()
    await link.write(f'AT+QIOPEN=1,0,"TCP","127.0.0.1",{peer.port},0,{mode}\r'.encode())
    await link.expect(b"\r\nOK\r\n\r\n+QIOPEN: 0,0\r\n")


async def upload(link: Link, payload: bytes) -> None:
    """Fixed-length data mode; a SEND FAIL is retried, as the note advises."""
    offset = 0
    while offset < len(payload):
        chunk = payload[offset : offset + CHUNK]
        await link.write(b"AT+QISEND=0,%d\r" % len(chunk))
        await link.expect(b"\r\n> ")
        await link.write(chunk)
        result = await link.read_until(re.compile(rb"SEND (OK|FAIL)\r\n"), timeout=10)
        if result.endswith(b"SEND OK\r\n"):
            offset += len(chunk)
        else:
            await asyncio.sleep(0.01)


async def next_frame(link: Link) -> bytes:
    """The text of the next framed line (without its CR LF framing)."""
    await link.expect(b"\r\n", timeout=10)
    return (await link.read_until(b"\r\n", timeout=10))[:-2]


async def download_buffered(link: Link, size: int) -> bytes:
    received = bytearray()
    while len(received) < size:
        await link.write(b"AT+QIRD=0,512\r")
        while True:
            frame = await next_frame(link)
            if frame.startswith(b"+QIRD: "):
                break  # anything else is a URC ("recv", "buff full")
        count = int(frame[7:])
        if count:
            received += await link.read_exactly(count, timeout=10)
            await link.expect(b"\r\n\r\nOK\r\n", timeout=10)
        else:
            await link.expect(b"\r\nOK\r\n", timeout=10)
            await asyncio.sleep(0.005)
    return bytes(received)


async def download_pushed(link: Link, size: int) -> bytes:
    received = bytearray()
    while len(received) < size:
        match = URC_RECV.fullmatch(await next_frame(link))
        assert match is not None
        received += await link.read_exactly(int(match.group(1)), timeout=10)
        await link.expect(b"\r\n", timeout=10)
    return bytes(received)


@pytest.mark.parametrize("mode", [0, 1], ids=["buffer", "direct-push"])
async def test_one_mebibyte_up(any_link: Link, peer: TcpPeer, mode: int) -> None:
    payload = os.urandom(SIZE)
    await open_socket(any_link, peer, mode)
    sender = asyncio.create_task(upload(any_link, payload))
    got = await peer.wait_received(SIZE, timeout=120)
    await sender
    assert hashlib.sha256(got).hexdigest() == hashlib.sha256(payload).hexdigest()


@pytest.mark.parametrize("mode", [0, 1], ids=["buffer", "direct-push"])
async def test_one_mebibyte_down(any_link: Link, peer: TcpPeer, mode: int) -> None:
    payload = os.urandom(SIZE)
    await open_socket(any_link, peer, mode)
    sender = asyncio.create_task(peer.send(payload))
    download = download_pushed if mode else download_buffered
    got = await asyncio.wait_for(download(any_link, SIZE), 120)
    await sender
    assert hashlib.sha256(got).hexdigest() == hashlib.sha256(payload).hexdigest()
    await any_link.quiet(0.1)


async def test_sends_and_close_in_one_burst_all_reach_the_peer(
    any_link: Link, peer: TcpPeer
) -> None:
    """Sends of one turn go to the kernel as one write at its end (net/host.py); a close
    in the same burst still lets every byte answered SEND OK through before the FIN."""
    await open_socket(any_link, peer, 0)
    chunks = [os.urandom(CHUNK) for _ in range(8)]
    any_link.buffer.clear()
    burst = b"".join(b"AT+QISEND=0,%d\r\n" % len(chunk) + chunk for chunk in chunks)
    await any_link.write(burst + b"AT+QICLOSE=0\r\n")
    said = await any_link.read_until(b"CLOSE OK\r\n", timeout=10)
    assert said.count(b"SEND OK") == len(chunks)
    await asyncio.wait_for(peer.closed.wait(), 10)
    assert bytes(peer.received) == b"".join(chunks)
