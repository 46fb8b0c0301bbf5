"""Settings the note says are saved to NVRAM, kept in a state file (CLARIFICATIONS §26).

§2.3.12: ``<send_data_format>``, ``<recv_data_format>``, ``<view_mode>`` and
``<show_length_mode>`` are saved to NVRAM; ``<echo_mode>`` is not.  The file is
JSON, written atomically (a temporary file, fsync, rename), so a crash never
leaves half a file.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from dataclasses import asdict, dataclass, fields
from pathlib import Path

log = logging.getLogger(__name__)

STATE_FILE = "nvram.json"


@dataclass
class NvSettings:
    """The NVRAM part of the module's settings, with the note's defaults."""

    send_hex: int = 0
    recv_hex: int = 0
    view_mode: int = 0
    show_length: int = 0


class Nvram:
    """Loads and saves :class:`NvSettings` in ``state_dir`` (None: memory only)."""

    def __init__(self, state_dir: Path | None) -> None:
        self.path = state_dir / STATE_FILE if state_dir is not None else None

    def load(self) -> NvSettings:
        if self.path is None or not self.path.exists():
            return NvSettings()
        try:
            raw = json.loads(self.path.read_text("utf-8"))
        except (OSError, ValueError) as exc:
            log.warning("ignoring unreadable state file %s: %s", self.path, exc)
            return NvSettings()
        settings = NvSettings()
        for item in fields(NvSettings):
            value = raw.get(item.name) if isinstance(raw, dict) else None
            if value in (0, 1):
                setattr(settings, item.name, value)
        return settings

    def save(self, settings: NvSettings) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".nvram-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(asdict(settings), handle, indent=2, sort_keys=True)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
