"""``bc66sim console``: typed lines in, the module's answers out."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bc66sim.console import encode_line, render
from support.links import ServeProcess


@pytest.mark.parametrize(
    ("typed", "sent"),
    [
        ("AT", b"AT\r"),
        ("hello\\z", b"hello\x1a"),
        ("abc\\e", b"abc\x1b\r"),
        ("\\x00\\xff\\\\", b"\x00\xff\\\r"),
    ],
)
def test_encode_line(typed: str, sent: bytes) -> None:
    assert encode_line(typed) == sent


def test_render() -> None:
    assert render(b"\r\nOK\r\n\r\n> \x1a") == "\nOK\n\n> <x1a>"


def console(*args: str, typed: str, state_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bc66sim", "console", *args, "--state-dir", str(state_dir)],
        input=typed, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_embedded_module(tmp_path: Path) -> None:
    result = console("--attach-delay", "0", typed="ATI\nAT+QISEND=0\\e\n", state_dir=tmp_path)
    assert result.returncode == 0
    assert "Quectel_BC66\n\nRevision: BC66NBR01A10\n\nOK" in result.stdout
    assert "AT+QISEND=0<x1b>\nERROR" in result.stdout


async def test_to_a_port(tmp_path: Path) -> None:
    server = await ServeProcess("--tcp", "127.0.0.1:0", "--attach-delay", "0",
                                "--state-dir", str(tmp_path)).start()  # fmt: skip
    try:
        result = console(f"socket://{server.where}", typed="AT+CGMI\n", state_dir=tmp_path)
    finally:
        await server.stop()
    assert result.returncode == 0
    assert "AT+CGMI\nQuectel_Ltd\n\nOK" in result.stdout


def test_bad_port_is_one_clear_line(tmp_path: Path) -> None:
    result = console("/dev/no-such-port", typed="", state_dir=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().startswith("bc66sim: error: cannot open /dev/no-such-port")


def test_error_codes_are_annotated() -> None:
    from bc66sim.console import annotate

    assert annotate("+CME ERROR: 566\n") == "+CME ERROR: 566  [socket connection failed]\n"
    assert annotate("+QIOPEN: 0,565\n+QIOPEN: 1,0\n") == (
        "+QIOPEN: 0,565  [dns parse failed]\n+QIOPEN: 1,0\n"
    )
    assert annotate('+QIURC: "dnsgip",569\n') == '+QIURC: "dnsgip",569  [operation timeout]\n'
    assert annotate("+CME ERROR: 50\n") == "+CME ERROR: 50  [incorrect parameters]\n"


def test_help_and_quit_keys(tmp_path: Path) -> None:
    result = console("--attach-delay", "0", typed="\\h\nATI\n\\q\nAT+CIMI\n", state_dir=tmp_path)
    assert result.returncode == 0
    assert "\\h for help; \\q or Ctrl+D quits" in result.stdout
    assert "\\z  Ctrl+Z" in result.stdout  # the help, from the console, not the module
    assert "Quectel_BC66" in result.stdout
    assert "001010123456789" not in result.stdout  # \q quit before AT+CIMI


async def test_a_terminal_shows_each_command_once(tmp_path: Path) -> None:
    """The terminal echoes what is typed; the module's echo of it is not printed again."""
    import asyncio
    import os

    master, slave = os.openpty()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bc66sim", "console", "--attach-delay", "0",
        "--state-dir", str(tmp_path), stdin=slave, stdout=slave, stderr=slave,
    )  # fmt: skip
    os.close(slave)
    os.set_blocking(master, False)
    seen = b""

    async def until(marker: bytes) -> None:
        nonlocal seen
        for _ in range(500):
            try:
                seen += os.read(master, 4096)
            except (BlockingIOError, OSError):
                await asyncio.sleep(0.02)
            if marker in seen:
                return
        raise AssertionError(seen)

    try:
        await until(b"quits")
        await asyncio.sleep(0.5)
        os.write(master, b"AT+CGMI\n")
        await until(b"OK")
        assert seen.count(b"AT+CGMI") == 1, seen  # the terminal's echo only
        os.write(master, b"\\q\n")
        assert await asyncio.wait_for(process.wait(), 10) == 0
    finally:
        if process.returncode is None:
            process.kill()
        os.close(master)
