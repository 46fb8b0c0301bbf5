"""The recording format: ``session.jsonl``, one JSON object a line, and how to read it.

Every line has ``type``, ``t`` (wall clock, seconds since the epoch) and ``mt``
(module time in seconds; a tap's seconds since it began).  The types:

- ``session`` (first): ``format`` ("bc66sim-recording"), ``version``, ``source``
  ("serve" or "tap"), ``model``;
- ``at``: ``dir`` ("to_module": the host wrote it; "to_host": the module did) and
  ``data``, the bytes exactly, one code point per byte (latin-1);
- ``urc``: ``text``, a URC the module said (its bytes are also in an ``at`` line);
- ``host``: ``event`` ("connected"): a host opened the UART (replay times from here);
- ``power``: ``from``, ``to``, ``why`` (module/power.py's states) and ``meter`` (the
  energy meter's name for the new state: "edrx" for idle with eDRX);
- ``net``: ``event`` (``open``, ``open-failed``, ``send``, ``receive``, ``close``,
  ``peer-closed``, ``reset``, ``dns``, ``ping``, ``ntp``), ``flow`` (a number per
  connection), ``proto``, ``local``, ``remote``, ``bytes`` and what else it has;
- ``link``: ``in_service``, ``rsrp``, ``sinr``, ``ecl``;
- ``fault``: ``name``, ``body`` (the control plane's request);
- ``end`` (last, when the session ended cleanly).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FORMAT = "bc66sim-recording"
VERSION = 1
JSONL = "session.jsonl"
PCAPNG = "session.pcapng"


class RecordingError(Exception):
    """A file that is not a readable recording: one line for the user."""


@dataclass
class Recording:
    """A recording's events, in order."""

    path: Path
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def header(self) -> dict[str, Any]:
        return self.events[0]

    def uart(self) -> Iterator[tuple[str, bytes, float]]:
        """The AT bytes: (direction, bytes, wall time) in order."""
        for event in self.events:
            if event["type"] == "at":
                yield event["dir"], event["data"].encode("latin-1"), event["t"]

    def host_bytes(self) -> bytes:
        """Everything the module wrote to the host, joined."""
        return b"".join(data for direction, data, _ in self.uart() if direction == "to_host")


def read(path: Path) -> Recording:
    """A recording from its directory or its ``session.jsonl``."""
    file = path / JSONL if path.is_dir() else path
    recording = Recording(file)
    try:
        with open(file, encoding="utf-8") as lines:
            for number, line in enumerate(lines, 1):
                if not line.strip():
                    continue
                try:
                    event = json.loads(line)
                except ValueError as exc:
                    if not line.endswith("\n"):
                        break  # the last line of a session that was cut off
                    raise RecordingError(f"{file}:{number}: not JSON: {exc}") from None
                _check(file, number, event)
                recording.events.append(event)
    except OSError as exc:
        raise RecordingError(f"{file}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise RecordingError(f"{file}: not UTF-8 text: {exc}") from None
    if not recording.events or recording.events[0].get("format") != FORMAT:
        raise RecordingError(f"{file}: not a bc66sim recording (no session line first)")
    if recording.header.get("version") != VERSION:
        raise RecordingError(f"{file}: recording version {recording.header.get('version')}; "
                             f"this bc66sim reads version {VERSION}")  # fmt: skip
    return recording


def _check(file: Path, number: int, event: Any) -> None:
    where = f"{file}:{number}"
    if not isinstance(event, dict) or not isinstance(event.get("type"), str):
        raise RecordingError(f"{where}: not an event (an object with a type)")
    if not isinstance(event.get("t"), int | float):
        raise RecordingError(f"{where}: no time (t)")
    if event["type"] == "at":
        if event.get("dir") not in ("to_module", "to_host") or not isinstance(
            event.get("data"), str
        ):
            raise RecordingError(f"{where}: an at event needs dir and data")
        try:
            event["data"].encode("latin-1")
        except UnicodeEncodeError:
            raise RecordingError(f"{where}: data is not bytes (latin-1)") from None
