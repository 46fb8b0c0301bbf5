"""Power consumption and platform configuration commands (manual chapters 8 and 9).

``AT+CFUN`` detaches and attaches.  The power-saving requests (PSM, eDRX, sleep,
event reports, the sleep-lock times of ``AT+QCFG``) are kept, shown and saved as
the manual says; module/power.py lives by them: RRC, PSM, eDRX, deep sleep, and
the events ``+QNBIOTEVENT`` and ``+QATWAKEUP``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from bc66sim.at.results import line
from bc66sim.module.commands import (
    Args,
    BadParameter,
    CommandTable,
    Reply,
    Result,
    Spec,
    Support,
    manual,
    setting,
    shows,
)
from bc66sim.module.nvram import NvSettings
from bc66sim.module.params import Empty, Int, Keyed, bits

if TYPE_CHECKING:
    from bc66sim.module.modem import Modem

#: NB-S1, the only ``<AcT-type>`` of eDRX on NB-IoT (27.007 §7.40).
EDRX_ACT_NBIOT = 5
#: ``<mode>[,<AcT-type>[,<Requested_eDRX_value>]]`` of +CEDRXS (27.007 §7.40).
_EDRX_PARAMS = (
    Int("mode", values=range(4), default=0),
    Int("AcT-type", values=(EDRX_ACT_NBIOT,), optional=True),
    bits("Requested_eDRX_value", 4, optional=True),
)


@dataclass(frozen=True, slots=True)
class QcfgFunction:
    """One ``AT+QCFG`` function of the BC66: its values and its default."""

    name: str
    low: int
    high: int
    default: int


#: The BC66's ``AT+QCFG`` functions (NVRAM, as the manual says of each).
QCFG_FUNCTIONS = {
    function.name: function
    for function in (
        QcfgFunction("epco", 0, 1, 1),
        QcfgFunction("combinedattach", 0, 1, 0),
        QcfgFunction("up", 0, 1, 0),
        QcfgFunction("upopt", 0, 1, 0),
        QcfgFunction("multidrb", 0, 1, 0),
        QcfgFunction("autopdn", 0, 1, 1),
        QcfgFunction("ripin", 0, 1, 0),
        QcfgFunction("initlocktime", 1, 30, 10),
        QcfgFunction("dsevent", 0, 1, 0),
        QcfgFunction("atlocktime", 1, 30, 10),
        QcfgFunction("urc/ri/mask", 0, 1, 0),
        QcfgFunction("vbattimes", 0, 255, 0),
        QcfgFunction("activetimer", 0, 1, 0),
    )
}


def register(table: CommandTable) -> None:
    ch8, ch9 = manual(8), manual(9)
    table.add(
        Spec(
            "+CFUN",
            params=(Int("fun", values=(0, 1, 4)), Int("rst", values=(0, 1), default=0)),
            read=shows(lambda m: f"+CFUN: {m.radio.cfun}"),
            write=_cfun_write,
            section=ch8,
        ),
        Spec(
            "+CPSMS",
            # 27.007 §7.38; the RAU and GPRS READY timers of 2G/3G stay empty on NB-IoT.
            params=(
                Int("mode", values=(0, 1, 2), default=0),
                Empty("Requested_Periodic-RAU"),
                Empty("Requested_GPRS-READY-timer"),
                bits("Requested_Periodic-TAU", 8, optional=True),
                bits("Requested_Active-Time", 8, optional=True),
            ),
            read=shows(_cpsms),
            write=_cpsms_write,
            section=ch8,
            notes="NVRAM; T3324 then PSM, T3412 TAU; granted as requested (+CEREG 4/5)",
        ),
        Spec(
            "+CEDRXS",
            params=_EDRX_PARAMS,
            read=_cedrxs_read,
            write=_cedrxs_write,
            section=ch8,
            notes="NVRAM; downlink waits for the paging time window; mode 2: +CEDRXP",
        ),
        Spec(
            "+CEDRXRDP",
            execute=_cedrxrdp,
            section=ch8,
            notes="granted as requested",
        ),
        Spec(
            "+QEDRXCFG",
            params=(*_EDRX_PARAMS, bits("PTW", 4, optional=True)),
            read=_qedrxcfg_read,
            write=_qedrxcfg_write,
            section=ch8,
            notes="NVRAM; shares the request with +CEDRXS",
        ),
        setting(
            "+QSCLK",
            (0, 1, 2),
            lambda m: m.radio.settings,
            "sclk",
            section=ch8,
            support=Support.FULL,
            notes="1: deep sleep in PSM (UART dead, woken by the host, T3412 or PSM_EINT)",
        ),
        Spec(
            "+QNBIOTEVENT",
            params=(Int("enable", values=(0, 1)), Int("event", values=(1,), default=1)),
            read=shows(lambda m: f"+QNBIOTEVENT: {m.nv.nbiot_event},1"),
            write=_qnbiotevent_write,
            section=ch8,
            notes='NVRAM; "ENTER PSM" / "EXIT PSM"',
        ),
        setting(
            "+QATWAKEUP",
            (0, 1),
            lambda m: m.nv,
            "at_wakeup",
            saved=True,
            section=ch8,
            support=Support.FULL,
            notes="NVRAM; +QATWAKEUP on waking from deep sleep",
        ),
        Spec(
            "+QRELLOCK",
            execute=_qrellock,
            section=ch8,
            notes='releases the AT sleep lock (QCFG "atlocktime" after each command)',
        ),
        setting(
            "+QEMMTIMER",
            (0, 1),
            lambda m: m.nv,
            "emm_timer",
            saved=True,
            section=ch8,
            notes="NVRAM",
        ),
        Spec(
            "+QCFG",
            params=Keyed(
                "function",
                {
                    f.name: (Int("value", values=range(f.low, f.high + 1), optional=True),)
                    for f in QCFG_FUNCTIONS.values()
                },
            ),
            read=_qcfg_read,
            write=_qcfg_write,
            section=ch9,
            support=Support.SETTINGS,
            notes=", ".join(QCFG_FUNCTIONS) + "; NVRAM",
        ),
    )


def _cfun_write(modem: Modem, args: Args, reply: Reply) -> Result:
    fun = args.number(0)
    if args.number(1) == 1:
        if fun != 1:
            raise BadParameter("reset only with full functionality")
        modem.reboot()
        return None
    modem.radio.set_cfun(fun)
    return None


def _cpsms(modem: Modem) -> str:
    nv = modem.nv
    return f'+CPSMS: {nv.psm_mode},,,"{nv.psm_tau}","{nv.psm_active}"'


def _cpsms_write(modem: Modem, args: Args, reply: Reply) -> Result:
    """``AT+CPSMS=[<mode>[,,,<Requested_Periodic-TAU>[,<Requested_Active-Time>]]]``.

    27.007 §7.38: 2 disables PSM and resets the timers; the RAU and GPRS READY
    timers of 2G/3G do not apply to NB-IoT and must be empty.
    """
    nv = modem.nv
    mode = args.number(0)
    if mode == 2:
        defaults = NvSettings()
        nv.psm_mode, nv.psm_tau, nv.psm_active = 0, defaults.psm_tau, defaults.psm_active
    else:
        tau = args.text(3) if args.given(3) else nv.psm_tau
        active = args.text(4) if args.given(4) else nv.psm_active
        nv.psm_mode, nv.psm_tau, nv.psm_active = mode, tau, active
    modem.persist()
    modem.radio.psm_changed()
    modem.power.settings_changed()
    return None


def _edrx_request(modem: Modem, args: Args) -> None:
    """``<mode>[,<AcT-type>[,<Requested_eDRX_value>[,<PTW>]]]`` of +CEDRXS / +QEDRXCFG."""
    nv = modem.nv
    mode = args.number(0)
    value = args.text(2) if args.given(2) else nv.edrx_value
    ptw = args.text(3) if args.given(3) else nv.edrx_ptw
    if mode == 3:  # disable and reset to the defaults
        defaults = NvSettings()
        nv.edrx_mode, nv.edrx_value, nv.edrx_ptw = 0, defaults.edrx_value, defaults.edrx_ptw
    else:
        nv.edrx_mode, nv.edrx_value, nv.edrx_ptw = mode, value, ptw
    modem.persist()
    modem.power.settings_changed()
    report_edrx(modem)  # (after the command's OK: URCs wait for the response)


def granted_edrx(modem: Modem) -> str:
    """The fields of ``+CEDRXRDP`` and ``+CEDRXP`` (27.007 §7.41, §7.40): the simulated
    network grants the requested eDRX value and PTW; ``0`` when eDRX is not in use."""
    nv = modem.nv
    if not (modem.radio.attached and nv.edrx_mode):
        return "0"
    value = f'"{nv.edrx_value}"'
    return f'{EDRX_ACT_NBIOT},{value},{value},"{nv.edrx_ptw}"'


def report_edrx(modem: Modem) -> None:
    """``+CEDRXP`` with ``AT+CEDRXS=2`` (27.007 §7.40: "enable the use of eDRX and enable
    the unsolicited result code"): the network's eDRX parameters, at each attach and
    after each new request the network answers."""
    if modem.nv.edrx_mode == 2 and modem.radio.attached:
        modem.emit_urc(line(f"+CEDRXP: {granted_edrx(modem)}"))


def _cedrxs_read(modem: Modem, args: Args, reply: Reply) -> Result:
    if modem.nv.edrx_mode:
        reply.line(f'+CEDRXS: {EDRX_ACT_NBIOT},"{modem.nv.edrx_value}"')
    return None


def _cedrxs_write(modem: Modem, args: Args, reply: Reply) -> Result:
    _edrx_request(modem, args)
    return None


def _cedrxrdp(modem: Modem, args: Args, reply: Reply) -> Result:
    """``AT+CEDRXRDP`` (27.007 §7.41): the eDRX the network granted (what was requested)."""
    reply.line(f"+CEDRXRDP: {granted_edrx(modem)}")
    return None


def _qedrxcfg_read(modem: Modem, args: Args, reply: Reply) -> Result:
    nv = modem.nv
    if nv.edrx_mode:
        reply.line(f'+QEDRXCFG: {EDRX_ACT_NBIOT},"{nv.edrx_value}","{nv.edrx_ptw}"')
    else:
        reply.line("+QEDRXCFG: 0")
    return None


def _qedrxcfg_write(modem: Modem, args: Args, reply: Reply) -> Result:
    _edrx_request(modem, args)
    return None


def _qnbiotevent_write(modem: Modem, args: Args, reply: Reply) -> Result:
    """``AT+QNBIOTEVENT=<enable>,<event>``: event 1 is the PSM state."""
    modem.nv.nbiot_event = args.number(0)
    modem.persist()
    return None


def _qrellock(modem: Modem, args: Args, reply: Reply) -> Result:
    """``AT+QRELLOCK``: the module may sleep now, not only ``atlocktime`` after the command."""
    modem.power.release_lock()
    return None


def qcfg_value(modem: Modem, name: str) -> int:
    """The current value of an ``AT+QCFG`` function."""
    return modem.nv.qcfg.get(name, QCFG_FUNCTIONS[name].default)


def _qcfg_read(modem: Modem, args: Args, reply: Reply) -> Result:
    for name in QCFG_FUNCTIONS:
        reply.line(f'+QCFG: "{name}",{qcfg_value(modem, name)}')
    return None


def _qcfg_write(modem: Modem, args: Args, reply: Reply) -> Result:
    """``AT+QCFG="<function>"`` queries, ``AT+QCFG="<function>",<value>`` sets (NVRAM)."""
    name = args.text(0)
    function = QCFG_FUNCTIONS[name]
    if not args.given(1):
        if len(args) > 1:
            raise BadParameter("an empty value")
        reply.line(f'+QCFG: "{name}",{qcfg_value(modem, name)}')
        return None
    value = args.number(1)
    if value == function.default:
        modem.nv.qcfg.pop(name, None)
    else:
        modem.nv.qcfg[name] = value
    modem.persist()
    return None
