"""§2.3.12 AT+QICFG and §2.3.13 AT+QIGETERROR."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from bc66sim.module.commands import Args, BadParameter, CommandTable, Reply, Result, Spec, note
from bc66sim.module.params import Int, Keyed

if TYPE_CHECKING:
    from bc66sim.module.modem import Modem


@dataclass
class TcpipSettings:
    """The volatile TCP/IP settings: ``<echo_mode>`` is not saved (§2.3.12)."""

    echo_mode: int = 1


def _format(name: str) -> Int:
    return Int(name, values=(0, 1), optional=True)


def register(table: CommandTable) -> None:
    table.add(
        Spec(
            "+QICFG",
            tcpip=True,
            section=note("2.3.12"),
            # A keyword alone queries its values; with values, sets them.
            params=Keyed(
                "keyword",
                {
                    "dataformat": (_format("send_data_format"), _format("recv_data_format")),
                    "viewmode": (_format("view_mode"),),
                    "showlength": (_format("show_length"),),
                    "echomode": (_format("echo_mode"),),
                },
            ),
            write=_qicfg,
        ),
        Spec("+QIGETERROR", tcpip=True, section=note("2.3.13"), execute=_qigeterror),
    )


def _qicfg(modem: Modem, args: Args, reply: Reply) -> Result:
    """``AT+QICFG="<keyword>"[,<value>…]``: query with no value, set with values."""
    keyword = args.text(0)
    if len(args) > 1 and None in (args.value(i) for i in range(1, len(args))):
        raise BadParameter("an empty value")
    nv = modem.nv
    if keyword == "dataformat":
        if len(args) == 1:
            reply.line(f'+QICFG: "dataformat",{nv.send_hex},{nv.recv_hex}')
            return None
        args.require(3, 3)  # both formats, or neither (§2.3.12)
        nv.send_hex, nv.recv_hex = args.number(1), args.number(2)
    elif keyword in ("viewmode", "showlength"):
        field = "view_mode" if keyword == "viewmode" else "show_length"
        if len(args) == 1:
            reply.line(f'+QICFG: "{keyword}",{getattr(nv, field)}')
            return None
        setattr(nv, field, args.number(1))
    elif keyword == "echomode":
        if len(args) == 1:
            reply.line(f'+QICFG: "echomode",{modem.tcpip.echo_mode}')
            return None
        modem.tcpip.echo_mode = args.number(1)
        return None
    modem.persist()  # "saved to NVRAM automatically" (§2.3.12)
    return None


def _qigeterror(modem: Modem, args: Args, reply: Reply) -> Result:
    """The last TCP/IP command's error, lower-case text (CLARIFICATIONS §6)."""
    reply.line(f"+QIGETERROR: {int(modem.last_error)},{modem.last_error.description}")
    return None
