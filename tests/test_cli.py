"""``bc66sim serve`` as a user runs it: transports, clear errors, clean shutdown."""

from __future__ import annotations

import asyncio
import os
import select
import socket
import subprocess
import sys
import tty
from pathlib import Path

import pytest

from support.links import ServeProcess, TcpLink
from support.peers import TcpPeer


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bc66sim", *args], capture_output=True, text=True, timeout=30
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["serve", "--serial", "/dev/no-such-uart"], "cannot open serial device /dev/no-such-uart"),
        (["serve", "--tcp", "nonsense"], "--tcp: expected HOST:PORT"),
        (["serve", "--uart", "tcp://nonsense"], "'tcp://nonsense': expected HOST:PORT"),
        (["serve", "--uart", "telnet://127.0.0.1:23"], "starts with one of pty:, tcp:, serial:"),
        (["serve", "--uart", "/dev/ttyUSB0"], "starts with one of"),
        (["serve", "--uart", "serial:"], "which device?"),
        (["serve", "--uart", "serial:/dev/no-such-uart"], "cannot open serial device"),
        (["serve", "--uart", "stdio:x"], "stdio: takes no address"),
        (["serve", "--time-scale", "nan"], "finite numbers"),
        (["serve", "--time-scale", "inf"], "finite numbers"),
        (["serve", "--attach-delay", "nan"], "--attach-delay must be"),
        (["serve", "--network", "ce9"], "--network: 'ce9': not one of"),
        (["serve", "--scenario", "nowhere"], "--scenario: 'nowhere': no such file"),
        (["serve", "--ip", "300.1.1.1"], "--ip:"),
        (["serve", "--attach-delay", "-1"], "--attach-delay must be 0 or more"),
    ],
)
def test_usage_errors_are_one_clear_line(args: list[str], message: str, tmp_path: Path) -> None:
    result = run_cli(*args, "--state-dir", str(tmp_path))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("bc66sim: error: ") and message in lines[0]


def test_busy_tcp_port(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        port = holder.getsockname()[1]
        result = run_cli("serve", "--tcp", f"127.0.0.1:{port}", "--state-dir", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr.startswith(f"bc66sim: error: cannot listen on 127.0.0.1:{port}")


@pytest.mark.parametrize("url", ["tcp://127.0.0.1:0", "pty:{tmp}/tty", "pty://{tmp}/tty"])
async def test_the_uart_chosen_by_url(url: str, tmp_path: Path) -> None:
    """``--uart URL`` serves on the transport it names (transport/url.py)."""
    server = await ServeProcess("--uart", url.format(tmp=tmp_path), "--attach-delay", "0",
                                "--state-dir", str(tmp_path)).start()  # fmt: skip
    try:
        if url.startswith("tcp"):
            assert "(tcp)" in "\n".join(server.log)
            answer = await say(server, b"AT")
        else:
            assert server.where == f"{tmp_path}/tty" and "(pty)" in "\n".join(server.log)
            fd = os.open(server.where, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
            tty.setraw(fd)
            os.write(fd, b"AT\r\n")
            answer = await read_until(fd, b"OK\r\n")
            os.close(fd)
        assert b"AT\r\n\r\nOK\r\n" in answer, answer
    finally:
        await server.stop()


def test_pty_path_that_is_not_a_link(tmp_path: Path) -> None:
    taken = tmp_path / "file"
    taken.write_text("mine")
    result = run_cli("serve", "--pty", str(taken), "--state-dir", str(tmp_path))
    assert result.returncode == 2 and "is not a link" in result.stderr
    assert taken.read_text() == "mine"


async def say(server: ServeProcess, line: bytes) -> bytes:
    """As a host would: connect to a TCP serve, send ``line`` and read to its OK; hang up."""
    host, port = server.where.rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(line + b"\r\n")
        return await asyncio.wait_for(reader.readuntil(b"OK\r\n"), 10)
    finally:
        writer.close()


async def read_until(fd: int, marker: bytes, timeout: float = 10) -> bytes:
    data = b""
    deadline = asyncio.get_running_loop().time() + timeout
    while marker not in data:
        assert asyncio.get_running_loop().time() < deadline, data
        try:
            data += os.read(fd, 4096)
        except BlockingIOError:
            await asyncio.sleep(0.01)
    return data


async def test_serial_device(tmp_path: Path) -> None:
    """A real UART stand-in: the test holds a pty master; the emulator opens the slave."""
    master, slave = os.openpty()
    tty.setraw(master)
    os.set_blocking(master, False)
    device = os.ttyname(slave)
    server = ServeProcess("--serial", device, "--baud", "9600", "--attach-delay", "0",
                          "--state-dir", str(tmp_path))  # fmt: skip
    await server.start()
    try:
        assert "9600 baud" in server.where or any("9600 baud" in x for x in server.log)
        os.write(master, b"AT+CGMI\r")
        assert b"AT+CGMI\r\r\nQuectel_Ltd\r\n\r\nOK\r\n" in await read_until(master, b"OK\r\n")
    finally:
        assert await server.stop() == 0
        os.close(master)
        os.close(slave)


async def test_stdio_with_trace(tmp_path: Path) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bc66sim", "serve", "--stdio", "-v", "--attach-delay", "0",
        "--state-dir", str(tmp_path),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert process.stdin is not None and process.stdout is not None
    assert await asyncio.wait_for(process.stdout.readuntil(b"RDY\r\n"), 10) == b"\r\nRDY\r\n"
    process.stdin.write(b"AT+CGMM\r")
    await process.stdin.drain()
    reply = await asyncio.wait_for(process.stdout.readuntil(b"OK\r\n"), 10)
    assert reply.endswith(b"AT+CGMM\r\r\nQuectel_BC66\r\n\r\nOK\r\n")
    process.stdin.close()  # end of input stops the emulator
    _, stderr = await asyncio.wait_for(process.communicate(), 10)
    assert process.returncode == 0
    assert "host> AT+CGMM\\r" in stderr.decode()
    assert "<host AT+CGMM\\r\\r\\nQuectel_BC66\\r\\n" in stderr.decode()  # one write


async def test_sigterm_closes_sockets_and_saves_state(tmp_path: Path, peer: TcpPeer) -> None:
    link = await TcpLink(tmp_path).start()
    await link.sync()
    await link.command('AT+QICFG="showlength",1')
    await link.command(f'AT+QIOPEN=1,0,"TCP","127.0.0.1",{peer.port}')
    await link.expect(b"\r\n+QIOPEN: 0,0\r\n")
    await peer.connection()
    assert await link.server.stop() == 0  # SIGTERM
    await asyncio.wait_for(peer.closed.wait(), 5)
    assert '"show_length": 1' in (tmp_path / "nvram.json").read_text()
    assert any("stopped; state saved" in line for line in link.server.log)
    await link.close()


async def test_second_tcp_host_is_refused(tmp_path: Path) -> None:
    link = await TcpLink(tmp_path).start()
    await link.sync()
    host, port = link.server.where.rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    assert await asyncio.wait_for(reader.read(100), 5) == b""  # closed at once
    writer.close()
    assert (await link.command("AT")).endswith(b"\r\nOK\r\n")  # the first host goes on
    await link.close()


async def test_sigterm_with_a_tcp_host_attached_stops_cleanly(tmp_path: Path) -> None:
    """Issue 9: SIGTERM while a host is connected once printed a CancelledError traceback."""
    server = await ServeProcess("--tcp", "127.0.0.1:0", "--state-dir", str(tmp_path)).start()
    host, port = server.where.rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))  # attached till the end
    writer.write(b"AT\r\n")
    assert b"OK\r\n" in await asyncio.wait_for(reader.readuntil(b"OK\r\n"), 5)
    assert await server.stop() == 0
    log = "\n".join(server.log)
    assert "Traceback" not in log and "CancelledError" not in log, log
    assert "stopped; state saved in" in log
    writer.close()


async def test_a_failed_save_is_not_reported_as_saved(tmp_path: Path) -> None:
    """A state directory that cannot be written: an error and exit code 1, not "saved"."""
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the state directory should be")
    server = await ServeProcess("--tcp", "127.0.0.1:0", "--state-dir", str(blocker)).start()
    assert await server.stop() == 1
    log = "\n".join(server.log)
    assert "could NOT be saved" in log and "state saved" not in log, log


def test_leftovers_of_an_interrupted_save_are_removed(tmp_path: Path) -> None:
    from bc66sim.module.nvram import Nvram

    leftover = tmp_path / ".nvram-k9xz1.tmp"
    leftover.write_text('{"send_hex": 1')  # half a file: a kill -9 during the write
    (tmp_path / "nvram.json").write_text('{"view_mode": 1}')
    settings = Nvram(tmp_path).load()
    assert settings.view_mode == 1 and settings.send_hex == 0
    assert not leftover.exists()


def test_help_explains_the_program() -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    assert "a software Quectel BC66" in result.stdout and "argument parsing" not in result.stdout


async def test_the_printed_hint_works_as_printed(tmp_path: Path) -> None:
    """The "try:" command names the interpreter bc66sim runs in, which has pyserial."""
    server = await ServeProcess("--tcp", "127.0.0.1:0", "--state-dir", str(tmp_path)).start()
    await server.stop()
    hint = next(text for text in server.log if "try: " in text).split("try: ", 1)[1].split()
    assert hint[1:4] == ["-m", "serial.tools.miniterm", f"socket://{server.where}"]
    result = subprocess.run([hint[0], "-m", "serial.tools.miniterm", "--help"],
                            capture_output=True, text=True, timeout=30)  # fmt: skip
    assert result.returncode == 0, result.stderr


async def test_saved_settings_are_shown_and_a_factory_reset_forgets_them(tmp_path: Path) -> None:
    server = await ServeProcess("--tcp", "127.0.0.1:0", "--attach-delay", "0",
                                "--state-dir", str(tmp_path)).start()  # fmt: skip
    await say(server, b'AT+QICFG="dataformat",1,1')
    await server.stop()
    again = await ServeProcess("--tcp", "127.0.0.1:0", "--state-dir", str(tmp_path)).start()
    await again.stop()
    loaded = [text for text in again.log if "NVRAM from" in text]
    assert loaded and "send_hex=1" in loaded[0] and "recv_hex=1" in loaded[0], again.log
    fresh = await ServeProcess("--tcp", "127.0.0.1:0", "--factory-reset",
                               "--state-dir", str(tmp_path)).start()  # fmt: skip
    await fresh.stop()
    assert any("factory reset" in text for text in fresh.log)
    assert not any("NVRAM from" in text for text in fresh.log)


async def test_the_trace_goes_to_a_file(tmp_path: Path) -> None:
    trace = tmp_path / "at.trace"
    server = await ServeProcess("--tcp", "127.0.0.1:0", "--trace", str(trace), "--attach-delay",
                                "0", "--state-dir", str(tmp_path)).start()  # fmt: skip
    await say(server, b"AT+CGMI")
    await server.stop()
    lines = trace.read_text().splitlines()
    assert any(line.endswith("host> AT+CGMI\\r\\n") for line in lines), lines
    assert any("<host" in line and "Quectel_Ltd" in line for line in lines), lines


def test_every_option_explains_itself() -> None:
    from bc66sim.cli import build_parser

    parser = build_parser()
    missing = []
    for name, sub in parser._subparsers._group_actions[0].choices.items():  # type: ignore[union-attr]
        for action in sub._actions:
            if action.help is None and action.dest != "help":
                missing.append(f"{name} {action.option_strings or action.dest}")
    assert missing == []


async def test_a_second_serve_on_the_same_pty_path_is_refused(tmp_path: Path) -> None:
    link = tmp_path / "ttyBC66"
    first = await ServeProcess("--pty", str(link), "--state-dir", str(tmp_path / "a")).start()
    try:
        result = run_cli("serve", "--pty", str(link), "--state-dir", str(tmp_path / "b"))
        assert result.returncode == 2
        assert "is in use by another bc66sim serve" in result.stderr
        assert result.stderr.count("\n") == 1
        assert os.path.islink(link) and os.readlink(link) != ""  # the first keeps its port
    finally:
        await first.stop()
    again = await ServeProcess("--pty", str(link), "--state-dir", str(tmp_path / "c")).start()
    await again.stop()  # once the first has stopped, the path is free


async def test_stdio_on_a_terminal_quits_with_ctrl_bracket(tmp_path: Path) -> None:
    """Ctrl+C is a byte for the module on a raw terminal; Ctrl+] quits (said at start)."""
    master, slave = os.openpty()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bc66sim", "serve", "--stdio", "--network", "ideal",
        "--attach-delay", "0", "--state-dir", str(tmp_path),
        stdin=slave, stdout=slave, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    os.close(slave)
    try:
        os.set_blocking(master, False)
        await read_until(master, b"RDY")
        os.write(master, b"AT\x03\r\n")  # a Ctrl+C goes to the module (a bad line: ERROR)
        await read_until(master, b"ERROR\r\n")
        os.write(master, b"\x1d")
        assert await asyncio.wait_for(process.wait(), 10) == 0
        assert process.stderr is not None
        log = (await process.stderr.read()).decode()
        assert "Ctrl+] quits" in log and "Traceback" not in log
    finally:
        if process.returncode is None:
            process.kill()
        os.close(master)


async def test_ctrl_c_stops_tcp_serve_cleanly_with_a_host_connected(tmp_path: Path) -> None:
    import signal

    server = await ServeProcess("--tcp", "127.0.0.1:0", "--state-dir", str(tmp_path)).start()
    host, port = server.where.rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(b"AT\r\n")
    await asyncio.wait_for(reader.readuntil(b"OK\r\n"), 10)
    assert server.process is not None
    server.process.send_signal(signal.SIGINT)
    assert await asyncio.wait_for(server.process.wait(), 10) == 0
    assert await asyncio.wait_for(reader.read(), 5) == b""  # the host sees the port close
    await server.stop()
    assert not any("Traceback" in text for text in server.log), server.log
    assert any("stopped; state saved" in text for text in server.log)
    writer.close()


async def test_power_on_at_connect_lets_the_host_see_rdy(tmp_path: Path) -> None:
    args = ("--tcp", "127.0.0.1:0", "--power-on-at-connect", "--attach-delay", "0.2")
    server = await ServeProcess(*args, "--state-dir", str(tmp_path)).start()
    try:
        await asyncio.sleep(0.5)  # no host yet: the module has not booted
        host, port = server.where.rsplit(":", 1)
        reader, writer = await asyncio.open_connection(host, int(port))
        boot = await asyncio.wait_for(reader.readuntil(b"+IP: 10.20.30.40\r\n"), 10)
        assert boot == b"\r\nRDY\r\n\r\n+IP: 10.20.30.40\r\n"
        writer.close()
    finally:
        await server.stop()
    result = run_cli("serve", "--stdio", "--power-on-at-connect", "--state-dir", str(tmp_path))
    assert result.returncode == 2 and "needs a port a host connects to" in result.stderr


async def test_power_on_when_a_host_opens_the_pty(tmp_path: Path) -> None:
    """Issue 16 §1: a terminal that opens the pty sees the boot, RDY first."""
    link = tmp_path / "tty"
    args = ("--pty", str(link), "--power-on-at-connect", "--attach-delay", "0.2")
    server = await ServeProcess(*args, "--state-dir", str(tmp_path)).start()
    try:
        await asyncio.sleep(0.5)  # nobody has opened the port: the module has not booted
        fd = os.open(link, os.O_RDWR | os.O_NOCTTY)
        try:
            seen = b""
            while b"+IP: 10.20.30.40\r\n" not in seen:
                readable = await asyncio.to_thread(select.select, [fd], [], [], 10)
                assert readable[0], f"no boot within 10 s: {seen!r}"
                seen += os.read(fd, 1024)
            assert seen == b"\r\nRDY\r\n\r\n+IP: 10.20.30.40\r\n"
        finally:
            os.close(fd)
    finally:
        await server.stop()
