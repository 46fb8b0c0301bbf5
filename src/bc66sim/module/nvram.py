"""Settings the manuals say are saved to NVRAM, kept in a state file (CLARIFICATIONS §26).

§2.3.12: ``<send_data_format>``, ``<recv_data_format>``, ``<view_mode>`` and
``<show_length_mode>`` are saved to NVRAM; ``<echo_mode>`` is not.  The module's
general settings that the AT Commands Manual saves are here too: the default PDN
(``AT+QCGDEFCONT``), bands (``AT+QBAND``, ``AT+QBANDSL``), the radio settings of
``AT+QSPCHSC``, ``AT+QLOCKF`` and ``AT+QCFG``, the event reports of
``AT+QNBIOTEVENT``, ``AT+QATWAKEUP`` and ``AT+QEMMTIMER``, the PSM and eDRX
requests (``AT+CPSMS``, ``AT+CEDRXS``, ``AT+QEDRXCFG``) and the profile ``AT&W``
stores (echo, error format, ``+CEREG`` mode, ``+CTZR``, the UART rate).

The file is JSON, written atomically (a temporary file, fsync, rename), so a
crash never leaves half a file.  A value of the wrong type in it is ignored (the
default stays), so a hand-edited or older file never stops the module.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

log = logging.getLogger(__name__)

STATE_FILE = "nvram.json"
_TEMP_PREFIX, _TEMP_SUFFIX = ".nvram-", ".tmp"


def changed_settings(settings: NvSettings) -> dict[str, object]:
    """The settings that differ from the factory's, by name (what ``serve`` reports)."""
    factory = NvSettings()
    return {f.name: getattr(settings, f.name) for f in fields(NvSettings)
            if getattr(settings, f.name) != getattr(factory, f.name)}  # fmt: skip


@dataclass
class NvSettings:
    """The NVRAM part of the module's settings, with the note's defaults."""

    send_hex: int = 0
    recv_hex: int = 0
    view_mode: int = 0
    show_length: int = 0
    # AT+QCGDEFCONT: the PDN the module attaches with.
    pdp_type: str = "IP"
    apn: str = ""
    # AT+QBAND (empty: the model's default bands), AT+QBANDSL (empty: none preferred).
    bands: list[int] = field(default_factory=list)
    preferred_bands: list[int] = field(default_factory=list)
    # AT+QSPCHSC: the scrambling algorithm (1: the new one, which networks use).
    scrambling: int = 1
    # AT+QLOCKF: [] unlocked, or [EARFCN, EARFCN offset] / [EARFCN, offset, PCI].
    locked_frequency: list[int] = field(default_factory=list)
    # AT+QCFG values that differ from their defaults, by function name.
    qcfg: dict[str, int] = field(default_factory=dict)
    # Event reports.
    nbiot_event: int = 0
    at_wakeup: int = 0
    emm_timer: int = 0
    # AT+CPSMS and AT+CEDRXS / AT+QEDRXCFG requests.
    psm_mode: int = 0
    psm_tau: str = "00100001"
    psm_active: str = "00000101"
    edrx_mode: int = 0
    edrx_value: str = "0010"
    edrx_ptw: str = "0011"
    # The profile AT&W saves and ATZ restores (V.250 §6.1).
    echo: int = 1
    cmee: int = 0
    cereg_mode: int = 0
    ctzr: int = 0
    ipr: int = 115200


class Nvram:
    """Loads and saves :class:`NvSettings` in ``state_dir`` (None: memory only)."""

    def __init__(self, state_dir: Path | None) -> None:
        self.path = state_dir / STATE_FILE if state_dir is not None else None

    def factory_reset(self) -> bool:
        """Forget every saved setting (``serve --factory-reset``); True when there were any."""
        if self.path is None or not self.path.exists():
            return False
        self.path.unlink()
        return True

    def load(self) -> NvSettings:
        if self.path is None:
            return NvSettings()
        self._remove_leftovers()
        if not self.path.exists():
            return NvSettings()
        try:
            raw = json.loads(self.path.read_text("utf-8"))
        except (OSError, ValueError) as exc:
            log.warning("ignoring unreadable state file %s: %s", self.path, exc)
            return NvSettings()
        settings = NvSettings()
        if not isinstance(raw, dict):
            return settings
        for item in fields(NvSettings):
            value = raw.get(item.name)
            if _same_shape(value, getattr(settings, item.name)) and _in_range(item.name, value):
                setattr(settings, item.name, value)
        return settings

    def _remove_leftovers(self) -> None:
        """Temporary files of a save that never finished (the emulator was killed)."""
        assert self.path is not None
        for leftover in self.path.parent.glob(f"{_TEMP_PREFIX}*{_TEMP_SUFFIX}"):
            try:
                leftover.unlink()
                log.info("removed %s, left by an interrupted save", leftover)
            except OSError as exc:
                log.warning("could not remove %s: %s", leftover, exc)

    def save(self, settings: NvSettings) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=_TEMP_PREFIX, suffix=_TEMP_SUFFIX)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(asdict(settings), handle, indent=2, sort_keys=True)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def _same_shape(value: object, default: object) -> bool:
    """``value`` read from the file has the type of the field's default."""
    if isinstance(default, bool) or isinstance(value, bool):
        return False
    if isinstance(default, int):
        return isinstance(value, int)
    if isinstance(default, str):
        return isinstance(value, str)
    if isinstance(default, list):
        return isinstance(value, list) and all(
            isinstance(item, int) and not isinstance(item, bool) for item in value
        )
    if isinstance(default, dict):
        return isinstance(value, dict) and all(
            isinstance(key, str) and isinstance(item, int) and not isinstance(item, bool)
            for key, item in value.items()
        )
    return False


#: Integer settings with a range: a value outside it in the file is ignored.
_RANGES = {
    "send_hex": (0, 1), "recv_hex": (0, 1), "view_mode": (0, 1), "show_length": (0, 1),
    "scrambling": (0, 1), "nbiot_event": (0, 1), "at_wakeup": (0, 1), "emm_timer": (0, 1),
    "psm_mode": (0, 1), "edrx_mode": (0, 2), "echo": (0, 1), "cmee": (0, 2),
    "cereg_mode": (0, 5), "ctzr": (0, 2),
}  # fmt: skip


def _in_range(name: str, value: object) -> bool:
    low, high = _RANGES.get(name, (None, None))
    return low is None or (isinstance(value, int) and low <= value <= high)  # type: ignore[operator]
