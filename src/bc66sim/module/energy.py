"""What the module's life costs in charge: time and mAh in each power state.

The module tells the meter which state it is in (:class:`~bc66sim.module.power.Power`)
and how many bytes it sent and received; the meter integrates current over module
time.  Transmit and receive time are estimated from the bytes at Cat-NB1 rates
(about 62 kbit/s up and 26 kbit/s down: the figures issue 12's link profiles use)
and taken out of the connected time they happened in.

Default currents (mA), :class:`Currents`: the BC66 hardware design's current table
was not available to us (its PSM row reads "TBD" in the version we could read), so
these are typical NB-IoT module figures, marked as assumptions, except deep sleep,
whose ~4 µA is what Quectel's BC65 hardware design (same MT2625 platform family)
states.  Every figure can be set (``ModemConfig.currents``); a firmware team
should put in what it measured on its board.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: Bits per second of Cat-NB1 (single-tone uplink ~62 kbit/s; downlink ~26 kbit/s).
UPLINK_BPS = 62_000
DOWNLINK_BPS = 26_000


@dataclass(frozen=True)
class Currents:
    """Average current (mA) in each state; see the module docstring for the sources."""

    #: Transmitting at 23 dBm (assumed).
    tx: float = 220.0
    #: Receiving (assumed).
    rx: float = 60.0
    #: RRC connected, neither transmitting nor receiving (assumed).
    connected: float = 6.0
    #: RRC idle, DRX paging every 2.56 s (assumed).
    idle: float = 0.5
    #: RRC idle with eDRX: paging only at the cycle's occasions (assumed).
    edrx: float = 0.1
    #: PSM with the UART awake, light sleep (assumed).
    psm: float = 0.05
    #: PSM in deep sleep: only the 32 kHz RTC runs (BC65 hardware design: ~4 µA).
    deep_sleep: float = 0.004
    #: Powered down (AT+QPOWD) or before power-on.
    off: float = 0.0


#: The battery a life is projected for, unless told (``--battery-mah``).
DEFAULT_BATTERY_MAH = 2400.0

#: The states the meter reports, in this order.
STATES = ("tx", "rx", "connected", "idle", "edrx", "psm", "deep_sleep", "off")


@dataclass
class EnergySummary:
    """Seconds and mAh per state since power-on; the average current and a battery's life."""

    seconds: dict[str, float]
    mah: dict[str, float]

    @property
    def total_seconds(self) -> float:
        return sum(self.seconds.values())

    @property
    def total_mah(self) -> float:
        return sum(self.mah.values())

    @property
    def average_ma(self) -> float:
        hours = self.total_seconds / 3600
        return self.total_mah / hours if hours > 0 else 0.0

    def battery_days(self, capacity_mah: float) -> float | None:
        """How long a battery of ``capacity_mah`` lasts at this average (None: forever)."""
        if self.average_ma <= 0:
            return None
        return capacity_mah / self.average_ma / 24

    def lines(self, capacity_mah: float) -> list[str]:
        """The summary ``bc66sim serve`` prints at exit."""
        rows = [
            f"  {state:<10} {self.seconds[state]:>12.1f} s {self.mah[state]:>12.6f} mAh"
            for state in STATES
            if self.seconds[state] > 0
        ]
        days = self.battery_days(capacity_mah)
        life = "forever" if days is None else f"{days:.0f} days ({days / 365:.1f} years)"
        return [
            f"energy over {self.total_seconds:.1f} s of module time:",
            *rows,
            f"  total {self.total_mah:.6f} mAh, average {self.average_ma * 1000:.1f} µA; "
            f"a {capacity_mah:.0f} mAh battery lasts {life}",
        ]


@dataclass
class EnergyMeter:
    """Integrates the current of the state the module is in over module time."""

    currents: Currents = field(default_factory=Currents)
    state: str = "off"
    #: When the current state began; None until the first one (power-on).
    since: float | None = None
    _seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STATES, 0.0))
    _tx_seconds: float = 0.0
    _rx_seconds: float = 0.0

    def enter(self, state: str, now: float) -> None:
        """The module is in ``state`` from ``now`` on."""
        if self.since is not None:
            self._seconds[self.state] += max(0.0, now - self.since)
        self.state, self.since = state, now

    def sent(self, count: int) -> None:
        self._tx_seconds += count * 8 / UPLINK_BPS

    def received(self, count: int) -> None:
        self._rx_seconds += count * 8 / DOWNLINK_BPS

    def summary(self, now: float) -> EnergySummary:
        seconds = dict(self._seconds)
        if self.since is not None:
            seconds[self.state] += max(0.0, now - self.since)
        # Transmitting and receiving happen while connected: take them out of it.
        busy = min(seconds["connected"], self._tx_seconds + self._rx_seconds)
        share = busy / (self._tx_seconds + self._rx_seconds) if busy else 0.0
        seconds["tx"], seconds["rx"] = self._tx_seconds * share, self._rx_seconds * share
        seconds["connected"] -= busy
        mah = {state: seconds[state] * getattr(self.currents, state) / 3600 for state in STATES}
        return EnergySummary(seconds, mah)
