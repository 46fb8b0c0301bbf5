"""--baud on pty/tcp: bytes never faster than the line, in order, none lost.

Only lower bounds on time are asserted: pacing may never be faster than the line
(beyond its burst allowance, SLACK);
how close it gets to the line rate is measured by `make bench`, not here.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from bc66sim.transport.pacing import SLACK, Pacer
from support.links import ServeProcess


async def test_pacer_keeps_order_and_rate() -> None:
    loop = asyncio.get_running_loop()
    got = bytearray()
    done = asyncio.Event()
    payload = os.urandom(960)

    def deliver(piece: bytes) -> None:
        got.extend(piece)
        if len(got) == len(payload):
            done.set()

    pacer = Pacer(96_000, deliver)  # 9600 bytes a second
    started = loop.time()
    pacer(payload[:500])
    pacer(payload[500:])
    await asyncio.wait_for(done.wait(), 5)
    assert bytes(got) == payload
    assert loop.time() - started >= 0.1 - SLACK


async def test_paced_tcp_transport(tmp_path: Path) -> None:
    server = await ServeProcess("--tcp", "127.0.0.1:0", "--baud", "9600", "--attach-delay", "0",
                                "--state-dir", str(tmp_path)).start()  # fmt: skip
    try:
        host, port = server.where.rsplit(":", 1)
        reader, writer = await asyncio.open_connection(host, int(port))
        loop = asyncio.get_running_loop()
        started = loop.time()
        writer.write(b"ATI\r")
        reply = await asyncio.wait_for(reader.readuntil(b"OK\r\n"), 10)
        elapsed = loop.time() - started
        assert reply.endswith(b"Revision: BC66NBR01A10\r\n\r\nOK\r\n")
        assert elapsed >= (4 + len(reply)) / 960 - 2 * SLACK  # 4 bytes in, the reply out
        writer.close()
    finally:
        await server.stop()


def test_bad_baud(tmp_path: Path) -> None:
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "bc66sim", "serve", "--tcp", "127.0.0.1:0", "--baud", "0",
         "--state-dir", str(tmp_path)], capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert result.returncode == 2 and "--baud must be a positive number" in result.stderr


async def test_a_cancelled_pacer_hands_nothing_more_on() -> None:
    """Found by a code review: a gone host's paced commands still reached the module."""
    from bc66sim.transport.pacing import Pacer

    handed: list[bytes] = []
    pacer = Pacer(9600, handed.append)
    pacer(b"ATI\r" * 100)
    await asyncio.sleep(0.02)
    pacer.cancel()
    count = len(handed)
    await asyncio.sleep(0.1)
    assert len(handed) == count and pacer.pending == 0
