"""Module time: the one clock the emulated module reads, and its timers.

The module never reads a clock of its own or arms an asyncio timer: it is handed
a :class:`Clock` (DESIGN principle 2).  Three are here:

- :class:`LoopClock` — the event loop's monotonic clock and the host's UTC time
  (the default: module time is real time);
- :class:`ScaledClock` — module time runs ``scale`` times faster than real time,
  for hours of PSM in minutes;
- :class:`ManualClock` — time moves only when a test says so
  (:meth:`ManualClock.advance`); due timers fire in order, deterministically, so
  a test drives hours of NB-IoT time in milliseconds and never sleeps.

``now()`` is monotonic seconds of module time; ``utc()`` is the wall clock the
network gives (the RTC's source, note §2.3.9 note 3).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import heapq
import itertools
import logging
from collections.abc import Callable
from typing import Protocol

log = logging.getLogger(__name__)

Callback = Callable[[], None]


class TimerHandle(Protocol):
    """What ``call_at`` / ``call_later`` return: a timer that may be cancelled."""

    def cancel(self) -> None: ...


class Clock(Protocol):
    def now(self) -> float:
        """Monotonic seconds of module time."""
        ...

    def utc(self) -> dt.datetime:
        """The wall clock in UTC, as module time sees it."""
        ...

    def call_at(self, when: float, callback: Callback) -> TimerHandle:
        """Call ``callback`` once ``now()`` reaches ``when``."""
        ...

    def call_later(self, delay: float, callback: Callback) -> TimerHandle:
        """Call ``callback`` ``delay`` seconds of module time from now."""
        ...

    async def sleep_until(self, when: float) -> None:
        """Return once ``now()`` has reached ``when``."""
        ...


class LoopClock:
    """The running event loop's clock; ``utc()`` is the host's."""

    def now(self) -> float:
        return asyncio.get_running_loop().time()

    def utc(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)

    def call_at(self, when: float, callback: Callback) -> TimerHandle:
        return asyncio.get_running_loop().call_at(when, callback)

    def call_later(self, delay: float, callback: Callback) -> TimerHandle:
        return asyncio.get_running_loop().call_later(delay, callback)

    async def sleep_until(self, when: float) -> None:
        await asyncio.sleep(max(0.0, when - self.now()))


class ScaledClock:
    """Module time runs ``scale`` times as fast as the event loop's (and the UTC clock)."""

    def __init__(self, scale: float) -> None:
        if scale <= 0:
            raise ValueError("the time scale must be positive")
        self.scale = scale
        #: The wall clock, for what the scale must not touch: the UART's own timings.
        self.wall: Clock = LoopClock()
        self._origin: tuple[float, dt.datetime] | None = None

    def _start(self) -> tuple[float, dt.datetime]:
        if self._origin is None:
            self._origin = (asyncio.get_running_loop().time(), dt.datetime.now(dt.UTC))
        return self._origin

    def now(self) -> float:
        loop_origin, _ = self._start()
        return loop_origin + (asyncio.get_running_loop().time() - loop_origin) * self.scale

    def utc(self) -> dt.datetime:
        loop_origin, utc_origin = self._start()
        return utc_origin + dt.timedelta(seconds=self.now() - loop_origin)

    def _loop_time(self, when: float) -> float:
        loop_origin, _ = self._start()
        return loop_origin + (when - loop_origin) / self.scale

    def call_at(self, when: float, callback: Callback) -> TimerHandle:
        return asyncio.get_running_loop().call_at(self._loop_time(when), callback)

    def call_later(self, delay: float, callback: Callback) -> TimerHandle:
        return self.call_at(self.now() + delay, callback)

    async def sleep_until(self, when: float) -> None:
        loop = asyncio.get_running_loop()
        await asyncio.sleep(max(0.0, self._loop_time(when) - loop.time()))


class _ManualTimer:
    def __init__(self, when: float, callback: Callback) -> None:
        self.when = when
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


#: Where a ManualClock's UTC starts unless told: a fixed, recognisable moment.
MANUAL_EPOCH = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


class ManualClock:
    """Time that moves only by :meth:`advance`; see the module docstring."""

    def __init__(self, start: float = 0.0, utc_start: dt.datetime = MANUAL_EPOCH) -> None:
        self._now = start
        self._start = start
        self._utc_start = utc_start
        self._timers: list[tuple[float, int, _ManualTimer]] = []
        self._order = itertools.count()

    def now(self) -> float:
        return self._now

    def utc(self) -> dt.datetime:
        return self._utc_start + dt.timedelta(seconds=self._now - self._start)

    def call_at(self, when: float, callback: Callback) -> TimerHandle:
        timer = _ManualTimer(when, callback)
        heapq.heappush(self._timers, (when, next(self._order), timer))
        return timer

    def call_later(self, delay: float, callback: Callback) -> TimerHandle:
        return self.call_at(self._now + delay, callback)

    async def sleep_until(self, when: float) -> None:
        if when <= self._now:
            return
        future = asyncio.get_running_loop().create_future()

        def wake() -> None:
            if not future.done():
                future.set_result(None)

        handle = self.call_at(when, wake)
        try:
            await future
        finally:
            handle.cancel()

    @property
    def next_timer(self) -> float | None:
        """When the next timer is due (None: none is armed)."""
        while self._timers and self._timers[0][2].cancelled:
            heapq.heappop(self._timers)
        return self._timers[0][0] if self._timers else None

    async def advance(self, seconds: float) -> None:
        """Move time on by ``seconds``, firing each due timer at its own time, in order.

        After each timer the event loop runs what it woke (a task that slept, and
        what that task does next, such as arming the next timer) before time moves
        on: the outcome is the same every run.
        """
        if seconds < 0:
            raise ValueError("time does not go back")
        target = self._now + seconds
        await _settle()
        while (due := self.next_timer) is not None and due <= target:
            _, _, timer = heapq.heappop(self._timers)
            self._now = max(self._now, timer.when)
            try:
                timer.callback()
            except Exception:  # as the event loop does: log it, and time goes on
                log.exception("a timer's callback failed")
            await _settle()
        self._now = target
        await _settle()


async def _settle(rounds: int = 20) -> None:
    """Let the event loop run what is ready (woken tasks and their next steps)."""
    for _ in range(rounds):
        await asyncio.sleep(0)
