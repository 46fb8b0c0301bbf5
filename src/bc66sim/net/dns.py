"""Real DNS queries (§2.3.10), with dnspython.

The module asks the servers set by ``AT+QIDNSCFG``; before any is set, the host's
own resolvers (``/etc/resolv.conf``), as a module asks the servers its network
gave it (CLARIFICATIONS §23).  A answers on an IPv4 network, AAAA on IPv6.
"""

from __future__ import annotations

from collections.abc import Sequence

import dns.asyncresolver
import dns.exception
import dns.resolver

from bc66sim.net.base import Family, NetError, Resolution, ip_family
from bc66sim.note.errors import Err
from bc66sim.note.limits import DEFAULT_DNS_TIMEOUT


def host_resolvers(family: Family) -> list[str]:
    """The host's own DNS servers of ``family``, from ``/etc/resolv.conf``."""
    try:
        servers = dns.resolver.Resolver(configure=True).nameservers
    except dns.resolver.NoResolverConfiguration:
        return []
    return [str(s) for s in servers if ip_family(str(s)) is family]


async def resolve(
    name: str, family: Family, servers: Sequence[str], timeout: float = DEFAULT_DNS_TIMEOUT
) -> Resolution:
    """Query ``servers`` (the host's resolvers when empty) for ``name``.

    Raises :class:`NetError`: 565 when the name has no address or the answer
    says so, 569 when no server answers in ``timeout`` seconds.
    """
    resolver = dns.asyncresolver.Resolver(configure=not servers)
    if servers:
        resolver.nameservers = list(servers)
    resolver.lifetime = timeout
    resolver.timeout = min(timeout, 2.0)
    kind = "AAAA" if family is Family.IPV6 else "A"
    try:
        answer = await resolver.resolve(name, kind, search=False)
    except dns.exception.Timeout as exc:
        raise NetError(Err.TIMEOUT, f"{name}: no answer from {servers or 'the host'}") from exc
    except (dns.exception.DNSException, ValueError, UnicodeError) as exc:
        raise NetError(Err.DNS_PARSE_FAILED, f"{name}: {exc}") from exc
    if answer.rrset is None:
        raise NetError(Err.DNS_PARSE_FAILED, f"{name}: no address")
    addresses = tuple(str(getattr(rdata, "address", "")) for rdata in answer)
    return Resolution(addresses=tuple(a for a in addresses if a), ttl=int(answer.rrset.ttl))
