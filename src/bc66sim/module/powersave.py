"""Power consumption and platform configuration commands (manual chapters 8 and 9).

``AT+CFUN`` is full behaviour (it detaches and attaches).  The power-saving
settings (PSM, eDRX, sleep, event reports, ``AT+QCFG``) are kept, shown and saved
as the manual says; the PSM timers the network grants appear in ``+CEREG``.  The
sleep states and their events (``+QNBIOTEVENT``, ``+QATWAKEUP``) are the
power-saving state machine's, which builds on these settings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bc66sim.module.commands import (
    Args,
    BadParameter,
    CommandTable,
    Reply,
    Result,
    Spec,
    Support,
    answer_ok,
    manual,
    setting,
    shows,
    value_list,
)
from bc66sim.module.nvram import NvSettings

if TYPE_CHECKING:
    from bc66sim.module.modem import Modem

_BITS8 = re.compile(r"[01]{8}")
_BITS4 = re.compile(r"[01]{4}")
#: NB-S1, the only ``<AcT-type>`` of eDRX on NB-IoT (27.007 §7.40).
EDRX_ACT_NBIOT = 5


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
            test=("+CFUN: (0,1,4),(0,1)",),
            read=shows(lambda m: f"+CFUN: {m.radio.cfun}"),
            write=_cfun_write,
            section=ch8,
        ),
        Spec(
            "+CPSMS",
            test=('+CPSMS: (0-2),,,("00000000"-"11111111"),("00000000"-"11111111")',),
            read=shows(_cpsms),
            write=_cpsms_write,
            section=ch8,
            support=Support.SETTINGS,
            notes="NVRAM; granted as requested (+CEREG 4/5)",
        ),
        Spec(
            "+CEDRXS",
            test=(f'+CEDRXS: (0-3),({EDRX_ACT_NBIOT}),("0000"-"1111")',),
            read=_cedrxs_read,
            write=_cedrxs_write,
            section=ch8,
            support=Support.SETTINGS,
            notes="NVRAM",
        ),
        Spec(
            "+CEDRXRDP",
            execute=_cedrxrdp,
            section=ch8,
            support=Support.SETTINGS,
            notes="granted as requested",
        ),
        Spec(
            "+QEDRXCFG",
            test=(f'+QEDRXCFG: (0-3),({EDRX_ACT_NBIOT}),("0000"-"1111"),("0000"-"1111")',),
            read=_qedrxcfg_read,
            write=_qedrxcfg_write,
            section=ch8,
            support=Support.SETTINGS,
            notes="NVRAM; shares the request with +CEDRXS",
        ),
        setting("+QSCLK", (0, 1, 2), lambda m: m.radio.settings, "sclk", section=ch8),
        Spec(
            "+QNBIOTEVENT",
            test=("+QNBIOTEVENT: (0,1),(1)",),
            read=shows(lambda m: f"+QNBIOTEVENT: {m.nv.nbiot_event},1"),
            write=_qnbiotevent_write,
            section=ch8,
            support=Support.SETTINGS,
            notes="NVRAM",
        ),
        setting(
            "+QATWAKEUP",
            (0, 1),
            lambda m: m.nv,
            "at_wakeup",
            saved=True,
            section=ch8,
            notes="NVRAM",
        ),
        Spec(
            "+QRELLOCK",
            execute=answer_ok,
            section=ch8,
            support=Support.SETTINGS,
            notes="accepted; the sleep lock comes with the power-saving model",
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
            test=tuple(
                f'+QCFG: "{f.name}",({value_list(range(f.low, f.high + 1))})'
                for f in QCFG_FUNCTIONS.values()
            ),
            read=_qcfg_read,
            write=_qcfg_write,
            section=ch9,
            support=Support.SETTINGS,
            notes=", ".join(QCFG_FUNCTIONS) + "; NVRAM",
        ),
    )


def _cfun_write(modem: Modem, args: Args, reply: Reply) -> Result:
    args.require(1, 2)
    fun = args.choice(0, (0, 1, 4))
    if args.choice(1, (0, 1), default=0) == 1:
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
    args.require(0, 5)
    nv = modem.nv
    mode = args.choice(0, (0, 1, 2), default=0)
    if args.given(1) or args.given(2):
        raise BadParameter("no RAU or READY timer on NB-IoT")
    if mode == 2:
        defaults = NvSettings()
        nv.psm_mode, nv.psm_tau, nv.psm_active = 0, defaults.psm_tau, defaults.psm_active
    else:
        tau = args.text(3, 8, default=nv.psm_tau)
        active = args.text(4, 8, default=nv.psm_active)
        if not (_BITS8.fullmatch(tau) and _BITS8.fullmatch(active)):
            raise BadParameter("timer values are 8 bits")
        nv.psm_mode, nv.psm_tau, nv.psm_active = mode, tau, active
    modem.persist()
    modem.radio.psm_changed()
    return None


def _edrx_request(modem: Modem, args: Args, *, with_ptw: bool) -> None:
    """``<mode>[,<AcT-type>[,<Requested_eDRX_value>[,<PTW>]]]`` of +CEDRXS / +QEDRXCFG."""
    args.require(0, 4 if with_ptw else 3)
    nv = modem.nv
    mode = args.choice(0, (0, 1, 2, 3), default=0)
    if args.given(1):
        args.choice(1, (EDRX_ACT_NBIOT,))
    value = args.text(2, 4, default=nv.edrx_value)
    ptw = args.text(3, 4, default=nv.edrx_ptw) if with_ptw else nv.edrx_ptw
    if not (_BITS4.fullmatch(value) and _BITS4.fullmatch(ptw)):
        raise BadParameter("eDRX values are 4 bits")
    if mode == 3:  # disable and reset to the defaults
        defaults = NvSettings()
        nv.edrx_mode, nv.edrx_value, nv.edrx_ptw = 0, defaults.edrx_value, defaults.edrx_ptw
    else:
        nv.edrx_mode, nv.edrx_value, nv.edrx_ptw = mode, value, ptw
    modem.persist()


def _cedrxs_read(modem: Modem, args: Args, reply: Reply) -> Result:
    if modem.nv.edrx_mode:
        reply.line(f'+CEDRXS: {EDRX_ACT_NBIOT},"{modem.nv.edrx_value}"')
    return None


def _cedrxs_write(modem: Modem, args: Args, reply: Reply) -> Result:
    _edrx_request(modem, args, with_ptw=False)
    return None


def _cedrxrdp(modem: Modem, args: Args, reply: Reply) -> Result:
    """``AT+CEDRXRDP`` (27.007 §7.41): the eDRX the network granted (what was requested)."""
    nv = modem.nv
    if not (modem.radio.attached and nv.edrx_mode):
        reply.line("+CEDRXRDP: 0")
        return None
    value = f'"{nv.edrx_value}"'
    reply.line(f'+CEDRXRDP: {EDRX_ACT_NBIOT},{value},{value},"{nv.edrx_ptw}"')
    return None


def _qedrxcfg_read(modem: Modem, args: Args, reply: Reply) -> Result:
    nv = modem.nv
    if nv.edrx_mode:
        reply.line(f'+QEDRXCFG: {EDRX_ACT_NBIOT},"{nv.edrx_value}","{nv.edrx_ptw}"')
    else:
        reply.line("+QEDRXCFG: 0")
    return None


def _qedrxcfg_write(modem: Modem, args: Args, reply: Reply) -> Result:
    _edrx_request(modem, args, with_ptw=True)
    return None


def _qnbiotevent_write(modem: Modem, args: Args, reply: Reply) -> Result:
    """``AT+QNBIOTEVENT=<enable>,<event>``: event 1 is the PSM state."""
    args.require(1, 2)
    enable = args.choice(0, (0, 1))
    args.choice(1, (1,), default=1)
    modem.nv.nbiot_event = enable
    modem.persist()
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
    args.require(1, 2)
    name = args.text(0, 32).lower()
    function = QCFG_FUNCTIONS.get(name)
    if function is None:
        raise BadParameter(f"no AT+QCFG function {name!r} on the BC66")
    if len(args) == 1:
        reply.line(f'+QCFG: "{name}",{qcfg_value(modem, name)}')
        return None
    value = args.number(1, function.low, function.high)
    if value == function.default:
        modem.nv.qcfg.pop(name, None)
    else:
        modem.nv.qcfg[name] = value
    modem.persist()
    return None
