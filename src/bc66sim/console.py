"""``bc66sim console``: an interactive AT terminal with history and line editing.

Connected to any port (a pyserial URL or path: a real BC66, or ``bc66sim serve``)
or, with no port, to an emulated module running inside the console itself.  Each
line typed is sent with CR.  Escapes reach what a keyboard cannot: ``\\z`` Ctrl+Z
(ends a data-mode payload; no CR is added after it), ``\\e`` Esc, ``\\xNN`` any
byte, ``\\\\`` a backslash.  ``\\h`` shows this help; ``\\q`` or end of input
(Ctrl+D) quits.  On a terminal, which echoes what is typed, the module's own echo
of the line is not printed a second time.  Error codes are followed by their
meaning: ``+CME ERROR: 566  [socket connection failed]``.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import re
import sys
import threading
from pathlib import Path
from typing import Protocol

import serial as pyserial

from bc66sim.client.errors import meaning
from bc66sim.module.modem import Modem, ModemConfig
from bc66sim.module.nvram import Nvram
from bc66sim.net.host import HostNetwork
from bc66sim.note.errors import Err

_ESCAPE = re.compile(r"\\(z|e|x[0-9a-fA-F]{2}|\\)")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\xff]")


def encode_line(line: str) -> bytes:
    """The bytes a typed line sends (see the module docstring)."""

    def byte(match: re.Match[str]) -> str:
        code = match.group(1)
        if code == "z":
            return "\x1a"
        if code == "e":
            return "\x1b"
        if code == "\\":
            return "\\"
        return chr(int(code[1:], 16))

    data = _ESCAPE.sub(byte, line).encode("latin-1", errors="replace")
    return data if line.endswith("\\z") else data + b"\r"


HELP = """\
bc66sim console: type AT commands; each line is sent with CR.
  \\z  Ctrl+Z (ends a data-mode payload; no CR after it)   \\e  Esc
  \\xNN any byte    \\\\  a backslash    \\h  this help    \\q or Ctrl+D  quit"""

#: Lines whose last field is an error code: ``+CME ERROR: 566``, ``+QIOPEN: 0,566``,
#: ``+QIURC: "dnsgip",565``, ``+QPING: 569``, ``+QNTP: 569``.
_ERROR_LINE = re.compile(
    r'^(\+CME ERROR: |\+QIOPEN: \d,|\+QIURC: "dnsgip",|\+QPING: |\+QNTP: |\+QNTTP: )(\d+)$',
    re.MULTILINE,
)


def annotate(text: str) -> str:
    """Error codes in the module's lines, followed by what they mean."""

    def note(match: re.Match[str]) -> str:
        code = int(match.group(2))
        if match.group(1) != "+CME ERROR: " and code < Err.UNKNOWN:
            return match.group(0)  # a result of 0: success
        return f"{match.group(0)}  [{meaning(code)}]"

    return _ERROR_LINE.sub(note, text)


def render(data: bytes) -> str:
    """Module output for a terminal: CR LF as new lines, other controls shown as <xNN>."""
    text = data.decode("latin-1").replace("\r\n", "\n").replace("\r", "")
    return _CONTROL.sub(lambda m: f"<x{ord(m.group(0)):02x}>", text)


class _Link(Protocol):
    def write(self, data: bytes) -> None: ...

    def read(self) -> bytes: ...

    def close(self) -> None: ...


class _SerialLink:
    def __init__(self, port: str, baud: int) -> None:
        self._port = pyserial.serial_for_url(port, baudrate=baud, timeout=0.1)

    def write(self, data: bytes) -> None:
        self._port.write(data)

    def read(self) -> bytes:
        data: bytes = self._port.read(max(1, getattr(self._port, "in_waiting", 1)))
        return data

    def close(self) -> None:
        self._port.close()


class _EmbeddedLink:
    """An emulated module on an event loop in a background thread."""

    def __init__(self, config: ModemConfig, state_dir: Path | None) -> None:
        self._output: queue.Queue[bytes] = queue.Queue()
        self._loop = asyncio.new_event_loop()
        threading.Thread(target=self._loop.run_forever, name="bc66-embedded", daemon=True).start()
        self._modem = Modem(HostNetwork(), config=config, nvram=Nvram(state_dir))
        self._modem.attach_output(self._output.put)
        self._loop.call_soon_threadsafe(self._modem.power_on)

    def write(self, data: bytes) -> None:
        self._loop.call_soon_threadsafe(self._modem.receive_data, data)

    def read(self) -> bytes:
        try:
            return self._output.get(timeout=0.1)
        except queue.Empty:
            return b""

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self._modem.close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)


def run_console(port: str | None, *, baud: int, config: ModemConfig, state_dir: Path | None) -> int:
    """The console's main loop; returns the exit code."""
    try:
        link: _Link = _SerialLink(port, baud) if port else _EmbeddedLink(config, state_dir)
    except (pyserial.SerialException, ValueError, OSError) as exc:
        print(f"bc66sim: error: cannot open {port}: {exc}", file=sys.stderr)
        return 2
    history = _start_history(state_dir)
    where = port or "an emulated BC66 (embedded)"
    print(f"bc66sim console on {where} — \\h for help; \\q or Ctrl+D quits", flush=True)
    stop = threading.Event()
    echo = _EchoFilter(enabled=sys.stdin.isatty())
    printer = threading.Thread(target=_print_output, args=(link, stop, echo), daemon=True)
    printer.start()
    try:
        while not stop.is_set():
            try:
                line = input()
            except EOFError:
                break
            if line.strip() == "\\q":
                break
            if line.strip() == "\\h":
                print(HELP, flush=True)
                continue
            data = encode_line(line)
            echo.expect(data)
            link.write(data)
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        printer.join(2)
        _save_history(history)
        link.close()
    return 0


class _EchoFilter:
    """On a terminal, what was typed is on screen already: the module's echo of it is
    dropped (the bytes it echoes back are the bytes sent, CR then LF)."""

    def __init__(self, *, enabled: bool) -> None:
        self._enabled = enabled
        self._lock = threading.Lock()
        self._pending = b""

    def expect(self, sent: bytes) -> None:
        if self._enabled:
            with self._lock:
                self._pending = sent + (b"\n" if sent.endswith(b"\r") else b"")

    def filter(self, data: bytes) -> bytes:
        with self._lock:
            while self._pending and data and data[0] == self._pending[0]:
                data, self._pending = data[1:], self._pending[1:]
            if data:
                self._pending = b""  # anything else: the echo is over (or echo is off)
        return data


def _print_output(link: _Link, stop: threading.Event, echo: _EchoFilter) -> None:
    quiet_reads = 0
    # After the input ends, keep printing until the module has been quiet a moment.
    while not (stop.is_set() and quiet_reads >= 3):
        try:
            data = link.read()
        except (pyserial.SerialException, OSError) as exc:
            print(f"\nbc66sim: the port failed: {exc}; the console stops (Enter to leave)",
                  file=sys.stderr, flush=True)  # fmt: skip
            stop.set()
            return
        quiet_reads = 0 if data else quiet_reads + 1
        data = echo.filter(data)
        if data:
            sys.stdout.write(annotate(render(data)))
            sys.stdout.flush()


def _start_history(state_dir: Path | None) -> Path | None:
    try:
        import readline  # line editing and history for input(), where the platform has it
    except ImportError:
        return None
    if state_dir is None:
        return None
    path = state_dir / "console_history"
    with contextlib.suppress(OSError):
        readline.read_history_file(path)
    return path


def _save_history(path: Path | None) -> None:
    if path is None:
        return
    import readline

    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        readline.set_history_length(1000)
        readline.write_history_file(path)
