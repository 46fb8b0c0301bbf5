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
