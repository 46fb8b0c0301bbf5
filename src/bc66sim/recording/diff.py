"""``bc66sim diff A B``: two recordings compared command by command.

Each recording's AT bytes are cut into *exchanges*: a command line the host sent
(up to its CR), any data-mode payload it sent after the module's ``>`` prompt,
and every line the module wrote until the host's next command (its echo left
out).  Those lines are of two kinds:

- the *answer*: the lines up to the final result code (``OK``, ``ERROR``,
  ``+CME ERROR: <n>``) and the trailer a command has (``SEND OK``, ``SEND FAIL``,
  ``CLOSE OK``), less any URC among them (a ``+NAME:`` line of another command's
  name, or ``RDY``);
- what the module says *unasked*: those URCs, and every line after the answer
  (``+QIOPEN: 0,0``, ``+QIURC: "recv",…`` and its data).

Answers are compared exchange by exchange; the unasked lines as one sequence over
the session, because when they come depends on the network (on an NB-IoT link a
``+QIURC`` may come after the host's next command, on a LAN before it).  The
first exchange whose command, payload or answer differ, or in which the unasked
lines first differ, is the divergence (what the module wrote before the first
command counts only when both recordings have some); the report shows both sides
as a unified diff, and the time each module took to answer.

What legitimately differs between two sessions (an IMEI, the time in
``AT+CCLK?``, an address) is left out of the comparison with ``--ignore REGEX``:
each match is replaced by ``…`` on both sides before they are compared.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from bc66sim.client.connection import CTRL_Z, ESC, command_for
from bc66sim.recording.format import Recording
from bc66sim.transport.trace import escape

#: What ends data mode from the host: Ctrl+Z sends, ESC cancels (note §2.3.4).
_DATA_END = (CTRL_Z[0], ESC[0])


_FINAL = re.compile(r"OK|ERROR|\+CME ERROR: .*")
#: A URC whose data follows on the next line(s): direct push mode with its length.
_PUSHED = re.compile(r'\+QIURC: "recv",\d+,(\d+)')


@dataclass
class Exchange:
    """One command and what the module wrote until the next one."""

    #: None for what the module wrote before the host's first command (its boot).
    command: str | None
    #: Wall time the command's CR arrived (or the first byte, for the boot).
    at: float
    payload: bytes = b""
    #: The answer's lines (see the module docstring), escaped for reading.
    lines: list[str] = field(default_factory=list)
    #: What the module said unasked meanwhile.
    unasked: list[str] = field(default_factory=list)
    #: Seconds from the command to the module's first line after it.
    answered_after: float | None = None
    _output: bytearray = field(default_factory=bytearray)

    def finish(self) -> None:
        text = self._output.decode("latin-1")
        lines = [line for line in re.split(r"\r\n|\r|\n", text) if line.strip() and line != "> "]
        if self.command is not None and lines and lines[0] == self.command:
            lines = lines[1:]  # the module's echo (ATE1) of a whole line at once
        # What the answer holds and which trailer ends it, as the host driver reads them
        # (client/connection.py): its information lines' prefix, SEND OK, CLOSE OK.
        expected = command_for(self.command) if self.command is not None else None
        own = expected.answer.prefix if expected is not None else None
        trailers = expected.trailers if expected is not None else ()
        answering = self.command is not None
        payload = 0  # bytes still to come of a pushed "recv" URC's data (note §2.4.2)
        for line in lines:
            shown = escape(line.encode("latin-1"))
            if payload > 0:
                self.unasked.append(shown)
                payload -= len(line) + 2
                continue
            urc = line == "RDY" or (line.startswith("+") and not (own and line.startswith(own)))
            if not answering or urc:
                self.unasked.append(shown)
                recv = _PUSHED.fullmatch(line)
                payload = int(recv.group(1)) if recv else 0
                continue
            self.lines.append(shown)
            if _FINAL.fullmatch(line):
                answering = bool(trailers) and line == "OK"
            elif line in trailers:
                answering = False


def exchanges(recording: Recording) -> list[Exchange]:
    """The recording's AT session cut into exchanges (see the module docstring)."""
    result: list[Exchange] = []
    current: Exchange | None = None
    typed = bytearray()  # the host's bytes of a command line not yet ended
    unechoed = bytearray()  # what the host sent that the module has not echoed (ATE1)
    data_mode = False
    for direction, data, when in recording.uart():
        if direction == "to_host":
            # An echo is the host's own bytes back, however they were chunked: left out,
            # or a host typing byte by byte puts the next command in the last answer.
            same = 0
            for a, b in zip(data, unechoed, strict=False):
                if a != b:
                    break
                same += 1
            data = data[same:]
            del unechoed[:same]
            if not data:
                continue
            # Not an echo (echo off, or a URC while the host types): forget the echo of
            # whole lines, keep the line being typed (its echo may still come).
            del unechoed[: unechoed.rfind(b"\r") + 1]
            if current is None:
                current = Exchange(None, when)
                result.append(current)
            if current.command is not None and current.answered_after is None:
                current.answered_after = round(when - current.at, 6)
            current._output += data
            data_mode = current.command is not None and bytes(current._output).endswith(b"> ")
            continue
        for byte in data:
            if data_mode and current is not None:
                if byte in _DATA_END:
                    data_mode = False
                current.payload += bytes([byte])  # (a payload's echo stays in the answer)
                continue
            unechoed.append(byte)
            if byte in (0x0D, 0x0A):
                line = typed.decode("latin-1").strip()
                typed.clear()
                if line:
                    current = Exchange(line, when)
                    result.append(current)
            else:
                typed.append(byte)
    for exchange in result:
        exchange.finish()
    return result


@dataclass(frozen=True)
class Divergence:
    """Where two recordings first differ, said for a person."""

    index: int
    report: str


def compare(a: Recording, b: Recording, *, ignore: Sequence[str] = (),
            names: tuple[str, str] = ("A", "B")) -> Divergence | None:  # fmt: skip
    """The first exchange in which ``a`` and ``b`` differ; None if none does."""
    masks = [re.compile(pattern) for pattern in ignore]

    def masked(text: str) -> str:
        for mask in masks:
            text = mask.sub("…", text)
        return text

    left, right = exchanges(a), exchanges(b)
    # What a module wrote before the first command is only compared if both hosts saw
    # it: a tap or a host that connects after the boot has none.
    if (left and left[0].command is None) != (right and right[0].command is None):
        left = [x for x in left if x.command is not None]
        right = [y for y in right if y.command is not None]
    x_unasked = [(i, masked(line)) for i, x in enumerate(left) for line in x.unasked]
    y_unasked = [(i, masked(line)) for i, y in enumerate(right) for line in y.unasked]
    # The first unasked line that differs, and in which exchange of each it came.
    odd = next(((xi, yi) for (xi, xl), (yi, yl) in zip(x_unasked, y_unasked, strict=False)
                if xl != yl), None)  # fmt: skip
    if odd is None and len(x_unasked) != len(y_unasked):
        shorter = min(len(x_unasked), len(y_unasked))
        extra = x_unasked[shorter:] or y_unasked[shorter:]
        odd = (extra[0][0], extra[0][0])
    for index, (x, y) in enumerate(zip(left, right, strict=False)):
        x_side = (masked(x.command or ""), masked(escape(x.payload)), [masked(s) for s in x.lines])
        y_side = (masked(y.command or ""), masked(escape(y.payload)), [masked(s) for s in y.lines])
        if x_side != y_side:
            return Divergence(index, _report(index, x, y, names))
        if odd is not None and index == max(odd):
            return Divergence(index, _report(index, left[odd[0]], right[odd[1]], names,
                                             unasked=True))  # fmt: skip
    if len(left) != len(right):
        index = min(len(left), len(right))
        longer, name = (left, names[0]) if len(left) > len(right) else (right, names[1])
        other = names[1] if name == names[0] else names[0]
        rest = longer[index]
        return Divergence(index, f"exchange {index}: {other} ends here; {name} goes on with "
                                 f"{rest.command or '(boot output)'!r} and "
                                 f"{len(longer) - index - 1} more")  # fmt: skip
    return None


def _report(index: int, x: Exchange, y: Exchange, names: tuple[str, str], *,
            unasked: bool = False) -> str:  # fmt: skip
    def side(exchange: Exchange) -> list[str]:
        lines = [f"> {exchange.command}" if exchange.command is not None else "(boot)"]
        if exchange.payload:
            lines.append(f"> data: {escape(exchange.payload)}")
        return lines + exchange.lines + [f"(unasked) {line}" for line in exchange.unasked]

    def timing(exchange: Exchange) -> str:
        after = exchange.answered_after
        return "no answer" if after is None else f"answered after {after * 1000:.0f} ms"

    what = f"command {x.command!r}" if x.command == y.command else "the command"
    if unasked:
        what = "what the modules said unasked (URCs) differs; around " + what
    diff = difflib.unified_diff(side(x), side(y), fromfile=names[0], tofile=names[1],
                                lineterm="", n=10)  # fmt: skip
    return "\n".join([
        f"first divergence: exchange {index}, {what}",
        f"  {names[0]}: {timing(x)}; {names[1]}: {timing(y)}",
        *("  " + line for line in diff),
    ])  # fmt: skip
