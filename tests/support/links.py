"""Ways for a test to be the host on the module's UART.

``InProcessLink`` runs the Modem in the test's own event loop (and lets a test
look inside it); ``PtyLink`` and ``TcpLink`` start ``bc66sim serve`` as a real
process and talk to it over a real pty or TCP connection.  The same tests run
over each (STYLE §10).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import sys
import tty
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Self

from bc66sim.clock import Clock, ManualClock
from bc66sim.module.modem import Modem, ModemConfig
from bc66sim.module.nvram import Nvram
from bc66sim.net.base import Network
from bc66sim.net.host import HostNetwork
from bc66sim.net.link import LinkNetwork, LinkProfile
from bc66sim.net.memory import MemoryNetwork
from support.memory_peers import manual_clock, run_until

FINAL = re.compile(rb"\r\n(OK|ERROR|\+CME ERROR: [^\r]*)\r\n")


class Link:
    """The host side of a UART: write bytes, wait for exact bytes."""

    name = "link"

    def __init__(self) -> None:
        self.buffer = bytearray()
        self._arrived = asyncio.Event()

    def feed(self, data: bytes) -> None:
        self.buffer += data
        self._arrived.set()

    async def write(self, data: bytes) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError

    async def _wait(self, ready: object, timeout: float) -> None:
        async def until() -> None:
            while not ready():  # type: ignore[operator]
                self._arrived.clear()
                await self._arrived.wait()

        try:
            await asyncio.wait_for(until(), timeout)
        except TimeoutError:
            raise AssertionError(f"timed out; the module had sent {bytes(self.buffer)!r}") from None

    async def expect(self, expected: bytes, timeout: float = 5) -> None:
        """The next bytes from the module are exactly ``expected``."""
        await self._wait(lambda: len(self.buffer) >= len(expected), timeout)
        got = bytes(self.buffer[: len(expected)])
        assert got == expected, f"module sent {got!r}\n      expected {expected!r}"
        del self.buffer[: len(expected)]

    async def expect_match(self, pattern: re.Pattern[bytes], timeout: float = 10) -> bytes:
        """The next bytes from the module match ``pattern`` (anchored at the start)."""
        await self._wait(lambda: pattern.match(self.buffer) is not None, timeout)
        match = pattern.match(self.buffer)
        assert match is not None
        got = bytes(match.group(0))  # before the buffer under the match changes
        del self.buffer[: match.end()]
        return got

    async def read_until(self, marker: bytes | re.Pattern[bytes], timeout: float = 5) -> bytes:
        """Everything up to and including ``marker`` (bytes or a pattern)."""
        pattern = marker if isinstance(marker, re.Pattern) else re.compile(re.escape(marker))
        await self._wait(lambda: pattern.search(self.buffer) is not None, timeout)
        match = pattern.search(self.buffer)
        assert match is not None
        got = bytes(self.buffer[: match.end()])
        del self.buffer[: match.end()]
        return got

    async def urcs(self, count: int, timeout: float = 10) -> list[bytes]:
        """The next ``count`` URCs (``\\r\\n<text>\\r\\n`` each), their text only."""
        lines = []
        for _ in range(count):
            got = await self.expect_match(re.compile(rb"\r\n([^\r]*)\r\n"), timeout)
            lines.append(got[2:-2])
        return lines

    async def read_exactly(self, count: int, timeout: float = 5) -> bytes:
        await self._wait(lambda: len(self.buffer) >= count, timeout)
        got = bytes(self.buffer[:count])
        del self.buffer[:count]
        return got

    async def command(self, line: str | bytes, timeout: float = 5) -> bytes:
        """Send a command line and return everything up to its final result code."""
        data = line.encode("latin-1") if isinstance(line, str) else line
        await self.write(data + b"\r")
        return await self.read_until(FINAL, timeout)

    async def last_error(self) -> bytes:
        """The ``+QIGETERROR: <err>,<description>`` line of AT+QIGETERROR."""
        match = re.search(rb"\+QIGETERROR: [^\r]*", await self.command("AT+QIGETERROR"))
        assert match is not None
        return match.group(0)

    async def quiet(self, seconds: float = 0.2) -> None:
        """Nothing more arrives within ``seconds``."""
        await asyncio.sleep(seconds)
        assert not self.buffer, f"unexpected output {bytes(self.buffer)!r}"

    async def sync(self, timeout: float = 10) -> None:
        """Wait until the module is attached, then forget what it said so far."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            reply = await self.command("AT+CGATT?")
            if b"+CGATT: 1" in reply:
                break
            assert asyncio.get_running_loop().time() < deadline, "the module never attached"
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.05)
        self.buffer.clear()


class InProcessLink(Link):
    name = "inprocess"

    def __init__(
        self,
        state_dir: Path | None = None,
        *,
        network: Network | None = None,
        clock: Clock | None = None,
        **config: object,
    ) -> None:
        super().__init__()
        settings = {"attach_delay": 0.05, "open_timeout": 5.0} | config
        self.modem = Modem(
            network or HostNetwork(),
            config=ModemConfig(**settings),  # type: ignore[arg-type]
            nvram=Nvram(state_dir),
            clock=clock,
        )
        self.modem.attach_output(self.feed)

    async def start(self) -> InProcessLink:
        self.modem.power_on()
        return self

    async def write(self, data: bytes) -> None:
        self.modem.receive_data(data)
        await asyncio.sleep(0)

    async def close(self) -> None:
        await self.modem.close()


class MemoryLink(InProcessLink):
    """An in-process module on :class:`MemoryNetwork` and a :class:`ManualClock`.

    Waiting for the module's bytes moves module time on (from timer to timer) instead
    of sleeping: a test of module behaviour that needs no real peer runs in module
    time, deterministically, and a minute of timeout costs nothing.
    """

    name = "memory"

    def __init__(
        self,
        state_dir: Path | None = None,
        *,
        network: MemoryNetwork | None = None,
        link: LinkProfile | None = None,
        seed: int | None = 1,
        **config: object,
    ) -> None:
        """On ``network`` (shared with other modules and peers), else on a world of its own;
        through a radio ``link`` of that profile (net/link.py) when one is given."""
        self.network = network or MemoryNetwork(ManualClock())
        self.clock = manual_clock(self.network)
        self.link: LinkNetwork | None = None
        seen: Network = self.network
        if link is not None:
            self.link = LinkNetwork(self.network, link, self.clock, seed=seed)
            seen = self.link
        settings: dict[str, object] = {"attach_delay": 1.0, "open_timeout": 60.0} | config
        super().__init__(state_dir, network=seen, clock=self.clock, **settings)

    async def write(self, data: bytes) -> None:
        self.modem.receive_data(data)
        await self.clock.advance(0)

    async def _wait(self, ready: object, timeout: float) -> None:
        """Move module time on, timer by timer, until ``ready`` or ``timeout`` (module time)."""
        await run_until(self.clock, ready, timeout,  # type: ignore[arg-type]
                        lambda: f"the module had sent {bytes(self.buffer)!r}")  # fmt: skip

    async def quiet(self, seconds: float = 0.2) -> None:
        await self.clock.advance(seconds)
        assert not self.buffer, f"unexpected output {bytes(self.buffer)!r}"

    async def say(self, line: str) -> bytes:
        """Send a line (CR LF) and return what the module answered at once."""
        self.buffer.clear()
        await self.write(line.encode("latin-1") + b"\r\n")
        return self._take()

    async def advance(self, seconds: float) -> bytes:
        """Let ``seconds`` of module time pass; what the module said meanwhile."""
        await self.clock.advance(seconds)
        return self._take()

    def _take(self) -> bytes:
        said = bytes(self.buffer)
        self.buffer.clear()
        return said

    async def sync(self, timeout: float = 10) -> None:
        await self.clock.advance(self.modem.config.attach_delay)
        reply = await self.command("AT+CGATT?")
        assert b"+CGATT: 1" in reply, "the module never attached"
        self.buffer.clear()


#: The modem_factory fixture: ``await make(**ModemConfig overrides)``, attached.
ModemFactory = Callable[..., Awaitable[InProcessLink]]


class Bc66simProcess:
    """``bc66sim <args>`` as a child process, with its log kept for failures;
    ``where`` is what its log line matching ``ready`` says (group 1)."""

    def __init__(self, *args: str, ready: str = r"ready on (\S+)") -> None:
        self.args = args
        self._ready_line = re.compile(ready)
        self.process: asyncio.subprocess.Process | None = None
        self.log: list[str] = []
        self.ready = asyncio.Event()
        self.where = ""
        self._reader: asyncio.Task[None] | None = None

    async def start(self, timeout: float = 15) -> Self:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bc66sim", *self.args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        self._reader = asyncio.create_task(self._read_log())
        ready = asyncio.ensure_future(self.ready.wait())
        await asyncio.wait([ready, self._reader], timeout=timeout,
                           return_when=asyncio.FIRST_COMPLETED)  # fmt: skip
        ready.cancel()
        if not self.ready.is_set():  # it ended, or took too long
            await self.stop()
            raise AssertionError(f"bc66sim {self.args[0]} did not start:\n" + "\n".join(self.log))
        return self

    async def _read_log(self) -> None:
        assert self.process is not None and self.process.stderr is not None
        while line := await self.process.stderr.readline():
            text = line.decode(errors="replace").rstrip()
            self.log.append(text)
            match = self._ready_line.search(text)
            if match and not self.ready.is_set():
                self.where = match.group(1)
                self.ready.set()

    async def wait(self, timeout: float = 30) -> int:
        """Its exit code, once it ends by itself (and its log is read to the end)."""
        assert self.process is not None
        code = await asyncio.wait_for(self.process.wait(), timeout)
        if self._reader is not None:
            await asyncio.wait_for(self._reader, 5)
        return code

    async def stop(self) -> int | None:
        if self.process is None:
            return None
        if self.process.returncode is None:
            self.process.terminate()
        try:
            code = await asyncio.wait_for(self.process.wait(), 10)
        except TimeoutError:
            self.process.kill()
            code = await self.process.wait()
        if self._reader is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._reader, 5)
        return code


class ServeProcess(Bc66simProcess):
    """``bc66sim serve``.  Tests of behaviour run on the ``ideal`` link unless they
    choose one: a test that is about NB-IoT's delays says ``--network ce0`` (or a
    profile file) itself."""

    def __init__(self, *args: str) -> None:
        super().__init__("serve", *args if "--network" in args else (*args, "--network", "ideal"))


class TcpHost(Link):
    """A host on a TCP UART (``HOST:PORT``); ``everything`` keeps every byte it got."""

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


class PtyHost(TcpHost):
    """The same host, on a pty at ``where`` (``everything`` keeps every byte it got)."""

    _fd = -1

    async def connect(self, where: str) -> PtyHost:
        self._fd = os.open(where, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        tty.setraw(self._fd)
        asyncio.get_running_loop().add_reader(self._fd, self._readable)
        return self

    def _readable(self) -> None:
        with contextlib.suppress(BlockingIOError):
            if data := os.read(self._fd, 65536):
                self.everything += data
                self.feed(data)

    async def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                view = view[os.write(self._fd, view) :]
            except BlockingIOError:
                await asyncio.sleep(0.001)

    async def close(self) -> None:
        if self._fd >= 0:
            asyncio.get_running_loop().remove_reader(self._fd)
            os.close(self._fd)
            self._fd = -1


class TcpLink(TcpHost):
    name = "tcp"

    def __init__(self, state_dir: Path) -> None:
        super().__init__()
        self.server = ServeProcess(
            "--tcp", "127.0.0.1:0", "--attach-delay", "0.05", "--state-dir", str(state_dir)
        )

    async def start(self) -> TcpLink:
        await self.server.start()
        await self.connect(self.server.where)
        return self

    async def close(self) -> None:
        await super().close()
        await self.server.stop()


class PtyLink(PtyHost):
    name = "pty"

    def __init__(self, state_dir: Path) -> None:
        super().__init__()
        self.path = state_dir / "ttyBC66"
        self.server = ServeProcess(
            "--pty", str(self.path), "--attach-delay", "0.05", "--state-dir", str(state_dir)
        )

    async def start(self) -> PtyLink:
        await self.server.start()
        await self.connect(str(self.path))
        return self

    async def close(self) -> None:
        await super().close()
        await self.server.stop()


class StdioLink(Link):
    """``bc66sim serve --stdio`` in a child process, optionally in a network namespace.

    ``netns_setup`` is shell run as root inside a fresh network namespace (its own
    loopback, its own sysctls) before the emulator starts; ``as_nobody`` drops to
    user nobody, a process without the right to open raw sockets.
    """

    name = "stdio"

    def __init__(
        self, state_dir: Path, *, netns_setup: str | None = None, as_nobody: bool = False
    ) -> None:
        super().__init__()
        self.state_dir = state_dir
        self.netns_setup = netns_setup
        self.as_nobody = as_nobody
        self.process: asyncio.subprocess.Process | None = None
        self.stderr = b""
        self._pump: asyncio.Task[None] | None = None

    def _argv(self) -> list[str]:
        serve = [sys.executable, "-m", "bc66sim", "serve", "--stdio", "--attach-delay", "0",
                 "--network", "ideal", "--state-dir", str(self.state_dir)]  # fmt: skip
        if self.as_nobody:
            serve = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *serve]
        if self.netns_setup is None:
            return serve
        script = f'ip link set lo up && {self.netns_setup} && exec "$@"'
        return ["unshare", "--net", "sh", "-c", script, "sh", *serve]

    async def start(self) -> StdioLink:
        self.process = await asyncio.create_subprocess_exec(
            *self._argv(),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        self._pump = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        while data := await self.process.stdout.read(65536):
            self.feed(data)

    async def write(self, data: bytes) -> None:
        assert self.process is not None and self.process.stdin is not None
        self.process.stdin.write(data)
        await self.process.stdin.drain()

    async def close(self) -> None:
        if self.process is None:
            return
        assert self.process.stdin is not None and self.process.stderr is not None
        self.process.stdin.close()
        try:
            await asyncio.wait_for(self.process.wait(), 10)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
        self.stderr = await self.process.stderr.read()
        if self._pump is not None:
            self._pump.cancel()
