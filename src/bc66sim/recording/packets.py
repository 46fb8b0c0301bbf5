"""The module's IP packets, as its own stack would put them on the radio.

The emulated module reaches the network through this machine's sockets, whose
packets carry this machine's addresses and segmentation.  What a firmware team
wants to see is the module's side: its address (``+IP:``), its flows, each send
as a segment, each datagram, each DNS query and answer, echo and NTP exchange, at
the moment the module sent or received it.  :class:`FlowPackets` keeps the TCP
sequence and acknowledgement numbers of one flow, so Wireshark follows the
stream (Follow TCP Stream shows exactly the bytes each way).  Segments are not
acknowledged one by one: the module's stack does that, and the radio does not
show it to the host either.

Built with scapy (a well-kept packet library; checksums and lengths are its).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import random

from scapy.layers.dns import DNS, DNSQR, DNSRR
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import ICMPv6EchoReply, ICMPv6EchoRequest, IPv6
from scapy.layers.ntp import NTPHeader
from scapy.packet import Packet, Raw

#: The largest segment the module sends or receives (one node, CLARIFICATIONS §16).
MSS = 1460
#: The module's IPv6 address: its IPv4 address inside this unique-local prefix.
IPV6_PREFIX = ipaddress.IPv6Address("fd00:bc66::")


def module_ipv6(ipv4: str) -> str:
    """The module's IPv6 address for an IPv4 one (the emulator's convention)."""
    return str(IPV6_PREFIX + int(ipaddress.IPv4Address(ipv4)))


def ip(source: str, destination: str) -> Packet:
    """The IP header between two addresses; when one is IPv6, an IPv4 one (the module's)
    becomes its IPv6 address (:func:`module_ipv6`)."""
    versions = ipaddress.ip_address(source).version, ipaddress.ip_address(destination).version
    if 6 in versions:
        source = module_ipv6(source) if versions[0] == 4 else source
        destination = module_ipv6(destination) if versions[1] == 4 else destination
        return IPv6(src=source, dst=destination)
    return IP(src=source, dst=destination)


class FlowPackets:
    """The packets of one TCP connection or UDP flow between the module and a peer."""

    def __init__(self, tcp: bool, module: str, module_port: int, peer: str, peer_port: int,
                 *, seed: int) -> None:  # fmt: skip
        self.tcp = tcp
        self.module, self.module_port = module, module_port
        self.peer, self.peer_port = peer, peer_port
        draw = random.Random(seed)
        #: The next sequence number each side sends (initial ones drawn, as a stack does).
        self._sequence = {True: draw.getrandbits(32), False: draw.getrandbits(32)}

    def _header(self, from_module: bool) -> Packet:
        return ip(self.module, self.peer) if from_module else ip(self.peer, self.module)

    def _segment(self, from_module: bool, flags: str, payload: bytes = b"") -> bytes:
        sport, dport = (self.module_port, self.peer_port)
        if not from_module:
            sport, dport = dport, sport
        seq = self._sequence[from_module]
        ack = self._sequence[not from_module] if "A" in flags else 0
        segment = TCP(sport=sport, dport=dport, flags=flags, seq=seq, ack=ack, window=65535)
        self._sequence[from_module] = (seq + len(payload) + ("S" in flags) + ("F" in flags)) % (
            1 << 32
        )
        packet = self._header(from_module) / segment
        if payload:
            packet = packet / Raw(payload)
        return bytes(packet)

    def handshake(self) -> list[bytes]:
        """SYN, SYN-ACK, ACK: the module opened the connection."""
        return [self._segment(True, "S"), self._segment(False, "SA"), self._segment(True, "A")]

    def syn(self) -> bytes:
        """A SYN that got no connection (refused or unanswered)."""
        return self._segment(True, "S")

    def refused(self) -> bytes:
        """The peer's RST to a SYN: nothing listens there."""
        return self._segment(False, "RA")

    def data(self, from_module: bool, payload: bytes) -> list[bytes]:
        """Payload one way: TCP segments of at most :data:`MSS`, or one datagram."""
        if not self.tcp:
            sport, dport = (self.module_port, self.peer_port)
            if not from_module:
                sport, dport = dport, sport
            return [bytes(self._header(from_module) / UDP(sport=sport, dport=dport) / Raw(payload))]
        return [
            self._segment(from_module, "PA", payload[start : start + MSS])
            for start in range(0, max(len(payload), 1), MSS)
        ]

    def fin(self, from_module: bool) -> bytes:
        return self._segment(from_module, "FA")

    def reset(self, from_module: bool) -> bytes:
        return self._segment(from_module, "RA")


def dns_query(module: str, port: int, server: str, ident: int, name: str, ipv6: bool) -> bytes:
    question = DNSQR(qname=name, qtype="AAAA" if ipv6 else "A")
    packet = ip(module, server) / UDP(sport=port, dport=53) / DNS(id=ident, rd=1, qd=question)
    return bytes(packet)


def dns_answer(module: str, port: int, server: str, ident: int, name: str, ipv6: bool,
               addresses: tuple[str, ...], ttl: int) -> bytes:  # fmt: skip
    kind = "AAAA" if ipv6 else "A"
    records = [DNSRR(rrname=name, type=kind, ttl=ttl, rdata=address) for address in addresses]
    message = DNS(id=ident, qr=1, rd=1, ra=1, qd=DNSQR(qname=name, qtype=kind), an=records)
    return bytes(ip(server, module) / UDP(sport=53, dport=port) / message)


def echo(module: str, peer: str, ident: int, sequence: int, size: int, request: bool) -> bytes:
    """An ICMP (or ICMPv6) echo request from the module, or the peer's reply."""
    data = bytes(index % 256 for index in range(size))
    v6 = ipaddress.ip_address(peer).version == 6
    if request:
        header = ip(module, peer)
        body = (ICMPv6EchoRequest if v6 else ICMP)(id=ident, seq=sequence)
    else:
        header = ip(peer, module)
        body = ICMPv6EchoReply(id=ident, seq=sequence) if v6 else ICMP(type=0, id=ident,
                                                                        seq=sequence)  # fmt: skip
    return bytes(header / body / Raw(data))


def ntp_request(module: str, port: int, server: str, server_port: int, sent: float) -> bytes:
    message = NTPHeader(mode=3, version=4, sent=sent)
    return bytes(ip(module, server) / UDP(sport=port, dport=server_port) / message)


def ntp_answer(module: str, port: int, server: str, server_port: int, sent: float,
               when: dt.datetime) -> bytes:  # fmt: skip
    stamp = when.timestamp()
    message = NTPHeader(mode=4, version=4, stratum=2, orig=sent, recv=stamp, sent=stamp)
    return bytes(ip(server, module) / UDP(sport=server_port, dport=port) / message)
