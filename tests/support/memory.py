"""A module on :class:`MemoryNetwork` and :class:`ManualClock`: no sockets, no waiting.

Module time moves only when a test calls :meth:`MemoryModule.advance`, so a
minute of open timeout or an hour of attach delay costs nothing.
"""

from __future__ import annotations

from bc66sim.clock import ManualClock
from bc66sim.module.modem import Modem, ModemConfig
from bc66sim.net.memory import MemoryNetwork


class MemoryModule:
    """An attached module with echo off; ``out`` is everything it said since last taken."""

    def __init__(self, **config: object) -> None:
        self.clock = ManualClock()
        self.network = MemoryNetwork(self.clock)
        settings = {"attach_delay": 1.0} | config
        self.modem = Modem(self.network, config=ModemConfig(**settings), clock=self.clock)  # type: ignore[arg-type]
        self.out = bytearray()
        self.modem.attach_output(self.out.extend)

    async def start(self) -> MemoryModule:
        self.modem.power_on()
        await self.clock.advance(self.modem.config.attach_delay)
        self.modem.receive_data(b"ATE0\r\n")
        self.take()
        return self

    def take(self) -> bytes:
        data = bytes(self.out)
        self.out.clear()
        return data

    async def command(self, line: str) -> bytes:
        """Send a line (CR LF); what the module answered at once."""
        self.take()
        self.modem.receive_data(line.encode("latin-1") + b"\r\n")
        await self.clock.advance(0)
        return self.take()

    async def advance(self, seconds: float) -> bytes:
        """Let ``seconds`` of module time pass; what the module said meanwhile."""
        await self.clock.advance(seconds)
        return self.take()

    async def close(self) -> None:
        await self.modem.close()
