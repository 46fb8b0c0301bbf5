"""The link profile on the real network (issue 12 §1): ``bc66sim serve --network``.

The delays are applied to real packets, so what the module measures shows them:
``AT+QPING``'s times and TTLs, and the round trip of a real UDP echo.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from support.links import ServeProcess
from support.peers import UdpPeer
from test_power_end_to_end import Host

PROFILE = """\
base = "ce0"
delay = 0.3            # seconds each way, no spread: the test can check it
delay_spread = 0.0
retransmission = 0.0
udp_loss = 0.0
core_hops = 3
"""


async def start(tmp_path: Path) -> tuple[ServeProcess, Host]:
    profile = tmp_path / "steady.toml"
    profile.write_text(PROFILE)
    server = await ServeProcess("--tcp", "127.0.0.1:0", "--attach-delay", "1", "--network",
                                str(profile), "--state-dir", str(tmp_path)).start()  # fmt: skip
    host, port = server.where.rsplit(":", 1)
    uart = Host(*await asyncio.open_connection(host, int(port)))
    await uart.until(b"+IP: ")
    await uart.command("ATE0")
    return server, uart


async def test_ping_shows_the_profile(tmp_path: Path) -> None:
    server, uart = await start(tmp_path)
    try:
        assert any("link: steady" in text for text in server.log)
        await uart.command('AT+QPING=1,"127.0.0.1",5,2,32')
        summary = await uart.until(b"\r\n+QPING: 0,2,2,", timeout=15)
        replies = re.findall(rb'\+QPING: 0,"127.0.0.1",32,(\d+),(\d+)', summary)
        assert len(replies) == 2, summary
        for milliseconds, ttl in replies:
            assert 600 <= int(milliseconds) < 900  # 2 x 0.3 s and the air time
            assert int(ttl) == 64 - 3  # loopback's 64, less the operator's core
    finally:
        uart.writer.close()
        await server.stop()


async def test_a_udp_round_trip_shows_the_profile(tmp_path: Path) -> None:
    peer = await UdpPeer(echo=True).start()
    server, uart = await start(tmp_path)
    try:
        await uart.command(f'AT+QIOPEN=1,0,"UDP","127.0.0.1",{peer.port},0,1')
        await uart.until(b"+QIOPEN: 0,0\r\n")
        loop = asyncio.get_running_loop()
        started = loop.time()
        await uart.command("AT+QISEND=0,100," + "z" * 100)
        await uart.until(b'+QIURC: "recv",0,100\r\n', timeout=10)
        elapsed = loop.time() - started
        # 100 bytes up at 62 kbit/s and down at 26 kbit/s (0.04 s), 2 x 0.3 s.
        assert 0.62 <= elapsed < 1.2, elapsed
    finally:
        uart.writer.close()
        await server.stop()
        await peer.stop()


async def test_tcp_through_ce0_arrives_whole_and_in_order(tmp_path: Path) -> None:
    """Real timers: many packets due at the same moment still leave in the order sent,
    and a close right after SEND OK waits for them (the review found both broken)."""
    received = bytearray()
    closed = asyncio.Event()

    async def serve_peer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(4096):
            received.extend(data)
        closed.set()
        writer.close()

    listener = await asyncio.start_server(serve_peer, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    args = ("--tcp", "127.0.0.1:0", "--attach-delay", "1", "--network", "ce0", "--seed", "1")
    server = await ServeProcess(*args, "--state-dir", str(tmp_path)).start()
    host, uart_port = server.where.rsplit(":", 1)
    uart = Host(*await asyncio.open_connection(host, int(uart_port)))
    try:
        await uart.until(b"+IP: ")
        await uart.command("ATE0")
        await uart.command(f'AT+QIOPEN=1,0,"TCP","127.0.0.1",{port},0,1')
        await uart.until(b"+QIOPEN: 0,0\r\n", timeout=15)
        sent = b""
        for n in range(60):
            chunk = f"{n:03d}-".encode()
            await uart.command(f"AT+QISEND=0,4,{chunk.decode()}")
            await uart.until(b"SEND OK\r\n")
            sent += chunk
        await uart.command("AT+QICLOSE=0")
        await asyncio.wait_for(closed.wait(), 30)
        assert bytes(received) == sent
    finally:
        uart.writer.close()
        listener.close()
        await server.stop()
