"""What the module does, as small typed events for whoever listens (STYLE §15).

The module publishes on :attr:`Modem.events <bc66sim.module.modem.Modem.events>`;
readers (the control plane's live feed, a recorder) subscribe.  Publishing costs
nothing while nobody listens, and a listener that fails is logged, never allowed
to break the module.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class UrcEmitted:
    """The module said a URC (framed, ``\\r\\n<text>\\r\\n``); it may still wait in
    the queue behind a response or data mode (``Modem.emit_urc``)."""

    framed: bytes


@dataclass(frozen=True, slots=True)
class PowerChanged:
    """The power state changed (module/power.py's table): ``was`` -> ``now``."""

    was: str
    now: str
    why: str
    #: What the energy meter calls the new state: ``now``, or "edrx" for idle with
    #: eDRX on (the dashboard's timeline shows it apart).
    meter: str = ""


@dataclass(frozen=True, slots=True)
class HostConnected:
    """A host opened the UART's pty or connected to its TCP port: a recording's replay
    begins its timing there (recording/replay.py)."""


ModuleEvent = UrcEmitted | PowerChanged | HostConnected
Listener = Callable[[ModuleEvent], None]


class EventHub:
    """Listeners of one module's events."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` with every event from now on; returns the unsubscribe."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def publish(self, event: ModuleEvent) -> None:
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:
                log.exception("a listener of module events failed")
