"""How a firmware or host team tests its own code against bc66sim in CI.

    pip install bc66sim && pytest examples/test_with_the_plugin.py

The ``bc66_emulator`` fixture comes with the package (a pytest plugin).
"""

from __future__ import annotations

import pytest
import serial


def send(port: serial.SerialBase, line: bytes) -> bytes:
    """What your firmware's AT layer does, in miniature."""
    port.write(line + b"\r")
    return port.read_until(b"OK\r\n")


def test_modem_identifies_itself(bc66_emulator) -> None:  # type: ignore[no-untyped-def]
    port = serial.serial_for_url(bc66_emulator.url, timeout=2)
    assert b"Quectel_BC66" in send(port, b"ATI")
    port.close()


@pytest.mark.bc66(transport="pty", attach_delay=0.5)
def test_waits_for_attach(bc66_emulator) -> None:  # type: ignore[no-untyped-def]
    port = serial.serial_for_url(bc66_emulator.url, timeout=2)
    assert b"+IP: " in port.read_until(b"+IP: ")
    port.close()
