"""§2.3.8 AT+QPING: real ICMP echo, reported as CLARIFICATIONS §21 says.

``OK``, then one ``+QPING: 0,"<ip>",<bytes>,<time>,<ttl>`` per reply (or
``+QPING: 569`` for a request that timed out), then
``+QPING: 0,<sent>,<rcvd>,<lost>,<min>,<max>,<avg>`` counting requests.
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
    Reply,
    Result,
    Spec,
    note,
)
from bc66sim.module.errors import CommandError, Err
from bc66sim.module.params import Int, Text
from bc66sim.net.base import Echo, Family, NetError, ip_family
from bc66sim.note.limits import MAX_HOST_LENGTH

if TYPE_CHECKING:
    from bc66sim.module.modem import Modem

log = logging.getLogger(__name__)

#: §2.3.8 defaults.
DEFAULT_TIMEOUT, DEFAULT_COUNT, DEFAULT_SIZE = 4, 4, 32


def register(table: CommandTable) -> None:
    table.add(
        Spec(
            "+QPING",
            tcpip=True,
            section=note("2.3.8"),
            params=(
                CONTEXT_ID,
                Text("host", max_length=MAX_HOST_LENGTH),
                Int("timeout", values=range(1, 256), default=DEFAULT_TIMEOUT),
                Int("pingnum", values=range(1, 11), default=DEFAULT_COUNT),
                Int("ping_size", values=range(32, 201), default=DEFAULT_SIZE),
            ),
            write=_qping,
        )
    )


def _qping(modem: Modem, args: Args, reply: Reply) -> Result:
    """``AT+QPING=<contextID>,<host>[,<time_out>[,<ping_num>[,<ping_size>]]]``."""
    host = args.text(1)
    if not host:
        raise BadParameter("empty host")
    timeout, count, size = args.number(2), args.number(3), args.number(4)
    if ip_family(host) is Family.IPV6 or modem.dns.family is Family.IPV6:
        raise CommandError(Err.NOT_SUPPORTED)  # §2.3.8 note 2, CLARIFICATIONS §8
    modem.start_service(
        "ping",
        Err.OPERATION_BUSY,
        lambda: _ping(modem, host, timeout, count, size),
        lambda code: _report(modem, code),
    )
    return None


async def _ping(modem: Modem, host: str, timeout: int, count: int, size: int) -> None:
    try:
        address = await modem.dns.address_of(host, Family.IPV4, None)
        pinger = modem.network.pinger(address)
    except NetError as exc:
        log.info("ping %s: %s", host, exc)
        _report(modem, exc.code)
        return
    echoes: list[Echo] = []
    try:
        for sequence in range(1, count + 1):
            started = modem.clock.now()
            modem.power.uplink(size)  # each echo request is uplink: RRC stays up
            echo = await pinger.echo(sequence, size, float(timeout))
            if echo is None:
                modem.emit_urc(line(f"+QPING: {int(Err.TIMEOUT)}"))
            else:
                echoes.append(echo)
                modem.emit_urc(line(f'+QPING: 0,"{address}",{size},{echo.milliseconds},{echo.ttl}'))
            if sequence < count:
                await modem.clock.sleep_until(started + modem.config.ping_interval)
    finally:
        pinger.close()
    times = [echo.milliseconds for echo in echoes]
    summary = (min(times), max(times), sum(times) // len(times)) if times else (0, 0, 0)
    modem.last_error = Err.OK
    lost = count - len(echoes)
    modem.emit_urc(line(f"+QPING: 0,{count},{len(echoes)},{lost},{','.join(map(str, summary))}"))


def _report(modem: Modem, code: Err) -> None:
    """The operation failed before any request: ``+QPING: <finresult>`` alone."""
    modem.last_error = code
    modem.emit_urc(line(f"+QPING: {int(code)}"))
