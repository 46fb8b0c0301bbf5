"""NB-IoT time: RRC, PSM, eDRX and deep sleep, as a BC66 lives them.

Everything here runs on the module's clock (bc66sim.clock), so tests drive hours
of it in milliseconds.  The states, and what moves the module between them::

    CONNECTED --no traffic for rrc_inactivity--> IDLE --T3324 (PSM granted)--> PSM
        ^                                          |                           |
        +---- uplink, paging (downlink), TAU ------+---------------------------+
                                                             PSM <--> DEEP_SLEEP

- **RRC** (27.007 §10.1.31 ``+CSCON``): any uplink (a send, a TCP handshake, DNS,
  ping, NTP) or downlink connects; ``rrc_inactivity`` seconds without traffic
  release the connection.
- **PSM** (TS 24.008 §4.7.2.8, 24.301 §5.3.11): on RRC idle the active timer
  T3324 runs; at its expiry the module is unreachable until it next sends or
  T3412 (the periodic TAU timer, started on RRC idle) expires.  The timers are
  what ``AT+CPSMS`` requested, decoded with their unit bits, unless the network
  grants others (``ModemConfig.psm_grant``).  ``AT+QNBIOTEVENT=1,1`` reports
  ``+QNBIOTEVENT: "ENTER PSM"`` / ``"EXIT PSM"``.
- **eDRX** (27.007 §7.40, TS 24.008 §10.5.5.32): in RRC idle the module listens
  only in the paging time window at the start of each eDRX cycle; downlink waits
  in the network for it.
- **Deep sleep** (BC66 hardware design §3.5; TCP/IP note §2.3.1 note 5): in PSM,
  with ``AT+QSCLK=1``, no TCP socket, and the AT sleep lock released (it holds
  ``AT+QCFG="atlocktime"`` seconds after each command line, ``"initlocktime"``
  after a boot or a wake-up; ``AT+QRELLOCK`` releases it), the module sleeps with
  its UART dead.  Host bytes wake it and are lost (those arriving within
  ``wake_window``); so do T3412's expiry and the PSM_EINT pin (:meth:`psm_eint`).
  ``AT+QCFG="dsevent",1`` reports ``"ENTER DEEPSLEEP"`` / ``"EXIT DEEPSLEEP"``, and
  ``AT+QATWAKEUP=1`` a ``+QATWAKEUP`` line on waking.  What a wake-up resets: the
  settings whose Characteristics row says "invalid after deep-sleep wakeup"
  (``AT+QICFG="echomode"``); UDP sockets, ``AT+QIDNSCFG`` and ``AT+QISWTMD`` stay
  (§2.3.1 note 6).
- **The network holds what it cannot deliver** (§2.4 notes 1-3): downlink for a
  module in PSM, or between paging occasions, waits — UDP datagrams up to
  ``hold_datagrams`` / ``hold_bytes`` and no longer than T3412 (what is dropped is
  logged), TCP in the peer's own flow control (the flow stops being read) — and
  arrives at the next reachability.  No URC comes meanwhile: the URCs of data
  follow the data.

Defaults keep a module that never asks for power saving as it was: PSM and eDRX
are off, so it is always reachable, and only ``+CSCON`` shows RRC.
"""

from __future__ import annotations

import enum
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from bc66sim.at.results import line
from bc66sim.clock import TimerHandle
from bc66sim.module.energy import EnergyMeter
from bc66sim.module.events import PowerChanged
from bc66sim.module.powersave import qcfg_value
from bc66sim.net.base import Transport

if TYPE_CHECKING:
    from bc66sim.module.modem import Modem

log = logging.getLogger(__name__)


class Receiver(Protocol):
    """Whose downlink it is: a socket (module/sockets.py) or an MQTT client's
    connection (module/mqtt/client.py).  The network holds it while the module is
    unreachable and hands it over, in order, when the module can hear it."""

    @property
    def transport(self) -> Transport: ...

    def describe(self) -> str:
        """For the log: ``socket 0``, ``MQTT client 1``."""
        ...

    def on_data(self, data: bytes) -> None: ...

    def on_closed(self) -> None:
        """The peer closed the connection (or the network broke it)."""
        ...

    def hold_reading(self) -> None:
        """The network holds this TCP connection's data: stop reading it for now."""
        ...

    def maybe_resume(self) -> None:
        """The module is reachable again: read again if nothing else holds it back."""
        ...


class PowerState(enum.Enum):
    CONNECTED = "connected"
    IDLE = "idle"
    PSM = "psm"
    DEEP_SLEEP = "deep_sleep"
    OFF = "off"


class PowerEvent(enum.Enum):
    POWER_ON = "power-on"
    CONNECT = "an RRC connection (uplink, paging, TAU, attach)"
    RELEASE = "the RRC release after inactivity"
    ACTIVE_TIMER = "T3324 expired"
    SLEEP = "deep sleep allowed"
    WAKE = "a wake-up from deep sleep"
    DETACH = "the detach"
    POWER_OFF = "power-off"


_S, _E = PowerState, PowerEvent
#: Every change of power state, in one place (as module/socket.py's TRANSITIONS).
TRANSITIONS: dict[tuple[PowerState, PowerEvent], PowerState] = {
    (_S.OFF, _E.POWER_ON): _S.IDLE,
    (_S.IDLE, _E.CONNECT): _S.CONNECTED,
    (_S.PSM, _E.CONNECT): _S.CONNECTED,
    (_S.CONNECTED, _E.RELEASE): _S.IDLE,
    (_S.IDLE, _E.ACTIVE_TIMER): _S.PSM,
    (_S.PSM, _E.SLEEP): _S.DEEP_SLEEP,
    (_S.DEEP_SLEEP, _E.WAKE): _S.PSM,
    **{(state, _E.DETACH): _S.IDLE for state in (_S.CONNECTED, _S.IDLE, _S.PSM, _S.DEEP_SLEEP)},
    **{(state, _E.POWER_OFF): _S.OFF for state in PowerState},
}


class InvalidPowerTransition(Exception):
    """A power event in a state that has no transition for it: a bug of the module."""


#: GPRS timer 3 (T3412 extended; TS 24.008 §10.5.7.4a): unit bits -> seconds.
T3412_UNITS = {0b000: 600, 0b001: 3600, 0b010: 36000, 0b011: 2, 0b100: 30, 0b101: 60,
               0b110: 1_152_000}  # fmt: skip
#: GPRS timer 2 (T3324; TS 24.008 §10.5.7.3): unit bits -> seconds; others are minutes.
T3324_UNITS = {0b000: 2, 0b001: 60, 0b010: 360}
_DEACTIVATED = 0b111
#: eDRX cycles of NB-S1 (TS 24.008 Table 10.5.5.32), seconds; other codes mean 20.48 s.
EDRX_CYCLES = {0b0010: 20.48, 0b0011: 40.96, 0b0101: 81.92, 0b1001: 163.84, 0b1010: 327.68,
               0b1011: 655.36, 0b1100: 1310.72, 0b1101: 2621.44, 0b1110: 5242.88,
               0b1111: 10485.76}  # fmt: skip
#: The NB-S1 paging time window is 2.56 s times (value + 1) (TS 24.008 §10.5.5.32).
PTW_STEP = 2.56


def t3412_seconds(bits: str) -> float | None:
    """The periodic TAU timer an 8-bit GPRS timer 3 value means; None when deactivated."""
    unit, value = int(bits[:3], 2), int(bits[3:], 2)
    return None if unit == _DEACTIVATED else float(value * T3412_UNITS[unit])


def t3324_seconds(bits: str) -> float | None:
    """The active timer an 8-bit GPRS timer 2 value means; None when deactivated."""
    unit, value = int(bits[:3], 2), int(bits[3:], 2)
    return None if unit == _DEACTIVATED else float(value * T3324_UNITS.get(unit, 60))


def edrx_cycle(bits: str) -> float:
    return EDRX_CYCLES.get(int(bits, 2), EDRX_CYCLES[0b0010])


def paging_window(bits: str) -> float:
    return PTW_STEP * (int(bits, 2) + 1)


@dataclass(frozen=True)
class PowerConfig:
    """What the emulator's user sets about NB-IoT time (the host cannot)."""

    #: Seconds without traffic before the network releases the RRC connection.
    rrc_inactivity: float = 20.0
    #: Seconds a TAU with nothing to send keeps the module connected.
    tau_connected: float = 2.0
    #: (T3412-ext, T3324) the network grants instead of what was requested.
    psm_grant: tuple[str, str] | None = None
    #: Downlink the network keeps for an unreachable module (UDP; TCP waits in TCP).
    hold_datagrams: int = 8
    hold_bytes: int = 4096
    #: Seconds after the byte that woke the module from deep sleep during which
    #: host bytes are still lost (the UART is coming up).
    wake_window: float = 0.1


@dataclass
class _Held:
    sock: Receiver
    data: bytes | None  # None: the peer closed
    since: float


class Power:
    """The module's NB-IoT power states; see the module docstring."""

    def __init__(self, modem: Modem, config: PowerConfig) -> None:
        self._modem = modem
        self.config = config
        self.state: PowerState = PowerState.OFF
        self.energy = EnergyMeter(currents=modem.config.currents)
        self._held: deque[_Held] = deque()
        self._held_bytes = 0
        self._timers: dict[str, TimerHandle] = {}
        self._waking_until: float | None = None
        #: The AT sleep lock holds until then (module time); set by every command line.
        self._lock_until = 0.0
        #: The RRC connection is released then, unless traffic comes first.
        self._idle_after = 0.0
        #: When the armed timers named "inactivity" and "lock" are due.
        self._due: dict[str, float] = {}
        self._edrx_epoch = 0.0

    # -- state ---------------------------------------------------------------------

    @property
    def rrc_connected(self) -> bool:
        return self.state is PowerState.CONNECTED

    @property
    def asleep(self) -> bool:
        """Deep sleep: the UART is dead."""
        return self.state is PowerState.DEEP_SLEEP

    def _handle(self, event: PowerEvent) -> None:
        """Move to the state :data:`TRANSITIONS` gives; the meter follows."""
        state = TRANSITIONS.get((self.state, event))
        if state is None:
            raise InvalidPowerTransition(f"{event.value} while {self.state.value}")
        if state is self.state:
            return
        was, self.state = self.state, state
        now = self._modem.clock.now()
        label = state.value
        if state is PowerState.IDLE and self._edrx_on:
            label = "edrx"
        self.energy.enter(label, now)
        log.debug("power: %s -> %s (%s)", was.value, state.value, event.value)
        self._modem.events.publish(PowerChanged(was.value, state.value, event.value, label))

    def _arm(self, name: str, delay: float | None, callback: Callable[[], None]) -> None:
        """(Re)arm the timer ``name``; ``delay`` None leaves it unarmed (a timer deactivated)."""
        self._cancel(name)
        if delay is not None:
            self._timers[name] = self._modem.clock.call_later(max(0.0, delay), callback)

    def _cancel(self, *names: str) -> None:
        for name in names:
            timer = self._timers.pop(name, None)
            if timer is not None:
                timer.cancel()

    def granted(self) -> tuple[str, str] | None:
        """(T3412-ext, T3324) as granted: the request, or the network's own choice."""
        nv = self._modem.nv
        if nv.psm_mode != 1:
            return None
        return self.config.psm_grant or (nv.psm_tau, nv.psm_active)

    @property
    def _edrx_on(self) -> bool:
        return self._modem.nv.edrx_mode in (1, 2)

    # -- lifecycle -----------------------------------------------------------------

    def power_on(self) -> None:
        self._handle(PowerEvent.POWER_ON)
        self._hold_lock(self._lock_seconds("initlocktime"))

    def power_off(self) -> None:
        self._cancel(*list(self._timers))
        self._drop_held("the module powered down")
        self._waking_until = None
        self._handle(PowerEvent.POWER_OFF)

    def attached(self) -> None:
        """Registration is an RRC connection; it is released like any other."""
        self._connect()

    def leaving_service(self) -> None:
        """A detach is coming: a sleeping module wakes (its UART must say so), and a
        detach ends PSM."""
        if self.state is PowerState.DEEP_SLEEP:
            self._wake("the detach")
        if self.state is PowerState.PSM:
            self._event('"EXIT PSM"')

    def detached(self) -> None:
        was_connected = self.rrc_connected
        self._cancel("inactivity", "t3324", "t3412", "paging")
        self._drop_held("the network detached the module")
        if self.state is not PowerState.OFF:
            self._handle(PowerEvent.DETACH)
        if was_connected:
            self._cscon(0)

    # -- traffic -------------------------------------------------------------------

    def uplink(self, count: int = 0) -> None:
        """The module sends (``count`` bytes; 0 for signalling: a handshake, a lookup)."""
        if not self._modem.radio.attached:
            return
        self.energy.sent(count)
        self._connect()

    def downlink(self, sock: Receiver, data: bytes | None) -> None:
        """Data (or the peer's close: None) for ``sock`` reached the network."""
        if self._reachable_now():
            self._connect()
            self._deliver(_Held(sock, data, self._modem.clock.now()))
            return
        self._hold(_Held(sock, data, self._modem.clock.now()))

    def settings_changed(self) -> None:
        """New PSM or eDRX requests: the module asks the network in a tracking area update."""
        if self._modem.radio.attached and self.state in (PowerState.IDLE, PowerState.PSM):
            self._connect()
            self._restart_inactivity(self.config.tau_connected)

    def holding(self, sock: Receiver) -> bool:
        """Downlink for ``sock`` waits in the network (its flow must not be read)."""
        return any(item.sock is sock for item in self._held)

    def _reachable_now(self) -> bool:
        if self.state is PowerState.CONNECTED:
            return True
        if self.state is not PowerState.IDLE or not self._modem.radio.attached:
            return False
        if not self._edrx_on:
            return True  # DRX: paged within its 2.56 s cycle
        cycle = edrx_cycle(self._modem.nv.edrx_value)
        into = (self._modem.clock.now() - self._edrx_epoch) % cycle
        return into < paging_window(self._modem.nv.edrx_ptw)

    def _hold(self, item: _Held) -> None:
        if item.data is not None and item.sock.transport is Transport.UDP:
            full = (len([i for i in self._held if i.sock.transport is Transport.UDP])
                    >= self.config.hold_datagrams
                    or self._held_bytes + len(item.data) > self.config.hold_bytes)  # fmt: skip
            if full:
                log.warning("%s: the network dropped a datagram of %d bytes for the "
                            "unreachable module (it holds %d datagrams, %d bytes at most)",
                            item.sock.describe(), len(item.data), self.config.hold_datagrams,
                            self.config.hold_bytes)  # fmt: skip
                return
        self._held.append(item)
        if item.data is not None:
            self._held_bytes += len(item.data)
        if item.sock.transport is Transport.TCP:
            item.sock.hold_reading()
        log.info("%s: downlink held in the network (module %s)",
                 item.sock.describe(), self.state.value)  # fmt: skip

    def _deliver(self, item: _Held) -> None:
        if item.data is None:
            item.sock.on_closed()
            return
        self.energy.received(len(item.data))
        self._restart_inactivity()
        item.sock.on_data(item.data)

    def _flush_held(self) -> None:
        """The module is reachable: what the network held arrives, in order."""
        limit = self._t3412()
        now = self._modem.clock.now()
        held, self._held, self._held_bytes = self._held, deque(), 0
        for item in held:
            if (limit is not None and item.data is not None and now - item.since > limit
                    and item.sock.transport is Transport.UDP):  # fmt: skip
                log.warning("%s: the network dropped a datagram held longer than T3412",
                            item.sock.describe())  # fmt: skip
                continue
            self._deliver(item)
        for sock in {id(item.sock): item.sock for item in held}.values():
            sock.maybe_resume()

    def _drop_held(self, why: str) -> None:
        if self._held:
            log.info("downlink held for the module dropped: %s", why)
        self._held.clear()
        self._held_bytes = 0

    # -- RRC -----------------------------------------------------------------------

    def _connect(self) -> None:
        if self.state is PowerState.OFF:
            return
        if self.state is PowerState.DEEP_SLEEP:
            self._wake("network activity")
        if self.state is PowerState.PSM:
            self._event('"EXIT PSM"')
        if self.state is not PowerState.CONNECTED:
            self._cancel("t3324", "t3412", "paging")  # 24.301: stopped in connected mode
            self._handle(PowerEvent.CONNECT)
            self._cscon(1)
        self._restart_inactivity()
        if self._held:
            self._flush_held()

    def _restart_inactivity(self, seconds: float | None = None) -> None:
        """Traffic: the release moves to ``seconds`` from now.  Only a deadline (a float)
        moves on each packet; the one timer is re-armed when it fires early, not per
        packet (this runs for every send and every read)."""
        if self.state is not PowerState.CONNECTED:
            return
        self._idle_after = self._modem.clock.now() + (seconds or self.config.rrc_inactivity)
        self._arm_by("inactivity", self._idle_after, self._released)

    def _arm_by(self, name: str, when: float, callback: Callable[[], None]) -> None:
        """Make sure timer ``name`` fires by ``when`` (module time); one armed later moves."""
        if name not in self._timers or when < self._due[name]:
            self._arm(name, when - self._modem.clock.now(), callback)
            self._due[name] = when

    def _released(self) -> None:
        """The network released the RRC connection: idle, and the PSM timers run."""
        self._timers.pop("inactivity", None)
        if self.state is not PowerState.CONNECTED:
            return
        if self._modem.clock.now() < self._idle_after:  # traffic since it was armed
            self._arm_by("inactivity", self._idle_after, self._released)
            return
        if self._modem.busy:  # a lookup, echo or NTP query still waits for its answer
            self._restart_inactivity()
            return
        self._handle(PowerEvent.RELEASE)
        self._cscon(0)
        self._edrx_epoch = self._modem.clock.now()
        self._arm("t3412", self._t3412(), self._tau)
        granted = self.granted()
        if granted is not None:
            self._arm("t3324", t3324_seconds(granted[1]), self._enter_psm)
        if self._edrx_on:
            self._arm_paging()

    def _t3412(self) -> float | None:
        granted = self.granted()
        return t3412_seconds(granted[0]) if granted is not None else None

    def _arm_paging(self) -> None:
        cycle = edrx_cycle(self._modem.nv.edrx_value)
        into = (self._modem.clock.now() - self._edrx_epoch) % cycle
        self._arm("paging", cycle - into, self._paging_occasion)

    def _paging_occasion(self) -> None:
        """The start of an eDRX paging time window: the network pages what it held."""
        self._timers.pop("paging", None)
        if self.state is not PowerState.IDLE:
            return
        if self._held:
            self._connect()
        else:
            self._arm_paging()

    def _enter_psm(self) -> None:
        self._timers.pop("t3324", None)
        if self.state is not PowerState.IDLE:
            return
        self._cancel("paging")
        self._handle(PowerEvent.ACTIVE_TIMER)
        self._event('"ENTER PSM"')
        self._maybe_deep_sleep()

    def _tau(self) -> None:
        """T3412 expired: a tracking area update, connected briefly."""
        self._timers.pop("t3412", None)
        if self.state is PowerState.OFF or not self._modem.radio.attached:
            return
        log.info("power: T3412 expired, tracking area update")
        if self.state is PowerState.DEEP_SLEEP:
            self._wake("T3412")
        self._connect()
        self._restart_inactivity(self.config.tau_connected)

    def _cscon(self, mode: int) -> None:
        if self._modem.radio.settings.cscon_mode:
            self._modem.emit_urc(line(f"+CSCON: {mode}"))

    def _event(self, text: str) -> None:
        if self._modem.nv.nbiot_event:
            self._modem.emit_urc(line(f"+QNBIOTEVENT: {text}"))

    # -- deep sleep ----------------------------------------------------------------

    def _lock_seconds(self, name: str) -> float:
        return float(qcfg_value(self._modem, name))

    @property
    def _lock_held(self) -> bool:
        return self._modem.clock.now() < self._lock_until

    def _hold_lock(self, seconds: float) -> None:
        """The sleep lock holds ``seconds`` from now; in PSM, sleep is looked at then."""
        self._lock_until = self._modem.clock.now() + seconds
        if self.state is PowerState.PSM:
            self._arm_by("lock", self._lock_until, self._lock_expired)

    def _lock_expired(self) -> None:
        self._timers.pop("lock", None)
        self._maybe_deep_sleep()

    def command_seen(self) -> None:
        """A command line arrived: the AT sleep lock holds the module awake a while."""
        if self.state is not PowerState.OFF:
            self._hold_lock(self._lock_seconds("atlocktime"))

    def release_lock(self) -> None:
        """``AT+QRELLOCK``: the module may sleep as soon as it is allowed to (after OK)."""
        self._lock_until = self._modem.clock.now()
        self._arm("lock", 0.0, self._lock_expired)
        self._due["lock"] = self._lock_until

    def _may_deep_sleep(self) -> bool:
        sockets = self._modem.sockets.table
        return (
            self.state is PowerState.PSM
            and self._modem.radio.settings.sclk == 1
            and not self._lock_held
            and not self._modem.busy
            and not any(s is not None and s.transport is Transport.TCP for s in sockets)
            and not self._modem.mqtt.holds_a_connection()
        )

    def _maybe_deep_sleep(self) -> None:
        if not self._may_deep_sleep():
            if self.state is PowerState.PSM and self._lock_held:
                self._arm_by("lock", self._lock_until, self._lock_expired)  # look again then
            return
        if self._dsevent:
            self._modem.emit_urc(line('+QNBIOTEVENT: "ENTER DEEPSLEEP"'))
        self._handle(PowerEvent.SLEEP)

    @property
    def _dsevent(self) -> bool:
        return qcfg_value(self._modem, "dsevent") == 1

    def host_input(self) -> bool:
        """Bytes from the host: False when they are lost (deep sleep, waking up)."""
        if self.state is not PowerState.DEEP_SLEEP and self._waking_until is None:
            return True  # every chunk of input comes here: the common case first
        now = self._modem.uart_clock.now()
        if self.state is PowerState.DEEP_SLEEP:
            log.info("power: host bytes woke the module from deep sleep; they are lost")
            self._waking_until = now + self.config.wake_window
            self._wake("the UART")
            return False
        if self._waking_until is not None:
            if now < self._waking_until:
                return False
            self._waking_until = None
        return True

    def psm_eint(self) -> None:
        """A falling edge on PSM_EINT: wake from deep sleep."""
        if self.state is PowerState.DEEP_SLEEP:
            self._wake("PSM_EINT")

    def _wake(self, why: str) -> None:
        """Out of deep sleep, still in PSM: what the wake-up resets, then its URCs."""
        log.info("power: woken from deep sleep by %s", why)
        self._handle(PowerEvent.WAKE)
        self._modem.wake_from_deep_sleep()
        if self._dsevent:
            self._modem.emit_urc(line('+QNBIOTEVENT: "EXIT DEEPSLEEP"'))
        if self._modem.nv.at_wakeup:
            self._modem.emit_urc(line("+QATWAKEUP"))
        self._hold_lock(self._lock_seconds("initlocktime"))

    def socket_closed(self) -> None:
        """A TCP socket was freed: deep sleep may now be allowed."""
        if self.state is PowerState.PSM:
            self._arm_by("lock", self._modem.clock.now(), self._lock_expired)
