"""V.250 and the module's identity, (U)SIM, platform and time commands.

Answers follow the *BC66&BC66-NA AT Commands Manual* (3GPP TS 27.007 and V.250
where the manual defers to them) with the values of the simulated module
(CLARIFICATIONS §24): consistent with each other and with the module's state.
Network commands are in ``network.py``, power-saving ones in ``powersave.py``.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import re
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
)
from bc66sim.module.errors import CmeError, CommandError
from bc66sim.module.identity import MANUFACTURER
from bc66sim.module.nvram import NvSettings
from bc66sim.module.params import Int, Text

if TYPE_CHECKING:
    from bc66sim.module.modem import Modem

#: ``<n>`` of V.250 commands that take only 0 (``ATZ0``, ``AT&F0``, ``ATI0``).
_ZERO = (Int("n", values=(0,), default=0),)

#: ``AT+IPR`` rates (V.250 §6.2.10); 0 is autobaud, the module's default behaviour.
BAUD_RATES = (0, 4800, 9600, 14400, 19200, 28800, 33600, 38400, 57600, 115200, 230400, 460800,
              921600)  # fmt: skip


def register(table: CommandTable) -> None:
    ch2, ch3, ch7, ch9, ch10 = manual(2), manual(3), manual(7), manual(9), manual(10)
    table.add(
        # -- chapter 2: product information --------------------------------------------
        Spec("I", params=_ZERO, execute=_ati, write=_ati, section=ch2, notes="model from --model"),
        Spec("+CGMI", execute=shows(lambda m: MANUFACTURER), section=ch2),
        Spec("+CGMM", execute=shows(lambda m: m.model.model_id), section=ch2),
        Spec("+CGMR", execute=shows(lambda m: f"Revision: {m.model.revision}"), section=ch2),
        Spec("+QGMR", execute=shows(lambda m: m.model.full_revision), section=ch2),
        Spec(
            "+CGSN",
            params=(Int("snt", values=range(4), default=0),),
            execute=_cgsn,
            write=_cgsn,
            section=ch2,
            notes="0: SN (the IMEI), 1: IMEI, 2: IMEISV, 3: SVN",
        ),
        Spec("+CLAC", execute=_clac, section=ch2, notes="lists this table"),
        # -- chapter 3: UART and V.250 ----------------------------------------------------
        Spec(
            "E",
            params=(Int("n", values=(0, 1), default=0),),
            write=_echo,
            execute=_echo,
            section=ch3,
        ),
        Spec(
            "&W",
            params=_ZERO,
            execute=_save_profile,
            write=_save_profile,
            section=ch3,
            notes="saves echo, CMEE, CEREG mode, CTZR and IPR",
        ),
        Spec("Z", params=_ZERO, execute=_restore_profile, write=_restore_profile, section=ch3),
        Spec("&F", params=_ZERO, execute=_factory, write=_factory, section=ch3),
        _default_only("V", 1, section=ch3),
        _default_only("Q", 0, section=ch3),
        Spec(
            "+IPR",
            params=(Int("rate", values=BAUD_RATES),),
            read=shows(lambda m: f"+IPR: {m.ipr}"),
            write=_ipr,
            section=ch3,
            support=Support.SETTINGS,
            notes="kept; the transport's rate is --baud",
        ),
        # -- chapter 7: (U)SIM --------------------------------------------------------------
        Spec("+CIMI", execute=_cimi, section=ch7),
        Spec("+QCCID", execute=_qccid, section=ch7, notes="derived from the IMSI, Luhn-valid"),
        Spec(
            "+CPIN",
            params=(Text("pin", max_length=8), Text("new_pin", max_length=8, optional=True)),
            test=(),
            read=_cpin_read,
            write=_cpin_write,
            section=ch7,
            notes="no PIN set",
        ),
        Spec(
            "+CPINR",
            params=(Text("sel_code", max_length=16, default="*"),),
            test=(),
            execute=_cpinr,
            write=_cpinr,
            section=ch7,
            notes="the SIM's retry counters",
        ),
        # -- chapter 9: platform --------------------------------------------------------------
        Spec(
            "+CMEE",
            params=(Int("n", values=range(3), default=0),),
            read=shows(lambda m: f"+CMEE: {m.cmee}"),
            write=_cmee_write,
            section=ch9,
        ),
        Spec(
            "+CBC",
            execute=shows(lambda m: "+CBC: 0,0,3300"),
            section=ch9,
            support=Support.NOT_APPLICABLE,
            notes="a steady 3.3 V supply",
        ),
        Spec("+QRST", params=(Int("mode", values=(1,)),), write=_qrst, section=ch9),
        Spec(
            "+QPOWD",
            params=(Int("n", values=(0, 1), default=1),),
            write=_qpowd,
            execute=_qpowd,
            section=ch9,
        ),
        # -- chapter 10: time --------------------------------------------------------------------
        Spec(
            "+CCLK",
            params=(Text("time", max_length=20),),
            test=(),
            read=shows(lambda m: f'+CCLK: "{m.radio.clock_text()}"'),
            write=_cclk_write,
            section=ch10,
        ),
        Spec("+QCCLK", read=shows(lambda m: f'+QCCLK: "{m.radio.clock_text()}"'), section=ch10),
        setting(
            "+CTZR",
            (0, 1, 2),
            lambda m: m,
            "ctzr",
            section=ch10,
            notes="the simulated network sends no time zone changes",
        ),
    )


def _default_only(name: str, value: int, *, section: str) -> Spec:
    """A V.250 setting the module has in its default only (``ATV1``, ``ATQ0``)."""
    return Spec(name, params=(Int("n", values=(value,)),), write=answer_ok, execute=answer_ok,
                section=section, notes=f"AT{name}{value} only")  # fmt: skip


def _echo(modem: Modem, args: Args, reply: Reply) -> Result:
    """``ATE0`` / ``ATE1`` (V.250 §6.2.4); the change applies from the next byte."""
    modem.set_echo(bool(args.number(0)))
    return None


def _save_profile(modem: Modem, args: Args, reply: Reply) -> Result:
    """``AT&W``: the current profile to NVRAM; a boot starts from it (V.250 §6.1)."""
    nv = modem.nv
    nv.echo, nv.cmee, nv.ctzr, nv.ipr = int(modem.echo), modem.cmee, modem.ctzr, modem.ipr
    nv.cereg_mode = modem.radio.settings.cereg_mode
    modem.persist()
    return None


def _restore_profile(modem: Modem, args: Args, reply: Reply) -> Result:
    """``ATZ``: back to the profile ``AT&W`` saved (V.250 §6.1.1)."""
    modem.load_profile()
    return None


def _factory(modem: Modem, args: Args, reply: Reply) -> Result:
    """``AT&F``: the factory profile (V.250 §6.1.2); what ``AT&W`` saved stays saved."""
    modem.load_profile(NvSettings())
    return None


def _ati(modem: Modem, args: Args, reply: Reply) -> Result:
    reply.line(MANUFACTURER)
    reply.line(modem.model.model_id)
    reply.line(f"Revision: {modem.model.revision}")
    return None


def _cgsn(modem: Modem, args: Args, reply: Reply) -> Result:
    """``AT+CGSN[=<snt>]`` (27.007 §7.1): 1 is the IMEI with its prefix."""
    kind = args.number(0)
    imei = modem.config.imei
    if kind == 1:
        reply.line(f"+CGSN: {imei}")
    elif kind == 2:
        reply.line(f"+CGSN: {imei[:14]}{modem.config.software_version}")
    elif kind == 3:
        reply.line(f"+CGSN: {modem.config.software_version}")
    else:
        reply.line(imei)
    return None


def _clac(modem: Modem, args: Args, reply: Reply) -> Result:
    """``AT+CLAC`` (27.007 §8.37): every command the module answers, one a line."""
    from bc66sim.module.modem import TABLE  # the table is built from this module

    for spec in TABLE:
        reply.line(spec.at_name)
    return None


def _ipr(modem: Modem, args: Args, reply: Reply) -> Result:
    modem.ipr = args.number(0)
    return None


def _require_sim(modem: Modem) -> None:
    if not modem.radio.sim_ready:
        raise CommandError(CmeError.SIM_FAILURE)


def _cimi(modem: Modem, args: Args, reply: Reply) -> Result:
    _require_sim(modem)
    reply.line(modem.config.imsi)
    return None


def _qccid(modem: Modem, args: Args, reply: Reply) -> Result:
    """``AT+QCCID``: the (U)SIM's ICCID, which carries the IMSI's home network."""
    _require_sim(modem)
    reply.line(f"+QCCID: {modem.iccid}")
    return None


def _cpin_read(modem: Modem, args: Args, reply: Reply) -> Result:
    _require_sim(modem)
    reply.line("+CPIN: READY")
    return None


def _cpin_write(modem: Modem, args: Args, reply: Reply) -> Result:
    """``AT+CPIN=<pin>``: the simulated (U)SIM asks for no PIN (27.007 §8.3: 3)."""
    _require_sim(modem)
    raise CommandError(CmeError.NOT_ALLOWED)


#: (U)SIM codes and their retries left / the retries a fresh SIM has (27.007 §8.65).
_PIN_RETRIES = (("SIM PIN", 3, 3), ("SIM PUK", 10, 10), ("SIM PIN2", 3, 3), ("SIM PUK2", 10, 10))


def _cpinr(modem: Modem, args: Args, reply: Reply) -> Result:
    """``AT+CPINR[=<sel_code>]``: the retries left of each code (``*``/``?`` wildcards)."""
    pattern = args.text(0)
    _require_sim(modem)
    for code, left, default in _PIN_RETRIES:
        if fnmatch.fnmatchcase(code, pattern):
            reply.line(f'+CPINR: "{code}",{left},{default}')
    return None


def _cmee_write(modem: Modem, args: Args, reply: Reply) -> Result:
    modem.cmee = args.number(0)
    return None


_TWO = "([0-9]{2})"
_CCLK = re.compile(rf"{_TWO}/{_TWO}/{_TWO},{_TWO}:{_TWO}:{_TWO}([+-][0-9]{{2}})")


def _cclk_write(modem: Modem, args: Args, reply: Reply) -> Result:
    """``AT+CCLK="yy/MM/dd,hh:mm:ss±zz"`` (27.007 §8.15): local time, zz in quarters."""
    match = _CCLK.fullmatch(args.text(0))
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


def _qrst(modem: Modem, args: Args, reply: Reply) -> Result:
    modem.reboot()
    return None


def _qpowd(modem: Modem, args: Args, reply: Reply) -> Result:
    modem.power_down()
    return None
