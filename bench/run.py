"""``make bench``: how fast the emulator is, as ratios against baselines of the same run.

Prints one table (and writes it to bench/latest.md).  Every figure is measured here,
now, on this machine; see docs/PERFORMANCE.md for what limits each.
"""

from __future__ import annotations

import asyncio
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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bc66sim.client.protocol import Final, Info, Pending, Prompt, ResponseParser, Trailer, Urc

HERE = Path(__file__).resolve().parent
ROUND_TRIPS = int(os.environ.get("BENCH_ROUND_TRIPS", "2000"))
PAYLOAD = int(os.environ.get("BENCH_PAYLOAD", str(2 * 1024 * 1024)))
ROWS: list[tuple[str, str, str]] = []


def row(what: str, figure: str, note: str = "") -> None:
    ROWS.append((what, figure, note))
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
    for raw in child.stdout:
        match = re.search(r"ready on (\S+)", raw.decode(errors="replace"))
        if match:
            where = match.group(1)
            break
    if not where:
        child.kill()
        raise RuntimeError(f"{argv} did not start")
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


def _floor(transport: str, name: str, where: str | None, line: bytes) -> Latency | None:
    if where is None:
        row(f"floor: {name} over {transport}", "not installed", "apt install socat")
        return None
    port = Port(where)
    result = round_trips(port, line)
    port.close()
    row(f"floor: {name} over {transport}", f"{result.median_us:.0f} / {result.p99_us:.0f}",
        "median / p99")  # fmt: skip
    return result


def latency_section() -> None:
    """AT -> OK against three floors measured in the same run: a blocking Python echo
    (issue 15's target: at most 2x it), a C echo (socat) and an asyncio server that
    answers OK with no AT processing (the emulator's own machinery)."""
    print("Command latency (round trip, µs)", flush=True)
    answer = b"\r\nOK\r\n"  # what the echo floors send back: the size of the answer
    for transport in ("tcp", "pty"):
        folder = Path(tempfile.mkdtemp(prefix="bc66bench-"))
        where_args = (
            ["--tcp", "127.0.0.1:0"] if transport == "tcp" else ["--pty", str(folder / "tty")]
        )
        floors: dict[str, Latency | None] = {}
        blocking_args = (
            ["blocking-tcp"] if transport == "tcp" else ["blocking-pty", str(folder / "b")]
        )
        with process(str(HERE / "floor.py"), *blocking_args) as (_, at):
            floors["python"] = _floor(transport, "blocking Python echo", at, answer)
        with socat_echo(transport, folder / "c") as at_c:
            floors["c"] = _floor(transport, "C echo (socat)", at_c, answer)
        asyncio_args = ["tcp"] if transport == "tcp" else ["pty", str(folder / "a")]
        with process(str(HERE / "floor.py"), *asyncio_args) as (_, at):
            floors["asyncio"] = _floor(transport, "asyncio server answering OK", at, b"AT\r")
        python = floors["python"]
        assert python is not None
        with serve(*where_args) as (_, where):
            port = Port(where)
            port.write(b"ATE0\r")
            port.read_until(b"OK\r\n")
            for line in (b"AT\r", b"AT+QISTATE?\r"):
                result = round_trips(port, line)
                median = result.median_us
                against = [f"{median / python.median_us:.2f}x Python echo (target <= 2x)"]
                c_floor = floors["c"]
                if c_floor is not None:
                    against.append(f"{median / c_floor.median_us:.2f}x C echo")
                name = f"bc66sim {line.decode().strip()} over {transport}"
                row(name, f"{median:.0f} / {result.p99_us:.0f}", "; ".join(against))
            port.close()
        if transport == "pty":
            peer_section(python)


def peer_section(floor: Latency) -> None:
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
            f"{peer.median_us / floor.median_us:.1f}x Python echo")  # fmt: skip
    os.close(slave)


# -- throughput -----------------------------------------------------------------------


class Host:
    """Drives socket 0 with AT+QISEND / AT+QIRD, ``window`` commands in flight at once.

    ``window`` 1 is lock-step (every answer awaited: what a host on a real UART does);
    a larger window writes several commands (and their data) at once, so the figure
    is the emulator's own ceiling, not the round trip of the I/O path.
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
        """Send a window of chunks; how many were answered SEND OK."""
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
        sent = 0
        for _ in chunks:
            assert isinstance(self._next_event(), Prompt)
            final = self._next_event()
            assert isinstance(final, Final) and final.ok, final
            trailer = self._next_event()
            assert isinstance(trailer, Trailer)
            sent += trailer.text == "SEND OK"
        return sent

    def read_buffer(self) -> None:
        """AT+QIRD, a window at a time, until the module's buffer is empty."""
        self.parser.pending = Pending("AT+QIRD", prefix="+QIRD:")
        while True:
            self.port.write(b"AT+QIRD=0,512\r\n" * self.window)
            empty = False
            for _ in range(self.window):
                while not isinstance(event := self._next_event(), Final):
                    if isinstance(event, Info):
                        if event.payload is None:
                            empty = True
                        else:
                            self.received += len(event.payload)
            if empty:
                return

    def poll(self) -> None:
        """Take what the module pushed meanwhile, without waiting."""
        while data := self.port.read(timeout=0):
            for event in self.parser.feed(data):
                if isinstance(event, Urc):
                    self._urc(event)


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
    sent = 0
    started = time.perf_counter()
    cpu_before = cpu_seconds(pid)
    while sent < PAYLOAD or host.received < sent:
        if sent < PAYLOAD:
            sent += size * host.send(chunks)
        if push:
            host.poll()
        elif host.notified or sent >= PAYLOAD:
            host.notified = False
            host.read_buffer()
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
                ceiling, cpu = throughput(where, echo_at, window=8, **options)  # type: ignore[arg-type]
                figure = f"{step / 1e6:.2f} / {ceiling / 1e6:.2f}"
                full_core = f"{1 / cpu:.1f} MB/s" if cpu > 0 else "too short to tell"
                load = f"{cpu * ceiling / 1e6:.0%} of a core; a full core: {full_core}"
                target = f"{ceiling / 5e6:.2f}x the 5 MB/s target"
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

#: Fleet sizes tried in turn; the sweep stops at the first whose p99 is 50 ms or more.
FLEET_SIZES = [
    int(n) for n in os.environ.get("BENCH_FLEET", "10,100,1000,2000,4000,5000,6000").split(",")
]
FLEET_SECONDS = float(os.environ.get("BENCH_FLEET_SECONDS", "10"))


class _Sink(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.count = 0

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        self.count += 1


async def _device(place: str, sink_port: int, start_after: float, seconds: float,
                  latencies: list[float]) -> None:  # fmt: skip
    """One device's host: a UDP report and an AT every second, each round trip timed."""
    host, port = place.rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(b"ATE0\r")
    await reader.readuntil(b"OK\r\n")
    writer.write(b'AT+QIOPEN=1,0,"UDP","127.0.0.1",%d,0,0\r' % sink_port)
    await reader.readuntil(b"+QIOPEN: 0,0\r\n")
    await asyncio.sleep(start_after)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    report = b'{"t":21.5,"v":3.3}'  # JSON has quotes and commas: sent in hex (§2.3.6)
    send = b"AT+QISENDEX=0,%d,%s\r" % (len(report), report.hex().encode())
    while loop.time() < deadline:
        tick = loop.time()
        for line, final in ((send, b"SEND OK\r\n"), (b"AT\r", b"OK\r\n")):
            started = time.perf_counter()
            writer.write(line)
            await reader.readuntil(final)
            latencies.append(time.perf_counter() - started)
        await asyncio.sleep(max(0.0, tick + 1.0 - loop.time()))
    writer.close()


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def _drive_fleet(places: list[str], pid: int) -> tuple[list[float], int, int]:
    loop = asyncio.get_running_loop()
    sink = _Sink()
    transport, _ = await loop.create_datagram_endpoint(lambda: sink, local_addr=("127.0.0.1", 0))
    sink_port = transport.get_extra_info("sockname")[1]
    latencies: list[float] = []
    count = len(places)
    devices = [
        _device(place, sink_port, index / count, FLEET_SECONDS, latencies)
        for index, place in enumerate(places)
    ]
    running = asyncio.gather(*devices)
    await asyncio.sleep(FLEET_SECONDS / 2 + 1)  # every module connected, its socket open
    rss = _rss_kib(pid)
    await running
    transport.close()
    return latencies, rss, sink.count


def scale_section() -> None:
    from bc66sim.fleet import raise_fd_limit

    print("Scale: N modules in one process, a UDP report + AT per module per second", flush=True)
    raise_fd_limit(64 + 4 * max(FLEET_SIZES))
    baseline: tuple[int, int] | None = None
    for count in FLEET_SIZES:
        with process("-m", "bc66sim", "fleet", str(count), "--attach-delay", "0") as (child, where):
            places = where.split(",")
            latencies, rss, reports = asyncio.run(_drive_fleet(places, child.pid))
        latencies.sort()
        p50 = latencies[len(latencies) // 2] * 1000
        p99 = latencies[int(len(latencies) * 0.99)] * 1000
        verdict = "p99 < 50 ms" if p99 < 50 else "p99 over 50 ms"
        row(f"fleet of {count}: command p50 / p99 (ms)", f"{p50:.2f} / {p99:.2f}", verdict)
        if baseline is None:
            baseline = (count, rss)
            row(f"fleet of {count}: process memory (RSS)", f"{rss / 1024:.0f} MiB",
                f"{reports} UDP reports")  # fmt: skip
        else:
            per_module = (rss - baseline[1]) / (count - baseline[0])
            row(f"fleet of {count}: memory per added module", f"{per_module:.0f} KiB",
                f"{rss / 1024:.0f} MiB in all; {reports} UDP reports")  # fmt: skip
        if p99 >= 50:
            break


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


SECTIONS: dict[str, Callable[[], None]] = {
    "link": link_section,
    "latency": latency_section,
    "throughput": throughput_section,
    "paced": paced_section,
    "scale": scale_section,
    "fuzz": fuzz_section,
}


def main() -> int:
    chosen = sys.argv[1:] or list(SECTIONS)
    started = time.monotonic()
    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")), platform.processor(),
    )  # fmt: skip
    print(f"bc66sim benchmarks on {os.cpu_count()} × {cpu}, Python {platform.python_version()}")
    for name in chosen:
        SECTIONS[name]()
    lines = ["| what | figure | against |", "| --- | ---: | --- |"]
    lines += [f"| {what} | {figure} | {note} |" for what, figure, note in ROWS]
    table = "\n".join(lines)
    (HERE / "latest.md").write_text(
        f"Machine: {os.cpu_count()} × {cpu}; Python {platform.python_version()}; "
        f"{time.monotonic() - started:.0f} s\n\n{table}\n"
    )
    print(f"\n{table}\n\n(done in {time.monotonic() - started:.0f} s; also in bench/latest.md)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
