"""§2.3.12 AT+QICFG and §2.3.13 AT+QIGETERROR."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from bc66sim.module.commands import Args, BadParameter, CommandTable, Reply, Result, Spec, note

if TYPE_CHECKING:
    from bc66sim.module.modem import Modem


@dataclass
class TcpipSettings:
    """The volatile TCP/IP settings: ``<echo_mode>`` is not saved (§2.3.12)."""

    echo_mode: int = 1


def register(table: CommandTable) -> None:
    table.add(
        Spec(
            "+QICFG",
            tcpip=True,
            section=note("2.3.12"),
            test=(
                '+QICFG: "dataformat",(0,1),(0,1)',
                '+QICFG: "viewmode",(0,1)',
                '+QICFG: "showlength",(0,1)',
                '+QICFG: "echomode",(0,1)',
            ),
            write=_qicfg,
        ),
        Spec("+QIGETERROR", tcpip=True, section=note("2.3.13"), execute=_qigeterror),
    )


def _qicfg(modem: Modem, args: Args, reply: Reply) -> Result:
    """``AT+QICFG="<keyword>"[,<value>…]``: query with no value, set with values."""
    keyword = args.text(0, 16).lower()
    nv = modem.nv
    if keyword == "dataformat":
        args.require(1, 3)
        if len(args) == 1:
            reply.line(f'+QICFG: "dataformat",{nv.send_hex},{nv.recv_hex}')
            return None
        args.require(3, 3)  # both formats, or neither (§2.3.12)
        nv.send_hex, nv.recv_hex = args.choice(1, (0, 1)), args.choice(2, (0, 1))
    elif keyword in ("viewmode", "showlength"):
        field = "view_mode" if keyword == "viewmode" else "show_length"
        args.require(1, 2)
        if len(args) == 1:
            reply.line(f'+QICFG: "{keyword}",{getattr(nv, field)}')
            return None
        setattr(nv, field, args.choice(1, (0, 1)))
    elif keyword == "echomode":
        args.require(1, 2)
        if len(args) == 1:
            reply.line(f'+QICFG: "echomode",{modem.tcpip.echo_mode}')
            return None
        modem.tcpip.echo_mode = args.choice(1, (0, 1))
        return None
    else:
        raise BadParameter(f"unknown keyword {keyword!r}")
    modem.persist()  # "saved to NVRAM automatically" (§2.3.12)
    return None


def _qigeterror(modem: Modem, args: Args, reply: Reply) -> Result:
    """The last TCP/IP command's error, lower-case text (CLARIFICATIONS §6)."""
    reply.line(f"+QIGETERROR: {int(modem.last_error)},{modem.last_error.description}")
    return None
