"""The control plane (issue 12 §2-§3), end to end: real ``bc66sim serve`` processes,
real HTTP, real WebSockets, and for each fault what the host sees on the UART.

A few tests run the server in-process (the link faults against a stand-in link
model; a slow WebSocket client), where they need to look at the far side.
"""

from __future__ import annotations

import asyncio
import json
import stat
import sys
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bc66sim.clock import ManualClock
from bc66sim.control.client import ControlClient, ControlError
from bc66sim.control.server import ControlServer
from bc66sim.control.stream import EventStream
from bc66sim.module.modem import Modem, ModemConfig
from bc66sim.net.memory import MemoryNetwork
from support.links import ServeProcess, TcpLink
from support.peers import TcpPeer, UdpPeer

OK = b"\r\nOK\r\n"
SCALE = 20  # module time in the deep-sleep test: 20 times the wall clock


class ControlledLink(TcpLink):
    """``bc66sim serve --tcp`` with its control plane: the UART and ``self.control``."""

    def __init__(self, state_dir: Path, *extra: str) -> None:
        super().__init__(state_dir)
        self.state_dir = state_dir
        self.server = ServeProcess("--tcp", "127.0.0.1:0", "--attach-delay", "0.05",
                                   "--state-dir", str(state_dir), *extra)  # fmt: skip
        self.control: ControlClient

    async def start(self) -> ControlledLink:
        await super().start()
        self.control = ControlClient.from_state_dir(self.state_dir)
        return self

    async def expect_control_error(self, status: int, call: Any, *args: Any) -> str:
        with pytest.raises(ControlError) as caught:
            call(*args)
        assert caught.value.status == status, str(caught.value)
        return str(caught.value)


@pytest.fixture
async def uart(tmp_path: Path) -> AsyncIterator[ControlledLink]:
    """An attached module with echo off, and its control plane."""
    link = await ControlledLink(tmp_path).start()
    await link.sync()
    assert await link.command("ATE0") == b"ATE0\r" + OK
    yield link
    await link.close()


def raw_request(url: str, method: str = "GET", body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, Any]:  # fmt: skip
    """One HTTP request as any program would make it: (status, JSON answer)."""
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


async def open_socket(uart: ControlledLink, port: int, service: str = "TCP") -> None:
    assert await uart.command(f'AT+QIOPEN=1,0,"{service}","127.0.0.1",{port},0,0') == OK
    await uart.expect(b"\r\n+QIOPEN: 0,0\r\n")


# -- the token -------------------------------------------------------------------------


async def test_the_token_file_is_0600_and_requests_without_the_token_are_refused(
    uart: ControlledLink,
) -> None:
    path = uart.state_dir / "control.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    info = json.loads(path.read_text())
    assert info["url"] == uart.control.url and info["url"].startswith("http://127.0.0.1:")
    assert uart.server.process is not None and info["pid"] == uart.server.process.pid
    assert any(info["token"] in line and info["url"] in line for line in uart.server.log)
    url = info["url"]
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": info["token"]}):
        status, answer = raw_request(url + "/faults/detach", "POST", b"{}", headers)
        assert status == 401 and "token" in answer["error"]
        assert raw_request(url + "/status", headers=headers)[0] == 401
    assert raw_request(f"{url}/status?token={info['token']}")[0] == 401  # only /events
    await uart.expect_control_error(401, ControlClient(url, "wrong").status)
    # Nothing refused reached the module: it is still attached.
    assert b"+CGATT: 1" in await uart.command("AT+CGATT?")
    status, answer = raw_request(
        url + "/status", headers={"Authorization": f"Bearer {info['token']}"}
    )
    assert status == 200 and answer["model"] == "BC66" and answer["radio"]["attached"]
    await uart.close()
    assert not path.exists()  # removed at a clean exit


async def test_the_control_plane_stays_on_loopback_unless_told(tmp_path: Path) -> None:
    refused = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bc66sim", "serve", "--tcp", "127.0.0.1:0",
        "--state-dir", str(tmp_path), "--control", "0.0.0.0:0",
        stdin=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await asyncio.wait_for(refused.communicate(), 20)
    assert refused.returncode == 2
    assert err.decode() == (
        "bc66sim: error: --control: 0.0.0.0 is not a loopback address; add --control-public "
        "to serve the control plane there\n"
    )
    public = await ServeProcess("--tcp", "127.0.0.1:0", "--state-dir", str(tmp_path),
                                "--control", "0.0.0.0:0", "--control-public").start()  # fmt: skip
    try:
        assert any("control plane listens on 0.0.0.0" in line for line in public.log)
    finally:
        await public.stop()
    off = await ServeProcess("--tcp", "127.0.0.1:0", "--state-dir", str(tmp_path),
                             "--no-control").start()  # fmt: skip
    try:
        assert not (tmp_path / "control.json").exists()
    finally:
        await off.stop()


# -- faults, and what the host sees -------------------------------------------------------


async def test_detach_reports_cereg_and_closes_sockets_attach_registers_again(
    uart: ControlledLink, peer: TcpPeer
) -> None:
    assert await uart.command("AT+CEREG=1") == OK
    await open_socket(uart, peer.port)
    await peer.connection()
    answer = uart.control.detach()
    assert answer == {"ok": True, "fault": "detach", "attached": False}
    await uart.expect(b'\r\n+CEREG: 0\r\n\r\n+QIURC: "closed",0\r\n')
    await asyncio.wait_for(peer.closed.wait(), 5)
    state = uart.control.status()
    assert state["radio"] == {"cfun": 1, "attached": False, "stat": 0, "ip": None}
    assert state["sockets"][0]["state"] == "remote_closing"
    assert state["pins"]["outputs"]["NETLIGHT"] == "off"
    assert await uart.command('AT+QIOPEN=1,1,"TCP","127.0.0.1",1,0,0') == OK
    await uart.expect(b"\r\n+QIOPEN: 1,561\r\n")  # no PDP context
    uart.control.attach()
    await uart.expect(b"\r\n+CEREG: 1\r\n\r\n+IP: 10.20.30.40\r\n")
    assert uart.control.status()["pins"]["outputs"]["NETLIGHT"] == "registered"


async def test_reset_peer_closes_the_socket_and_the_peer_gets_a_reset(
    uart: ControlledLink,
) -> None:
    seen: list[BaseException | bytes] = []
    got_hi, ended = asyncio.Event(), asyncio.Event()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            seen.append(await reader.readexactly(2))
            got_hi.set()
            seen.append(await reader.read(100))  # b"" after a FIN; a reset raises
        except ConnectionError as exc:
            seen.append(exc)
        ended.set()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        await open_socket(uart, port)
        assert await uart.command("AT+QISEND=0,2,hi") == OK
        await uart.expect(b"\r\nSEND OK\r\n")
        sock = uart.control.status()["sockets"][0]
        assert sock == {"id": 0, "type": "TCP", "state": "connected",
                        "remote": f"127.0.0.1:{port}", "local_port": sock["local_port"],
                        "sent": 2, "received": 0, "buffered_nodes": 0,
                        "access_mode": "buffer"}  # fmt: skip
        await asyncio.wait_for(got_hi.wait(), 5)
        uart.control.reset_peer(0)
        await uart.expect(b'\r\n+QIURC: "closed",0\r\n')
        state = f'+QISTATE: 0,"TCP","127.0.0.1",{port},0,4,1,0'  # 4: closed remotely
        assert await uart.command("AT+QISTATE=1,0") == f"\r\n{state}\r\n".encode() + OK
        # The peer's next read is reset: an RST, not a FIN.
        await asyncio.wait_for(ended.wait(), 5)
        assert seen[0] == b"hi" and isinstance(seen[1], ConnectionResetError), seen
    finally:
        server.close()
    message = await uart.expect_control_error(409, uart.control.reset_peer, 2)
    assert message == "socket 2 is not open (HTTP 409)"
    await uart.expect_control_error(400, uart.control.reset_peer, 5)


async def test_reset_peer_of_a_udp_socket_is_refused(uart: ControlledLink) -> None:
    await open_socket(uart, 9, "UDP")
    message = await uart.expect_control_error(409, uart.control.reset_peer, 0)
    assert "UDP" in message


async def test_an_override_once_then_the_module_answers_again(uart: ControlledLink) -> None:
    real = await uart.command("AT+CSQ")
    assert real.startswith(b"\r\n+CSQ: ") and b"+CSQ: 5,0" not in real
    uart.control.override("AT+CSQ", ["+CSQ: 5,0", "OK"], once=True)
    assert await uart.command("AT+CSQ") == b"\r\n+CSQ: 5,0\r\n\r\nOK\r\n"
    assert await uart.command("AT+CSQ") == real
    assert uart.control.status()["overrides"] == []


async def test_an_override_until_cleared_and_by_prefix(uart: ControlledLink) -> None:
    # A string is sent as is; matching ignores case.
    uart.control.override("at+cgmr", "\r\nRevision: HACKED\r\n\r\nOK\r\n")
    uart.control.override("AT+QIOPEN=*", ["+CME ERROR: 3"])
    for _ in range(2):
        assert await uart.command("AT+CGMR") == b"\r\nRevision: HACKED\r\n\r\nOK\r\n"
    assert await uart.command('AT+QIOPEN=1,0,"TCP","127.0.0.1",9,0,0') == (b"\r\n+CME ERROR: 3\r\n")
    await uart.quiet(0.3)  # no +QIOPEN: the module never ran the command
    used = {o["command"]: o["used"] for o in uart.control.status()["overrides"]}
    assert used == {"at+cgmr": 2, "AT+QIOPEN=*": 1}
    assert uart.control.clear_overrides() == {"ok": True, "cleared": 2}
    assert await uart.command("AT+CGMR") == b"\r\nRevision: BC66NBR01A10\r\n\r\nOK\r\n"


async def test_an_injected_urc_appears_verbatim(uart: ControlledLink) -> None:
    uart.control.urc('+QIURC: "pdpdeact",1')
    await uart.expect(b'\r\n+QIURC: "pdpdeact",1\r\n')
    # Half a line typed: the URC waits for the answer, as the module's own do.
    await uart.write(b"AT+CGM")
    await asyncio.sleep(0.1)
    uart.control.urc("+CEREG: 2")
    await uart.quiet(0.2)
    await uart.write(b"M\r")
    await uart.expect(b"\r\nQuectel_BC66\r\n\r\nOK\r\n\r\n+CEREG: 2\r\n")


async def test_pwrkey_powers_the_module_on_after_qpowd(uart: ControlledLink) -> None:
    assert await uart.command("AT+QPOWD=1") == OK
    pins = uart.control.status()["pins"]
    assert pins["outputs"] == {"VDD_EXT": "low", "NETLIGHT": "off"}
    await uart.write(b"AT\r")
    await uart.quiet(0.3)  # off: nothing answers
    uart.control.pin("PWRKEY", "pulse")
    await uart.expect(b"\r\nRDY\r\n")
    await uart.read_until(b"+IP: 10.20.30.40\r\n")
    status = uart.control.status()
    assert status["powered"] and status["pins"]["outputs"]["VDD_EXT"] == "high"
    assert status["pins"]["inputs"]["PWRKEY"] == "high"
    uart.control.pin("PWRKEY", "pulse")  # on: PWRKEY does nothing
    await uart.quiet(0.3)


async def test_reset_reboots_the_module(uart: ControlledLink, peer: TcpPeer) -> None:
    await open_socket(uart, peer.port)
    uart.control.pin("RESET", "low")  # held in reset: silent, off
    await asyncio.wait_for(peer.closed.wait(), 5)
    assert uart.control.status()["pins"]["outputs"]["VDD_EXT"] == "low"
    await uart.write(b"AT\r")
    await uart.quiet(0.3)
    uart.control.pin("RESET", "high")
    await uart.expect(b"\r\nRDY\r\n")
    await uart.read_until(b"+IP: 10.20.30.40\r\n")
    assert await uart.command("AT+QISTATE?") == b"AT+QISTATE?\r" + OK  # echo is back, no socket
    uart.control.pin("RESET", "pulse")
    await uart.expect(b"\r\nRDY\r\n")


async def test_psm_eint_wakes_the_module_from_deep_sleep(tmp_path: Path) -> None:
    uart = await ControlledLink(tmp_path, "--time-scale", str(SCALE)).start()
    try:
        await uart.sync()
        for line in ("ATE0", 'AT+QCFG="dsevent",1', "AT+QATWAKEUP=1",
                     'AT+CPSMS=1,,,"00000001","00000101"', "AT+QRELLOCK"):  # fmt: skip
            assert (await uart.command(line)).endswith(OK)
        await uart.expect(b'\r\n+QNBIOTEVENT: "ENTER DEEPSLEEP"\r\n', timeout=30 * 2 / SCALE + 5)
        status = uart.control.status()
        assert status["power"]["state"] == "deep_sleep"
        assert status["pins"]["outputs"] == {"VDD_EXT": "low", "NETLIGHT": "psm"}
        message = await uart.expect_control_error(409, uart.control.urc, "+X")
        assert "deep sleep" in message
        uart.control.pin("PSM_EINT", "pulse")
        await uart.expect(b'\r\n+QNBIOTEVENT: "EXIT DEEPSLEEP"\r\n\r\n+QATWAKEUP\r\n')
        assert uart.control.status()["pins"]["outputs"]["VDD_EXT"] == "high"
        assert await uart.command("AT") == OK  # the pin woke it: no byte is lost
    finally:
        await uart.close()


async def test_bad_input_is_a_clear_400_and_the_server_goes_on(uart: ControlledLink) -> None:
    auth = {"Authorization": f"Bearer {uart.control.token}"}
    url = uart.control.url
    cases = [
        ("/faults/urc", b"{not json", 400, "not JSON"),
        ("/faults/urc", b"[1, 2]", 400, "JSON object"),
        ("/faults/urc", b"{}", 400, "missing field 'text'"),
        ("/faults/urc", b'{"text": "x", "colour": 1}', 400, "unknown field 'colour'"),
        ("/faults/urc", b'{"text": 5}', 400, "non-empty string"),
        ("/faults/urc", '{"text": "\u20ac"}'.encode(), 400, "U+00FF"),
        ("/faults/pin", b'{"name": "PWRKEY", "action": "sideways"}', 400, "unknown action"),
        ("/faults/pin", b'{"name": "GPIO9", "action": "low"}', 400, "unknown pin"),
        ("/faults/reset-peer", b'{"id": true}', 400, "integer 0-4"),
        ("/faults/override", b'{"command": "CSQ", "response": "x"}', 400, "starts with AT"),
        ("/faults/override", b'{"command": "AT", "response": 3}', 400, "list of lines"),
        ("/faults/override", b'{"command": "AT", "response": "x", "once": 1}', 400, "true or"),
        ("/faults/ce", b'{"level": 7}', 400, "integer 0-2"),
        ("/faults/drop", b'{"direction": "sideways", "count": 1}', 400, "one of up, down"),
        ("/faults/delay", b'{"direction": "up", "count": 1, "seconds": -1}', 400, "at least"),
        ("/faults/explode", b"{}", 404, "unknown fault 'explode'"),
        ("/faults/urc", b"x" * 100_000, 413, ""),
    ]
    for path, body, expected, text in cases:
        status, answer = raw_request(url + path, "POST", body, auth)
        assert (status, text in answer["error"]) == (expected, True), (path, body[:40], answer)
    assert raw_request(url + "/faults/detach", headers=auth)[0] == 405
    assert raw_request(url + "/nowhere", headers=auth)[0] == 404
    assert uart.control.status()["radio"]["attached"]
    assert await uart.command("AT") == OK


async def test_link_faults_change_what_the_module_reports(
    uart: ControlledLink, udp_peer: UdpPeer
) -> None:
    """Over HTTP to a real serve: the link model (net/link.py) takes every link fault."""
    control = uart.control
    assert control.status()["link"]["profile"] == "ideal"
    await open_socket(uart, udp_peer.port, "UDP")
    control.drop("up", 1)  # on the ideal link nothing else is lost
    for text in (b"lost", b"kept"):
        assert await uart.command(b"AT+QISEND=0,4," + text) == OK
        await uart.expect(b"\r\nSEND OK\r\n")
    assert await udp_peer.next_datagram() == b"kept"
    await uart.expect(b'\r\n+QIURC: "recv",0\r\n')  # the peer echoes it
    assert await uart.command("AT+CEREG=1") == OK
    control.ce(2)  # CE level 2's figures and signal from now on
    assert control.status()["link"]["profile"] == "ce2"
    assert b',"1A2B",2,23,2' in await uart.command("AT+QENG=0")
    control.signal(-80, 20)
    assert b"+CESQ: 99,99,255,255,6,61" in await uart.command("AT+CESQ")
    control.coverage_loss(1)
    await uart.expect(b"\r\n+CEREG: 2\r\n")
    assert control.status()["link"]["in_service"] is False
    assert b"+CSQ: 99,99" in await uart.command("AT+CSQ")
    await uart.expect(b"\r\n+CEREG: 1\r\n", timeout=5)
    control.service_unreachable("dns", None)
    assert control.status()["link"]["unreachable"] == ["dns"]
    control.delay("down", 1, 0.5)
    message = await uart.expect_control_error(400, control.ce, 7)
    assert "level" in message, message


class RecordingLink(MemoryNetwork):
    """A stand-in for the link model (net/link.py): records what it is told."""

    def __init__(self) -> None:
        super().__init__(ManualClock())
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    def coverage_loss(self, seconds: float) -> None:
        self.calls.append(("coverage_loss", (seconds,)))

    def set_ce(self, level: int) -> None:
        if level == 2:
            raise ValueError("this profile has no CE level 2")
        self.calls.append(("set_ce", (level,)))

    def set_signal(self, rsrp: float, sinr: float) -> None:
        self.calls.append(("set_signal", (rsrp, sinr)))

    def drop(self, direction: str, count: int) -> None:
        self.calls.append(("drop", (direction, count)))

    async def delay(self, direction: str, count: int, seconds: float) -> str:
        self.calls.append(("delay", (direction, count, seconds)))
        return "queued"

    def service_unreachable(self, service: str, seconds: float | None) -> None:
        self.calls.append(("service_unreachable", (service, seconds)))


async def test_link_faults_call_the_link_model() -> None:
    network = RecordingLink()
    modem = Modem(network, config=ModemConfig(attach_delay=0), clock=network.clock)
    server = ControlServer(modem)
    await server.start()
    control = ControlClient(server.url, server.token)
    try:
        await asyncio.to_thread(control.coverage_loss, 30)
        await asyncio.to_thread(control.ce, 1)
        await asyncio.to_thread(control.signal, -118.5, 2)
        await asyncio.to_thread(control.drop, "down", 3)
        answer = await asyncio.to_thread(control.delay, "up", 2, 1.5)
        assert answer == {"ok": True, "fault": "delay", "applied": "delay", "result": "queued"}
        await asyncio.to_thread(control.service_unreachable, "ntp", None)
        with pytest.raises(ControlError, match="no CE level 2") as caught:
            await asyncio.to_thread(control.ce, 2)
        assert caught.value.status == 400
    finally:
        await server.close()
    assert network.calls == [
        ("coverage_loss", (30.0,)), ("set_ce", (1,)), ("set_signal", (-118.5, 2.0)),
        ("drop", ("down", 3)), ("delay", ("up", 2, 1.5)), ("service_unreachable", ("ntp", None)),
    ]  # fmt: skip


# -- bc66sim ctl ---------------------------------------------------------------------------


async def ctl(*args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bc66sim", "ctl", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_ctl_drives_the_serve_of_its_state_dir(uart: ControlledLink, peer: TcpPeer) -> None:
    where = ("--state-dir", str(uart.state_dir))
    assert await uart.command("AT+CEREG=1") == OK
    await open_socket(uart, peer.port)
    assert await ctl(*where, "detach") == (0, "detach: ok (attached=false)\n", "")
    await uart.expect(b'\r\n+CEREG: 0\r\n\r\n+QIURC: "closed",0\r\n')
    code, out, _ = await ctl(*where, "status")
    assert code == 0 and json.loads(out)["radio"]["attached"] is False
    assert (await ctl(*where, "attach"))[0] == 0
    await uart.expect(b"\r\n+CEREG: 1\r\n\r\n+IP: 10.20.30.40\r\n")
    assert (await ctl(*where, "override", "AT+CSQ", "+CSQ: 5,0", "OK", "--once"))[0] == 0
    assert await uart.command("AT+CSQ") == b"\r\n+CSQ: 5,0\r\n\r\nOK\r\n"
    assert (await ctl(*where, "override", "AT+CGMM", "--raw", r"\r\nX\r\n\r\nOK\r\n"))[0] == 0
    assert await uart.command("AT+CGMM") == b"\r\nX\r\n\r\nOK\r\n"
    assert (await ctl(*where, "urc", '+QIURC: "pdpdeact",1'))[0] == 0
    await uart.expect(b'\r\n+QIURC: "pdpdeact",1\r\n')
    code, out, _ = await ctl(*where, "pin", "RESET", "pulse")
    assert code == 0 and out.startswith("pin: ok")
    await uart.expect(b"\r\nRDY\r\n")
    code, out, _ = await ctl(*where, "energy")
    assert code == 0 and json.loads(out)["total_seconds"] > 0


async def test_ctl_errors_are_one_line_and_exit_1(uart: ControlledLink, tmp_path: Path) -> None:
    url = uart.control.url
    code, out, err = await ctl("--control", url, "--token", "wrong", "status")
    assert (code, out) == (1, "") and err.count("\n") == 1
    assert err.startswith("bc66sim ctl: error: missing or wrong token") and "(HTTP 401)" in err
    code, _, err = await ctl("--state-dir", str(uart.state_dir), "reset-peer", "2")
    assert (code, err) == (1, "bc66sim ctl: error: socket 2 is not open (HTTP 409)\n")
    code, _, err = await ctl("--state-dir", str(tmp_path / "elsewhere"), "status")
    assert code == 1 and "no control plane found" in err
    code, _, err = await ctl("--control", url, "status")
    assert code == 1 and "--control and --token go together" in err
    assert (await ctl("--state-dir", str(uart.state_dir), "ce", "x"))[0] == 2  # usage
    info = (uart.state_dir / "control.json").read_text()
    await uart.close()
    code, _, err = await ctl("--control", url, "--token", "t", "status")
    assert code == 1 and "cannot reach the control plane" in err
    stale = tmp_path / "stale"
    stale.mkdir()
    (stale / "control.json").write_text(info)  # as a serve killed with SIGKILL leaves it
    code, _, err = await ctl("--state-dir", str(stale), "status")
    assert code == 1 and "is stale" in err


# -- the event stream ------------------------------------------------------------------------


async def next_event(ws: aiohttp.ClientWebSocketResponse, kind: str, **match: Any) -> Any:
    """The next event of ``kind`` whose fields include ``match``."""
    while True:
        event = json.loads(await ws.receive_str(timeout=5))
        if event["type"] == kind and all(event.get(k) == v for k, v in match.items()):
            return event


async def test_the_event_stream_shows_a_command_typed_at_the_host(uart: ControlledLink) -> None:
    url = uart.control.url
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await session.ws_connect(url + "/events?token=wrong")
        assert refused.value.status == 401
        async with session.ws_connect(f"{url}/events?token={uart.control.token}") as ws:
            assert (await next_event(ws, "hello"))["version"]
            assert await uart.command("AT+CGMM") == b"\r\nQuectel_BC66\r\n\r\nOK\r\n"
            # The feed begins with the recent past (the fixture's AT+CGATT?), then live.
            await next_event(ws, "uart", direction="to_module", data="AT+CGMM\r")
            answered = await next_event(ws, "uart", direction="to_host")
            assert answered["data"] == "\r\nQuectel_BC66\r\n\r\nOK\r\n"
            assert isinstance(answered["time"], float) and isinstance(answered["mt"], float)
            uart.control.urc("+HELLO: 1")
            assert (await next_event(ws, "urc"))["text"] == "+HELLO: 1"
            assert await next_event(ws, "fault", name="urc") is not None
            uart.control.detach()  # connected since the attach: now idle
            power = await next_event(ws, "power", to="idle")
            assert power["from"] == "connected" and power["why"] == "the detach"
        headers = {"Authorization": f"Bearer {uart.control.token}"}
        async with session.ws_connect(url + "/events", headers=headers) as ws:
            assert (await next_event(ws, "hello"))["type"] == "hello"
            # A client that connects later gets what happened before it.
            assert await next_event(ws, "urc", text="+HELLO: 1")


async def test_a_slow_event_client_is_disconnected_with_a_reason() -> None:
    network = MemoryNetwork(ManualClock())
    modem = Modem(network, clock=network.clock)
    server = ControlServer(modem, stream=EventStream(max_events=10_000, max_bytes=256 * 1024))
    await server.start()
    try:
        async with aiohttp.ClientSession() as session:
            url = f"{server.url}/events?token={server.token}"
            async with session.ws_connect(url, max_msg_size=0) as ws:
                await next_event(ws, "hello")
                # The client reads nothing while 20 MB of events come: the kernel's
                # buffers fill, the server's queue for it passes its bound.
                for _ in range(320):
                    server.stream.publish({"type": "filler", "data": "x" * 65536})
                    await asyncio.sleep(0.002)
                received = 0
                while (message := await ws.receive(timeout=10)).type == aiohttp.WSMsgType.TEXT:
                    received += 1
                assert message.type == aiohttp.WSMsgType.CLOSE, message
                assert message.data == 1008  # policy violation
                assert str(message.extra).startswith("too slow: more than 10000 events or 262144")
                assert 0 < received < 320
    finally:
        await server.close()


# -- the pytest fixture ---------------------------------------------------------------------

FIXTURE_TESTS = """
import serial


def test_control_from_the_fixture(bc66_emulator):
    port = serial.serial_for_url(bc66_emulator.url, timeout=2)
    port.write(b"ATE0\\r")
    port.read_until(b"OK\\r\\n")
    bc66_emulator.control.urc("+QIURC: \\"pdpdeact\\",1")
    assert port.read_until(b"pdpdeact\\",1\\r\\n") == b"\\r\\n+QIURC: \\"pdpdeact\\",1\\r\\n"
    bc66_emulator.control.override("AT+CSQ", ["+CSQ: 5,0", "OK"], once=True)
    port.write(b"AT+CSQ\\r")
    assert port.read_until(b"OK\\r\\n") == b"\\r\\n+CSQ: 5,0\\r\\n\\r\\nOK\\r\\n"
    assert bc66_emulator.control.status()["pins"]["outputs"]["VDD_EXT"] == "high"
    port.close()
"""


def test_the_pytest_fixture_has_the_control_plane(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user=FIXTURE_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


async def test_ctl_link_faults(uart: ControlledLink) -> None:
    """``bc66sim ctl`` for the link: a coverage loss, a CE level, a signal."""
    state = ("--state-dir", str(uart.state_dir))
    assert await uart.command("AT+CEREG=1") == OK
    code, _, err = await ctl(*state, "coverage-loss", "1")
    assert code == 0, err
    await uart.expect(b"\r\n+CEREG: 2\r\n")
    await uart.expect(b"\r\n+CEREG: 1\r\n", timeout=5)
    code, _, err = await ctl(*state, "ce", "1")
    assert code == 0, err
    assert b',"1A2B",1,23,2' in await uart.command("AT+QENG=0")
    code, _, err = await ctl(*state, "signal", "-100", "5")
    assert code == 0, err
    assert b",-100," in await uart.command("AT+QENG=0")
    code, _, err = await ctl(*state, "ce", "9")
    assert code != 0 and err.count("\n") == 1, err
