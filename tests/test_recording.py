"""Recordings (issue 14 §2-§4), end to end: ``bc66sim serve --record``, its JSON lines
and pcapng (read by python-pcapng with scapy, and by Wireshark's tshark), ``bc66sim
replay`` to a host program, ``bc66sim tap`` in front of a module, ``bc66sim diff``.

The host programs here are scripts with a fixed course (they wait for the module's
``+IP:`` instead of polling), so that the same program can run against the
recording's replay and must see the same bytes.
"""

from __future__ import annotations

import asyncio
import json
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
from scapy.layers.inet6 import IPv6

from bc66sim.clock import ManualClock
from bc66sim.control.client import ControlClient
from bc66sim.recording.format import RecordingError, read
from bc66sim.recording.replay import Replayer, Step
from support.links import Bc66simProcess, PtyHost, ServeProcess, TcpHost
from support.peers import TcpPeer, UdpPeer

OK = b"\r\nOK\r\n"
Host = Callable[["TcpHost"], Awaitable[None]]


async def serve(tmp_path: Path, record: Path, *extra: str) -> ServeProcess:
    """``bc66sim serve --record`` on TCP; the module boots when the host connects."""
    return await ServeProcess(
        "--tcp", "127.0.0.1:0", "--attach-delay", "0.05", "--state-dir", str(tmp_path / "state"),
        "--power-on-at-connect", "--record", str(record), *extra,
    ).start()  # fmt: skip


async def boot(host: TcpHost) -> None:
    await host.read_until(b"+IP: 10.20.30.40\r\n", timeout=10)


def make_session(tcp_port: int, udp_port: int, *, boot_first: bool = True) -> Host:
    """A host program: sockets both ways, a ping, a refused open, data mode.  It waits
    for the module's boot (``+IP:``), or with ``boot_first=False`` for its attach (as
    a host that comes later does: it asks until ``+CGATT: 1``)."""

    async def session(host: TcpHost) -> None:
        if boot_first:
            await boot(host)
        else:
            while b"+CGATT: 1" not in await host.command("AT+CGATT?"):
                await asyncio.sleep(0.05)
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


# -- replay -------------------------------------------------------------------------------


def replay(directory: Path, *extra: str) -> Bc66simProcess:
    return Bc66simProcess("replay", str(directory), "--tcp", "127.0.0.1:0", *extra,
                          ready=r" on (\S+) \(tcp\)")  # fmt: skip


async def test_a_replay_gives_the_same_host_program_the_same_bytes(
    tmp_path: Path, echo_peers: tuple[TcpPeer, UdpPeer]
) -> None:
    tcp, udp = echo_peers
    session = make_session(tcp.port, udp.port)
    directory, seen, _ = await record(tmp_path, session, "--network", "ce0", "--seed", "3")
    for timing in ((), ("--fast",), ("--speed", "4")):
        player = await replay(directory, *timing).start()
        host = await TcpHost().connect(player.where)
        await session(host)  # the same program, unchanged
        assert await player.wait() == 0, player.log
        await host.close()
        assert bytes(host.everything) == seen, timing
        assert any("the host's bytes matched the recording" in line for line in player.log)


async def test_a_host_that_goes_its_own_way_is_a_divergence(
    tmp_path: Path, echo_peers: tuple[TcpPeer, UdpPeer]
) -> None:
    tcp, udp = echo_peers
    directory, _, _ = await record(tmp_path, make_session(tcp.port, udp.port))
    player = await replay(directory, "--fast").start()
    host = await TcpHost().connect(player.where)
    await boot(host)
    assert await host.command("ATE0") == b"ATE0\r" + OK
    await host.write(b"AT+CGMM\r")  # the recording has AT+CGMR here
    assert await player.wait() == 1
    await host.close()
    report = "\n".join(player.log)
    assert "step" in report and "'AT+CGMM'" in report and "'AT+CGMR'" in report


async def test_the_replay_keeps_the_recorded_timing_on_its_clock() -> None:
    """On a manual clock: each answer at its recorded delay after the host's command
    (halved at speed 2), the host's own slowness not counted."""
    clock = ManualClock()
    steps = [Step(True, b"RDY\r\n", 1.0), Step(False, b"AT\r", 5.0),
             Step(True, b"\r\nOK\r\n", 0.25), Step(True, b"\r\n+URC\r\n", 2.0)]  # fmt: skip
    written: list[tuple[float, bytes]] = []
    player = Replayer(steps, clock=clock, speed=2.0)
    player.attach_output(lambda data: written.append((clock.now(), data)))
    player.host_connected()
    await clock.advance(0.49)
    assert written == []
    await clock.advance(0.01)
    assert written == [(0.5, b"RDY\r\n")]
    await clock.advance(10)  # the host takes its time (within its recorded 5 s / 2 + 10 s)
    player.receive_data(b"A")
    player.receive_data(b"T\r")
    await clock.advance(0)
    start = clock.now()
    await clock.advance(0.125)
    assert written[-1] == (start + 0.125, b"\r\nOK\r\n")
    await clock.advance(1.0)
    assert written[-1] == (start + 1.125, b"\r\n+URC\r\n") and player.done.is_set()
    assert player.divergence is None
    await player.close()


async def test_the_replay_holds_back_while_the_host_does_not_keep_up() -> None:
    """Flow control: while the port says the host's output is congested, the next
    answer waits (it is never dropped) and comes once the host has caught up."""
    clock = ManualClock()
    player = Replayer([Step(True, b"RDY\r\n", 1.0), Step(True, b"+IP\r\n", 1.0)],
                      clock=clock, speed=1.0)  # fmt: skip
    written: list[bytes] = []
    player.attach_output(written.append)
    player.host_connected()
    await clock.advance(1.0)
    player.set_output_congested("uart", True)
    await clock.advance(5.0)
    assert written == [b"RDY\r\n"] and not player.done.is_set()
    player.set_output_congested("uart", False)
    await clock.advance(0)
    assert written == [b"RDY\r\n", b"+IP\r\n"] and player.done.is_set()
    await player.close()


# -- diff ---------------------------------------------------------------------------------


def seeded(directory: Path, target: Path, old: str, new: str) -> Path:
    """A copy of a recording with one of the module's answers changed."""
    target.mkdir()
    lines = []
    for line in (directory / "session.jsonl").read_text().splitlines():
        event = json.loads(line)
        if event["type"] == "at" and event["dir"] == "to_host" and old in event["data"]:
            event["data"] = event["data"].replace(old, new)
        lines.append(json.dumps(event))
    (target / "session.jsonl").write_text("\n".join(lines) + "\n")
    return target


async def test_diff_finds_a_seeded_divergence_and_agrees_across_links(
    tmp_path: Path, echo_peers: tuple[TcpPeer, UdpPeer]
) -> None:
    tcp, udp = echo_peers
    session = make_session(tcp.port, udp.port)
    lan, _, _ = await record(tmp_path / "lan", session)
    nbiot, _, _ = await record(tmp_path / "nbiot", session, "--network", "ce0")
    # The same host program on a LAN and on NB-IoT: the URCs come at other moments
    # (after the next command, on the slow link), the session is the same but for
    # the echo's round trip and TTL.
    result = bc66sim("diff", str(lan), str(nbiot))
    assert result.returncode == 1 and "+(unasked) +QPING: 0,1,1,0," in result.stdout
    times = r"(?<=\+QPING: 0,)(\"127\.0\.0\.1\",32,\d+,\d+|1,1,0,\d+,\d+,\d+)"
    result = bc66sim("diff", str(lan), str(nbiot), "--ignore", times)
    assert result.returncode == 0, result.stdout
    changed = seeded(nbiot, tmp_path / "changed", "BC66NBR01A10", "BC66NBR01A07")
    result = bc66sim("diff", str(lan), str(changed), "--ignore", times)
    assert result.returncode == 1
    report = result.stdout
    assert "first divergence: exchange 2, command 'AT+CGMR'" in report
    assert "-Revision: BC66NBR01A10" in report and "+Revision: BC66NBR01A07" in report
    ignored = bc66sim("diff", str(lan), str(changed), "--ignore", times, "--ignore", r"A\d\d$")
    assert ignored.returncode == 0, ignored.stdout
    urc = seeded(nbiot, tmp_path / "urc", '"recv",0,5', '"recv",0,6')
    result = bc66sim("diff", str(lan), str(urc), "--ignore", times)
    assert result.returncode == 1 and "unasked" in result.stdout
    assert '+(unasked) +QIURC: "recv",0,6' in result.stdout


# -- tap ----------------------------------------------------------------------------------


async def test_a_tap_passes_every_byte_and_records_the_same_session(
    tmp_path: Path, echo_peers: tuple[TcpPeer, UdpPeer]
) -> None:
    tcp, udp = echo_peers
    module_recording, tap_recording = tmp_path / "module", tmp_path / "tap"
    # The "real module": an emulated one on TCP, which pyserial reaches as socket://.
    module = await ServeProcess(
        "--tcp", "127.0.0.1:0", "--attach-delay", "0.05", "--state-dir", str(tmp_path / "s"),
        "--record", str(module_recording),
    ).start()  # fmt: skip
    pty = tmp_path / "ttyTap"
    tap = Bc66simProcess("tap", f"socket://{module.where}", "--pty", str(pty), "--record",
                  str(tap_recording), ready=r"host's port on (\S+) \(pty\)")  # fmt: skip
    await tap.start()
    host = await PtyHost().connect(str(pty))
    try:
        await make_session(tcp.port, udp.port, boot_first=False)(host)
    finally:
        await host.close()
        assert await module.stop() == 0
    # The module gone (a cable pulled), the tap says so and ends, its recording whole.
    assert await tap.wait() == 1, tap.log
    assert any("the module's port" in line and "failed" in line for line in tap.log)
    seen = bytes(host.everything)
    tapped, served = read(tap_recording), read(module_recording)
    assert tapped.header["source"] == "tap" and tapped.host_bytes() == seen
    assert b"".join(d for way, d, _ in tapped.uart() if way == "to_module") == b"".join(
        d for way, d, _ in served.uart() if way == "to_module"
    )  # every byte the host sent reached the module, unchanged
    assert served.host_bytes().endswith(seen)  # and the module's, from when the host came
    result = bc66sim("diff", str(tap_recording), str(module_recording))
    assert result.returncode == 0, result.stdout
    assert (tap_recording / "session.pcapng").stat().st_size > 0


async def test_ipv6_and_a_connection_closed_one_way_at_a_time(tmp_path: Path) -> None:
    """A module's IPv6 flow is recorded as IPv6 (its address in fd00:bc66::/96) and the
    socket still works; the peer's FIN is in the capture.  (The module hands a flow the
    peer closed back to the network at once, so its own FIN is not seen.)"""
    peer = await TcpPeer(echo=True).start("::1")

    async def session(host: TcpHost) -> None:
        await boot(host)
        assert await host.command("ATE0") == b"ATE0\r" + OK
        assert await host.command(f'AT+QIOPEN=1,0,"TCP","::1",{peer.port},0,1,1') == OK
        await host.expect(b"\r\n+QIOPEN: 0,0\r\n")
        assert (await host.command("AT+QISEND=0,2,hi")).endswith(OK)
        await host.read_until(b'+QIURC: "recv",0,2\r\nhi\r\n')
        await peer.close_connection()
        await host.read_until(b'+QIURC: "closed",0\r\n')
        assert await host.command("AT+QICLOSE=0") == OK
        await host.expect(b"\r\nCLOSE OK\r\n")

    try:
        directory, _, _ = await record(tmp_path, session)
    finally:
        await peer.stop()
    _, blocks_ = radio_and_uart(directory / "session.pcapng")
    ip6 = [IPv6(data) for name, _, data, _ in blocks_ if name == "radio"]
    out = [p for p in ip6 if p.src == "fd00:bc66::a14:1e28"]
    back = [p for p in ip6 if p.dst == "fd00:bc66::a14:1e28"]
    assert [str(p[TCP].flags) for p in out] == ["S", "A", "PA"]
    assert [str(p[TCP].flags) for p in back] == ["SA", "PA", "FA"]
    assert back[2][TCP].seq == back[1][TCP].seq + 2  # the FIN after the two bytes
    events = [e["event"] for e in read(directory).events if e["type"] == "net"]
    assert events == ["open", "send", "receive", "peer-closed"]


async def test_a_scenario_changes_the_link_of_a_recorded_serve(tmp_path: Path) -> None:
    """The recording's network wrapper does not hide the link from a scenario's steps."""
    server = await serve(tmp_path, tmp_path / "recording", "--scenario", "quiet-cell")
    host = await TcpHost().connect(server.where)
    try:
        await boot(host)  # the scenario's first step (the ideal link) was at 0 s
        control = ControlClient.from_state_dir(tmp_path / "state")
        assert control.status()["link"]["profile"] == "ideal"
    finally:
        await host.close()
        await server.stop()
    assert not any("needs --network" in line for line in server.log), server.log


async def test_a_silent_host_is_a_divergence_on_the_replay_clock() -> None:
    clock = ManualClock()
    steps = [Step(True, b"RDY\r\n", 0.0), Step(False, b"AT+CGMR\r", 3.0), Step(True, b"OK", 0)]
    player = Replayer(steps, clock=clock, speed=1.0, host_timeout=10)
    player.attach_output(lambda data: None)
    player.host_connected()
    await clock.advance(12.9)  # the recorded 3 s, and 10 more
    assert player.divergence is None
    await clock.advance(0.2)
    assert player.done.is_set() and player.divergence is not None
    assert "did not send" in player.divergence and "'AT+CGMR'" in player.divergence
    await player.close()


async def test_a_host_that_leaves_early_ends_the_replay(
    tmp_path: Path, echo_peers: tuple[TcpPeer, UdpPeer]
) -> None:
    tcp, udp = echo_peers
    directory, _, _ = await record(tmp_path, make_session(tcp.port, udp.port))
    player = await replay(directory, "--fast").start()
    host = await TcpHost().connect(player.where)
    await boot(host)
    await host.close()  # before its first command
    assert await player.wait() == 1
    assert any("the host disconnected before the end" in line for line in player.log)
    # On standard input, its end is the host leaving.
    result = subprocess.run([sys.executable, "-m", "bc66sim", "replay", str(directory),
                             "--stdio", "--fast"], input=b"ATE0\r", capture_output=True,
                            timeout=60, check=False)  # fmt: skip
    assert result.returncode == 1, result.stderr
    assert b"ended its input" in result.stderr and b"RDY" in result.stdout


def synthetic(tmp_path: Path, name: str, chunks: list[tuple[str, str]]) -> Path:
    """A recording of the given AT chunks (direction, text), 10 ms apart."""
    header = {"type": "session", "t": 0, "mt": 0, "format": "bc66sim-recording",
              "version": 1, "source": "tap", "model": ""}  # fmt: skip
    lines = [json.dumps(header)]
    for number, (way, data) in enumerate(chunks, 1):
        at = number / 100
        lines.append(json.dumps({"type": "at", "t": at, "mt": at, "dir": way, "data": data}))
    (tmp_path / name).mkdir()
    (tmp_path / name / "session.jsonl").write_text("\n".join(lines) + "\n")
    return tmp_path / name


def typed(text: str) -> list[tuple[str, str]]:
    """A host typing ``text`` byte by byte, each echoed (ATE1)."""
    return [(way, char) for char in text for way in ("to_module", "to_host")]


def test_diff_reads_echoes_byte_by_byte_and_pushed_data_in_an_answer(tmp_path: Path) -> None:
    whole = synthetic(tmp_path, "whole", [
        ("to_module", "AT+CGMR\r"), ("to_host", "AT+CGMR\r\r\nRevision: X\r\n\r\nOK\r\n"),
        ("to_module", "AT+QISEND=0,5\r"), ("to_host", "AT+QISEND=0,5\r\r\n> "),
        ("to_module", "hello"),
        ("to_host", '\r\nOK\r\n\r\n+QIURC: "recv",0,5\r\nhello\r\n\r\nSEND OK\r\n'),
        ("to_module", "AT+QISEND=0,0\r"),
        ("to_host", "AT+QISEND=0,0\r\r\n+QISEND: 5,5,0\r\n\r\nOK\r\n\r\n+CEREG: 1\r\n"),
    ])  # fmt: skip
    # The same session from a host that types byte by byte, on a slower link: the echo
    # comes a byte at a time, the "recv" URC and its data after SEND OK.
    bytewise = synthetic(tmp_path, "bytewise", [
        *typed("AT+CGMR\r"), ("to_host", "\r\nRevision: X\r\n\r\nOK\r\n"),
        *typed("AT+QISEND=0,5\r"), ("to_host", "\r\n> "), ("to_module", "hello"),
        ("to_host", '\r\nOK\r\n\r\nSEND OK\r\n\r\n+QIURC: "recv",0,5\r\nhello\r\n'),
        *typed("AT+QI"), ("to_host", "\r\n+CEREG: 1\r\n"), *typed("SEND=0,0\r"),
        ("to_host", "\r\n+QISEND: 5,5,0\r\n\r\nOK\r\n"),
    ])  # fmt: skip
    result = bc66sim("diff", str(whole), str(bytewise))
    assert result.returncode == 0, result.stdout
    other = synthetic(tmp_path, "other", [
        *typed("AT+CGMR\r"), ("to_host", "\r\nRevision: Y\r\n\r\nOK\r\n"),
    ])  # fmt: skip
    result = bc66sim("diff", str(whole), str(other))
    assert result.returncode == 1 and "-Revision: X\n  +Revision: Y" in result.stdout
