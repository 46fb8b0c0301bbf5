"""What every transport shares, and the one interface they all have.

A transport moves bytes between a host and :meth:`Modem.receive_data` /
the writer it attaches to the module.  :class:`UartLink` is the part they
share:

- the ``-v`` trace;
- ``--baud`` pacing both ways;
- the output bounds: waiting output past :data:`HIGH_WATER` is reported to the
  module (``Modem.set_output_congested``), and a write that would pass
  :data:`MAX_OUTPUT_BACKLOG` is dropped whole.

A transport only says how bytes reach the host and how much of them still waits.
:class:`Port` is what ``cli.py`` and ``fleet.py`` see of any transport.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Protocol

from bc66sim.transport.pacing import Pacer
from bc66sim.transport.trace import Trace

log = logging.getLogger(__name__)

#: Waiting output at which the module is told to hold back, and at which it may go on.
HIGH_WATER = 256 * 1024
LOW_WATER = 64 * 1024
#: Bytes of module output kept at most while the host does not read.
MAX_OUTPUT_BACKLOG = 1024 * 1024


class UartDevice(Protocol):
    """The far side of the UART, as a transport sees it: the emulated module
    (:class:`~bc66sim.module.modem.Modem`), or a recording played back
    (recording/replay.py), or a tap's real module (recording/tap.py)."""

    def receive_data(self, data: bytes) -> None:
        """Bytes the host sent."""
        ...

    def attach_output(self, writer: Callable[[bytes], None] | None) -> None:
        """Where its bytes for the host go; None: nowhere (no host)."""
        ...

    def set_output_congested(self, source: str, congested: bool) -> None:
        """The host does not keep up (True) or does again (False): hold back output."""
        ...

    def host_connected(self) -> None:
        """A host opened the port (a pty) or connected (TCP)."""
        ...


class PortError(Exception):
    """A port that cannot be used: one clear line for the user (exit code 2)."""


class Port(Protocol):
    """One way into the UART: ``--pty``, ``--tcp``, ``--serial`` or ``--stdio``."""

    #: Set when the host side ended for good (end of standard input); never for the others.
    ended: asyncio.Event

    async def open(self, modem: UartDevice, trace: Trace) -> str:
        """Start serving ``modem``; where the UART is, for the "ready on" line.

        Raises :class:`PortError`.
        """
        ...

    async def close(self) -> None:
        """Stop serving; what the module wrote is handed on if it can be."""
        ...


class UartLink:
    """The module's side of one host connection: trace, pacing and output bounds.

    ``deliver`` hands bytes to the host (a write, or a buffer the transport
    drains) and ``waiting`` says how many of them still wait for the host.  The
    transport calls :meth:`from_host` with what the host sent, and either
    :meth:`output_changed` after its waiting output changed (it counts) or
    :meth:`set_congested` (its I/O layer tells it, as asyncio's
    ``pause_writing`` / ``resume_writing`` do).
    """

    def __init__(
        self,
        modem: UartDevice,
        trace: Trace,
        deliver: Callable[[bytes], None],
        waiting: Callable[[], int],
        baud: int | None,
    ) -> None:
        self._modem = modem
        self._trace = trace
        self._deliver = deliver
        self._waiting = waiting
        self._to_modem: Callable[[bytes], None] = modem.receive_data
        self._to_host: Callable[[bytes], None] = self._write
        self._pacers: list[Pacer] = []
        if baud:
            self._to_modem = Pacer(baud, modem.receive_data)
            self._to_host = Pacer(baud, self._write, self._pacer_congested)
            self._pacers = [self._to_modem, self._to_host]
        self._congested = False
        # Congestion is reported under names of this link's own: a link that is gone
        # (its pacer's last timers) can never clear what a new host's link reported.
        self._sources = (f"uart-{id(self)}", f"pacer-{id(self)}")

    def attach(self) -> None:
        """The module's output goes to this host from now on."""
        self._modem.attach_output(self.to_host)

    def detach(self) -> None:
        """No host any more: output is lost (an unplugged wire) and holds nothing back.

        What the pacers still held is dropped too: the host that sent it is gone, and
        the next host must neither see its answers nor have its commands run.
        """
        self._modem.attach_output(None)
        for pacer in self._pacers:
            pacer.cancel()
        for source in self._sources:
            self._modem.set_output_congested(source, False)

    def from_host(self, data: bytes) -> None:
        self._trace.host_to_module(data)
        self._to_modem(data)

    def to_host(self, data: bytes) -> None:
        self._trace.module_to_host(data)
        self._to_host(data)

    def output_changed(self) -> None:
        """Past high water the module holds back what it can; below low water it goes on."""
        waiting = self._waiting()
        if not self._congested and waiting > HIGH_WATER:
            self.set_congested(True)
        elif self._congested and waiting < LOW_WATER:
            self.set_congested(False)

    def set_congested(self, congested: bool) -> None:
        self._congested = congested
        self._modem.set_output_congested(self._sources[0], congested)

    def _write(self, data: bytes) -> None:
        if self._waiting() + len(data) > MAX_OUTPUT_BACKLOG:
            log.warning("the host is not reading: a write of %d bytes dropped", len(data))
            return
        self._deliver(data)

    def _pacer_congested(self, congested: bool) -> None:
        self._modem.set_output_congested(self._sources[1], congested)
