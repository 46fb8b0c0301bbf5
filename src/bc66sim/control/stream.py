"""The live feed: every event, as one JSON text, to every client, each with a bound.

A client that does not keep up is not allowed to grow memory: each has a queue
bounded in events and in bytes; the event that would pass either bound empties
the queue and marks the client as too slow, and the server closes its connection
with that reason (server.py).  Events are encoded once, whatever the number of
clients.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from collections.abc import Sequence
from typing import Any

#: A client's queue: at most this many events, and this many bytes of them.
MAX_QUEUED_EVENTS = 4096
MAX_QUEUED_BYTES = 1024 * 1024


class Subscriber:
    """One client's queue of encoded events."""

    def __init__(self, max_events: int, max_bytes: int) -> None:
        self.max_events = max_events
        self.max_bytes = max_bytes
        self._queue: deque[str] = deque()
        self._bytes = 0
        self._ready = asyncio.Event()
        #: Set when the client fell behind: it gets no more events, only a close.
        self.too_slow = False

    def offer(self, text: str) -> None:
        if self.too_slow:
            return
        if len(self._queue) >= self.max_events or self._bytes + len(text) > self.max_bytes:
            self.too_slow = True
            self._queue.clear()
            self._bytes = 0
        else:
            self._queue.append(text)
            self._bytes += len(text)
        self._ready.set()

    async def next(self) -> str | None:
        """The next event, waiting for one; None once the client is too slow."""
        while not self._queue and not self.too_slow:
            self._ready.clear()
            await self._ready.wait()
        if self.too_slow:
            return None
        text = self._queue.popleft()
        self._bytes -= len(text)
        return text

    @property
    def reason(self) -> str:
        """Why the client is disconnected (a WebSocket close reason: at most 123 bytes)."""
        return f"too slow: more than {self.max_events} events or {self.max_bytes} bytes waiting"


class EventStream:
    """Fans events out to its subscribers."""

    def __init__(
        self, max_events: int = MAX_QUEUED_EVENTS, max_bytes: int = MAX_QUEUED_BYTES
    ) -> None:
        self.max_events = max_events
        self.max_bytes = max_bytes
        self._subscribers: set[Subscriber] = set()

    def subscribe(self, backlog: Sequence[dict[str, Any]] = ()) -> Subscriber:
        """A new subscriber, which gets the newest of ``backlog`` (events from before)
        first: at most half its bounds, so that it has room for what comes next."""
        subscriber = Subscriber(self.max_events, self.max_bytes)
        texts: list[str] = []
        size = 0
        for event in reversed(backlog):
            text = json.dumps(event)
            size += len(text)
            if size > self.max_bytes // 2 or len(texts) >= self.max_events // 2:
                break
            texts.append(text)
        for text in reversed(texts):
            subscriber.offer(text)
        self._subscribers.add(subscriber)
        return subscriber

    @property
    def listening(self) -> bool:
        """Whether anybody subscribes: what publishing costs nothing without."""
        return bool(self._subscribers)

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.discard(subscriber)

    def publish(self, event: dict[str, Any]) -> None:
        """Send ``event`` (a JSON object; its time is added if it has none) to every
        subscriber."""
        if not self._subscribers:
            return
        text = json.dumps(event if "time" in event else {"time": round(time.time(), 6), **event})
        for subscriber in list(self._subscribers):
            subscriber.offer(text)
