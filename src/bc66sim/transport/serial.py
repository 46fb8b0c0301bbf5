"""The module's UART on a real serial port: ``--serial DEVICE --baud N``.

pyserial opens and configures the port (baud rate, 8N1, raw); the bytes then
flow through its file descriptor like any other UART link.
"""

from __future__ import annotations

import asyncio

import serial as pyserial

from bc66sim.transport.base import PortError, UartDevice
from bc66sim.transport.fdlink import FdLink
from bc66sim.transport.trace import Trace


class SerialError(PortError):
    """The device could not be opened."""


class SerialPort:
    def __init__(self, device: str, baud: int) -> None:
        self.device = device
        self.baud = baud
        self._port: pyserial.Serial | None = None
        self._link: FdLink | None = None
        self.ended = asyncio.Event()

    async def open(self, modem: UartDevice, trace: Trace) -> str:
        try:
            port = pyserial.Serial(self.device, self.baud, timeout=0, exclusive=True)
        except (pyserial.SerialException, ValueError, OSError) as exc:
            raise SerialError(f"cannot open serial device {self.device}: {exc}") from exc
        self._port = port
        self._link = FdLink(modem, port.fileno(), port.fileno(), trace)
        self._link.start()
        return f"{self.device} @ {self.baud} baud"

    async def close(self) -> None:
        if self._link is not None:
            self._link.stop()
            self._link = None
        if self._port is not None:
            self._port.close()
            self._port = None
