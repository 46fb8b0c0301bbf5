"""Recordings (issue 14 §2-§4), end to end: ``bc66sim serve --record``, its JSON lines
and pcapng (read by python-pcapng with scapy, and by Wireshark's tshark), ``bc66sim
replay`` to a host program, ``bc66sim tap`` in front of a module, ``bc66sim diff``.

The host programs here are scripts with a fixed course (they wait for the module's
``+IP:`` instead of polling), so that the same program can run against the
recording's replay and must see the same bytes.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from pcapng import FileScanner, blocks
from scapy.layers.inet import ICMP, IP, TCP, UDP

from bc66sim.control.client import ControlClient
from bc66sim.recording.format import RecordingError, read
from support.links import Link, ServeProcess
from support.peers import TcpPeer, UdpPeer

OK = b"\r\nOK\r\n"
Host = Callable[["TcpHost"], Awaitable[None]]


class TcpHost(Link):
    """A host program on a TCP UART that keeps every byte it was sent."""

    def __init__(self) -> None:
        super().__init__()
        self.everything = bytearray()
        self._writer: asyncio.StreamWriter | None = None
        self._pump: asyncio.Task[None] | None = None

    async def connect(self, where: str) -> TcpHost:
        host, port = where.rsplit(":", 1)
        reader, self._writer = await asyncio.open_connection(host, int(port))
        self._pump = asyncio.create_task(self._read(reader))
        return self

    async def _read(self, reader: asyncio.StreamReader) -> None:
        while data := await reader.read(65536):
            self.everything += data
            self.feed(data)

    async def write(self, data: bytes) -> None:
        assert self._writer is not None
        self._writer.write(data)
        await self._writer.drain()

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        if self._pump is not None:
            self._pump.cancel()


async def serve(tmp_path: Path, record: Path, *extra: str) -> ServeProcess:
    """``bc66sim serve --record`` on TCP; the module boots when the host connects."""
    return await ServeProcess(
        "--tcp", "127.0.0.1:0", "--attach-delay", "0.05", "--state-dir", str(tmp_path / "state"),
        "--power-on-at-connect", "--record", str(record), *extra,
    ).start()  # fmt: skip


async def boot(host: TcpHost) -> None:
    await host.read_until(b"+IP: 10.20.30.40\r\n", timeout=10)


def make_session(tcp_port: int, udp_port: int) -> Host:
    """A host program: sockets both ways, a ping, a refused open, data mode."""

    async def session(host: TcpHost) -> None:
        await boot(host)
        assert await host.command("ATE0") == b"ATE0\r" + OK
        assert (await host.command("AT+CGMR")).endswith(OK)
        assert await host.command(f'AT+QIOPEN=1,0,"TCP","127.0.0.1",{tcp_port},0,1') == OK
        await host.expect(b"\r\n+QIOPEN: 0,0\r\n")
        await host.write(b"AT+QISEND=0,5\r")
        await host.read_until(b"> ")
        await host.write(b"hello")
        await host.read_until(b"SEND OK\r\n")
        await host.read_until(b'+QIURC: "recv",0,5\r\nhello\r\n')
        assert await host.command(f'AT+QIOPEN=1,1,"UDP","127.0.0.1",{udp_port},0,1') == OK
        await host.expect(b"\r\n+QIOPEN: 1,0\r\n")
        assert (await host.command("AT+QISEND=1,4,ping")).endswith(OK)
        await host.read_until(b'+QIURC: "recv",1,4\r\nping\r\n')
        assert await host.command('AT+QIOPEN=1,2,"TCP","127.0.0.1",1,0,1') == OK
        await host.expect(b"\r\n+QIOPEN: 2,566\r\n")
        assert await host.command('AT+QPING=1,"127.0.0.1",2,1') == OK
        await host.read_until(b"+QPING: 0,1,1,")
        await host.read_until(b"\r\n")
        for connect_id in (0, 1, 2):
            assert await host.command(f"AT+QICLOSE={connect_id}") == OK
            await host.expect(b"\r\nCLOSE OK\r\n")

    return session


@pytest.fixture
async def echo_peers() -> Any:
    tcp = await TcpPeer(echo=True).start()
    udp = await UdpPeer().start()
    yield tcp, udp
    await tcp.stop()
    await udp.stop()


async def record(tmp_path: Path, session: Host, *extra: str) -> tuple[Path, bytes, ServeProcess]:
    """Run ``session`` against a recording serve; the recording and what the host got."""
    directory = tmp_path / "recording"
    server = await serve(tmp_path, directory, *extra)
    host = await TcpHost().connect(server.where)
    try:
        await session(host)
        await asyncio.sleep(0.2)
    finally:
        await host.close()
        assert await server.stop() == 0
    return directory, bytes(host.everything), server


# -- what a recording holds ---------------------------------------------------------------


AT_PDU = b"\x00\x0c\x00\x02at\x00\x00\x00\x00"  # the exported-PDU header naming "at"


def at_bytes(data: bytes) -> bytes:
    assert data.startswith(AT_PDU), data[:16]
    return data[len(AT_PDU) :]


def radio_and_uart(path: Path) -> tuple[dict[int, str], list[tuple[str, float, bytes, str]]]:
    """A pcapng read with python-pcapng: interface names, and (interface, time, data,
    direction) for every packet in file order."""
    names: dict[int, str] = {}
    packets = []
    with open(path, "rb") as file:
        for block in FileScanner(file):
            if isinstance(block, blocks.InterfaceDescription):
                names[len(names)] = block.options["if_name"]
            elif isinstance(block, blocks.EnhancedPacket):
                flags = block.options.get("epb_flags")
                packets.append((names[block.interface_id], block.timestamp, block.packet_data,
                                flags.inout if flags is not None else ""))  # fmt: skip
    return names, packets


async def test_a_recording_holds_the_ip_packets_and_the_at_lines_in_time_order(
    tmp_path: Path, echo_peers: tuple[TcpPeer, UdpPeer]
) -> None:
    tcp, udp = echo_peers
    directory, seen, _ = await record(tmp_path, make_session(tcp.port, udp.port))
    names, packets = radio_and_uart(directory / "session.pcapng")
    assert list(names.values()) == ["radio", "uart", "events"]
    times = [when for _, when, _, _ in packets]
    assert times == sorted(times), "blocks out of time order"
    # The AT lines: exactly the bytes each way, the host's inbound, the module's outbound.
    uart = [(at_bytes(data), way) for name, _, data, way in packets if name == "uart"]
    assert b"".join(data for data, way in uart if way == "outbound") == seen
    assert b"AT+QISEND=0,5\r" in [data for data, way in uart if way == "inbound"]
    # The IP packets, as the module's stack would have sent and got them.
    ip = [(IP(data), way) for name, _, data, way in packets if name == "radio"]
    out = [p for p, way in ip if p.haslayer(TCP) and p[TCP].dport == tcp.port]
    back = [p for p, way in ip if p.haslayer(TCP) and p[TCP].sport == tcp.port]
    assert [str(p[TCP].flags) for p in out] == ["S", "A", "PA", "FA"]
    assert [str(p[TCP].flags) for p in back] == ["SA", "PA"]
    assert all(p.src == "10.20.30.40" and p.dst == "127.0.0.1" for p in out)
    assert all(p.dst == "10.20.30.40" for p in back)
    assert back[0][TCP].ack == out[0][TCP].seq + 1  # a stream Wireshark can follow
    assert bytes(out[2][TCP].payload) == bytes(back[1][TCP].payload) == b"hello"
    assert {way for p, way in ip if p in out} == {"outbound"}
    assert {way for p, way in ip if p in back} == {"inbound"}
    datagrams = [p for p, _ in ip if p.haslayer(UDP) and udp.port in (p.sport, p.dport)]
    assert [bytes(p[UDP].payload) for p in datagrams] == [b"ping", b"ping"]
    assert [p[ICMP].type for p, _ in ip if p.haslayer(ICMP)] == [8, 0]  # request, reply
    refused = [p for p, _ in ip if p.haslayer(TCP) and 1 in (p[TCP].sport, p[TCP].dport)]
    assert [str(p[TCP].flags) for p in refused] == ["S", "RA"]
    # In time order with the AT lines: the payload's segment after the host typed it,
    # the echo's segment before the module's "recv" URC.
    order = [(name, data) for name, _, data, _ in packets]
    typed = order.index(("uart", AT_PDU + b"hello"))
    sent = order.index(("radio", bytes(out[2])))
    echoed = order.index(("radio", bytes(back[1])))
    told = next(i for i, (n, d) in enumerate(order) if n == "uart" and b'"recv",0' in d)
    assert typed < sent < echoed < told


def test_a_file_that_is_not_a_recording_is_a_clear_error(tmp_path: Path) -> None:
    file = tmp_path / "session.jsonl"
    for text, message in [
        ('{"type": "hello", "t": 1}\n', "not a bc66sim recording"),
        ('{"type": "at", "t": 1}\n', "an at event needs dir and data"),
        ("this is not JSON\n{}\n", "not JSON"),
        ('{"type": "session", "t": 1, "format": "bc66sim-recording", "version": 9}\n',
         "version 9"),
    ]:  # fmt: skip
        file.write_text(text)
        with pytest.raises(RecordingError, match=message):
            read(tmp_path)
    with pytest.raises(RecordingError, match=r"(?i)no such file"):
        read(tmp_path / "missing")
    result = bc66sim("replay", str(tmp_path / "missing"), "--tcp", "127.0.0.1:0")
    assert result.returncode == 2 and "no such file" in result.stderr.lower()
    result = bc66sim("diff", str(tmp_path), str(tmp_path))
    assert result.returncode == 2 and "version 9" in result.stderr


def bc66sim(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bc66sim", *args], capture_output=True,
                          text=True, timeout=60, check=False)  # fmt: skip


async def test_the_json_lines_hold_the_session(
    tmp_path: Path, echo_peers: tuple[TcpPeer, UdpPeer]
) -> None:
    tcp, udp = echo_peers
    directory, seen, _ = await record(tmp_path, make_session(tcp.port, udp.port))
    recording = read(directory)
    header = recording.header
    assert header["type"] == "session" and header["source"] == "serve"
    assert header["model"] == "BC66" and recording.events[-1]["type"] == "end"
    assert recording.host_bytes() == seen  # the host's view, byte for byte
    kinds = [event["type"] for event in recording.events]
    assert {"at", "urc", "power", "net", "host"} <= set(kinds)
    times = [event["t"] for event in recording.events]
    assert times == sorted(times)
    net = [event for event in recording.events if event["type"] == "net"]
    flow = [e for e in net if e.get("remote") == f"127.0.0.1:{tcp.port}"]
    assert [(e["event"], e.get("bytes")) for e in flow] == [
        ("open", None), ("send", 5), ("receive", 5), ("close", None),
    ]  # fmt: skip
    failed = next(e for e in net if e["event"] == "open-failed")
    assert failed["remote"] == "127.0.0.1:1" and failed["code"] == 566
    assert any(e["event"] == "ping" and e["ms"] is not None for e in net)
    power = [e for e in recording.events if e["type"] == "power"]
    assert power[0]["from"] == "off" and power[0]["why"] == "power-on"
    urcs = [e["text"] for e in recording.events if e["type"] == "urc"]
    assert urcs[:2] == ["RDY", "+IP: 10.20.30.40"] and "+QIOPEN: 0,0" in urcs


async def test_faults_and_link_changes_are_recorded(tmp_path: Path) -> None:
    directory = tmp_path / "recording"
    server = await serve(tmp_path, directory, "--network", "ce0")
    host = await TcpHost().connect(server.where)
    try:
        await boot(host)
        control = ControlClient.from_state_dir(tmp_path / "state")
        await asyncio.to_thread(control.coverage_loss, 5)
        await asyncio.to_thread(control.detach)
        assert b"+CGATT: 0" in await host.command("AT+CGATT?")
    finally:
        await host.close()
        assert await server.stop() == 0
    events = read(directory).events
    faults = [(e["name"], e["body"]) for e in events if e["type"] == "fault"]
    assert faults == [("coverage-loss", {"seconds": 5}), ("detach", {})]
    links = [e for e in events if e["type"] == "link"]
    assert links and links[0]["in_service"] is False


def test_wireshark_reads_the_pcapng(tmp_path: Path) -> None:
    """tshark (Wireshark's command line) shows the AT lines with its own AT dissector,
    the events as syslog lines, and follows the module's TCP stream."""
    tshark = shutil.which("tshark")
    if tshark is None:
        pytest.fail("no tshark: scripts/install-test-servers installs it")
    directory = asyncio.run(_record_for_tshark(tmp_path))
    capture = str(directory / "session.pcapng")
    env = {**os.environ, "HOME": str(tmp_path)}  # tshark writes its profile there
    columns = subprocess.run(
        [tshark, "-r", capture, "-T", "fields", "-E", "separator=|",
         "-e", "frame.interface_name", "-e", "_ws.col.Protocol", "-e", "_ws.col.Info"],
        capture_output=True, text=True, timeout=60, check=True, env=env,
    ).stdout.splitlines()  # fmt: skip
    rows = [line.split("|", 2) for line in columns]
    assert {row[0] for row in rows} == {"radio", "uart", "events"}
    at = [info for name, protocol, info in rows if name == "uart"]
    assert all(protocol == "AT" for name, protocol, _ in rows if name == "uart")
    assert any('Rcvd AT Command: AT+QIOPEN=1,0,"TCP"' in info for info in at)
    assert any("Sent AT Command:" in info and "+QIOPEN: 0,0" in info for info in at)
    assert any(protocol == "Syslog" and "power: off -> idle" in info
               for name, protocol, info in rows if name == "events")  # fmt: skip
    tcp_rows = [info for name, protocol, info in rows if name == "radio" and protocol == "TCP"]
    assert "[SYN]" in tcp_rows[0] and "[SYN, ACK]" in tcp_rows[1]
    first_at = next(
        i for i, row in enumerate(rows) if row[2].startswith("Rcvd AT Command: AT+QIOPEN")
    )
    first_syn = next(i for i, row in enumerate(rows) if "[SYN]" in row[2])
    assert first_at < first_syn  # the command, then its connection
    stream = subprocess.run([tshark, "-r", capture, "-q", "-z", "follow,tcp,ascii,0"],
                            capture_output=True, text=True, timeout=60, check=True,
                            env=env).stdout  # fmt: skip
    assert "hello" in stream and "10.20.30.40" in stream


async def _record_for_tshark(tmp_path: Path) -> Path:
    tcp = await TcpPeer(echo=True).start()
    udp = await UdpPeer().start()
    try:
        directory, _, _ = await record(tmp_path, make_session(tcp.port, udp.port))
    finally:
        await tcp.stop()
        await udp.stop()
    return directory
