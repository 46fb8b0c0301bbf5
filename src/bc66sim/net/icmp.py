"""Real ICMP echo (§2.3.8 AT+QPING), IPv4 only (§2.3.8 note 2).

A raw socket when the process may open one (root, CAP_NET_RAW); otherwise an
unprivileged ICMP datagram socket, where ``net.ipv4.ping_group_range`` admits
our group.  Where neither is possible, :class:`Pinger` raises a :class:`NetError`
(554, create socket failed) with a message that says why: never a fake reply.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import struct
import time

from bc66sim.net.base import Echo, NetError, open_socket
from bc66sim.note.errors import Err

log = logging.getLogger(__name__)

ECHO_REQUEST = 8
ECHO_REPLY = 0
#: Ask for each datagram's TTL as ancillary data; Linux <linux/in.h>, not in 3.11's socket.
IP_RECVTTL: int = getattr(socket, "IP_RECVTTL", 12)


def checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071)."""
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return int(~total & 0xFFFF)


def _open_socket() -> tuple[socket.socket, bool]:
    """An ICMP socket and whether it is raw (raw replies carry the IP header)."""
    try:
        return open_socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP), True
    except PermissionError:
        pass
    try:
        sock = open_socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP)
    except OSError as exc:
        message = (
            "cannot send ICMP: no raw sockets (not root, no CAP_NET_RAW) and "
            f"unprivileged ICMP is not allowed for group {os.getgid()} "
            "(see sysctl net.ipv4.ping_group_range)"
        )
        log.error(message)
        raise NetError(Err.CREATE_SOCKET_FAILED, message) from exc
    sock.setsockopt(socket.IPPROTO_IP, IP_RECVTTL, 1)
    return sock, False


class Pinger:
    """Sends echo requests to one IPv4 address and matches their replies."""

    def __init__(self, address: str) -> None:
        self.address = address
        self._sock, self._raw = _open_socket()
        self._sock.setblocking(False)
        self._ident = os.getpid() & 0xFFFF
        self._waiting: dict[int, tuple[float, asyncio.Future[Echo]]] = {}
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(self._sock.fileno(), self._on_readable)

    def close(self) -> None:
        self._loop.remove_reader(self._sock.fileno())
        self._sock.close()

    async def echo(self, sequence: int, size: int, timeout: float) -> Echo | None:
        """One request of ``size`` data bytes; the reply, or None after ``timeout``."""
        payload = bytes((sequence + i) & 0xFF for i in range(size))
        header = struct.pack("!BBHHH", ECHO_REQUEST, 0, 0, self._ident, sequence)
        packet = struct.pack("!BBHHH", ECHO_REQUEST, 0, checksum(header + payload),
                             self._ident, sequence) + payload  # fmt: skip
        future: asyncio.Future[Echo] = self._loop.create_future()
        self._waiting[sequence] = (time.monotonic(), future)
        try:
            self._sock.sendto(packet, (self.address, 0))
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            return None
        except OSError as exc:
            log.info("ping %s: %s", self.address, exc)
            return None
        finally:
            self._waiting.pop(sequence, None)

    def _on_readable(self) -> None:
        while True:
            try:
                data, ancillary, _flags, _addr = self._sock.recvmsg(2048, socket.CMSG_SPACE(4))
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                log.info("ICMP receive: %s", exc)
                return
            self._take(data, ancillary)

    def _take(self, data: bytes, ancillary: list[tuple[int, int, bytes]]) -> None:
        ttl = 0
        if self._raw:
            if len(data) < 20:
                return
            ttl, header_length = data[8], (data[0] & 0x0F) * 4
            data = data[header_length:]
        for level, kind, value in ancillary:
            if level == socket.IPPROTO_IP and kind == socket.IP_TTL and len(value) >= 4:
                ttl = struct.unpack("i", value[:4])[0]
        if len(data) < 8:
            return
        kind, _code, _sum, ident, sequence = struct.unpack("!BBHHH", data[:8])
        # A datagram socket's identifier is the kernel's; a raw one sees every echo.
        if kind != ECHO_REPLY or (self._raw and ident != self._ident):
            return
        entry = self._waiting.get(sequence)
        if entry is not None and not entry[1].done():
            elapsed = (time.monotonic() - entry[0]) * 1000
            entry[1].set_result(Echo(milliseconds=int(elapsed), ttl=ttl))
