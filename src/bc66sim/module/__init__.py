"""The emulated module: state, command handlers and URC ordering (DESIGN: ``module/``)."""

from bc66sim.module.modem import Modem, ModemConfig

__all__ = ["Modem", "ModemConfig"]
