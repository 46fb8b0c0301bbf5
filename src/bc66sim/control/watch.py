"""One module as the control plane watches it: its feed, its recent past, its counters.

The live feed (stream.py) only reaches clients connected when an event happens; a
dashboard opened later still wants the last minutes of the AT trace and the power
timeline.  So every event is also kept in a bounded history (the newest
:data:`HISTORY_EVENTS`), which a new feed client gets first, and the watch counts
what the fleet table shows (traffic, errors) as events pass.

Every event carries ``time`` (wall clock, added by the stream) and ``mt``: module
time in seconds (module/clock), which is what the power timeline is drawn on.
"""

from __future__ import annotations

import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bc66sim.control.stream import EventStream
from bc66sim.module.events import ModuleEvent, PowerChanged, UrcEmitted
from bc66sim.module.modem import Modem
from bc66sim.transport.trace import DIRECTIONS, Trace

#: Events kept for feed clients that connect later, and the bytes of UART data in
#: them at most (a chunk can be large: data mode, a 1460-byte read).
HISTORY_EVENTS = 2000
HISTORY_BYTES = 256 * 1024
#: What a fleet's modules keep between them (each its share, at least a few lines).
FLEET_HISTORY_EVENTS = 200_000
FLEET_HISTORY_BYTES = 32 * 1024 * 1024
#: A final result that is an error, in what the module writes (§3 of the note).
_ERROR = re.compile(rb"(?:^|\r\n)(?:ERROR|\+CME ERROR: \d+)\r\n")


#: A UART chunk in the history: wall time, module time, direction, bytes.
_Uart = tuple[float, float, str, bytes]


def _uart_event(item: _Uart) -> dict[str, Any]:
    wall, module_time, direction, data = item
    # latin-1: one code point per byte, so the page shows exactly what crossed.
    return {"time": round(wall, 6), "mt": round(module_time, 6), "type": "uart",
            "direction": direction, "data": data.decode("latin-1")}  # fmt: skip


@dataclass(frozen=True)
class Budget:
    """How much of its recent past a module keeps: events, and bytes of UART data."""

    events: int = HISTORY_EVENTS
    bytes: int = HISTORY_BYTES


#: A serve's one module keeps all of it.
SERVE_BUDGET = Budget()


def fleet_share(count: int) -> Budget:
    """Each of ``count`` modules' share of a fleet's budget."""
    events = max(50, FLEET_HISTORY_EVENTS // count)
    return Budget(events, max(8 * 1024, FLEET_HISTORY_BYTES // count))


class Watch:
    """The feed, history and counters of one module; :meth:`close` unhooks it."""

    def __init__(self, modem: Modem, trace: Trace | None, *, place: str = "",
                 stream: EventStream | None = None,
                 budget: Budget = SERVE_BUDGET) -> None:  # fmt: skip
        self.modem = modem
        self.trace = trace
        #: Where a host reaches it (a pty path, a TCP address), for the fleet table.
        self.place = place
        self.stream = stream or EventStream()
        #: The recent past, oldest first: UART chunks as (wall, module time, direction,
        #: bytes), other events as dicts; made into JSON only when a client asks.
        self.history: deque[_Uart | dict[str, Any]] = deque()
        self._history_bytes = 0
        self.budget = budget
        self.errors = 0
        self._tail = b""  # the end of the last output chunk
        self.uart_bytes = {"to_module": 0, "to_host": 0}
        self._unsubscribe: Callable[[], None] | None = modem.events.subscribe(self._module)
        if trace is not None:
            trace.listeners.append(self._uart)

    def close(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self.trace is not None and self._uart in self.trace.listeners:
            self.trace.listeners.remove(self._uart)

    def publish(self, event: dict[str, Any]) -> None:
        """Into the history and out to every feed client."""
        event = {"time": round(time.time(), 6), "mt": round(self.modem.clock.now(), 6), **event}
        self._remember(event, 0)
        self.stream.publish(event)

    def past(self) -> list[dict[str, Any]]:
        """The recent past as the feed's events."""
        return [_uart_event(item) if isinstance(item, tuple) else item for item in self.history]

    def _remember(self, item: _Uart | dict[str, Any], size: int) -> None:
        """Into the history; the oldest forgotten while it is over its budget."""
        history = self.history
        history.append(item)
        self._history_bytes += size
        while len(history) > self.budget.events or self._history_bytes > self.budget.bytes:
            old = history.popleft()
            if isinstance(old, tuple):
                self._history_bytes -= len(old[3])

    # -- the sources -------------------------------------------------------------------

    def _uart(self, direction: str, data: bytes) -> None:
        """A trace listener (transport/trace.py): bytes across the UART.  On every AT
        round trip's path, so it only counts and keeps the chunk (no dict, no text)."""
        name = DIRECTIONS.get(direction, direction)
        counts = self.uart_bytes
        counts[name] = counts.get(name, 0) + len(data)
        if name == "to_host":
            # An ERROR line may be split between two chunks: look across the seam.
            # (The word itself is looked for, not an "E": hex payloads are full of E.)
            if b"ERROR" in data or b"ERROR" in self._tail + data[:6]:
                seam = self._tail + data
                self.errors += sum(1 for m in _ERROR.finditer(seam) if m.end() > len(self._tail))
            self._tail = data[-24:]
        item = (time.time(), self.modem.clock.now(), name, data)
        self._remember(item, len(data))
        if self.stream.listening:
            self.stream.publish(_uart_event(item))

    def _module(self, event: ModuleEvent) -> None:
        """A module event listener (module/events.py)."""
        if isinstance(event, UrcEmitted):
            self.publish({"type": "urc", "text": event.framed.decode("latin-1").strip("\r\n")})
        elif isinstance(event, PowerChanged):
            self.publish({"type": "power", "from": event.was, "to": event.now, "why": event.why,
                          "meter": event.meter or event.now})  # fmt: skip

    def summary(self) -> dict[str, Any]:
        """One row of the fleet table."""
        modem = self.modem
        energy = modem.power.energy.summary(modem.clock.now())
        return {
            "place": self.place,
            "model": modem.model.name,
            "powered": modem.powered,
            "attached": modem.radio.attached,
            "power": modem.power.state.value,
            "sockets": sum(1 for sock in modem.sockets.table if sock is not None),
            "uart_bytes": dict(self.uart_bytes),
            "errors": self.errors,
            "mah": round(energy.total_mah, 6),
        }
