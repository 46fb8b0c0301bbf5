"""UART pacing: bytes no faster than a real line of ``baud`` (``--baud`` on pty/tcp).

A UART of ``baud`` carries ``baud / 10`` bytes a second (8N1: start, 8 data, stop
bits).  Each chunk is handed on at the moment its last byte would have arrived,
in pieces of at most :data:`PIECE` bytes, so a long answer trickles out as on a
wire.  Both directions of a transport get a pacer of their own.

The event loop wakes timers late by up to a millisecond (epoll's resolution), and
each late wake would be line time lost.  So the pacer is a token bucket with
:data:`SLACK` seconds of burst: time lost to a late timer may be made up, yet over
any interval longer than ``SLACK`` the line never carries more than its rate.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable

#: Bytes handed on together: 64 bytes at 115200 baud are 5.6 ms of line time.
PIECE = 64
BITS_PER_BYTE = 10
#: Burst allowance, in seconds of line time (see the module docstring).
SLACK = 0.002


def piece_time(baud: int) -> float:
    """Seconds between two pieces handed on: what a paced line adds between two bytes.

    A host's CR and LF may be a piece apart, so the module's wait for a line's LF
    (``ModemConfig.line_feed_wait``) must be longer than this.
    """
    return PIECE * BITS_PER_BYTE / baud


class Pacer:
    """Calls ``deliver`` with the bytes given to it, at line rate, in order.

    Bytes waiting for the line are counted: past ``high`` of them ``congested(True)``
    is called, and ``congested(False)`` once they are back under ``low`` — so the
    module can hold back what it sends (``Modem.set_output_congested``).
    """

    def __init__(
        self,
        baud: int,
        deliver: Callable[[bytes], None],
        congested: Callable[[bool], None] | None = None,
        *,
        high: int = 256 * 1024,
        low: int = 64 * 1024,
    ) -> None:
        if baud <= 0:
            raise ValueError("baud must be positive")
        self.bytes_per_second = baud / BITS_PER_BYTE
        self._deliver = deliver
        self._congested = congested
        self._high, self._low = high, low
        self._loop = asyncio.get_running_loop()
        self._line_free_at = 0.0
        #: Bytes handed to the pacer and not yet delivered.
        self.pending = 0
        self._over = False
        #: The pieces and when each is through the line, oldest first; one timer, for
        #: the head: an event loop need not keep the order of timers due together
        #: (uvloop's are whole milliseconds), and the line must not reorder.
        self._pieces: deque[tuple[float, bytes]] = deque()
        self._timer: asyncio.TimerHandle | None = None

    def __call__(self, data: bytes) -> None:
        when = max(self._loop.time() - SLACK, self._line_free_at)
        for start in range(0, len(data), PIECE):
            piece = data[start : start + PIECE]
            when += len(piece) / self.bytes_per_second
            self._pieces.append((when, piece))
        self._line_free_at = when
        self.pending += len(data)
        if self._timer is None:
            self._timer = self._loop.call_at(self._pieces[0][0], self._hand_on)
        if self.pending > self._high and not self._over:
            self._over = True
            if self._congested is not None:
                self._congested(True)

    def cancel(self) -> None:
        """The line is gone (the host disconnected): nothing more is handed on."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._pieces.clear()
        self.pending = 0

    def _hand_on(self) -> None:
        """Every piece whose time has come, in order; then the timer for the next."""
        self._timer = None
        now = self._loop.time()
        while self._pieces and self._pieces[0][0] <= now:
            _, piece = self._pieces.popleft()
            self.pending -= len(piece)
            self._deliver(piece)
        if self._pieces and self._timer is None:
            self._timer = self._loop.call_at(self._pieces[0][0], self._hand_on)
        if self._over and self.pending < self._low:
            self._over = False
            if self._congested is not None:
                self._congested(False)
