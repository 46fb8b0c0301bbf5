"""``--record DIR``: one session as JSON lines and as pcapng, written as it happens.

``DIR/session.jsonl`` is the recording (format.py says what each line holds):
every chunk of AT bytes each way, URCs, power changes, the module's network
events (flows opened, data each way, closes, DNS, echo, NTP), link conditions
and faults, each with the wall time (``t``) and module time (``mt``).  Replay
and diff read it.  ``DIR/session.pcapng`` holds the same session for Wireshark
(pcap.py): the module's IP packets beside its AT lines and events.

A recorder is told things (it is a trace listener, a module event listener, a
link conditions listener, and what :class:`RecordingNetwork` calls); it never
changes what the module does.  A write that fails (a full disk) stops the
recording with one log line; the module goes on.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bc66sim.clock import Clock
from bc66sim.module.events import HostConnected, ModuleEvent, PowerChanged, UrcEmitted
from bc66sim.net.base import LinkConditions
from bc66sim.recording import pcap
from bc66sim.recording.format import FORMAT, JSONL, PCAPNG, VERSION
from bc66sim.transport.trace import DIRECTIONS

log = logging.getLogger(__name__)


class Recorder:
    """Writes one session into ``directory``; :meth:`close` ends it."""

    def __init__(self, directory: Path, *, source: str, model: str = "",
                 clock: Clock | None = None, application: str = "bc66sim") -> None:  # fmt: skip
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self._clock = clock
        self._start = time.monotonic()
        self._jsonl = open(directory / JSONL, "w", encoding="utf-8")  # noqa: SIM115 (lives as long as the session)
        self._pcap = pcap.PcapFile(open(directory / PCAPNG, "wb"), application=application)  # noqa: SIM115
        self.failed = False
        self._no_packets = False
        self.event("session", format=FORMAT, version=VERSION, source=source, model=model)

    def module_time(self) -> float:
        """Module time, or the seconds since the recording began (a tap has no module)."""
        return self._clock.now() if self._clock is not None else time.monotonic() - self._start

    # -- writing ----------------------------------------------------------------------

    def event(self, kind: str, summary: str | None = None, **fields: Any) -> None:
        """One JSON line; unless it is AT bytes, a line on the pcapng's ``events`` too
        (``summary``, or the fields)."""
        if self.failed:
            return
        now = time.time()
        record = {"type": kind, "t": round(now, 6), "mt": round(self.module_time(), 6), **fields}
        try:
            self._jsonl.write(json.dumps(record) + "\n")
            if kind != "at":
                line = summary or f"{kind}: " + json.dumps(fields)
                self._pcap.packet(pcap.EVENTS, pcap.event_pdu(line, warning=kind == "fault"),
                                  now, comment=line)  # fmt: skip
            self._jsonl.flush()
            self._pcap.flush()
        except (OSError, ValueError) as exc:
            self._fail(exc)

    def build(self, make: Callable[[], list[bytes]]) -> list[bytes]:
        """``make()``'s packets; none if it fails, and no packets from then on: a packet
        that cannot be built (a bug) must never break what the module is doing."""
        if self.failed or self._no_packets:
            return []
        try:
            return make()
        except Exception:
            self._no_packets = True
            log.exception("the recording in %s goes on without IP packets", self.directory)
            return []

    def packets(self, make: Callable[[], list[bytes]], *, inbound: bool,
                when: float | None = None) -> None:  # fmt: skip
        """IP packets on the radio (towards the module when ``inbound``), built by ``make``
        (see :meth:`build`)."""
        direction = pcap.INBOUND if inbound else pcap.OUTBOUND
        try:
            for packet in self.build(make):
                self._pcap.packet(pcap.RADIO, packet, when or time.time(), direction=direction)
        except (OSError, ValueError) as exc:
            self._fail(exc)

    def hold(self) -> None:
        """A packet with an earlier time will follow (pcap.py)."""
        self._pcap.hold()

    def release(self) -> None:
        self._pcap.release()

    def _fail(self, exc: Exception) -> None:
        self.failed = True
        log.error("the recording in %s stopped: %s", self.directory, exc)

    def close(self) -> None:
        self.event("end")
        for stream in (self._jsonl, self._pcap):
            try:
                stream.close()
            except OSError as exc:
                self._fail(exc)

    # -- what it listens to ------------------------------------------------------------

    def uart(self, direction: str, data: bytes) -> None:
        """A trace listener (transport/trace.py): the AT bytes, exactly, each way."""
        name = DIRECTIONS.get(direction, direction)
        # latin-1: one code point per byte, so the JSON string is the bytes exactly.
        self.event("at", dir=name, data=data.decode("latin-1"))
        if self.failed:
            return
        try:
            self._pcap.packet(
                pcap.UART,
                pcap.upper_pdu("at", data),
                time.time(),
                direction=pcap.INBOUND if name == "to_module" else pcap.OUTBOUND,
            )
        except (OSError, ValueError) as exc:
            self._fail(exc)

    def module(self, event: ModuleEvent) -> None:
        """A module event listener (module/events.py)."""
        if isinstance(event, UrcEmitted):
            text = event.framed.decode("latin-1").strip("\r\n")
            self.event("urc", f"urc: {text}", text=text)
        elif isinstance(event, HostConnected):
            self.host_connected()
        elif isinstance(event, PowerChanged):
            self.event("power", f"power: {event.was} -> {event.now} ({event.why})",
                       **{"from": event.was, "to": event.now, "why": event.why,
                          "meter": event.meter or event.now})  # fmt: skip

    def host_connected(self) -> None:
        """A host opened the UART (replay times its steps from here)."""
        self.event("host", "host: connected", event="connected")

    def link(self, conditions: LinkConditions) -> None:
        """The link's conditions changed (net/base.py)."""
        signal = conditions.signal
        self.event("link", f"link: {'in service' if conditions.in_service else 'NO SERVICE'}, "
                           f"RSRP {signal.rsrp} dBm, SINR {signal.sinr} dB, CE {signal.ecl}",
                   in_service=conditions.in_service, rsrp=signal.rsrp, sinr=signal.sinr,
                   ecl=signal.ecl)  # fmt: skip

    def fault(self, name: str, body: dict[str, Any]) -> None:
        """The control plane applied a fault."""
        self.event("fault", f"fault: {name} {json.dumps(body)}", name=name, body=body)
