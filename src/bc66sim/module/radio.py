"""The simulated radio side: power level, attach, registration, RRC state and RTC.

The attach is simulated (CLARIFICATIONS §24–25): after ``attach_delay`` seconds
the module reports itself registered and ``+IP: <address>``.  Detach
(``AT+CFUN=0``, ``AT+CGATT=0``) breaks the PDP context: sockets are closed the way
a real module does it (``+QIURC: "closed"``) and later socket commands fail with
570 / 561.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bc66sim.at.results import line
from bc66sim.clock import TimerHandle
from bc66sim.module.powersave import report_edrx

if TYPE_CHECKING:
    from bc66sim.module.modem import Modem

#: <stat> of +CEREG (3GPP TS 27.007 §10.1.22).
NOT_REGISTERED = 0
REGISTERED_HOME = 1
SEARCHING = 2

#: Serving cell of the simulated network (shown by +CEREG=2..5, +QENG, +COPS).
PLMN = "00101"
TAC = "1A2B"
CELL_ID = "0C3D4E5F"
ACT_NBIOT = 9
#: The RTC before the network has given the time: the module's epoch.
RTC_EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


#: ``AT+CCIOTOPT`` after boot and after ``<n>`` 3: no reports, CP and UP optimisation
#: supported, CP preferred (27.007 §10.1.41).
CIOT_DEFAULT = (0, 3, 1)


@dataclass
class RadioSettings:
    """Volatile 3GPP settings; reset at every boot (the NVRAM ones live in ``Modem.nv``)."""

    cereg_mode: int = 0
    cscon_mode: int = 0
    #: The PDP context 1 (``AT+CGDCONT``); a boot takes it from ``AT+QCGDEFCONT``.
    apn: str = ""
    pdp_type: str = "IP"
    sclk: int = 1
    #: ``AT+QNBIOTRAI``: the release assistance indication of the next uplink.
    rai: int = 0
    #: ``AT+CIPCA=3,<n>``: attach without a PDN connection.
    attach_without_pdn: int = 0
    #: ``AT+CGAUTH`` of context 1: (protocol, user, password).
    auth: tuple[int, str, str] = (0, "", "")
    #: ``AT+CGEREP``: report packet domain events (``+CGEV``).
    cgerep: int = 0
    #: ``AT+CCIOTOPT``: <n> (URC reporting), the UE's supported and preferred optimisations.
    ciot: tuple[int, int, int] = CIOT_DEFAULT


class Radio:
    """Power level (``+CFUN``), attach (``+CGATT``) and registration of the module."""

    def __init__(self, modem: Modem) -> None:
        self._modem = modem
        self.settings = RadioSettings()
        self.cfun = 1
        self.want_attach = True
        self.attached = False
        self._timer: TimerHandle | None = None
        self._reported_in_service = True
        #: Offset of the module's RTC from the host's clock, once the network gave time.
        self._rtc_offset: dt.timedelta | None = None
        self._rtc_booted = 0.0  # set at power-on, from module time
        #: The RTC's time zone in quarter hours (±zz of +CCLK).
        self.tz_quarters = 0
        #: A coverage loss (net/link.py) takes the module out of service meanwhile.
        modem.network.conditions.subscribe(self._conditions_changed)

    # -- lifecycle -------------------------------------------------------------------

    def power_on(self) -> None:
        nv = self._modem.nv
        self.settings = RadioSettings(apn=nv.apn, pdp_type=nv.pdp_type)
        self.cfun = 1
        self.want_attach = True
        self.attached = False
        self._rtc_offset = None
        self._rtc_booted = self._modem.clock.now()
        self._schedule_attach()

    def power_off(self) -> None:
        self._cancel_timer()
        self.attached = False

    @property
    def sim_ready(self) -> bool:
        """``AT+CFUN=0`` (minimum functionality) switches the (U)SIM off too."""
        return self.cfun != 0

    @property
    def bands(self) -> list[int]:
        """The bands searched (``AT+QBAND``): the NVRAM list or the model's default.

        Only bands of this model's radio count: a state file written for the other
        model (``--model``) keeps its list, but a band this radio lacks is not searched.
        """
        model = self._modem.model
        searched = [band for band in self._modem.nv.bands if band in model.bands]
        return searched or list(model.default_bands)

    @property
    def preferred_bands(self) -> list[int]:
        """The bands searched first (``AT+QBANDSL``), of those searched at all."""
        searched = self.bands
        return [band for band in self._modem.nv.preferred_bands if band in searched]

    @property
    def serving_band(self) -> int:
        """The band of the serving cell: the first preferred one, else the first searched."""
        return (self.preferred_bands or self.bands)[0]

    @property
    def in_service(self) -> bool:
        """Registered, and the cell is there (no coverage loss)."""
        return self.attached and self._modem.network.conditions.in_service

    def _conditions_changed(self) -> None:
        """Coverage lost or back: ``+CEREG`` says so (2: searching, then 1 again); an
        attach that waited for a cell goes on."""
        in_service = self._modem.network.conditions.in_service
        if self.attached and in_service != self._reported_in_service:
            self._report_registration()
        elif in_service and self._modem.powered and not self.attached and self._timer is None:
            self._schedule_attach()

    @property
    def stat(self) -> int:
        if self.attached and not self._modem.network.conditions.in_service:
            return SEARCHING
        if self.attached:
            return REGISTERED_HOME
        if self.cfun == 1 and self.want_attach and self._modem.powered:
            return SEARCHING
        return NOT_REGISTERED

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _schedule_attach(self) -> None:
        self._cancel_timer()
        if self.cfun == 1 and self.want_attach and not self.attached:
            delay = self._modem.config.attach_delay
            self._timer = self._modem.clock.call_later(delay, self._attach)

    def _attach(self) -> None:
        self._timer = None
        if not self._modem.network.conditions.in_service:
            return  # no cell: the attach waits for coverage (_conditions_changed)
        self.attached = True
        # §2.3.9 note 3: the RTC takes the network's time on registration.
        self._rtc_offset = dt.timedelta(0)
        self._report_registration()
        self._modem.power.attached()  # +CSCON: 1
        if self.settings.cgerep:  # 27.007 §10.1.19: the default PDN came up with the attach
            self._modem.emit_urc(line("+CGEV: ME PDN ACT 1"))
        self._modem.emit_urc(line(f"+IP: {self._modem.config.ip_address}"))
        report_edrx(self._modem)  # the attach accept carries the network's eDRX

    def _detach(self) -> None:
        """The registration is reported lost first, then its sockets close (§2.4.1)."""
        was_attached = self.attached
        self._cancel_timer()
        if was_attached:
            self._modem.power.leaving_service()  # out of deep sleep and PSM first
        self.attached = False
        self._report_registration()
        if was_attached:
            self._modem.power.detached()  # +CSCON: 0 when it was connected
            if self.settings.cgerep:  # 27.007 §10.1.19: the module detached itself
                self._modem.emit_urc(line("+CGEV: ME DETACH"))
            self._modem.sockets.network_lost()
            self._modem.mqtt.network_lost()

    def _report_registration(self) -> None:
        self._reported_in_service = self._modem.network.conditions.in_service
        if self.settings.cereg_mode:
            self._modem.emit_urc(line("+CEREG: " + self.cereg_fields(urc=True)))

    # -- commands ----------------------------------------------------------------------

    def set_cfun(self, fun: int) -> None:
        """``AT+CFUN``: 0 minimum (radio and SIM off), 1 full, 4 radio off."""
        self.cfun = fun
        if fun == 1:
            self._schedule_attach()
        else:
            self._detach()

    def set_attach(self, attach: bool) -> None:
        """``AT+CGATT``."""
        self.want_attach = attach
        if attach:
            self._schedule_attach()
        else:
            self._detach()

    def granted_psm(self) -> tuple[str, str] | None:
        """``(<Active-Time>, <Periodic-TAU>)`` the network granted, or None.

        The simulated network grants what ``AT+CPSMS`` requested: T3324 and T3412
        extended (3GPP TS 24.008 GPRS Timer 2 / 3 coding, 8-bit strings).  Nothing is
        granted while the module is not registered or does not request PSM.
        """
        granted = self._modem.power.granted()
        if not self.attached or granted is None:
            return None
        tau, active = granted
        return active, tau

    def cereg_fields(self, *, urc: bool) -> str:
        """The fields of ``+CEREG`` (27.007 §10.1.22, the manual's layout for each ``<n>``).

        ``[<n>,]<stat>[,[<tac>],[<ci>],[<AcT>][,[<cause_type>],[<reject_cause>]
        [,[<Active-Time>],[<Periodic-TAU>]]]]``: location for ``<n>`` >= 2 while
        registered (empty fields otherwise, when more follow), the EMM cause for 3
        and 5 (type 0, cause 0: nothing was rejected), the granted PSM timers for 4
        and 5 once the network granted them.
        """
        mode = self.settings.cereg_mode
        fields = [str(self.stat)] if urc else [str(mode), str(self.stat)]
        if mode < 2:
            return ",".join(fields)
        registered = self.stat == REGISTERED_HOME
        location = [f'"{TAC}"', f'"{CELL_ID}"', str(ACT_NBIOT)] if registered else ["", "", ""]
        cause = ["0", "0"] if mode in (3, 5) else ["", ""]
        psm = self.granted_psm() if mode in (4, 5) else None
        timers = [f'"{psm[0]}"', f'"{psm[1]}"'] if psm is not None else []
        tail = location + (cause if mode != 2 else []) + timers
        while tail and tail[-1] == "":
            tail.pop()  # trailing empty fields are left out, as 27.007's brackets allow
        return ",".join(fields + tail)

    def psm_changed(self) -> None:
        """A new ``AT+CPSMS`` request: the network answers it at the next TAU.

        The simulated network grants it at once; with ``<n>`` 4 or 5 the change of
        timers is reported as a ``+CEREG`` URC (after the command's ``OK``).
        """
        if self.attached and self.settings.cereg_mode in (4, 5):
            self._report_registration()

    # -- RTC ---------------------------------------------------------------------------

    def now(self) -> dt.datetime:
        """The module's RTC in UTC."""
        if self._rtc_offset is None:
            return RTC_EPOCH + dt.timedelta(seconds=self._modem.clock.now() - self._rtc_booted)
        return self._modem.clock.utc() + self._rtc_offset

    def set_time(self, when: dt.datetime) -> None:
        """Set the RTC (``AT+CCLK=``, NTP with ``<auto_set_time>`` 1); never the host's clock."""
        self._rtc_offset = when - self._modem.clock.utc()

    def clock_text(self, when: dt.datetime | None = None) -> str:
        """``yy/MM/dd,hh:mm:ss±zz`` of the RTC (or ``when``) in local time, zz in quarter hours.

        27.007 §8.15; the same format as +QNTP's ``<time>`` (CLARIFICATIONS §22).
        """
        local = (when or self.now()) + dt.timedelta(minutes=15 * self.tz_quarters)
        sign = "-" if self.tz_quarters < 0 else "+"
        return f"{local:%y/%m/%d,%H:%M:%S}{sign}{abs(self.tz_quarters):02d}"
