"""``make bench``: how fast the emulator is, as ratios against baselines of the same run.

Prints one table (and writes it to bench/latest.md).  Every figure is measured here,
now, on this machine; see docs/PERFORMANCE.md for what limits each.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import platform
import re
import select
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tty
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bc66sim.client.protocol import Final, Info, Pending, Prompt, ResponseParser, Trailer, Urc

HERE = Path(__file__).resolve().parent
ROUND_TRIPS = int(os.environ.get("BENCH_ROUND_TRIPS", "2000"))
PAYLOAD = int(os.environ.get("BENCH_PAYLOAD", str(8 * 1024 * 1024)))
#: Commands in flight in the pipelined throughput runs.
WINDOW = int(os.environ.get("BENCH_WINDOW", "32"))
#: Every row so far: the section it belongs to, what, the figure, what it is against.
ROWS: list[tuple[str, str, str, str]] = []
SECTION = ""
#: docs/PERFORMANCE.md's source: its prose, and a {{section}} for each section's table.
TEMPLATE = HERE / "PERFORMANCE.md.in"


def row(what: str, figure: str, note: str = "") -> None:
    ROWS.append((SECTION, what, figure, note))
    print(f"  {what:<58} {figure:>16}  {note}", flush=True)


# -- processes ------------------------------------------------------------------------


@contextmanager
def process(*argv: str) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """Start a server that says "ready on <where>" (stdout or stderr); yield it and where."""
    child = subprocess.Popen(
        [sys.executable, *argv], stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    assert child.stdout is not None
    where = ""
    said: list[str] = []
    for raw in child.stdout:
        text = raw.decode(errors="replace")
        said = [*said[-20:], text[:300]]
        match = re.search(r"ready on (\S+)", text)
        if match:
            where = match.group(1)
            break
    if not where:
        child.kill()
        raise RuntimeError(f"{argv} did not start:\n{''.join(said)}")
    drain = threading.Thread(target=lambda: child.stdout.read(), daemon=True)  # type: ignore[union-attr]
    drain.start()
    try:
        yield child, where
    finally:
        child.terminate()
        child.wait(10)


def serve(*options: str) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """The emulator; BENCH_PROFILE=FILE runs it under pyinstrument (text report to FILE)."""
    state = tempfile.mkdtemp(prefix="bc66bench-")
    profile = os.environ.get("BENCH_PROFILE")
    runner = ["-m", "pyinstrument", "-r", "text", "-o", profile] if profile else []
    link = () if "--network" in options else ("--network", "ideal")  # the I/O, not the radio
    return process(*runner, "-m", "bc66sim", "serve", "--attach-delay", "0", "--state-dir", state,
                   *options, *link)  # fmt: skip


# -- a blocking host --------------------------------------------------------------------


class Port:
    """A blocking byte pipe to a UART: a TCP connection or a pty (path or master fd)."""

    def __init__(self, where: str | int) -> None:
        self._sock: socket.socket | None = None
        if isinstance(where, int):
            self._fd = where
        elif where.startswith("/"):
            self._fd = os.open(where, os.O_RDWR | os.O_NOCTTY)
            tty.setraw(self._fd)
        else:
            host, port = where.rsplit(":", 1)
            self._sock = socket.create_connection((host, int(port)))
            self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._fd = self._sock.fileno()
        self.buffer = bytearray()

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view) :]

    def read(self, timeout: float | None = None) -> bytes:
        if timeout is not None and not select.select([self._fd], [], [], timeout)[0]:
            return b""
        return os.read(self._fd, 65536)

    def read_until(self, marker: bytes) -> bytes:
        while (end := self.buffer.find(marker)) < 0:
            data = self.read(timeout=10)
            if not data:
                raise TimeoutError(f"no {marker!r} in 10 s; got {bytes(self.buffer[-200:])!r}")
            self.buffer += data
        data = bytes(self.buffer[: end + len(marker)])
        del self.buffer[: end + len(marker)]
        return data

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
        else:
            os.close(self._fd)


# -- latency --------------------------------------------------------------------------


@dataclass
class Latency:
    median_us: float
    p99_us: float


def round_trips(
    port: Port, line: bytes, count: int = ROUND_TRIPS, final: bytes = b"OK\r\n"
) -> Latency:
    """``line`` then wait for its final result code, ``count`` times (after a warm-up)."""
    samples = []
    for index in range(count + count // 10):
        started = time.perf_counter_ns()
        port.write(line)
        port.read_until(final)
        if index >= count // 10:
            samples.append(time.perf_counter_ns() - started)
    samples.sort()
    return Latency(statistics.median(samples) / 1000, samples[int(len(samples) * 0.99)] / 1000)


@contextmanager
def socat_echo(transport: str, link: Path) -> Iterator[str | None]:
    """A C echo (socat, from Debian) over TCP or a pty; None when socat is missing."""
    if shutil.which("socat") is None:
        yield None
        return
    if transport == "tcp":
        with socket.socket() as probe:  # a free port for it
            probe.bind(("127.0.0.1", 0))
            number = probe.getsockname()[1]
        spec = f"TCP-LISTEN:{number},bind=127.0.0.1,reuseaddr,fork,nodelay"
        where = f"127.0.0.1:{number}"
    else:
        spec, where = f"PTY,link={link},rawer", str(link)
    child = subprocess.Popen(["socat", spec, "PIPE"], stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):  # until it listens, or its pty is linked
            if transport == "pty" and link.exists():
                break
            if transport == "tcp":
                with socket.socket() as probe:
                    if probe.connect_ex(("127.0.0.1", number)) == 0:
                        break
            time.sleep(0.01)
        yield where
    finally:
        child.terminate()
        child.wait(5)


#: Rounds of the latency section: every server is measured once a round, in turn, so a
#: slow spell of a shared machine falls on all of them and not on one.
LATENCY_ROUNDS = int(os.environ.get("BENCH_LATENCY_ROUNDS", "5"))


@dataclass
class _Contender:
    """One server in the latency section, and its round trips so far."""

    name: str
    port: Port
    line: bytes
    final: bytes = b"OK\r\n"
    medians: list[float] = dataclasses.field(default_factory=list)
    samples: list[float] = dataclasses.field(default_factory=list)

    def measure(self, count: int) -> None:
        result = round_trips(self.port, self.line, count, self.final)
        self.medians.append(result.median_us)
        self.samples.append(result.p99_us)

    @property
    def median(self) -> float:
        return statistics.median(self.medians)

    @property
    def p99(self) -> float:
        return statistics.median(self.samples)

    def ratio(self, other: _Contender) -> float:
        """The median over rounds of this one's median / the other's, same round."""
        return statistics.median(a / b for a, b in zip(self.medians, other.medians, strict=True))


def latency_section() -> None:
    """AT -> OK against three floors measured in the same run, in interleaved rounds: a
    blocking Python echo (issue 15's target: at most 2x it), a C echo (socat) and an
    asyncio server that answers OK with no AT processing (the emulator's own machinery)."""
    print("Command latency (round trip, µs; the median over rounds; one CPU)", flush=True)
    answer = b"\r\nOK\r\n"  # what the echo floors send back: the size of the answer
    # Every server and the host on one CPU (children inherit it): on a VM, a wake-up
    # across CPUs took anywhere from 20 to 100 µs from one minute to the next, which
    # measured where the scheduler put two processes, not the work each one does.
    cpus = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(cpus)})
    try:
        _latency_runs(answer)
    finally:
        os.sched_setaffinity(0, cpus)


def _latency_runs(answer: bytes) -> None:
    for transport in ("tcp", "pty"):
        folder = Path(tempfile.mkdtemp(prefix="bc66bench-"))
        where_args = (
            ["--tcp", "127.0.0.1:0"] if transport == "tcp" else ["--pty", str(folder / "tty")]
        )
        blocking_args = (
            ["blocking-tcp"] if transport == "tcp" else ["blocking-pty", str(folder / "b")]
        )
        asyncio_args = ["tcp"] if transport == "tcp" else ["pty", str(folder / "a")]
        with (
            process(str(HERE / "floor.py"), *blocking_args) as (_, python_at),
            socat_echo(transport, folder / "c") as c_at,
            process(str(HERE / "floor.py"), *asyncio_args) as (_, asyncio_at),
            serve(*where_args) as (_, where),
        ):
            python = _Contender("floor: blocking Python echo", Port(python_at), answer)
            floors = [python]
            c_echo = None
            if c_at is not None:
                c_echo = _Contender("floor: C echo (socat)", Port(c_at), answer)
                floors.append(c_echo)
            else:
                row(f"floor: C echo (socat) over {transport}", "not installed", "apt install socat")
            floors.append(_Contender("floor: asyncio server answering OK", Port(asyncio_at),
                                     b"AT\r"))  # fmt: skip
            module = Port(where)
            module.write(b"ATE0\r")
            module.read_until(b"OK\r\n")
            ours = [_Contender(f"bc66sim {line.decode().strip()}", module, line)
                    for line in (b"AT\r", b"AT+QISTATE?\r")]  # fmt: skip
            count = max(10, ROUND_TRIPS // LATENCY_ROUNDS)
            for _ in range(LATENCY_ROUNDS):
                for contender in floors + ours:
                    contender.measure(count)
            for floor in floors:
                row(f"{floor.name} over {transport}", f"{floor.median:.0f} / {floor.p99:.0f}",
                    "median / p99")  # fmt: skip
            for contender in ours:
                against = [f"{contender.ratio(python):.2f}x Python echo (target <= 2x)"]
                if c_echo is not None:
                    against.append(f"{contender.ratio(c_echo):.2f}x C echo")
                figure = f"{contender.median:.0f} / {contender.p99:.0f}"
                row(f"{contender.name} over {transport}", figure, "; ".join(against))
            for port in {id(c.port): c.port for c in floors + ours}.values():
                port.close()
        if transport == "pty":
            peer_section(python.median)


def peer_section(floor_us: float) -> None:
    try:
        import pyatcommand  # noqa: F401
    except ImportError:
        row("peer: pyatcommand AtServer", "not installed", "pip install '.[bench]'")
        return
    master, slave = os.openpty()
    tty.setraw(master)
    tty.setraw(slave)
    with process(str(HERE / "peer_pyatcommand.py"), os.ttyname(slave)):
        port = Port(master)
        # pyatcommand 0.5.3 answers ERROR to every handled command (it tests the result
        # code for truth, and AtErrorCode.OK is 0): time the round trip to that answer.
        peer = round_trips(port, b"AT\r", count=200, final=b"ERROR\r\n")
        row("peer: pyatcommand AtServer AT over pty (to its ERROR)",
            f"{peer.median_us:.0f} / {peer.p99_us:.0f}",
            f"{peer.median_us / floor_us:.1f}x Python echo")  # fmt: skip
    os.close(slave)


# -- throughput -----------------------------------------------------------------------


class Host:
    """Drives socket 0 with AT+QISEND / AT+QIRD, ``window`` commands in flight at once.

    ``window`` 1 is lock-step (every answer awaited: what a host on a real UART does);
    a larger window writes several commands (and their data) at once, so the figure
    is the emulator's own ceiling, not the round trip of the I/O path. Pipelined, the
    host also writes the next window before it reads the answers to the last: the
    emulator works on one while the host parses the other (two cores, two workers).
    """

    def __init__(self, port: Port, *, push: bool, hex_mode: bool, window: int) -> None:
        self.port = port
        self.hex_mode = hex_mode
        self.window = window
        self.parser = ResponseParser(recv_hex=hex_mode, is_push=lambda connect_id: push)
        self.received = 0
        self.notified = False
        self.urcs: list[str] = []
        self._events: list[object] = []
        self._ahead = window > 1  # a second window written before the first is answered
        self._sends_unanswered: deque[int] = deque()  # windows of AT+QISEND, oldest first

    def _next_event(self) -> object:
        while not self._events:
            data = self.port.read(timeout=10)
            if not data:
                raise TimeoutError("the emulator stopped answering")
            for event in self.parser.feed(data):
                if isinstance(event, Urc):
                    self._urc(event)
                else:
                    self._events.append(event)
        return self._events.pop(0)

    def _urc(self, urc: Urc) -> None:
        self.urcs.append(urc.text)
        if urc.payload is not None:
            self.received += len(urc.payload)
        elif urc.text.startswith('+QIURC: "recv"'):
            self.notified = True

    def wait_urc(self, text: str) -> None:
        """Until the module said ``text`` (the parser may already have taken it)."""
        while text not in self.urcs:
            data = self.port.read(timeout=10)
            if not data:
                raise TimeoutError(f"no {text!r} in 10 s")
            for event in self.parser.feed(data):
                if isinstance(event, Urc):
                    self._urc(event)

    def command(self, line: str) -> list[Info]:
        self.parser.pending = Pending(line, prefix="+QIRD:")
        self.port.write(line.encode() + b"\r\n")
        infos: list[Info] = []
        while not isinstance(event := self._next_event(), Final):
            if isinstance(event, Info):
                infos.append(event)
        assert event.ok, (line, event)
        return infos

    def send(self, chunks: list[bytes]) -> int:
        """Send a window of chunks; how many (of the windows answered now) got SEND OK.

        Pipelined, this window's answers are read at the next call (or :meth:`settle`).
        """
        self.parser.pending = Pending("AT+QISEND", prompt=True)
        # CR LF, as everywhere this host writes: the LF that follows a line's CR belongs to
        # the line (docs/ARCHITECTURE.md decision 42), so a payload in the same write may
        # start with any byte, LF too; and a host that keeps to one line end is never
        # waited for.
        burst = b"".join(
            b"AT+QISEND=0,%d\r\n" % len(chunk)
            + (chunk.hex().upper().encode() if self.hex_mode else chunk)
            for chunk in chunks
        )
        self.port.write(burst)
        self._sends_unanswered.append(len(chunks))
        return self._answered_sends(keep=int(self._ahead))

    def settle(self) -> int:
        """Read the answers to every window of AT+QISEND written; how many got SEND OK."""
        return self._answered_sends(keep=0)

    def _answered_sends(self, keep: int) -> int:
        sent = 0
        while len(self._sends_unanswered) > keep:
            for _ in range(self._sends_unanswered.popleft()):
                assert isinstance(self._next_event(), Prompt)
                final = self._next_event()
                assert isinstance(final, Final) and final.ok, final
                trailer = self._next_event()
                assert isinstance(trailer, Trailer)
                sent += trailer.text == "SEND OK"
        return sent

    def read_buffer(self, due: int) -> None:
        """AT+QIRD, a window at a time, until the module's buffer is empty (call
        :meth:`settle` first: the parser expects one kind of answer at a time).

        ``due`` is what the echo has still to send back: a window is written ahead
        only while more may be due than the window in flight can read.
        """
        assert not self._sends_unanswered
        self.parser.pending = Pending("AT+QIRD", prefix="+QIRD:")
        reads = b"AT+QIRD=0,512\r\n" * self.window
        start = self.received
        self.port.write(reads)
        while True:  # one window unanswered here
            ahead = self._ahead and due - (self.received - start) > self.window * 512
            if ahead:
                self.port.write(reads)
            if self._read_window():
                if ahead:
                    self._read_window()  # written ahead: empty, or what came since
                return
            if not ahead:
                self.port.write(reads)

    def _read_window(self) -> bool:
        """The answers to one window of AT+QIRD; whether one said the buffer was empty."""
        empty = False
        for _ in range(self.window):
            while not isinstance(event := self._next_event(), Final):
                if isinstance(event, Info):
                    if event.payload is None:
                        empty = True
                    else:
                        self.received += len(event.payload)
        return empty

    def poll(self) -> None:
        """Take what the module pushed meanwhile, without waiting (answers to a window
        still unanswered are kept for it)."""
        while data := self.port.read(timeout=0):
            for event in self.parser.feed(data):
                if isinstance(event, Urc):
                    self._urc(event)
                else:
                    self._events.append(event)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (/proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def throughput(
    where: str, echo_at: str, *, push: bool, hex_mode: bool, window: int, pid: int
) -> tuple[float, float]:
    """Payload bytes a second to an echo server and back, and emulator CPU s per MB."""
    port = Port(where)
    port.write(b"ATE0\r\n")
    port.read_until(b"OK\r\n")
    host = Host(port, push=push, hex_mode=hex_mode, window=window)
    host.command('AT+QICFG="echomode",0')
    host.command('AT+QICFG="showlength",0')
    host.command(f'AT+QICFG="dataformat",{int(hex_mode)},{int(hex_mode)}')
    echo_host, echo_port = echo_at.rsplit(":", 1)
    host.command(f'AT+QIOPEN=1,0,"TCP","{echo_host}",{echo_port},0,{int(push)}')
    host.wait_urc("+QIOPEN: 0,0")
    size = 730 if hex_mode else 1460
    chunks = [os.urandom(size) for _ in range(window)]
    written = sent = 0  # payload bytes written; answered SEND OK
    started = time.perf_counter()
    cpu_before = cpu_seconds(pid)
    while written < PAYLOAD or host.received < sent:
        if written < PAYLOAD:
            written += size * len(chunks)
            sent += size * host.send(chunks)
            if written >= PAYLOAD:
                sent += size * host.settle()
        if push:
            host.poll()
        elif host.notified or written >= PAYLOAD:
            host.notified = False
            sent += size * host.settle()
            host.read_buffer(due=sent - host.received)
    elapsed = time.perf_counter() - started
    cpu_per_mb = (cpu_seconds(pid) - cpu_before) / (host.received / 1e6)
    host.parser.pending = Pending("AT+QICLOSE")
    port.write(b"AT+QICLOSE=0\r\n")
    port.read_until(b"CLOSE OK\r\n")
    port.close()
    time.sleep(0.1)  # the TCP transport takes one host at a time
    return host.received / elapsed, cpu_per_mb


def throughput_section() -> None:
    print("Payload throughput (to a loopback echo server and back; MB/s)", flush=True)
    echo = process(str(HERE / "floor.py"), "echo")
    emulator = serve("--tcp", "127.0.0.1:0")
    with echo as (_, echo_at), emulator as (child, where):
        for push in (False, True):
            for hex_mode in (False, True):
                mode = "direct push" if push else "buffer access"
                form = "hex" if hex_mode else "text"
                options = {"push": push, "hex_mode": hex_mode, "pid": child.pid}
                step, _ = throughput(where, echo_at, window=1, **options)  # type: ignore[arg-type]
                ceiling, cpu = throughput(where, echo_at, window=WINDOW, **options)  # type: ignore[arg-type]
                figure = f"{step / 1e6:.2f} / {ceiling / 1e6:.2f}"
                full_core = f"{1 / cpu:.1f} MB/s" if cpu > 0 else "too short to tell"
                load = f"{cpu * ceiling / 1e6:.0%} of a core; a full core: {full_core}"
                target = f"{ceiling / 10e6:.2f}x the 10 MB/s target"
                row(f"{mode}, {form}: lock-step / pipelined", figure,
                    f"{target}; emulator {cpu:.2f} CPU s/MB ({load})")  # fmt: skip


# -- paced at a UART line rate -----------------------------------------------------------

PACED_SECONDS = float(os.environ.get("BENCH_PACED_SECONDS", "3"))


def paced_upload(where: str, echo_at: str, line_rate: float) -> float:
    """Lock-step AT+QISEND of 1460-byte chunks; payload bytes a second."""
    port = Port(where)
    port.write(b"ATE0\r\n")
    port.read_until(b"OK\r\n")
    host = Host(port, push=False, hex_mode=False, window=1)
    host.command('AT+QICFG="echomode",0')
    echo_host, echo_port = echo_at.rsplit(":", 1)
    host.command(f'AT+QIOPEN=1,0,"TCP","{echo_host}",{echo_port},0,0')
    host.wait_urc("+QIOPEN: 0,0")
    chunk = os.urandom(1460)
    total = int(line_rate * PACED_SECONDS)
    sent = 0
    started = time.perf_counter()
    while sent < total:
        sent += len(chunk) * host.send([chunk])
    elapsed = time.perf_counter() - started
    port.write(b"AT+QICLOSE=0\r\n")
    port.read_until(b"CLOSE OK\r\n")
    port.close()
    time.sleep(0.1)
    return sent / elapsed


def paced_download(where: str, source_at: str) -> float:
    """Direct push from a server that sends at once: payload bytes a second to the host."""
    port = Port(where)
    port.write(b"ATE0\r")
    port.read_until(b"OK\r\n")
    host = Host(port, push=True, hex_mode=False, window=1)
    source_host, source_port = source_at.rsplit(":", 1)
    size = int(source_at.split("#")[1]) if "#" in source_at else 0
    host.parser.pending = Pending("AT+QIOPEN")
    port.write(f'AT+QIOPEN=1,0,"TCP","{source_host}",{source_port.split("#")[0]},0,1\r'.encode())
    first: float | None = None
    while host.received < size:
        data = port.read(timeout=30)
        if not data:
            raise TimeoutError("the paced download stopped")
        before = host.received
        for event in host.parser.feed(data):
            if isinstance(event, Urc):
                host._urc(event)
        if first is None and host.received > before:
            first, counted_from = time.perf_counter(), host.received
    assert first is not None
    elapsed = time.perf_counter() - first
    port.close()
    time.sleep(0.1)
    return (host.received - counted_from) / elapsed


def paced_section() -> None:
    print("Paced at a UART line rate (--baud): payload as a share of the line", flush=True)
    for baud in (115200, 921600):
        line_rate = baud / 10
        size = int(line_rate * PACED_SECONDS)
        echo = process(str(HERE / "floor.py"), "echo")
        source = process(str(HERE / "floor.py"), "source", str(size))
        emulator = serve("--tcp", "127.0.0.1:0", "--baud", str(baud))
        with echo as (_, echo_at), source as (_, source_at), emulator as (_, where):
            up = paced_upload(where, echo_at, line_rate)
            down = paced_download(where, f"{source_at}#{size}")
        for direction, rate in (("host to network (AT+QISEND)", up),
                                ("network to host (direct push)", down)):  # fmt: skip
            row(f"{baud} baud, {direction}", f"{rate / line_rate:.1%}",
                f"{rate:.0f} B/s of {line_rate:.0f} (target >= 95%)")  # fmt: skip


# -- scale ----------------------------------------------------------------------------

#: Fleet sizes measured, each with --workers (one a core); BENCH_FLEET_WORKERS=0: one process.
FLEET_SIZES = [int(n) for n in os.environ.get("BENCH_FLEET", "1000,5000,10000,20000").split(",")]
FLEET_WORKERS = int(os.environ.get("BENCH_FLEET_WORKERS", str(os.cpu_count() or 1)))
#: Seconds between one module's reports: the first load is every size's; the next
#: ones are tried on the sizes whose p99 was over 50 ms at the one before.
FLEET_PERIODS = [float(n) for n in os.environ.get("BENCH_FLEET_PERIOD", "1,10").split(",")]
#: How long the reports are timed.
FLEET_SECONDS = float(os.environ.get("BENCH_FLEET_SECONDS", "10"))
#: Hosts connecting and opening their socket at once, while the fleet is set up.
FLEET_SETUP_AT_ONCE = 200


class _Sink(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.count = 0

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        self.count += 1


class _FleetHost(asyncio.Protocol):
    """One module's host, all callbacks (no task, no stream) so that the load
    generator stays light: it connects, opens a UDP socket, then every ``period`` s
    sends a UDP report and an AT, each round trip timed."""

    REPORT = b'{"t":21.5,"v":3.3}'  # JSON has quotes and commas: sent in hex (§2.3.6)
    SEND = b"AT+QISENDEX=0,%d,%s\r" % (len(REPORT), REPORT.hex().encode())

    def __init__(self, latencies: list[float], period: float) -> None:
        self.latencies = latencies
        self.period = period
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.marker = b""
        self.waiter: asyncio.Future[None] | None = None
        self.started = 0.0
        self.until = 0.0
        self.tick = 0.0
        self.steps: list[tuple[bytes, bytes]] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self.marker and self.marker in self.buffer:
            self.buffer = b""
            self.marker = b""
            if self.waiter is not None:
                self.waiter.set_result(None)
                self.waiter = None
            else:
                self.latencies.append(time.perf_counter() - self.started)
                self._next()

    async def exchange(self, line: bytes, marker: bytes) -> None:
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.marker = marker
        self.transport.write(line)
        await asyncio.wait_for(self.waiter, 30)

    async def set_up(self, place: str, sink_port: int, at_once: asyncio.Semaphore) -> None:
        async with at_once:
            host, port = place.rsplit(":", 1)
            loop = asyncio.get_running_loop()
            await loop.create_connection(lambda: self, host, int(port))
            await self.exchange(b"ATE0\r", b"OK\r\n")
            opening = b'AT+QIOPEN=1,0,"UDP","127.0.0.1",%d,0,0\r' % sink_port
            await self.exchange(opening, b"+QIOPEN: 0,0\r\n")

    def start(self, first: float, until: float) -> None:
        self.tick, self.until = first, until
        asyncio.get_running_loop().call_at(first, self._report)

    def _report(self) -> None:
        self.steps = [(b"AT\r", b"OK\r\n"), (self.SEND, b"SEND OK\r\n")]
        self._next()

    def _next(self) -> None:
        assert self.transport is not None
        if self.steps:
            line, self.marker = self.steps.pop()
            self.started = time.perf_counter()
            self.transport.write(line)
            return
        self.tick += self.period
        if self.tick < self.until:
            asyncio.get_running_loop().call_at(self.tick, self._report)


def _process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (a fleet's workers)."""
    found = [pid]
    for task in Path(f"/proc/{pid}/task").iterdir():
        children = (task / "children").read_text().split()
        for child in children:
            found += _process_tree(int(child))
    return found


def _rss_kib(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total


def _hosts_per_driver() -> int:
    """Connections one load process holds at most: one descriptor each, within the limit."""
    import resource

    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    return 50_000 if hard == resource.RLIM_INFINITY else max(100, hard - 1000)


FLEET_HOSTS_PER_DRIVER = _hosts_per_driver()


async def _drive_slice(
    places: list[str], start: Any, period: float
) -> tuple[list[float], int, float]:
    """Hosts for some of a fleet's modules: set up, wait for ``start``, then report."""
    loop = asyncio.get_running_loop()
    sink = _Sink()
    transport, _ = await loop.create_datagram_endpoint(lambda: sink, local_addr=("127.0.0.1", 0))
    sink_port = transport.get_extra_info("sockname")[1]
    latencies: list[float] = []
    hosts = [_FleetHost(latencies, period) for _ in places]
    at_once = asyncio.Semaphore(FLEET_SETUP_AT_ONCE)
    await asyncio.gather(*(host.set_up(place, sink_port, at_once)
                           for host, place in zip(hosts, places, strict=True)))  # fmt: skip
    await loop.run_in_executor(None, start.wait)  # every slice set up: the window opens
    cpu = time.process_time()
    now = loop.time()
    until = now + FLEET_SECONDS
    for index, host in enumerate(hosts):
        host.start(now + index * period / len(hosts), until)
    await asyncio.sleep(FLEET_SECONDS)
    cpu = time.process_time() - cpu
    await asyncio.sleep(0.5)  # the last round trips and datagrams
    for host in hosts:
        if host.transport is not None:
            host.transport.close()
    transport.close()
    return latencies, sink.count, cpu


def _driver(places: list[str], start: Any, results: Any, period: float) -> None:
    from bc66sim.fleet import raise_fd_limit
    from bc66sim.loop import run

    raise_fd_limit(1000 + len(places))
    results.put(run(_drive_slice(places, start, period)))


def _drive_fleet(
    places: list[str], pids: list[int], period: float
) -> tuple[list[float], int, float, int, float]:
    """The load on a ready fleet, from as many processes as its connections need:
    latencies, the fleet's RSS (KiB), its CPU seconds in the window, datagrams, and
    the load generator's own CPU seconds in the window."""
    import multiprocessing

    context = multiprocessing.get_context("fork")  # nothing runs yet that forking would copy
    slices = [places[i : i + FLEET_HOSTS_PER_DRIVER]
              for i in range(0, len(places), FLEET_HOSTS_PER_DRIVER)]  # fmt: skip
    start = context.Barrier(len(slices) + 1)
    results = context.Queue()
    drivers = [
        context.Process(target=_driver, args=(part, start, results, period)) for part in slices
    ]
    for driver in drivers:
        driver.start()
    start.wait(timeout=600)
    cpu_before = sum(cpu_seconds(pid) for pid in pids)
    latencies: list[float] = []
    reports = 0
    load = 0.0
    for _ in drivers:
        part, count, driver_cpu = results.get(timeout=FLEET_SECONDS + 120)
        latencies += part
        reports += count
        load += driver_cpu
    cpu = sum(cpu_seconds(pid) for pid in pids) - cpu_before
    rss = _rss_kib(pids)
    for driver in drivers:
        driver.join(10)
    return latencies, rss, cpu, reports, load


def scale_section() -> None:
    from bc66sim.fleet import raise_fd_limit

    print("Scale: bc66sim fleet N --workers W; a UDP report + AT per module periodically",
          flush=True)  # fmt: skip
    raise_fd_limit(1000 + FLEET_HOSTS_PER_DRIVER)
    # The fixed part of the memory: the interpreters of a fleet of (almost) nothing.
    smallest = max(FLEET_WORKERS, 1)
    with process("-m", "bc66sim", "fleet", str(smallest), "--attach-delay", "0",
                 *_workers(smallest)) as (child, _):  # fmt: skip
        time.sleep(0.5)
        fixed = _rss_kib(_process_tree(child.pid))
    row(f"fleet of {smallest}: memory (RSS)", f"{fixed / 1024:.0f} MiB", "the fixed part")
    sizes = FLEET_SIZES
    for period in FLEET_PERIODS:
        over = []
        for count in sizes:
            if not _fleet_row(count, period, fixed, smallest):
                over.append(count)
        sizes = over
        if not sizes:
            break


def _base_port(count: int) -> int:
    """Where a fleet's ports start: below the ephemeral range where they fit.  The load's
    closed connections leave their ports in TIME_WAIT, and at 20,000 modules a second
    fleet on ephemeral ports found none left to listen on."""
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0
    base = low - count - 100
    return base if base >= 1024 else 0


def _fleet_row(count: int, period: float, fixed: int, smallest: int) -> bool:
    """One fleet under one load: its rows; whether its p99 was under 50 ms."""
    workers = _workers(count)
    fleet = ("-m", "bc66sim", "fleet", str(count), "--attach-delay", "0", *workers,
             "--tcp", f"127.0.0.1:{_base_port(count)}")  # fmt: skip
    with process(*fleet) as (child, where):
        pids = _process_tree(child.pid)
        latencies, rss, cpu, reports, load = _drive_fleet(where.split(","), pids, period)
    latencies.sort()
    p50 = latencies[len(latencies) // 2] * 1000
    p99 = latencies[int(len(latencies) * 0.99)] * 1000
    verdict = "p99 < 50 ms" if p99 < 50 else "p99 over 50 ms"
    cores = cpu / FLEET_SECONDS
    shape = f"{workers[1]} workers" if workers else "one process"
    what = f"fleet of {count}, a report every {period:g} s"
    row(f"{what}: command p50 / p99 (ms)", f"{p50:.2f} / {p99:.2f}",
        f"{verdict}; {shape}; {len(latencies)} commands, {reports} UDP reports")  # fmt: skip
    per_module = (rss - fixed) / max(1, count - smallest)
    row(f"{what}: memory per added module", f"{per_module:.1f} KiB",
        f"{rss / 1024:.0f} MiB in all ({len(pids)} processes)")  # fmt: skip
    row(f"{what}: CPU per module", f"{cpu / count / FLEET_SECONDS * 1e6:.0f} µs/s",
        f"{cores:.2f} cores in all, of {os.cpu_count()}; the load generator "
        f"{load / FLEET_SECONDS:.2f}")  # fmt: skip
    return p99 < 50


#: Modules one fleet worker serves at most here: about three descriptors each (the
#: UART's connection, its listener, the UDP socket) within the open-file limit.
def _modules_per_worker() -> int:
    import resource

    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    return 6000 if hard == resource.RLIM_INFINITY else max(100, (hard - 1000) // 3)


def _workers(count: int) -> tuple[str, ...]:
    """--workers for a fleet of ``count``: one a core, more where the file limit needs."""
    if not FLEET_WORKERS:
        return ()
    needed = -(-count // _modules_per_worker())
    return ("--workers", str(max(FLEET_WORKERS, needed)))


FUZZ_LINES = int(os.environ.get("BENCH_FUZZ_LINES", "200000"))


def fuzz_section() -> None:
    """The suite's standing fuzz target (tests/support/fuzz.py), run longer."""
    import random

    sys.path.insert(0, str(HERE.parent / "tests"))
    from support.fuzz import SEEDS, FuzzResult, extra_seeds, fuzz_lines, mutate

    print(f"Fuzz: {FUZZ_LINES} mutated command lines, command and data mode", flush=True)
    rng = random.Random(66)
    seeds = SEEDS + extra_seeds()
    result = FuzzResult()
    started = time.monotonic()
    batch = 500  # a fresh module every batch, as after a power cycle
    for _ in range(0, FUZZ_LINES, batch):
        lines = [mutate(rng.choice(seeds), rng) for _ in range(batch)]
        asyncio.run(fuzz_lines(lines, result))
    elapsed = time.monotonic() - started
    row("fuzz: lines tried", f"{result.lines}", f"{result.lines / elapsed:.0f} lines/s, seed 66")
    row("fuzz: crashes found / lines left unanswered",
        f"{len(result.crashes)} / {len(result.unanswered)}", "target 0 / 0")  # fmt: skip
    for crash in result.crashes[:5]:
        print(f"    crash: {crash}")
    for line in result.unanswered[:5]:
        print(f"    unanswered: {line!r}")


# -- the link profiles (issue 12 §1) -------------------------------------------------------


class _Arrivals(asyncio.DatagramProtocol):
    """A UDP peer on loopback that notes when each datagram came (loop time)."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.transport: asyncio.DatagramTransport | None = None
        self.module_address: tuple[str, int] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, address: tuple[str, int]) -> None:
        self.times.append(asyncio.get_running_loop().time())
        self.module_address = address


class _Listener:
    def __init__(self) -> None:
        self.times: list[float] = []

    def flow_data(self, data: bytes) -> None:
        self.times.append(asyncio.get_running_loop().time())

    def flow_closed(self, reason: str) -> None:
        pass


async def _measure_link(name: str, samples: int) -> tuple[float, float, float, float, float]:
    """Median one-way delay up and down (s), their expected median, rates up and down (bit/s).

    Real datagrams through LinkNetwork over HostNetwork to a loopback peer; module time
    runs faster (ScaledClock) so that a median delay is about 30 ms of wall time.
    """
    from bc66sim.clock import ScaledClock
    from bc66sim.net.base import Family, Transport
    from bc66sim.net.host import HostNetwork
    from bc66sim.net.link import PROFILES, LinkNetwork

    profile = dataclasses.replace(PROFILES[name], udp_loss=0.0)
    clock = ScaledClock(max(1.0, profile.delay / 0.03))
    link = LinkNetwork(HostNetwork(), profile, clock, seed=1)
    loop = asyncio.get_running_loop()
    transport, peer = await loop.create_datagram_endpoint(_Arrivals, local_addr=("127.0.0.1", 0))
    port = transport.get_extra_info("sockname")[1]
    listener = _Listener()
    flow = await link.open_flow(Transport.UDP, "127.0.0.1", port, local_port=0,
                                family=Family.IPV4, listener=listener, timeout=10)  # fmt: skip

    def module_time(loop_time: float) -> float:
        return clock.now() - (loop.time() - loop_time) * clock.scale

    up: list[float] = []
    down: list[float] = []
    for _ in range(samples):  # one datagram at a time: delay, not queueing
        sent = clock.now()
        flow.send(b"d" * 20)
        while len(peer.times) <= len(up):
            await asyncio.sleep(0.001)
        arrived = module_time(peer.times[-1])
        up.append(arrived - sent)
        assert peer.module_address is not None
        transport.sendto(b"e" * 20, peer.module_address)
        while len(listener.times) <= len(down):
            await asyncio.sleep(0.001)
        down.append(module_time(listener.times[-1]) - arrived)
    air = 20 * 8 / (profile.uplink_bps or 1e12), 20 * 8 / (profile.downlink_bps or 1e12)
    reference = LinkNetwork(HostNetwork(), profile, clock, seed=99)  # the profile's own draws
    expected = statistics.median(reference.one_way_delay() for _ in range(100_000))
    # Rates: a burst of 1000-byte datagrams each way; bits over the arrival spread.
    burst = 40
    first = len(peer.times)
    for _ in range(burst):
        flow.send(b"u" * 1000)
    while len(peer.times) < first + burst:
        await asyncio.sleep(0.001)
    spread = (peer.times[-1] - peer.times[first]) * clock.scale
    rate_up = (burst - 1) * 8000 / spread
    first = len(listener.times)
    for _ in range(burst):
        transport.sendto(b"v" * 1000, peer.module_address)
    while len(listener.times) < first + burst:
        await asyncio.sleep(0.001)
    spread = (listener.times[-1] - listener.times[first]) * clock.scale
    rate_down = (burst - 1) * 8000 / spread
    flow.close()
    transport.close()
    up_median = statistics.median(up) - air[0]
    down_median = statistics.median(down) - air[1]
    return up_median, down_median, expected, rate_up, rate_down


def link_section() -> None:
    print("Link profiles: real datagrams through LinkNetwork (median one-way delay; rate)",
          flush=True)  # fmt: skip
    from bc66sim.net.link import PROFILES

    samples = int(os.environ.get("BENCH_LINK_SAMPLES", "200"))
    for name in ("ce0", "ce1", "ce2"):
        profile = PROFILES[name]
        up, down, expected, rate_up, rate_down = asyncio.run(_measure_link(name, samples))
        worst = max(abs(up / expected - 1), abs(down / expected - 1))
        row(
            f"{name}: one-way delay up / down (median, s)",
            f"{up:.3f} / {down:.3f}",
            f"profile's median {expected:.3f} s: within {worst:.0%} (target ±15%)",
        )
        assert profile.uplink_bps is not None and profile.downlink_bps is not None
        worst = max(
            abs(rate_up / profile.uplink_bps - 1), abs(rate_down / profile.downlink_bps - 1)
        )
        row(f"{name}: rate up / down (kbit/s)", f"{rate_up / 1e3:.1f} / {rate_down / 1e3:.1f}",
            f"profile {profile.uplink_bps / 1e3:.0f} / {profile.downlink_bps / 1e3:.0f}: "
            f"within {worst:.0%} (target ±15%)")  # fmt: skip


# -- Locust: one worker's capacity ------------------------------------------------------

#: Devices one Locust process runs, in turn; each reports every LOCUST_PERIOD s on ce0.
LOCUST_USERS = [int(n) for n in os.environ.get("BENCH_LOCUST", "250,1000,2000,3000").split(",")]
LOCUST_PERIOD = float(os.environ.get("BENCH_LOCUST_PERIOD", "10"))
LOCUST_SECONDS = float(os.environ.get("BENCH_LOCUST_SECONDS", "30"))
#: A worker keeps up while each device sends this share of the reports a device sends
#: in the lightest run, none fails, and the process stays under Locust's CPU warning.
KEEPS_UP = 0.9
LOCUST_CPU_LIMIT = 0.9


class _Collector(threading.Thread):
    """The loopback backend: acknowledges each JSON report (examples/locust_devices/)."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.reports = 0
        self.running = True

    def run(self) -> None:
        import json

        while self.running:
            try:
                data, peer = self.sock.recvfrom(2048)
            except TimeoutError:
                continue
            self.reports += 1
            self.sock.sendto(json.dumps({"ack": json.loads(data)["seq"]}).encode(), peer)


def _locust_run(users: int, collector: _Collector, folder: Path) -> tuple[dict[str, Any], float]:
    """One headless Locust process with ``users`` devices: its stats rows, CPU seconds."""
    import csv

    spawn = max(10, users // 10)  # every device spawned within the first 10 s
    command = [sys.executable, "-m", "locust", "-f",
               str(HERE.parent / "examples" / "locust_devices" / "locustfile.py"),
               "--headless", "-u", str(users), "-r", str(spawn), "-t", f"{LOCUST_SECONDS:g}s",
               "--host", f"udp://127.0.0.1:{collector.port}", "--csv", str(folder / "run"),
               "--only-summary"]  # fmt: skip
    env = os.environ | {"SENSOR_NETWORK": "ce0", "SENSOR_PERIOD": str(LOCUST_PERIOD)}
    child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)  # fmt: skip
    cpu = 0.0
    while child.poll() is None:
        with contextlib.suppress(OSError, IndexError):  # it may end between two looks
            cpu = cpu_seconds(child.pid)
        time.sleep(0.2)
    with open(folder / "run_stats.csv", newline="") as file:
        rows = {row["Name"]: row for row in csv.DictReader(file)}
    return rows, cpu


def locust_section() -> None:
    """How many devices one Locust worker process runs while keeping up with them."""
    print(f"Locust: devices (ce0, a report every {LOCUST_PERIOD:g} s) in one Locust process",
          flush=True)  # fmt: skip
    collector = _Collector()
    collector.start()
    capacity = 0
    baseline: float | None = None
    try:
        for users in LOCUST_USERS:
            before = collector.reports
            with tempfile.TemporaryDirectory() as folder:
                rows, cpu = _locust_run(users, collector, Path(folder))
            per_device = (collector.reports - before) / users
            baseline = baseline or per_device
            share = per_device / baseline if baseline else 0.0
            failures = int(rows["Aggregated"]["Failure Count"])
            core = cpu / LOCUST_SECONDS
            send = rows.get("send UDP", {})
            keeps_up = share >= KEEPS_UP and failures == 0 and core < LOCUST_CPU_LIMIT
            if keeps_up:
                capacity = users
            row(f"locust, {users} devices in one process: reports per device",
                f"{per_device:.2f}", f"{share:.2f}x the lightest run's; {failures} failures; "
                f"send p50 / p99 {send.get('50%', '?')} / {send.get('99%', '?')} ms; "
                f"{core:.0%} of a core")  # fmt: skip
            if not keeps_up:
                break
    finally:
        collector.running = False
    if capacity:
        workers = -(-100_000 // capacity)
        cores = os.cpu_count() or 1
        row("locust: devices one worker process keeps up with", f"{capacity}",
            f"100,000 devices: {workers} worker processes, one a core: "
            f"{-(-workers // cores)} machines like this one")  # fmt: skip


#: In the order they run: the latency first, while nothing else has warmed the machine.
SECTIONS: dict[str, Callable[[], None]] = {
    "latency": latency_section,
    "throughput": throughput_section,
    "paced": paced_section,
    "scale": scale_section,
    "locust": locust_section,
    "fuzz": fuzz_section,
    "link": link_section,
}


def _table(rows: list[tuple[str, str, str, str]]) -> str:
    lines = ["| what | figure | against |", "| --- | ---: | --- |"]
    lines += [f"| {what} | {figure} | {note} |" for _, what, figure, note in rows]
    return "\n".join(lines)


def write_doc(path: Path, machine: str, seconds: float) -> None:
    """docs/PERFORMANCE.md: the template with this run's tables and machine."""
    text = TEMPLATE.read_text()
    values = {
        "machine": machine,
        "date": time.strftime("%Y-%m-%d"),
        "seconds": f"{seconds:.0f}",
        **{name: _table([r for r in ROWS if r[0] == name]) for name in SECTIONS},
    }
    for name, value in values.items():
        text = text.replace("{{" + name + "}}", value)
    left = re.findall(r"\{\{\w+\}\}", text)
    if left:
        raise RuntimeError(f"{TEMPLATE}: nothing fills {left}")
    path.write_text(text)
    print(f"wrote {path}")


def main() -> int:
    global SECTION
    chosen = sys.argv[1:] or list(SECTIONS)
    started = time.monotonic()
    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")), platform.processor(),
    )  # fmt: skip
    print(f"bc66sim benchmarks on {os.cpu_count()} × {cpu}, Python {platform.python_version()}")
    for name in chosen:
        SECTION = name
        SECTIONS[name]()
    table = _table(ROWS)
    machine = f"{os.cpu_count()} × {cpu}; Python {platform.python_version()}"
    seconds = time.monotonic() - started
    (HERE / "latest.md").write_text(f"Machine: {machine}; {seconds:.0f} s\n\n{table}\n")
    # BENCH_DOC (make bench: docs/PERFORMANCE.md) is written from a run of every section.
    doc = os.environ.get("BENCH_DOC")
    if doc and set(chosen) == set(SECTIONS):
        write_doc(Path(doc), machine, seconds)
    print(f"\n{table}\n\n(done in {time.monotonic() - started:.0f} s; also in bench/latest.md)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
