"""The peer: pyatcommand's AtServer (PyPI) answering AT and AT+QISTATE? on a serial port.

    python bench/peer_pyatcommand.py DEVICE   -> prints "ready on DEVICE"

The bench makes a pty pair, passes the slave's path here (opened with pyserial, as
AtServer expects) and talks through the master.  AtServer 0.5.3 has no public way
to attach a port and its start() only runs after a stop(); its handler lookup
subscripts the handler (``handler[operation]``) after checking
``hasattr(handler, operation)``, so a registered AtCommand raises TypeError.  We
attach the port, run its listener loop ourselves and register handlers that
satisfy both checks: its own processing path, unchanged.
"""

from __future__ import annotations

import sys
import threading

from pyatcommand import AtServer
from pyatcommand.common import AtErrorCode
from serial import Serial


class _Handler(dict):  # type: ignore[type-arg]
    def __init__(self, **operations: object) -> None:
        super().__init__(operations)
        self.__dict__.update(operations)


def main(device: str) -> None:
    server = AtServer()
    server.echo = False
    server._serial = Serial(device, 115200, timeout=0)

    def ok(params: object) -> tuple[AtErrorCode, None]:
        return AtErrorCode.OK, None

    server._commands["AT"] = _Handler(run=ok)
    server._commands["AT+QISTATE"] = _Handler(read=ok)
    threading.Thread(target=server._run, daemon=True).start()
    print(f"ready on {device}", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main(sys.argv[1])
