"""The README's quick start, played literally: if the README and the program disagree,
this fails (issue 16: a quick start that works as written)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import sys
import tty
from pathlib import Path

from support.links import ServeProcess

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def transcript() -> list[str]:
    marker = "<!-- quick-start transcript: tests/test_readme.py plays it -->"
    block = README.split(marker, 1)[1].split("```", 2)[1]
    return block.strip("\n").splitlines()


async def test_the_quick_start_as_written(tmp_path: Path) -> None:
    echo = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bc66sim", "echo-server", "--port", "0",
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert echo.stderr is not None
    banner = (await asyncio.wait_for(echo.stderr.readline(), 10)).decode()
    port = re.search(r"on 127\.0\.0\.1:(\d+)", banner)
    assert port, banner
    # The README's serve: the default link (ce0), on a pty.
    server = await ServeProcess("--pty", str(tmp_path / "ttyBC66"), "--network", "ce0",
                                "--state-dir", str(tmp_path)).start()  # fmt: skip
    fd = os.open(server.where, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    tty.setraw(fd)
    try:
        await asyncio.sleep(2.5)  # RDY and +IP: go by before a terminal opens the port...
        with contextlib.suppress(BlockingIOError):
            os.read(fd, 4096)  # ...and it clears what waited, as pyserial (miniterm) does
        expected = [line.replace(",8080,", f",{port.group(1)},") for line in transcript()]
        seen = b""
        for number, text in enumerate(expected):
            if text.startswith("AT"):
                os.write(fd, text.encode() + b"\r\n")  # Enter, as miniterm sends it
            deadline = asyncio.get_running_loop().time() + 15
            while seen.replace(b"\r", b"").count(b"\n") <= number:  # every line so far
                assert asyncio.get_running_loop().time() < deadline, (text, seen)
                try:
                    seen += os.read(fd, 4096)
                except BlockingIOError:
                    await asyncio.sleep(0.02)
        assert seen.replace(b"\r", b"").decode().rstrip("\n").split("\n") == expected
    finally:
        os.close(fd)
        await server.stop()
        echo.terminate()
        await echo.wait()
