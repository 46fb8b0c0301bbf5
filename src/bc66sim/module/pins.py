"""The module's control pins and status outputs (BC66 hardware design; issue 12 §2).

Inputs, driven ``high`` or ``low`` (or ``pulse``: low, then high again), idle high:

- ``PWRKEY`` (active low): driven low while the module is off (``AT+QPOWD``), it
  powers on — ``RDY`` and the attach follow.  How long it must be held (the
  hardware design asks for a minimum) is not modelled: every pulse is long enough.
  While the module is on, PWRKEY does nothing.
- ``RESET`` (active low): held low, the module stops where it is (sockets gone,
  nothing said, the UART dead); released, it boots (``RDY``), as ``AT+QRST=1``
  does.  A module that was off stays off.
- ``PSM_EINT``: a falling edge wakes the module from deep sleep (module/power.py).

Outputs, read from the module's state:

- ``VDD_EXT``: ``high`` while the module is powered and not in deep sleep.
- ``NETLIGHT``: what the network status indicator shows, as a state rather than a
  blink pattern: ``off`` (powered off, or the radio not searching), ``searching``,
  ``registered``, or ``psm`` (registered, in PSM or deep sleep: the LED is dark).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bc66sim.module.power import PowerState
from bc66sim.module.radio import SEARCHING

if TYPE_CHECKING:
    from bc66sim.module.modem import Modem

INPUTS = ("PWRKEY", "RESET", "PSM_EINT")
ACTIONS = ("high", "low", "pulse")


class Pins:
    """The levels of the input pins, and the outputs read from the module."""

    def __init__(self, modem: Modem) -> None:
        self._modem = modem
        self.levels = dict.fromkeys(INPUTS, "high")
        #: The module was on when RESET went low: releasing RESET boots it.
        self._reset_while_on = False

    def drive(self, name: str, action: str) -> None:
        """Drive input ``name`` ``high``, ``low`` or ``pulse`` (low, then high).

        Raises ValueError for an unknown pin or action (the caller's mistake).
        """
        if name not in INPUTS:
            raise ValueError(f"unknown pin {name!r}: one of {', '.join(INPUTS)}")
        if action not in ACTIONS:
            raise ValueError(f"unknown action {action!r}: one of {', '.join(ACTIONS)}")
        for level in ("low", "high") if action == "pulse" else (action,):
            self._set(name, level)

    def _set(self, name: str, level: str) -> None:
        was, self.levels[name] = self.levels[name], level
        if was == level:
            return  # no edge
        if level == "low":
            self._falling(name)
        elif name == "RESET" and self._reset_while_on:
            self._reset_while_on = False
            self._modem.power_on()

    def _falling(self, name: str) -> None:
        modem = self._modem
        if name == "PWRKEY" and not modem.powered and self.levels["RESET"] == "high":
            modem.power_on()
        elif name == "RESET" and modem.powered:
            self._reset_while_on = True
            modem.halt()
        elif name == "PSM_EINT" and modem.powered:
            modem.psm_eint()

    @property
    def vdd_ext(self) -> str:
        awake = self._modem.powered and not self._modem.power.asleep
        return "high" if awake else "low"

    @property
    def netlight(self) -> str:
        modem = self._modem
        if not modem.powered:
            return "off"
        if modem.power.state in (PowerState.PSM, PowerState.DEEP_SLEEP):
            return "psm"
        if modem.radio.attached:
            return "registered"
        return "searching" if modem.radio.stat == SEARCHING else "off"

    def describe(self) -> dict[str, dict[str, str]]:
        return {
            "inputs": dict(self.levels),
            "outputs": {"VDD_EXT": self.vdd_ext, "NETLIGHT": self.netlight},
        }
