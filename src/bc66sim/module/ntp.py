"""§2.3.9 AT+QNTP: synchronise the module's clock with a real NTP server.

``AT+QNTTP`` (the body's spelling) is an alias; the answer uses the prefix the
host sent (CLARIFICATIONS §7).  With ``<auto_set_time>`` 1 the module's RTC is
set (``AT+CCLK?``, ``AT+QCCLK?``); the host's clock never is (CLARIFICATIONS §22).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from bc66sim.at.results import line
from bc66sim.module.commands import (
    CONTEXT_ID,
    Args,
    BadParameter,
    CommandTable,
    Handler,
    Reply,
    Result,
    Spec,
    note,
)
from bc66sim.module.errors import Err
from bc66sim.module.params import Int, Text
from bc66sim.net.base import NetError
from bc66sim.note.limits import MAX_HOST_LENGTH

if TYPE_CHECKING:
    from bc66sim.module.modem import Modem

log = logging.getLogger(__name__)

NTP_PORT = 123


def register(table: CommandTable) -> None:
    for name in ("+QNTP", "+QNTTP"):
        table.add(
            Spec(
                name,
                tcpip=True,
                section=note("2.3.9"),
                params=(
                    CONTEXT_ID,
                    Text("server", max_length=MAX_HOST_LENGTH),
                    Int("port", values=range(1, 65536), default=NTP_PORT, shown="<port>"),
                    Int("auto_set_time", values=(0, 1), default=1),
                ),
                write=_qntp(name),
            )
        )


def _qntp(prefix: str) -> Handler:
    def handler(modem: Modem, args: Args, reply: Reply) -> Result:
        """``AT+QNTP=<contextID>,<server>[,<port>][,<auto_set_time>]``."""
        server = args.text(1)
        if not server:
            raise BadParameter("empty server")
        port, auto_set = args.number(2), bool(args.number(3))
        modem.start_service(
            "ntp",
            Err.OPERATION_BUSY,
            lambda: _synchronise(modem, prefix, server, port, auto_set),
            lambda code: _report(modem, prefix, code, ""),
        )
        return None

    return handler


async def _synchronise(modem: Modem, prefix: str, server: str, port: int, auto_set: bool) -> None:
    try:
        address = await modem.dns.address_of(server, modem.dns.family, port)
        when = await modem.network.ntp_query(address, port, modem.config.ntp_timeout)
    except NetError as exc:
        log.info("NTP with %s:%d failed: %s", server, port, exc)
        _report(modem, prefix, exc.code, "")
        return
    if auto_set:
        modem.radio.set_time(when)
    _report(modem, prefix, Err.OK, f',"{modem.radio.clock_text(when)}"')


def _report(modem: Modem, prefix: str, code: Err, time_text: str) -> None:
    """``+QNTP: <err>,"<time>"`` (CLARIFICATIONS §22), or ``+QNTP: <err>`` alone on failure."""
    modem.last_error = code
    modem.emit_urc(line(f"{prefix}: {int(code)}{time_text}"))
