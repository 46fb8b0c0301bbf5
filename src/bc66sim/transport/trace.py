"""A readable AT trace (``-v``): direction, time and escaped bytes on stderr."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

log = logging.getLogger("bc66sim.trace")

_ESCAPES = {0x0D: "\\r", 0x0A: "\\n", 0x1A: "<ctrl-z>", 0x1B: "<esc>", 0x5C: "\\\\"}


def escape(data: bytes) -> str:
    """Bytes as text a person can read: printable ASCII as is, the rest escaped."""
    out = []
    for byte in data:
        if byte in _ESCAPES:
            out.append(_ESCAPES[byte])
        elif 0x20 <= byte < 0x7F:
            out.append(chr(byte))
        else:
            out.append(f"\\x{byte:02x}")
    return "".join(out)


#: The trace's directions, as the control plane's feed and recordings name them.
DIRECTIONS = {"host>": "to_module", "<host": "to_host"}

#: Told every chunk that crosses the UART: its direction (``host>`` / ``<host``) and bytes.
TraceListener = Callable[[str, bytes], None]


class TraceFile:
    """``--trace FILE``: the same trace lines as ``-v``, written to a file as they come."""

    def __init__(self, path: str) -> None:
        self._start = time.monotonic()
        self._file = open(path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115 (lives as long as serve)

    def __call__(self, direction: str, data: bytes) -> None:
        self._file.write(f"{time.monotonic() - self._start:9.3f} {direction} {escape(data)}\n")

    def close(self) -> None:
        self._file.close()


class Trace:
    """Logs what crosses the UART, when the ``bc66sim.trace`` logger is enabled, and
    hands it to its listeners (the control plane's live feed)."""

    def __init__(self) -> None:
        self._start = time.monotonic()
        self.listeners: list[TraceListener] = []

    def __call__(self, direction: str, data: bytes) -> None:
        if not data:
            return
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%9.3f %s %s", time.monotonic() - self._start, direction, escape(data))
        for listener in self.listeners:
            listener(direction, data)

    def host_to_module(self, data: bytes) -> None:
        self("host>", data)

    def module_to_host(self, data: bytes) -> None:
        self("<host", data)
