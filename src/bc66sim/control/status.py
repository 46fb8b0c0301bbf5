"""The state of the module as JSON: what ``GET /status`` and ``GET /energy`` answer."""

from __future__ import annotations

from typing import Any

from bc66sim.module.modem import Modem
from bc66sim.module.socket import AccessMode, Socket


def status(modem: Modem, battery_mah: float | None = None) -> dict[str, Any]:
    """Module, radio, power, energy, sockets, pins and overrides, in one document."""
    radio = modem.radio
    return {
        "model": modem.model.name,
        "powered": modem.powered,
        #: Module time (seconds): what the power timeline is drawn on.
        "clock": modem.clock.now(),
        "radio": {
            "cfun": radio.cfun,
            "attached": radio.attached,
            "stat": radio.stat,
            "ip": modem.config.ip_address if radio.attached else None,
        },
        "power": {"state": modem.power.state.value},
        "energy": energy(modem, battery_mah),
        "sockets": [_socket(sock) for sock in modem.sockets.table if sock is not None],
        "pins": modem.pins.describe(),
        "overrides": [override.describe() for override in modem.overrides.all()],
        "link": _link(modem),
    }


def energy(modem: Modem, battery_mah: float | None = None) -> dict[str, Any]:
    """The energy meter's summary now: seconds and mAh per power state, and totals; with
    ``battery_mah``, the days such a battery lasts at this average (None: forever)."""
    summary = modem.power.energy.summary(modem.clock.now())
    life = {} if battery_mah is None else {
        "battery_mah": battery_mah, "battery_days": summary.battery_days(battery_mah)
    }  # fmt: skip
    return {
        **life,
        "seconds": summary.seconds,
        "mah": summary.mah,
        "total_seconds": summary.total_seconds,
        "total_mah": summary.total_mah,
        "average_ma": summary.average_ma,
    }


def _socket(sock: Socket) -> dict[str, Any]:
    return {
        "id": sock.connect_id,
        "type": sock.transport.value,
        "state": sock.state.name.lower(),
        "remote": f"{sock.host}:{sock.remote_port}",
        "local_port": sock.flow.local_port if sock.flow is not None else sock.local_port,
        "sent": sock.sent,
        "received": sock.received,
        "buffered_nodes": len(sock.nodes),
        "access_mode": "push" if sock.access_mode is AccessMode.DIRECT_PUSH else "buffer",
    }


def _link(modem: Modem) -> Any:
    """What the link model says of itself (``--network``), if it says anything."""
    describe = getattr(modem.network, "describe", None)
    return describe() if callable(describe) else None
