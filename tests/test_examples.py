"""The scripts in examples/ run, as a user would run them, against the emulator."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from support.links import ServeProcess
from support.mqtt import Watcher
from support.peers import TcpPeer, UdpPeer
from support.servers import MqttBrokers

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


async def run_example(name: str, *args: str) -> str:
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(EXAMPLES / name), *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output, _ = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 0, output.decode()
    return output.decode()


@pytest.fixture
async def serve(tmp_path: Path) -> ServeProcess:
    server = await ServeProcess("--tcp", "127.0.0.1:0", "--attach-delay", "0",
                                "--state-dir", str(tmp_path)).start()  # fmt: skip
    yield server  # type: ignore[misc]
    await server.stop()


async def test_http_get(serve: ServeProcess, tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("<h1>hello over NB-IoT</h1>")
    http = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "http.server", "--bind", "127.0.0.1", "0", "-d", str(tmp_path),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    assert http.stdout is not None
    banner = (await asyncio.wait_for(http.stdout.readline(), 10)).decode()
    port = banner.split("port ")[1].split(" ")[0]
    try:
        output = await run_example(
            "http_get.py", f"socket://{serve.where}", f"http://127.0.0.1:{port}/index.html"
        )
    finally:
        http.terminate()
        await http.wait()
    assert "200 OK" in output and "hello over NB-IoT" in output


async def test_udp_echo(serve: ServeProcess) -> None:
    peer = await UdpPeer(echo=True).start()
    try:
        output = await run_example(
            "udp_echo.py", f"socket://{serve.where}", "127.0.0.1", str(peer.port), "one", "two"
        )
    finally:
        await peer.stop()
    assert "reply: one" in output and "reply: two" in output


async def test_async_tcp(serve: ServeProcess) -> None:
    peer = await TcpPeer(echo=True).start()
    try:
        output = await run_example(
            "async_tcp.py", f"socket://{serve.where}", "127.0.0.1", str(peer.port)
        )
    finally:
        await peer.stop()
    assert "reply: b'ping over NB-IoT\\n'" in output


async def test_network_services(serve: ServeProcess, dns_server: str) -> None:
    output = await run_example(
        "network_services.py", f"socket://{serve.where}", "iot.bc66.test", dns_server
    )
    assert "addresses: ['127.0.0.1']" in output and "ping: 3/3 replies" in output


async def test_plugin_example(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_plugin_example=(EXAMPLES / "test_with_the_plugin.py").read_text())
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


async def test_psm_sensor(tmp_path: Path) -> None:
    """The README's sleeping sensor: a report at each T3412, deep sleep in between."""
    args = ("--tcp", "127.0.0.1:0", "--attach-delay", "0", "--time-scale", "300")
    server = await ServeProcess(*args, "--state-dir", str(tmp_path)).start()
    try:
        output = await run_example("psm_sensor.py", server.where, "--reports", "2")
    finally:
        await server.stop()
    assert "collector got 'reading 1: 21.1 C'" in output
    assert "module in deep sleep" in output and "module woke for its TAU" in output
    assert "collector got 'reading 2: 21.2 C'" in output
    summary = "\n".join(server.log)
    assert "energy over" in summary and "deep_sleep" in summary and "battery lasts" in summary


async def test_mqtt_report(serve: ServeProcess, brokers: MqttBrokers) -> None:
    watcher = Watcher(brokers.ports["plain"], "bc66/#")
    try:
        output = await run_example(
            "mqtt_report.py",
            f"socket://{serve.where}",
            "127.0.0.1",
            str(brokers.ports["plain"]),
            "2",
        )
        messages = await watcher.until(4)
    finally:
        watcher.close()
    assert output.count("published bc66/") == 2
    assert [m.topic.rsplit("/", 1)[1] for m in messages] == ["status", "temp", "temp", "status"]
    assert [messages[0].payload, messages[-1].payload] == [b"online", b"offline"]
