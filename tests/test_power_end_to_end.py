"""NB-IoT time end to end (issue 11): ``bc66sim serve --time-scale`` on real sockets.

A UDP device sleeps in PSM while a real server on loopback sends to it; a TCP
socket keeps the module out of deep sleep.  Module time runs 20 times as fast as
the wall clock, so 30 s of module time (RRC inactivity, then T3324) is 1.5 s here.
"""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

from support.links import ServeProcess

SCALE = 20


class Host:
    """The host program's side of the TCP UART: write lines, read what comes."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.seen = bytearray()

    async def until(self, marker: bytes, timeout: float = 10) -> bytes:
        """Everything up to and including ``marker``."""
        while marker not in self.seen:
            try:
                self.seen += await asyncio.wait_for(self.reader.read(4096), timeout)
            except TimeoutError:
                raise AssertionError(
                    f"no {marker!r}; the module said {bytes(self.seen)!r}"
                ) from None
        end = self.seen.index(marker) + len(marker)
        got = bytes(self.seen[:end])
        del self.seen[:end]
        return got

    async def quiet(self, seconds: float) -> bytes:
        """What arrives within ``seconds`` (wall time)."""
        try:
            while True:
                self.seen += await asyncio.wait_for(self.reader.read(4096), seconds)
        except TimeoutError:
            pass
        got = bytes(self.seen)
        self.seen.clear()
        return got

    async def command(self, line: str) -> bytes:
        self.writer.write(line.encode() + b"\r\n")
        return await self.until(b"\r\n", timeout=10) + await self.until(b"\r\n")


async def start(tmp_path: Path) -> tuple[ServeProcess, Host]:
    server = await ServeProcess("--tcp", "127.0.0.1:0", "--attach-delay", "1",
                                "--time-scale", str(SCALE), "--state-dir",
                                str(tmp_path)).start()  # fmt: skip
    host, port = server.where.rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    uart = Host(reader, writer)
    await uart.until(b"+IP: ")
    for line in ("ATE0", 'AT+QCFG="dsevent",1', "AT+QATWAKEUP=1", "AT+QNBIOTEVENT=1,1",
                 'AT+QCFG="atlocktime",30', 'AT+CPSMS=1,,,"00000001","00000101"'):  # fmt: skip
        await uart.command(line)
    return server, uart


async def test_a_udp_device_sleeps_and_gets_what_was_sent_meanwhile(tmp_path: Path) -> None:
    collector = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    collector.bind(("127.0.0.1", 0))
    collector.setblocking(False)
    loop = asyncio.get_running_loop()
    server, uart = await start(tmp_path)
    try:
        port = collector.getsockname()[1]
        await uart.command(f'AT+QIOPEN=1,0,"UDP","127.0.0.1",{port},0,1')
        await uart.until(b"+QIOPEN: 0,0\r\n")
        await uart.command("AT+QISEND=0,5,hello")
        data, module_address = await asyncio.wait_for(loop.sock_recvfrom(collector, 100), 5)
        assert data == b"hello"
        await uart.command("AT+QRELLOCK")
        slept = await uart.until(b'"ENTER DEEPSLEEP"\r\n', timeout=30 * 2 / SCALE + 5)
        assert b'+QNBIOTEVENT: "ENTER PSM"' in slept
        # The server reports while the device sleeps: the network holds the datagram.
        collector.sendto(b"while-asleep", module_address)
        assert await uart.quiet(0.5) == b""  # no URC in PSM (§2.4 note 1)
        # The first AT only wakes the module: no echo, no answer.
        uart.writer.write(b"AT\r\n")
        woke = await uart.until(b"+QATWAKEUP\r\n")
        assert woke == b'\r\n+QNBIOTEVENT: "EXIT DEEPSLEEP"\r\n\r\n+QATWAKEUP\r\n'
        assert await uart.quiet(0.3) == b""
        assert await uart.command("AT") == b"\r\nOK\r\n"
        # The socket survived the sleep: send at once; the uplink makes the module
        # reachable, and the held datagram arrives.
        sent = await uart.command("AT+QISEND=0,3,abc")
        assert sent == b"\r\nOK\r\n", server.log
        after = await uart.until(b"while-asleep\r\n")
        expected = (b'\r\nSEND OK\r\n\r\n+QNBIOTEVENT: "EXIT PSM"\r\n'
                    b'\r\n+QIURC: "recv",0,12\r\nwhile-asleep\r\n')  # fmt: skip
        assert after == expected, after
        data, _ = await asyncio.wait_for(loop.sock_recvfrom(collector, 100), 5)
        assert data == b"abc"
    finally:
        uart.writer.close()
        collector.close()
        await server.stop()
    assert any("energy over" in text for text in server.log), server.log
    assert any("deep_sleep" in text for text in server.log)


async def test_a_tcp_socket_keeps_the_module_out_of_deep_sleep(tmp_path: Path) -> None:
    listener = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    server, uart = await start(tmp_path)
    try:
        await uart.command(f'AT+QIOPEN=1,0,"TCP","127.0.0.1",{port},0,1')
        await uart.until(b"+QIOPEN: 0,0\r\n")
        await uart.command("AT+QRELLOCK")
        await uart.until(b'"ENTER PSM"\r\n', timeout=30 * 2 / SCALE + 5)
        assert await uart.quiet(60 / SCALE) == b""  # a minute of module time: no deep sleep
        await uart.command("AT+QICLOSE=0")
        await uart.until(b"CLOSE OK\r\n")
        await uart.command("AT+QRELLOCK")
        assert await uart.until(b'"ENTER DEEPSLEEP"\r\n') == (
            b'\r\n+QNBIOTEVENT: "ENTER DEEPSLEEP"\r\n'
        )
    finally:
        uart.writer.close()
        listener.close()
        await server.stop()


async def test_the_driver_wakes_a_sleeping_module(tmp_path: Path) -> None:
    """``AsyncBC66.wake()``: the lost wake-up command is resent until one is answered."""
    from bc66sim.client.aio import AsyncBC66
    from bc66sim.client.errors import BC66Timeout

    server = await ServeProcess("--tcp", "127.0.0.1:0", "--attach-delay", "0",
                                "--time-scale", str(SCALE), "--state-dir",
                                str(tmp_path)).start()  # fmt: skip
    modem = await AsyncBC66.open(f"socket://{server.where}")
    try:
        await modem.wake()  # awake: the first AT is answered
        for line in ('AT+CPSMS=1,,,"00000001","00000101"', "AT+QRELLOCK"):
            await modem.command(line)
        await asyncio.sleep(40 / SCALE + 0.5)  # RRC release and T3324: deep sleep
        try:
            await modem.command("AT", timeout=0.5)
            raise AssertionError("a module in deep sleep answered")
        except BC66Timeout:
            pass  # the bytes that woke it were lost
        await asyncio.sleep(10 / SCALE + 0.5)  # the wake-up's lock ran out: asleep again
        await modem.wake()
        assert await modem.command("AT+CGATT?") == ["+CGATT: 1"]
    finally:
        await modem.close()
        await server.stop()
