"""The general and 3GPP commands host programs send before any socket command.

Answers follow 3GPP TS 27.007 and V.250 with the values of the simulated network
(CLARIFICATIONS §24): plausible, and consistent with the module's state.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING

from bc66sim.module.commands import (
    Args,
    BadParameter,
    CommandTable,
    Handler,
    Reply,
    Result,
    Spec,
    answer_ok,
    shows,
)
from bc66sim.module.errors import CmeError, CommandError
from bc66sim.module.radio import ACT_NBIOT, CELL_ID, PLMN, TAC, Radio

if TYPE_CHECKING:
    from bc66sim.module.modem import Modem

MANUFACTURER = "Quectel_Ltd"
MODEL = "Quectel_BC66"


def register(table: CommandTable) -> None:
    table.add(
        Spec("E", write=_echo, execute=_echo),
        Spec("I", execute=_ati, write=_ati),
        Spec("Z", execute=answer_ok, write=answer_ok),
        Spec("&F", execute=_factory, write=_factory),
        Spec("&W", execute=answer_ok, write=answer_ok),
        Spec("V", write=_only_default(1), execute=answer_ok),
        Spec("Q", write=_only_default(0), execute=answer_ok),
        Spec("+CGMI", execute=shows(lambda m: MANUFACTURER)),
        Spec("+CGMM", execute=shows(lambda m: MODEL)),
        Spec("+CGMR", execute=shows(lambda m: f"Revision: {m.config.revision}")),
        Spec("+CGSN", test=("+CGSN: (0-3)",), execute=_cgsn, write=_cgsn),
        Spec("+CIMI", execute=_cimi),
        Spec(
            "+CMEE",
            test=("+CMEE: (0-2)",),
            read=shows(lambda m: f"+CMEE: {m.cmee}"),
            write=_cmee_write,
        ),
        Spec(
            "+CFUN",
            test=("+CFUN: (0,1,4),(0,1)",),
            read=shows(lambda m: f"+CFUN: {m.radio.cfun}"),
            write=_cfun_write,
        ),
        Spec("+CPIN", read=_cpin_read),
        Spec(
            "+CEREG",
            test=("+CEREG: (0-5)",),
            read=shows(lambda m: "+CEREG: " + m.radio.cereg_fields(urc=False)),
            write=_cereg_write,
        ),
        Spec(
            "+CGATT",
            test=("+CGATT: (0,1)",),
            read=shows(lambda m: f"+CGATT: {int(m.radio.attached)}"),
            write=_cgatt_write,
        ),
        Spec("+CGPADDR", test=("+CGPADDR: (1)",), execute=_cgpaddr, write=_cgpaddr),
        Spec(
            "+CSQ",
            test=("+CSQ: (0-31,99),(99)",),
            execute=shows(lambda m: "+CSQ: 25,0" if m.radio.attached else "+CSQ: 99,99"),
        ),
        Spec("+CESQ", execute=_cesq),
        Spec("+CSCON", test=("+CSCON: (0,1)",), read=shows(_cscon), write=_cscon_write),
        Spec(
            "+COPS",
            test=(f'+COPS: (2,"","","{PLMN}",9),,(0-2),(2)',),
            read=_cops_read,
            write=_cops_write,
        ),
        Spec(
            "+CGDCONT",
            test=('+CGDCONT: (1-10),("IP","IPV6","IPV4V6","Non-IP")',),
            read=_cgdcont_read,
            write=_cgdcont_write,
        ),
        Spec(
            "+CGACT",
            test=("+CGACT: (0,1)",),
            read=shows(lambda m: f"+CGACT: 1,{int(m.radio.attached)}"),
            write=_cgact_write,
        ),
        Spec(
            "+QCGDEFCONT",
            test=('+QCGDEFCONT: ("IP","IPV6","IPV4V6","Non-IP")',),
            read=shows(_qcgdefcont),
            write=_qcgdefcont_write,
        ),
        Spec("+QBAND", test=(_qband_test(),), read=shows(_qband), write=_qband_write),
        Spec(
            "+QSCLK",
            test=("+QSCLK: (0-2)",),
            read=shows(lambda m: f"+QSCLK: {m.radio.settings.sclk}"),
            write=_qsclk_write,
        ),
        Spec(
            "+CPSMS",
            test=('+CPSMS: (0-2),,,("00000000"-"11111111"),("00000000"-"11111111")',),
            read=shows(_cpsms),
            write=_cpsms_write,
        ),
        Spec(
            "+CEDRXS",
            test=('+CEDRXS: (0-3),(5),("0000"-"1111")',),
            read=_cedrxs_read,
            write=_cedrxs_write,
        ),
        Spec("+CCLK", read=shows(lambda m: f'+CCLK: "{m.radio.clock_text()}"'), write=_cclk_write),
        Spec("+QCCLK", read=shows(lambda m: f'+QCCLK: "{m.radio.clock_text()}"')),
        Spec("+CBC", execute=shows(lambda m: "+CBC: 0,0,3300")),
        Spec("+QENG", test=("+QENG: (0)",), write=_qeng),
        Spec("+QRST", test=("+QRST: (1)",), write=_qrst),
        Spec("+QPOWD", test=("+QPOWD: (0,1)",), write=_qpowd, execute=_qpowd),
    )


def _only_default(value: int) -> Handler:
    """V.250 settings the module supports in their default only (ATV1, ATQ0)."""

    def handler(modem: Modem, args: Args, reply: Reply) -> Result:
        args.choice(0, (value,))
        return None

    return handler


def _echo(modem: Modem, args: Args, reply: Reply) -> Result:
    """``ATE0`` / ``ATE1`` (V.250 §6.2.4); the change applies from the next byte."""
    modem.set_echo(bool(args.choice(0, (0, 1), default=0)))
    return None


def _factory(modem: Modem, args: Args, reply: Reply) -> Result:
    """``AT&F``: echo on and numeric errors off, as after boot."""
    modem.set_echo(True)
    modem.cmee = 0
    return None


def _ati(modem: Modem, args: Args, reply: Reply) -> Result:
    reply.line(MANUFACTURER)
    reply.line(MODEL)
    reply.line(f"Revision: {modem.config.revision}")
    return None


def _cgsn(modem: Modem, args: Args, reply: Reply) -> Result:
    """``AT+CGSN[=<snt>]`` (27.007 §7.1): 1 is the IMEI with its prefix."""
    kind = args.choice(0, (0, 1, 2, 3), default=0) if len(args) else 0
    if kind == 1:
        reply.line(f"+CGSN: {modem.config.imei}")
    elif kind == 2:
        reply.line(f"+CGSN: {modem.config.imei[:14]}01")
    elif kind == 3:
        reply.line("+CGSN: 01")
    else:
        reply.line(modem.config.imei)
    return None


def _require_sim(radio: Radio) -> None:
    if radio.cfun == 0:
        raise CommandError(CmeError.SIM_FAILURE)


def _cimi(modem: Modem, args: Args, reply: Reply) -> Result:
    _require_sim(modem.radio)
    reply.line(modem.config.imsi)
    return None


def _cmee_write(modem: Modem, args: Args, reply: Reply) -> Result:
    args.require(1, 1)
    modem.cmee = args.number(0, 0, 2)
    return None


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


def _cpin_read(modem: Modem, args: Args, reply: Reply) -> Result:
    _require_sim(modem.radio)
    reply.line("+CPIN: READY")
    return None


def _cereg_write(modem: Modem, args: Args, reply: Reply) -> Result:
    args.require(0, 1)
    modem.radio.settings.cereg_mode = args.number(0, 0, 5, default=0)
    return None


def _cgatt_write(modem: Modem, args: Args, reply: Reply) -> Result:
    args.require(1, 1)
    attach = args.choice(0, (0, 1))
    if attach and modem.radio.cfun != 1:
        raise CommandError(CmeError.NO_NETWORK_SERVICE)
    modem.radio.set_attach(bool(attach))
    return None


def _cgpaddr(modem: Modem, args: Args, reply: Reply) -> Result:
    if len(args):
        args.require(1, 1)
        if args.number(0, 1, 10) != 1:
            return None
    if modem.radio.attached:
        reply.line(f"+CGPADDR: 1,{modem.config.ip_address}")
    return None


def _cesq(modem: Modem, args: Args, reply: Reply) -> Result:
    """27.007 §8.69: RSRQ 0-34, RSRP 0-97; 255 when unknown."""
    fields = "99,99,255,255,30,55" if modem.radio.attached else "99,99,255,255,255,255"
    reply.line(f"+CESQ: {fields}")
    return None


def _cscon(modem: Modem) -> str:
    return f"+CSCON: {modem.radio.settings.cscon_mode},{int(modem.radio.attached)}"


def _cscon_write(modem: Modem, args: Args, reply: Reply) -> Result:
    args.require(0, 1)
    modem.radio.settings.cscon_mode = args.choice(0, (0, 1), default=0)
    return None


def _cops_read(modem: Modem, args: Args, reply: Reply) -> Result:
    if modem.radio.attached:
        reply.line(f'+COPS: 0,2,"{PLMN}",{ACT_NBIOT}')
    else:
        reply.line("+COPS: 0")
    return None


def _cops_write(modem: Modem, args: Args, reply: Reply) -> Result:
    args.require(1, 4)
    mode = args.choice(0, (0, 1, 2))
    if mode == 1 and args.text(2, 6) != PLMN:
        raise CommandError(CmeError.NO_NETWORK_SERVICE)
    modem.radio.set_attach(mode != 2)
    return None


def _cgdcont_read(modem: Modem, args: Args, reply: Reply) -> Result:
    settings = modem.radio.settings
    address = modem.config.ip_address if modem.radio.attached else ""
    reply.line(f'+CGDCONT: 1,"{settings.pdp_type}","{settings.apn}","{address}",0,0,,,,,0')
    return None


_PDP_TYPES = ("IP", "IPV6", "IPV4V6", "NON-IP")


def _pdp_type(text: str) -> str:
    if text.upper() not in _PDP_TYPES:
        raise BadParameter(f"PDP type {text!r}")
    return "Non-IP" if text.upper() == "NON-IP" else text.upper()


def _cgdcont_write(modem: Modem, args: Args, reply: Reply) -> Result:
    args.require(1, 11)
    if args.number(0, 1, 10) != 1:
        raise CommandError(CmeError.NOT_SUPPORTED)
    settings = modem.radio.settings
    if args.given(1):
        settings.pdp_type = _pdp_type(args.text(1, 10))
    settings.apn = args.text(2, 99, default=settings.apn)
    return None


def _cgact_write(modem: Modem, args: Args, reply: Reply) -> Result:
    args.require(1, 2)
    state = args.choice(0, (0, 1))
    if args.number(1, 1, 10, default=1) != 1:
        raise CommandError(CmeError.NOT_SUPPORTED)
    modem.radio.set_attach(bool(state))
    return None


def _qcgdefcont(modem: Modem) -> str:
    settings = modem.radio.settings
    return f'+QCGDEFCONT: "{settings.pdp_type}","{settings.apn}"'


def _qcgdefcont_write(modem: Modem, args: Args, reply: Reply) -> Result:
    args.require(1, 4)
    settings = modem.radio.settings
    settings.pdp_type = _pdp_type(args.text(0, 10))
    settings.apn = args.text(1, 99, default="")
    return None


def _qband_test() -> str:
    return "+QBAND: (" + ",".join(str(band) for band in Radio.SUPPORTED_BANDS) + ")"


def _qband(modem: Modem) -> str:
    return "+QBAND: " + ",".join(str(band) for band in modem.radio.settings.bands)


def _qband_write(modem: Modem, args: Args, reply: Reply) -> Result:
    """``AT+QBAND=<n>,<band>[,<band>…]``: 0 means all supported bands."""
    count = args.number(0, 0, len(Radio.SUPPORTED_BANDS))
    if count == 0:
        args.require(1, 1)
        modem.radio.settings.bands = list(Radio.SUPPORTED_BANDS)
        return None
    args.require(count + 1, count + 1)
    bands = [args.choice(i + 1, Radio.SUPPORTED_BANDS) for i in range(count)]
    modem.radio.settings.bands = bands
    return None


def _qsclk_write(modem: Modem, args: Args, reply: Reply) -> Result:
    args.require(1, 1)
    modem.radio.settings.sclk = args.number(0, 0, 2)
    return None


_BITS8 = re.compile(r"[01]{8}")
_BITS4 = re.compile(r"[01]{4}")


def _cpsms(modem: Modem) -> str:
    s = modem.radio.settings
    return f'+CPSMS: {s.psm_mode},,,"{s.psm_tau}","{s.psm_active}"'


def _cpsms_write(modem: Modem, args: Args, reply: Reply) -> Result:
    args.require(0, 5)
    settings = modem.radio.settings
    mode = args.choice(0, (0, 1, 2), default=0)
    if mode == 2:  # 27.007 §7.38: disable and reset to the defaults
        defaults = type(settings)()
        settings.psm_mode, settings.psm_tau = 0, defaults.psm_tau
        settings.psm_active = defaults.psm_active
        return None
    tau = args.text(3, 8, default=settings.psm_tau)
    active = args.text(4, 8, default=settings.psm_active)
    if not (_BITS8.fullmatch(tau) and _BITS8.fullmatch(active)):
        raise BadParameter("timer values are 8 bits")
    settings.psm_mode, settings.psm_tau, settings.psm_active = mode, tau, active
    return None


def _cedrxs_read(modem: Modem, args: Args, reply: Reply) -> Result:
    settings = modem.radio.settings
    if settings.edrx_mode:
        reply.line(f'+CEDRXS: 5,"{settings.edrx_value}"')
    return None


def _cedrxs_write(modem: Modem, args: Args, reply: Reply) -> Result:
    args.require(0, 3)
    settings = modem.radio.settings
    mode = args.choice(0, (0, 1, 2, 3), default=0)
    if args.given(1):
        args.choice(1, (5,))
    value = args.text(2, 4, default=settings.edrx_value)
    if not _BITS4.fullmatch(value):
        raise BadParameter("eDRX value is 4 bits")
    settings.edrx_mode = 0 if mode == 3 else mode
    settings.edrx_value = "0010" if mode == 3 else value
    return None


_CCLK = re.compile(r"(\d\d)/(\d\d)/(\d\d),(\d\d):(\d\d):(\d\d)([+-]\d\d)")


def _cclk_write(modem: Modem, args: Args, reply: Reply) -> Result:
    """``AT+CCLK="yy/MM/dd,hh:mm:ss±zz"`` (27.007 §8.15): local time, zz in quarters."""
    args.require(1, 1)
    match = _CCLK.fullmatch(args.text(0, 20))
    if match is None:
        raise BadParameter("time format")
    yy, mo, dd, hh, mi, ss, zz = match.groups()
    quarters = int(zz)
    if not -48 <= quarters <= 48:
        raise BadParameter("time zone")
    try:
        local = dt.datetime(2000 + int(yy), int(mo), int(dd), int(hh), int(mi), int(ss))
    except ValueError as exc:
        raise BadParameter(str(exc)) from exc
    utc = local.replace(tzinfo=dt.UTC) - dt.timedelta(minutes=15 * quarters)
    modem.radio.set_time(utc)
    modem.radio.tz_quarters = quarters
    return None


def _qeng(modem: Modem, args: Args, reply: Reply) -> Result:
    """``AT+QENG=0``: serving cell information of the simulated network."""
    args.require(1, 1)
    args.choice(0, (0,))
    if not modem.radio.attached:
        reply.line("+QENG: 0,0,0,0,,0,0,0,0,0,,0,0,1")
        return None
    reply.line(f'+QENG: 0,3688,0,182,"{CELL_ID}",-86,-9,-78,15,8,"{TAC}",0,23,2')
    return None


def _qrst(modem: Modem, args: Args, reply: Reply) -> Result:
    args.require(1, 1)
    args.choice(0, (1,))
    modem.reboot()
    return None


def _qpowd(modem: Modem, args: Args, reply: Reply) -> Result:
    if len(args):
        args.require(1, 1)
        args.choice(0, (0, 1))
    modem.power_down()
    return None
