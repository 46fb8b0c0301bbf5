"""§2.3.10 AT+QIDNSGIP and §2.3.11 AT+QIDNSCFG: real DNS for context 1.

The servers set by ``AT+QIDNSCFG`` are asked by ``AT+QIDNSGIP`` and by
``AT+QIOPEN`` with a domain name; before any is set, the host's own resolvers
(CLARIFICATIONS §23).  The settings are volatile (§2.3.11: not saved to NVRAM).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
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
from bc66sim.module.params import Text
from bc66sim.net.base import Family, NetError, Resolution, ip_family
from bc66sim.note.limits import MAX_DNS_ADDRESS, MAX_HOST_LENGTH

if TYPE_CHECKING:
    from bc66sim.module.modem import Modem

log = logging.getLogger(__name__)

_UNSET = {Family.IPV4: "0.0.0.0", Family.IPV6: "::"}


def register(table: CommandTable) -> None:
    table.add(
        Spec(
            "+QIDNSCFG",
            tcpip=True,
            section=note("2.3.11"),
            params=(
                CONTEXT_ID,
                Text("pridnsaddr", max_length=MAX_DNS_ADDRESS, optional=True, quoted=False),
                Text("secdnsaddr", max_length=MAX_DNS_ADDRESS, optional=True, quoted=False),
            ),
            write=_qidnscfg,
        ),
        Spec(
            "+QIDNSGIP",
            tcpip=True,
            section=note("2.3.10"),
            params=(CONTEXT_ID, Text("hostname", max_length=MAX_HOST_LENGTH)),
            write=_qidnsgip,
        ),
    )


@dataclass
class DnsService:
    """The DNS servers of context 1, and the lookups that use them."""

    modem: Modem
    servers: list[str] = field(default_factory=list)

    @property
    def family(self) -> Family:
        """The family of the module's network: its address decides (§2.3.11 notes 2-3)."""
        return ip_family(self.modem.config.ip_address) or Family.IPV4

    def shown_servers(self) -> tuple[str, str]:
        """Primary and secondary, as ``AT+QIDNSCFG=1`` shows them."""
        servers = self.servers or self.modem.network.host_resolvers(self.family)
        unset = _UNSET[self.family]
        return (servers[0] if servers else unset, servers[1] if len(servers) > 1 else unset)

    async def lookup(self, name: str) -> Resolution:
        """Resolve ``name`` for the module's network; an IP address is its own answer."""
        if ip_family(name) is not None:
            return Resolution(addresses=(name,), ttl=0)
        self.modem.policy.check_name(name, None)
        servers = self._servers(self.family)
        return await self.modem.network.resolve(
            name, self.family, servers=servers, timeout=self.modem.config.dns_timeout
        )

    async def address_of(self, host: str, family: Family, port: int | None) -> str:
        """The address a socket, ping or NTP query goes to, if the policy allows it.

        CLARIFICATIONS §9: a DNS failure is 565; a destination the ``--allow`` /
        ``--deny`` rules refuse is 572 (operation not allowed).
        """
        policy = self.modem.policy
        literal = ip_family(host)
        if literal is not None:
            if literal is not family:
                raise NetError(Err.INVALID_PARAMETERS, f"{host} is not of the socket's family")
            policy.check_address(host, port)
            return host
        named = policy.check_name(host, port)
        servers = self._servers(family)
        try:
            resolution = await self.modem.network.resolve(
                host, family, servers=servers, timeout=self.modem.config.dns_timeout
            )
        except NetError as exc:
            raise NetError(Err.DNS_PARSE_FAILED, exc.detail) from exc
        address = resolution.addresses[0]
        policy.check_address(address, port, named=named)
        return address

    def _servers(self, family: Family) -> list[str]:
        """The servers to ask: those set by AT+QIDNSCFG, else the host's (read once here),
        each allowed by the ``--allow`` / ``--deny`` rules (572 otherwise)."""
        servers = [s for s in self.servers if s != _UNSET[family]]
        servers = servers or self.modem.network.host_resolvers(family)
        for server in servers:
            self.modem.policy.check_address(server, DNS_PORT)
        return servers

    async def report_lookup(self, name: str) -> None:
        """§2.3.10: ``+QIURC: "dnsgip",0,<IP_count>,<DNS_ttl>``, then one URC per address."""
        try:
            resolution = await self.lookup(name)
        except NetError as exc:
            log.info("DNS lookup of %s failed: %s", name, exc)
            self.report_failure(exc.code)
            return
        self.modem.last_error = Err.OK
        count, ttl = len(resolution.addresses), resolution.ttl
        self.modem.emit_urc(line(f'+QIURC: "dnsgip",0,{count},{ttl}'))
        for address in resolution.addresses:
            self.modem.emit_urc(line(f'+QIURC: "dnsgip","{address}"'))

    def report_failure(self, code: Err) -> None:
        """A failed lookup: ``+QIURC: "dnsgip",<err>`` alone (no count, no TTL)."""
        self.modem.last_error = code
        self.modem.emit_urc(line(f'+QIURC: "dnsgip",{int(code)}'))


DNS_PORT = 53


def _dns_address(args: Args, index: int, family: Family) -> str:
    if not args.given(index):
        raise BadParameter(f"parameter {index + 1} is missing")
    text = args.text(index)
    if ip_family(text) is not family:
        raise BadParameter(f"{text!r} is not an {family.name} address (§2.3.11 notes 2-3)")
    return text


def _qidnscfg(modem: Modem, args: Args, reply: Reply) -> Result:
    """§2.3.11: show the servers, or set primary and optionally secondary."""
    service = modem.dns
    if len(args) == 1:
        primary, secondary = service.shown_servers()
        reply.line(f'+QIDNSCFG: 1,"{primary}","{secondary}"')
        return None
    primary = _dns_address(args, 1, service.family)
    previous = service.shown_servers()[1]
    secondary = _dns_address(args, 2, service.family) if args.given(2) else previous
    if not modem.radio.attached:
        raise CommandError(Err.OPEN_PDP_FAILED)  # §2.3.11 note 4: after +IP
    service.servers = [primary, secondary]
    return None


def _qidnsgip(modem: Modem, args: Args, reply: Reply) -> Result:
    """§2.3.10: ``OK`` now, the answer in URCs; one lookup at a time (564 otherwise)."""
    name = args.text(1)
    if not name:
        raise BadParameter("empty host name")
    service = modem.dns
    modem.start_service(
        "dns", Err.DNS_BUSY, lambda: service.report_lookup(name), service.report_failure
    )
    return None
