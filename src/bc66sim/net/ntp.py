"""A real SNTP query (RFC 4330) for §2.3.9 AT+QNTP.

One request, one reply: the reply must come from a synchronised server (not a
kiss-o'-death, not "unsynchronised") and answer our request (origin timestamp).
The clock offset corrects for the round trip, as RFC 4330 §5 says.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import socket
import struct
import time

from bc66sim.net.base import NetError
from bc66sim.note.errors import Err

#: Seconds from the NTP era (1900) to the Unix epoch (1970).
NTP_TO_UNIX = 2_208_988_800
MODE_CLIENT = 3
MODE_SERVER = 4
VERSION = 4
LEAP_UNSYNCHRONISED = 3


def _to_ntp(seconds: float) -> bytes:
    whole = int(seconds) + NTP_TO_UNIX
    fraction = int((seconds % 1) * 2**32)
    return struct.pack("!II", whole & 0xFFFFFFFF, fraction & 0xFFFFFFFF)


def _from_ntp(raw: bytes) -> float:
    whole, fraction = struct.unpack("!II", raw)
    return float(whole - NTP_TO_UNIX + fraction / 2**32)


class _Sntp(asyncio.DatagramProtocol):
    def __init__(self, request: bytes) -> None:
        self.request = request
        self.reply: asyncio.Future[tuple[bytes, float]] = asyncio.get_running_loop().create_future()

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        # RFC 4330 §5: a reply whose origin timestamp is not our transmit time is not ours.
        if len(data) >= 48 and data[24:32] == self.request[40:48] and not self.reply.done():
            self.reply.set_result((data, time.time()))

    def error_received(self, exc: Exception) -> None:
        pass  # an ICMP error: the server does not answer; the timeout says so


async def query(address: str, port: int, timeout: float) -> dt.datetime:
    """The server's time now (UTC); raises :class:`NetError` (569 timeout, 550 bad reply)."""
    loop = asyncio.get_running_loop()
    family = socket.AF_INET6 if ipaddress.ip_address(address).version == 6 else socket.AF_INET
    sent = time.time()
    request = bytes([VERSION << 3 | MODE_CLIENT]) + bytes(39) + _to_ntp(sent)
    try:
        transport, protocol = await loop.create_datagram_endpoint(
            lambda: _Sntp(request), remote_addr=(address, port), family=family
        )
    except OSError as exc:
        raise NetError(Err.CREATE_SOCKET_FAILED, str(exc)) from exc
    try:
        transport.sendto(request)
        reply, received = await asyncio.wait_for(protocol.reply, timeout)
    except TimeoutError as exc:
        raise NetError(Err.TIMEOUT, f"no answer from NTP server {address}:{port}") from exc
    finally:
        transport.close()
    leap, mode, stratum = reply[0] >> 6, reply[0] & 7, reply[1]
    if mode != MODE_SERVER or stratum == 0 or leap == LEAP_UNSYNCHRONISED:
        raise NetError(Err.UNKNOWN, f"unusable NTP reply (mode {mode}, stratum {stratum})")
    server_received, server_sent = _from_ntp(reply[32:40]), _from_ntp(reply[40:48])
    offset = ((server_received - sent) + (server_sent - received)) / 2
    return dt.datetime.fromtimestamp(received + offset, dt.UTC)
