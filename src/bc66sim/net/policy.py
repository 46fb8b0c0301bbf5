"""Which destinations the module may reach: ``--allow`` / ``--deny`` rules.

An emulator whose UART is reachable beyond loopback would otherwise be an open
proxy and DNS relay for whoever connects.  Every destination the module opens —
a socket (``AT+QIOPEN``), a ping, an NTP server, a DNS server and the names it
looks up — is checked here first.

A rule is ``*`` (everything), an address or network (``127.0.0.1``,
``10.0.0.0/8``, ``::1``, ``[fd00::/8]``), or a host name (``iot.example.org``,
``*.example.org``), each optionally with ``:PORT`` or ``:LOW-HIGH``.  A rule with
ports matches only destinations with a port in the range (a ping has none).

Deny rules win.  Without allow rules everything not denied is allowed; with them,
a destination must match one.  A host name allowed by a name rule may go to the
addresses it resolves to (unless an address is denied); otherwise the resolved
address itself must be allowed.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from bc66sim.net.base import NetError
from bc66sim.note.errors import Err

log = logging.getLogger(__name__)

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class Rule:
    """One ``--allow`` / ``--deny`` rule; build it with :meth:`parse`."""

    text: str
    network: IpNetwork | None = None
    #: A lower-case host name; ``*.example.org`` matches its subdomains.
    name: str | None = None
    ports: range | None = None

    @classmethod
    def parse(cls, text: str) -> Rule:
        """Raises ValueError with a message fit for the command line."""
        spec = text.strip()
        ports: range | None = None
        host = spec
        if spec.startswith("["):  # [v6 address or network]:ports
            close = spec.find("]")
            if close < 0:
                raise ValueError(f"{text!r}: missing ']'")
            host, rest = spec[1:close], spec[close + 1 :]
            if rest:
                if not rest.startswith(":"):
                    raise ValueError(f"{text!r}: expected ':PORT' after ']'")
                ports = _ports(rest[1:], text)
        elif spec.count(":") == 1:  # v4, name or * with :ports
            host, port_text = spec.split(":")
            ports = _ports(port_text, text)
        if host == "*":
            return cls(text, ports=ports)
        try:
            return cls(text, network=ipaddress.ip_network(host, strict=False), ports=ports)
        except ValueError:
            pass
        name = host.lower().rstrip(".")
        labels = name.removeprefix("*.").split(".")
        if (not all(part.isascii() and part.replace("-", "").isalnum() for part in labels)
                or all(_digits(part) for part in labels)):  # fmt: skip
            raise ValueError(f"{text!r}: not an address, a network or a host name")
        return cls(text, name=name, ports=ports)

    def _port_matches(self, port: int | None) -> bool:
        return self.ports is None or (port is not None and port in self.ports)

    def matches_address(self, address: str, port: int | None) -> bool:
        if self.name is not None or not self._port_matches(port):
            return False
        if self.network is None:
            return True  # "*"
        try:
            return ipaddress.ip_address(address) in self.network
        except ValueError:
            return False

    def matches_name(self, name: str, port: int | None) -> bool:
        if self.name is None or not self._port_matches(port):
            return False
        wanted, name = self.name, name.lower().rstrip(".")
        if wanted.startswith("*."):
            return name.endswith(wanted[1:])
        return name == wanted


def _ports(text: str, rule: str) -> range:
    low, dash, high = text.partition("-")
    if not _digits(low) or (dash and not _digits(high)):
        raise ValueError(f"{rule!r}: ports are a number or LOW-HIGH")
    first, last = int(low), int(high or low)
    if not 0 < first <= last <= 65535:
        raise ValueError(f"{rule!r}: ports are 1-65535")
    return range(first, last + 1)


def _digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


class Denied(NetError):
    """The destination is not allowed: the note's 572 (operation not allowed).

    The message says which rule decided; it is logged when raised.
    """

    def __init__(self, detail: str) -> None:
        super().__init__(Err.NOT_ALLOWED, detail)
        log.warning("%s", detail)


@dataclass(frozen=True)
class DestinationPolicy:
    """The ``--allow`` and ``--deny`` rules; see the module docstring."""

    allow: Sequence[Rule] = ()
    deny: Sequence[Rule] = ()

    @classmethod
    def parse(cls, allow: Sequence[str], deny: Sequence[str]) -> DestinationPolicy:
        return cls(tuple(map(Rule.parse, allow)), tuple(map(Rule.parse, deny)))

    def check_name(self, name: str, port: int | None) -> bool:
        """Before a name is resolved: raises :class:`Denied`; True if an allow rule named it."""
        for rule in self.deny:
            if rule.matches_name(name, port):
                raise Denied(f"{name} is denied by --deny {rule.text}")
        return any(rule.matches_name(name, port) for rule in self.allow)

    def check_address(self, address: str, port: int | None, *, named: bool = False) -> None:
        """Raises :class:`Denied` unless ``address`` (resolved from an allowed name when
        ``named``) may be reached.

        The address is judged as the host's stack will reach it: an IPv4-mapped IPv6
        address (``::ffff:127.0.0.2``) is that IPv4 address, and the unspecified
        address (``0.0.0.0``, ``::``) is this host's loopback.
        """
        where = address if port is None else f"{address} port {port}"
        reached = _as_reached(address)
        for rule in self.deny:
            if rule.matches_address(reached, port):
                raise Denied(f"{where} is denied by --deny {rule.text}")
        allowed = named or any(rule.matches_address(reached, port) for rule in self.allow)
        if self.allow and not allowed:
            raise Denied(f"{where} matches no --allow rule")


def _as_reached(address: str) -> str:
    """The address a connection to ``address`` really reaches (see check_address)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_unspecified:
        return "127.0.0.1" if ip.version == 4 else "::1"
    return str(ip)
