"""Network state, PDN and the other network commands (manual chapters 4 to 6).

Values come from the simulated network (CLARIFICATIONS §24–25): PLMN 00101, one
serving cell on the first band the module searches, the module's address once it
is attached.  Settings the manual saves to NVRAM (the default PDN, bands, the
frequency lock, the scrambling algorithm) live in ``Modem.nv``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

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
from bc66sim.module.errors import CmeError, CommandError
from bc66sim.module.identity import MODELS
from bc66sim.module.params import Int, Text, Word, value_list
from bc66sim.module.radio import ACT_NBIOT, CELL_ID, CIOT_DEFAULT, PLMN, TAC

if TYPE_CHECKING:
    from bc66sim.module.modem import Modem

#: The lowest downlink EARFCN of each LTE band (3GPP TS 36.101 Table 5.7.3-1).
BAND_EARFCN = {
    1: 0, 2: 600, 3: 1200, 4: 1950, 5: 2400, 8: 3450, 12: 5010, 13: 5180, 17: 5730,
    18: 5850, 19: 6000, 20: 6150, 25: 8040, 26: 8690, 28: 9210, 66: 66436, 70: 68336,
    71: 68586, 85: 70366,
}  # fmt: skip
#: Where in its band the serving cell's carrier sits.
EARFCN_IN_BAND = 88
#: ``AT+QGACT`` / ``AT+QCGDEFCONT`` PDP types, by the number ``AT+QGACT`` uses.
PDP_TYPES = {1: "IP", 2: "IPV6", 3: "IPV4V6", 4: "Non-IP"}
PDP_TYPE_NAMES = tuple(PDP_TYPES.values())
MAX_APN = 99
#: ``<cid>`` 1-10 (27.007 §10.1.1); the simulated network has context 1.
_CIDS = range(1, 11)
_CID = Int("cid", values=_CIDS, supported=(1,), unsupported=CmeError.NOT_SUPPORTED)
_CID_SHOWN_1 = Int("cid", values=_CIDS, shown="(1)")  # only context 1 has an address
_PDP_TYPE = Word("PDP_type", choices=PDP_TYPE_NAMES, optional=True)
_APN = Text("APN", max_length=MAX_APN, optional=True, shown="")
_IGNORED = Text("parameter", max_length=MAX_APN, optional=True, shown="")
#: A band list (``AT+QBAND``, ``AT+QBANDSL``); the model's radio decides which.
_MOST_BANDS = max(len(model.bands) for model in MODELS.values())
_BANDS = Int("band", values=range(1, 256), optional=True, repeats=True)


def register(table: CommandTable) -> None:
    ch4, ch5, ch6 = manual(4), manual(5), manual(6)
    table.add(
        # -- chapter 4: network state ---------------------------------------------------
        Spec(
            "+CEREG",
            params=(Int("n", values=range(6), default=0),),
            read=shows(lambda m: "+CEREG: " + m.radio.cereg_fields(urc=False)),
            write=_cereg_write,
            section=ch4,
            notes="n 0-5; 4 and 5 carry the PSM timers the network granted",
        ),
        Spec(
            "+CGATT",
            params=(Int("state", values=(0, 1)),),
            read=shows(lambda m: f"+CGATT: {int(m.radio.attached)}"),
            write=_cgatt_write,
            section=ch4,
        ),
        Spec(
            "+CGPADDR",
            params=(_CID_SHOWN_1,),
            read=_cgpaddr,
            execute=_cgpaddr,
            write=_cgpaddr,
            section=ch4,
        ),
        Spec("+QIPADDR", execute=_qipaddr, section=ch4, notes="the address of +IP: and loopback"),
        Spec(
            "+CSQ",
            test=("+CSQ: (0-31,99),(0-7,99)",),
            execute=shows(_csq),
            section=ch4,
        ),
        Spec(
            "+CESQ",
            test=("+CESQ: (0-63,99),(0-7,99),(255),(255),(0-34,255),(0-97,255)",),
            execute=_cesq,
            section=ch4,
        ),
        Spec(
            "+CSCON",
            params=(Int("n", values=(0, 1), default=0),),
            read=shows(_cscon),
            write=_cscon_write,
            section=ch4,
        ),
        Spec(
            "+QENG",
            params=(Int("mode", values=(0,)),),
            write=_qeng,
            section=ch4,
            notes="mode 0",
        ),
        setting(
            "+CGEREP",
            (0, 1),
            lambda m: m.radio.settings,
            "cgerep",
            section=ch4,
            support=Support.FULL,
            notes="+CGEV: ME PDN ACT 1 / ME DETACH",
        ),
        # -- chapter 5: PDN and APN ------------------------------------------------------
        Spec(
            "+CGDCONT",
            # <cid>,<PDP_type>,<APN> and 12 more the module takes and ignores.
            params=(_CID, _PDP_TYPE, _APN, *(_IGNORED,) * 12),
            read=_cgdcont_read,
            write=_cgdcont_write,
            section=ch5,
            notes="context 1",
        ),
        Spec(
            "+CGACT",
            params=(Int("state", values=(0, 1)), Int("cid", values=_CIDS, default=1, shown="")),
            read=shows(lambda m: f"+CGACT: 1,{int(m.radio.attached)}"),
            write=_cgact_write,
            section=ch5,
        ),
        Spec(
            "+QCGDEFCONT",
            params=(
                Word("PDP_type", choices=PDP_TYPE_NAMES),
                Text("APN", max_length=MAX_APN, default="", shown=""),
                Text("username", max_length=64, default="", shown=""),
                Text("password", max_length=64, default="", shown=""),
            ),
            read=shows(_qcgdefcont),
            write=_qcgdefcont_write,
            section=ch5,
            notes="NVRAM; applies from the next boot",
        ),
        Spec(
            "+QGACT",
            # AT+QGACT=1,<PDP_type>,<APN>[,<user>,<password>[,<auth>]] or AT+QGACT=0,<cid>.
            params=(
                Int("op", values=(0, 1)),
                Int("PDP_type/cid", values=_CIDS, shown=f"({value_list(tuple(PDP_TYPES))})"),
                Text("APN", max_length=MAX_APN, optional=True),
                Text("username", max_length=64, default="", shown=""),
                Text("password", max_length=64, default="", shown=""),
                Int("auth", values=(0, 1, 2), default=0, shown=""),
            ),
            write=_qgact_write,
            section=ch5,
            support=Support.SETTINGS,
            notes="context 1 only",
        ),
        Spec(
            "+CIPCA",
            params=(Int("n", values=(3,)), Int("AttachWithoutPDN", values=(0, 1), default=0)),
            read=shows(lambda m: f"+CIPCA: 3,{m.radio.settings.attach_without_pdn}"),
            write=_cipca_write,
            section=ch5,
            support=Support.SETTINGS,
        ),
        Spec(
            "+CGAUTH",
            params=(
                _CID,
                Int("auth_prot", values=(0, 1), default=0),
                Text("userid", max_length=64, default="", shown='("")'),
                Text("password", max_length=64, default="", shown='("")'),
            ),
            read=_cgauth_read,
            write=_cgauth_write,
            section=ch5,
            support=Support.SETTINGS,
        ),
        Spec(
            "+CCIOTOPT",
            params=(
                Int("n", values=(0, 1, 3), default=0),
                Int("supported_UE_opt", values=range(4), optional=True),
                Int("preferred_UE_opt", values=range(3), optional=True),
            ),
            read=shows(lambda m: "+CCIOTOPT: " + _join(list(m.radio.settings.ciot))),
            write=_cciotopt_write,
            section=ch5,
            support=Support.SETTINGS,
        ),
        # -- chapter 6: other network commands ----------------------------------------------
        Spec(
            "+COPS",
            params=(
                Int("mode", values=range(5)),
                Int("format", values=range(3), optional=True),
                Text("oper", max_length=6, optional=True),
                Int("AcT", values=(ACT_NBIOT,), optional=True),
            ),
            # The manual's answer is the operator list, then the modes and formats.
            test=(f'+COPS: (2,"{PLMN}","{PLMN}","{PLMN}",{ACT_NBIOT}),,(0-4),(2)',),
            read=_cops_read,
            write=_cops_write,
            section=ch6,
        ),
        Spec(
            "+QBAND",
            params=(Int("n", values=range(_MOST_BANDS + 1)), _BANDS),
            test_handler=_qband_test,
            read=shows(lambda m: "+QBAND: " + _join(m.radio.bands)),
            write=_qband_write,
            section=ch6,
            notes="bands of --model; NVRAM",
        ),
        Spec(
            "+QBANDSL",
            params=(
                Int("mode", values=(0, 1)),
                Int("n", values=range(1, 5), optional=True),
                _BANDS,
            ),
            test=(),
            read=_qbandsl_read,
            write=_qbandsl_write,
            section=ch6,
            support=Support.SETTINGS,
            notes="NVRAM",
        ),
        Spec(
            "+QCSEARFCN",
            execute=_qcsearfcn,
            section=ch6,
            support=Support.SETTINGS,
            notes="only at AT+CFUN=0, as on the module",
        ),
        Spec(
            "+QLOCKF",
            params=(
                Int("mode", values=(0, 1)),
                Int("EARFCN", values=range(262144), optional=True),
                Int("EARFCN_offset", values=range(22), optional=True),
                Int("PCI", values=range(504), optional=True),
            ),
            read=_qlockf_read,
            write=_qlockf_write,
            section=ch6,
            support=Support.SETTINGS,
            notes="only at AT+CFUN=0; NVRAM",
        ),
        setting(
            "+QSPCHSC", (0, 1), lambda m: m.nv, "scrambling", saved=True, section=ch6, notes="NVRAM"
        ),
        setting("+QNBIOTRAI", (0, 1, 2), lambda m: m.radio.settings, "rai", section=ch6),
    )


def _qband_test(modem: Modem, args: Args, reply: Reply) -> Result:
    """``AT+QBAND=?``: how many bands may be given, and which (the model's radio)."""
    bands = modem.model.bands
    reply.line(f"+QBAND: (0-{len(bands)}),({_join(bands)})")
    return None


def _join(values: tuple[int, ...] | list[int]) -> str:
    return ",".join(str(value) for value in values)


# -- chapter 4 ----------------------------------------------------------------------------


def _cereg_write(modem: Modem, args: Args, reply: Reply) -> Result:
    modem.radio.settings.cereg_mode = args.number(0)
    return None


def _cgatt_write(modem: Modem, args: Args, reply: Reply) -> Result:
    attach = args.number(0)
    if attach and modem.radio.cfun != 1:
        raise CommandError(CmeError.NO_NETWORK_SERVICE)
    modem.radio.set_attach(bool(attach))
    return None


def _cgpaddr(modem: Modem, args: Args, reply: Reply) -> Result:
    """``AT+CGPADDR[=<cid>]`` and ``AT+CGPADDR?``: the address of context 1 once attached."""
    if len(args) and args.number(0) != 1:
        return None
    if modem.radio.attached:
        reply.line(f"+CGPADDR: 1,{modem.config.ip_address}")
    return None


def _qipaddr(modem: Modem, args: Args, reply: Reply) -> Result:
    """``AT+QIPADDR``: the module's addresses: its PDN address (as ``+IP:``), loopback."""
    if modem.radio.attached:
        reply.line(f"+QIPADDR: {modem.config.ip_address}")
    reply.line("+QIPADDR: 127.0.0.1")
    return None


def _csq(modem: Modem) -> str:
    """27.007 §8.5: ``<rssi>`` 0-31 is -113 dBm + 2 dB steps; 99 when not known."""
    if not modem.radio.in_service:
        return "+CSQ: 99,99"
    rssi = modem.network.conditions.signal.rssi
    return f"+CSQ: {min(31, max(0, (rssi + 113) // 2))},0"


def _cesq(modem: Modem, args: Args, reply: Reply) -> Result:
    """27.007 §8.69: RSRQ 0-34 (0.5 dB steps from -19.5), RSRP 0-97 (1 dB from -140);
    255 when unknown."""
    if not modem.radio.in_service:
        reply.line("+CESQ: 99,99,255,255,255,255")
        return None
    signal = modem.network.conditions.signal
    rsrq = min(34, max(0, (signal.rsrq + 20) * 2))
    rsrp = min(97, max(0, signal.rsrp + 141))
    reply.line(f"+CESQ: 99,99,255,255,{rsrq},{rsrp}")
    return None


def _cscon(modem: Modem) -> str:
    return f"+CSCON: {modem.radio.settings.cscon_mode},{int(modem.power.rrc_connected)}"


def _cscon_write(modem: Modem, args: Args, reply: Reply) -> Result:
    modem.radio.settings.cscon_mode = args.number(0)
    return None


def _qeng(modem: Modem, args: Args, reply: Reply) -> Result:
    """``AT+QENG=0``: the serving cell, on its band (``Radio.serving_band``)."""
    if not modem.radio.in_service:
        reply.line("+QENG: 0,0,0,0,,0,0,0,0,0,,0,0,1")
        return None
    band = modem.radio.serving_band
    earfcn = BAND_EARFCN[band] + EARFCN_IN_BAND
    s = modem.network.conditions.signal
    reply.line(f'+QENG: 0,{earfcn},0,182,"{CELL_ID}",{s.rsrp},{s.rsrq},{s.rssi},{s.sinr},'
               f'{band},"{TAC}",{s.ecl},{s.tx_power},2')  # fmt: skip
    return None


# -- chapter 5 ----------------------------------------------------------------------------


def _cgdcont_read(modem: Modem, args: Args, reply: Reply) -> Result:
    settings = modem.radio.settings
    address = modem.config.ip_address if modem.radio.attached else ""
    reply.line(f'+CGDCONT: 1,"{settings.pdp_type}","{settings.apn}","{address}",0,0,0,,,,,,0,,0')
    return None


def _cgdcont_write(modem: Modem, args: Args, reply: Reply) -> Result:
    settings = modem.radio.settings
    if args.given(1):
        settings.pdp_type = args.text(1)
    if args.given(2):
        settings.apn = args.text(2)
    return None


def _cgact_write(modem: Modem, args: Args, reply: Reply) -> Result:
    state = args.number(0)
    if args.number(1) != 1:
        raise CommandError(CmeError.NOT_SUPPORTED)
    modem.radio.set_attach(bool(state))
    return None


def _qcgdefcont(modem: Modem) -> str:
    return f'+QCGDEFCONT: "{modem.nv.pdp_type}","{modem.nv.apn}"'


def _qcgdefcont_write(modem: Modem, args: Args, reply: Reply) -> Result:
    """``AT+QCGDEFCONT=<PDP_type>[,<APN>[,<username>,<password>]]``: saved, used at boot."""
    if len(args) == 3:
        raise BadParameter("a user name goes with a password")
    modem.nv.pdp_type, modem.nv.apn = args.text(0), args.text(1)
    modem.persist()
    return None


def _qgact_write(modem: Modem, args: Args, reply: Reply) -> Result:
    """``AT+QGACT=1,<PDP_type>,<APN>[,<user>,<password>[,<auth>]]`` / ``AT+QGACT=0,<cid>``.

    The simulated network has one PDN (context 1): activating sets its APN and
    type; deactivating it is refused, as the module keeps its default bearer.
    """
    if args.number(0) == 0:
        args.require(2, 2)
        if args.number(1) == 1:
            raise CommandError(CmeError.NOT_ALLOWED)
        raise CommandError(CmeError.NOT_SUPPORTED)
    args.require(3, 6)
    if len(args) == 4:
        raise BadParameter("a user name goes with a password")
    if args.number(1) not in PDP_TYPES or not args.given(2):
        raise BadParameter("AT+QGACT=1 takes a PDP type 1-4 and an APN")
    kind, apn = PDP_TYPES[args.number(1)], args.text(2)
    if not modem.radio.attached:
        raise CommandError(CmeError.NO_NETWORK_SERVICE)
    modem.radio.settings.pdp_type, modem.radio.settings.apn = kind, apn
    return None


def _cciotopt_write(modem: Modem, args: Args, reply: Reply) -> Result:
    """``AT+CCIOTOPT=[<n>[,<supported_UE_opt>[,<preferred_UE_opt>]]]`` (27.007 §10.1.41).

    ``<n>`` 3 disables reporting and resets the parameters to their defaults.
    """
    settings = modem.radio.settings
    report = args.number(0)
    supported = args.number(1) if args.given(1) else settings.ciot[1]
    preferred = args.number(2) if args.given(2) else settings.ciot[2]
    settings.ciot = CIOT_DEFAULT if report == 3 else (report, supported, preferred)
    return None


def _cipca_write(modem: Modem, args: Args, reply: Reply) -> Result:
    modem.radio.settings.attach_without_pdn = args.number(1)
    return None


def _cgauth_read(modem: Modem, args: Args, reply: Reply) -> Result:
    protocol, user, _ = modem.radio.settings.auth
    reply.line(f'+CGAUTH: 1,{protocol},"{user}"')
    return None


def _cgauth_write(modem: Modem, args: Args, reply: Reply) -> Result:
    protocol, user, password = args.number(1), args.text(2), args.text(3)
    modem.radio.settings.auth = (protocol, user if protocol else "", password if protocol else "")
    return None


# -- chapter 6 ----------------------------------------------------------------------------


def _cops_read(modem: Modem, args: Args, reply: Reply) -> Result:
    if modem.radio.attached:
        reply.line(f'+COPS: 0,2,"{PLMN}",{ACT_NBIOT}')
    else:
        reply.line("+COPS: 0")
    return None


def _cops_write(modem: Modem, args: Args, reply: Reply) -> Result:
    mode = args.number(0)
    if mode in (1, 3, 4) and args.value(1) != 2:
        raise BadParameter("the numeric format (2) is the one the module has")
    if mode == 3:  # set the format only
        return None
    if mode in (1, 4):
        if not args.given(2):
            raise BadParameter("no operator")
        # 4: when the manual selection fails, automatic selection finds the network.
        if args.text(2) != PLMN and mode == 1:
            raise CommandError(CmeError.NO_NETWORK_SERVICE)
    modem.radio.set_attach(mode != 2)
    return None


def _qband_write(modem: Modem, args: Args, reply: Reply) -> Result:
    """``AT+QBAND=<n>,<band>[,<band>…]``: 0 means all the model's bands (NVRAM)."""
    supported = modem.model.bands
    count = args.number(0)
    if count > len(supported):
        raise BadParameter(f"the {modem.model.name} has {len(supported)} bands")
    if count == 0:
        args.require(1, 1)
        modem.nv.bands = list(supported)
    else:
        modem.nv.bands = _band_list(args, 1, count, supported)
    modem.persist()
    return None


def _qbandsl_read(modem: Modem, args: Args, reply: Reply) -> Result:
    preferred = modem.radio.preferred_bands
    if preferred:
        reply.line(f"+QBANDSL: 1,{len(preferred)},{_join(preferred)}")
    else:
        reply.line("+QBANDSL: 0")
    return None


def _qbandsl_write(modem: Modem, args: Args, reply: Reply) -> Result:
    """``AT+QBANDSL=<mode>[,<n>,<band>…]``: 1 sets up to 4 bands searched first, 0 clears.

    A preferred band must be one the module searches (``AT+QBAND``).
    """
    if args.number(0) == 0:
        args.require(1, 1)
        modem.nv.preferred_bands = []
    else:
        if not args.given(1):
            raise BadParameter("how many bands")
        count = args.number(1)
        modem.nv.preferred_bands = _band_list(args, 2, count, modem.radio.bands)
    modem.persist()
    return None


def _band_list(
    args: Args, first: int, count: int, allowed: tuple[int, ...] | list[int]
) -> list[int]:
    """``count`` distinct bands from parameter ``first`` on, the last parameters given."""
    args.require(first + count, first + count)
    bands = args.numbers(first)
    if any(band not in allowed for band in bands):
        raise BadParameter(f"bands are among {allowed}")
    if len(set(bands)) != len(bands):
        raise BadParameter("a band given twice")
    return bands


def _require_minimum_functionality(modem: Modem) -> None:
    """Commands that change what the radio searches run with the radio off (CFUN=0)."""
    if modem.radio.cfun != 0:
        raise CommandError(CmeError.NOT_ALLOWED)


def _qcsearfcn(modem: Modem, args: Args, reply: Reply) -> Result:
    """``AT+QCSEARFCN``: forget the stored EARFCNs; the next search is a full scan."""
    _require_minimum_functionality(modem)
    return None


def _qlockf_read(modem: Modem, args: Args, reply: Reply) -> Result:
    locked = modem.nv.locked_frequency
    reply.line(f"+QLOCKF: 1,{_join(locked)}" if locked else "+QLOCKF: 0")
    return None


def _qlockf_write(modem: Modem, args: Args, reply: Reply) -> Result:
    """``AT+QLOCKF=0`` / ``AT+QLOCKF=1,<EARFCN>,<EARFCN_offset>[,<PCI>]``."""
    if args.number(0) == 0:
        args.require(1, 1)
        locked: list[int] = []
    else:
        args.require(3, 4)
        if not (args.given(1) and args.given(2)):
            raise BadParameter("EARFCN and offset")
        locked = [args.number(1), args.number(2)]
        if args.given(3):
            locked.append(args.number(3))
    _require_minimum_functionality(modem)
    modem.nv.locked_frequency = locked
    modem.persist()
    return None
