"""``bc66sim replay FILE``: the module's side of a recording, played to a host program.

The replay stands where the module stood (any port: a pty, a TCP port, a serial
port, stdio) and plays the recording as a script of steps in their order:

- a module step (bytes the module wrote) is written to the host at its recorded
  time after the step before it, divided by ``speed`` (``speed=None``: at once);
- a host step (bytes the host wrote) is waited for: the host's bytes must be
  those of the recording, byte for byte, whatever their chunking.  The next
  module step's time counts from when they arrived, so a slower host does not
  make the module early.

Timing begins when the host connects (the recording's ``host`` event; a port
that has no such moment, a serial port or stdio, begins when it opens).  What the
host is sent is then exactly what it was sent in the recording.  The first byte
the host sends that differs from the recording is a *divergence*: the replay
says where (the step, the offset, both lines) and stops; ``bc66sim replay``
exits 1.  So is a host that leaves (disconnects, ends its input) while the
recording still has bytes of its, or that is silent for :data:`HOST_TIMEOUT`
seconds beyond its recorded pace.  The host's output is bounded as the module's
is: when the port says the host does not keep up, the replay waits (flow
control), it never drops.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from dataclasses import dataclass

from bc66sim.clock import Clock
from bc66sim.recording.format import Recording
from bc66sim.transport.trace import escape

#: Seconds a host may be slower than recorded before its silence is a divergence.
HOST_TIMEOUT = 10.0


@dataclass(frozen=True)
class Step:
    """Bytes one way; ``delay``: seconds after the step before (module steps)."""

    to_host: bool
    data: bytes
    delay: float


def script(recording: Recording) -> list[Step]:
    """The recording as steps, from the host's (first) connection on."""
    events = recording.events
    start = next((i for i, e in enumerate(events) if e["type"] == "host"), None)
    # Without a host event (a tap, an older serve), time counts from the first byte.
    previous = events[start]["t"] if start is not None else None
    steps: list[Step] = []
    for event in events[(start or 0) :]:
        if event["type"] != "at":
            continue
        delay = 0.0 if previous is None else max(0.0, event["t"] - previous)
        previous = event["t"]
        steps.append(Step(event["dir"] == "to_host", event["data"].encode("latin-1"), delay))
    return steps


def _line_at(data: bytes, offset: int) -> bytes:
    """The line of ``data`` around ``offset`` (for a divergence report)."""
    start = max(data.rfind(b"\n", 0, offset), data.rfind(b"\r", 0, offset)) + 1
    ends = [i for i in (data.find(b"\r", offset), data.find(b"\n", offset)) if i >= 0]
    return data[start : min(ends) if ends else len(data)]


class Replayer:
    """The far side of a UART (transport/base.py's UartDevice) that plays a recording."""

    def __init__(self, steps: list[Step], *, clock: Clock, speed: float | None = 1.0,
                 start_on_connect: bool = True,
                 host_timeout: float = HOST_TIMEOUT) -> None:  # fmt: skip
        self.steps = steps
        self.clock = clock
        self.speed = speed
        self.start_on_connect = start_on_connect
        #: Seconds the host may take beyond its recorded pace to send its next bytes.
        self.host_timeout = host_timeout
        #: The host's bytes in the recording, and how far the host has matched them.
        self._expected = b"".join(step.data for step in steps if not step.to_host)
        self._received = bytearray()
        self._arrived = asyncio.Event()
        self._writer: Callable[[bytes], None] | None = None
        self._congested: set[str] = set()
        self._drained = asyncio.Event()
        self._drained.set()
        self._task: asyncio.Task[None] | None = None
        #: Set when every step has been played, or the host diverged.
        self.done = asyncio.Event()
        #: Why the replay stopped early: the divergence, said for a person.
        self.divergence: str | None = None
        self.played = 0

    # -- the UART (transport/base.py's UartDevice) ------------------------------------

    def attach_output(self, writer: Callable[[bytes], None] | None) -> None:
        self._writer = writer
        if writer is not None and not self.start_on_connect:
            self._start()
        elif writer is None and self._task is not None:
            self.host_left("disconnected")

    def host_left(self, how: str) -> None:
        """The host went away (a TCP close, the end of standard input): if the recording
        still has bytes of the host's, that is a divergence."""
        if not self.done.is_set():
            self._stop(f"step {self.played + 1}: the host {how} before the end of the recording"
                       f"{self._waited_for()}")  # fmt: skip

    def host_connected(self) -> None:
        self._start()

    def set_output_congested(self, source: str, congested: bool) -> None:
        if congested:
            self._congested.add(source)
            self._drained.clear()
        else:
            self._congested.discard(source)
            if not self._congested:
                self._drained.set()

    def receive_data(self, data: bytes) -> None:
        if self.divergence is not None:
            return
        start = len(self._received)
        self._received += data
        expected = self._expected[start : start + len(data)]
        if data != expected:
            self._diverge(start + next(
                (i for i, (a, b) in enumerate(zip(data, expected, strict=False)) if a != b),
                len(expected),
            ))  # fmt: skip
        self._arrived.set()

    # -- playing ------------------------------------------------------------------------

    def _start(self) -> None:
        if self._task is None:
            self._task = asyncio.ensure_future(self._play())

    async def _play(self) -> None:
        reference = self.clock.now()
        host_end = 0  # bytes of the host's the recording has up to this step
        for index, step in enumerate(self.steps):
            if self.divergence is not None:
                return
            if step.to_host:
                if self.speed is not None:
                    reference += step.delay / self.speed
                    await self.clock.sleep_until(reference)
                await self._drained.wait()
                if self.divergence is not None:
                    return
                if self._writer is not None:
                    self._writer(step.data)
            else:
                host_end += len(step.data)
                patience = self.host_timeout + (step.delay / self.speed if self.speed else 0.0)
                timer = self.clock.call_later(patience, functools.partial(self._silent, index,
                                                                          patience))  # fmt: skip
                while len(self._received) < host_end and self.divergence is None:
                    self._arrived.clear()
                    await self._arrived.wait()
                timer.cancel()
                reference = self.clock.now()
            self.played = index + 1
        self.done.set()

    def _silent(self, index: int, patience: float) -> None:
        self._stop(f"step {index + 1}: the host did not send what the recording has within "
                   f"{patience:.1f} s{self._waited_for()}")  # fmt: skip

    def _waited_for(self) -> str:
        """What the host was to send next, for a report."""
        offset = len(self._received)
        if offset >= len(self._expected):
            return ""
        return f" (it was to send {escape(_line_at(self._expected, offset))!r})"

    def _stop(self, why: str) -> None:
        if self.divergence is None and not self.done.is_set():
            self.divergence = why
            self._arrived.set()
            self._drained.set()
            self.done.set()

    def _diverge(self, offset: int) -> None:
        step = self._host_step_at(offset)
        got = _line_at(bytes(self._received), offset)
        if offset >= len(self._expected):
            self.divergence = (f"the host sent more than the recording has, from byte {offset} "
                               f"of its output: {escape(got)}")  # fmt: skip
        else:
            wanted = _line_at(self._expected, offset)
            self.divergence = (f"step {step + 1}: the host's byte {offset} differs from the "
                               f"recording: it sent {escape(got)!r} where the recording has "
                               f"{escape(wanted)!r}")  # fmt: skip
        self._arrived.set()
        self._drained.set()
        self.done.set()

    def _host_step_at(self, offset: int) -> int:
        """The index of the step holding the host's byte ``offset``."""
        seen = 0
        for index, step in enumerate(self.steps):
            if not step.to_host:
                seen += len(step.data)
                if offset < seen:
                    return index
        return len(self.steps) - 1

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
