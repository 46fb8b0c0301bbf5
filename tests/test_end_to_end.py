"""End to end: the module on HostNetwork, against real sockets and real servers on loopback.

The module's behaviour is tested on MemoryNetwork + ManualClock in the other files,
where the behaviours both networks must show alike run in both (``@BOTH_WORLDS``:
a real FIN and RST, acknowledgements, dnsmasq, chronyd, ICMP echo).  Here are the
behaviours only the real network shows: ports of this host, the kernel's buffers,
IPv6, a real DNS answer's TTL and the host's resolvers, a server's unusable NTP
answer, and the ways ICMP can be sent (or not).  Waits here are real time.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import socket
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import dns.resolver
import pytest

from support.links import InProcessLink, ModemFactory, StdioLink
from support.peers import TcpPeer
from support.servers import DNS_V6, unused_port

OK = b"\r\nOK\r\n"
ERROR = b"\r\nERROR\r\n"
REPLY = rb'\r\n\+QPING: 0,"127\.0\.0\.1",%d,(\d+),64\r\n'


# -- sockets (§2.3.1–§2.3.7) ---------------------------------------------------------------


async def open_tcp(link: InProcessLink, port: int, connect_id: int = 0, mode: int = 0) -> None:
    cmd = f'AT+QIOPEN=1,{connect_id},"TCP","127.0.0.1",{port},0,{mode}'
    assert await link.command(cmd) == cmd.encode() + b"\r" + OK
    await link.expect(f"\r\n+QIOPEN: {connect_id},0\r\n".encode())


async def test_connection_refused(modem: InProcessLink) -> None:
    port = unused_port()
    command = f'AT+QIOPEN=1,2,"TCP","127.0.0.1",{port}'
    assert await modem.command(command) == command.encode() + b"\r" + OK
    await modem.expect(b"\r\n+QIOPEN: 2,566\r\n")
    assert await modem.last_error() == b"+QIGETERROR: 566,socket connection failed"
    # §2.3.1 note 3: the failed socket stays until AT+QICLOSE.
    reply = await modem.command("AT+QISTATE=1,2")
    assert f'+QISTATE: 2,"TCP","127.0.0.1",{port},0,0,1,0'.encode() in reply
    again = f'AT+QIOPEN=1,2,"TCP","127.0.0.1",{port}'
    await modem.command(again)
    await modem.expect(b"\r\n+QIOPEN: 2,563\r\n")
    await modem.command("AT+QICLOSE=2")
    await modem.expect(b"\r\nCLOSE OK\r\n")
    assert await modem.command("AT+QISTATE=1,2") == b"AT+QISTATE=1,2\r" + OK


@pytest.fixture
async def silent_port() -> AsyncIterator[int]:
    """A TCP port whose accept queue is full: the kernel drops further SYNs."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = [socket.socket() for _ in range(3)]
    for filler in fillers:
        filler.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            filler.connect(("127.0.0.1", port))
    await asyncio.sleep(0.1)
    yield port
    for filler in fillers:
        filler.close()
    listener.close()


@pytest.fixture
async def impatient_modem(modem_factory: ModemFactory) -> InProcessLink:
    """A module that gives a TCP connection 0.5 s (not 60) before 569."""
    return await modem_factory(open_timeout=0.5)


async def test_connect_timeout(impatient_modem: InProcessLink, silent_port: int) -> None:
    await impatient_modem.command(f'AT+QIOPEN=1,0,"TCP","127.0.0.1",{silent_port}')
    await impatient_modem.expect(b"\r\n+QIOPEN: 0,569\r\n", timeout=5)
    assert await impatient_modem.last_error() == b"+QIGETERROR: 569,operation timeout"


async def test_local_port_busy(modem: InProcessLink, peer: TcpPeer) -> None:
    with socket.socket() as holder:
        holder.bind(("0.0.0.0", 0))
        holder.listen(1)
        busy = holder.getsockname()[1]
        await modem.command(f'AT+QIOPEN=1,0,"TCP","127.0.0.1",{peer.port},{busy}')
        await modem.expect(b"\r\n+QIOPEN: 0,574\r\n")
    assert await modem.last_error() == b"+QIGETERROR: 574,port busy"


async def test_local_port_is_used(modem: InProcessLink, peer: TcpPeer) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        local = probe.getsockname()[1]
    await modem.command(f'AT+QIOPEN=1,0,"TCP","127.0.0.1",{peer.port},{local},0')
    await modem.expect(b"\r\n+QIOPEN: 0,0\r\n")
    writer = await peer.connection()
    assert writer.get_extra_info("peername")[1] == local
    reply = await modem.command("AT+QISTATE=1,0")
    assert f",{peer.port},{local},2,1,0".encode() in reply


async def test_a_connection_is_its_four_numbers(modem: InProcessLink, peer: TcpPeer) -> None:
    """The same local port to the same peer twice: the kernel refuses the second (566)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        local = probe.getsockname()[1]
    for connect_id, outcome in ((0, 0), (1, 566)):
        await modem.command(f'AT+QIOPEN=1,{connect_id},"TCP","127.0.0.1",{peer.port},{local},0')
        await modem.expect(f"\r\n+QIOPEN: {connect_id},{outcome}\r\n".encode())


async def test_tcp_buffer_full_loses_nothing(modem: InProcessLink, peer: TcpPeer) -> None:
    await open_tcp(modem, peer.port)
    payload = bytes(range(256)) * 800  # 204800 bytes: far more than 20 nodes
    await peer.send(payload)
    await modem.expect(b'\r\n+QIURC: "recv",0\r\n')
    await modem.expect(b'\r\n+QIURC: "recv",0,"buff full"\r\n')
    received = bytearray()
    while len(received) < len(payload):
        await modem.write(b"AT+QIRD=0,512\r")
        await modem.read_until(b"AT+QIRD=0,512\r\r\n+QIRD: ")
        header = await modem.read_until(b"\r\n")
        count = int(header[:-2])
        if count:
            received += await modem.read_exactly(count)
            await modem.expect(b"\r\n\r\nOK\r\n")
        else:
            await modem.expect(b"\r\nOK\r\n")
            await asyncio.sleep(0.01)
        # URCs may arrive between commands: skip them.
        while modem.buffer.startswith(b"\r\n+QIURC"):
            await modem.read_until(b"\r\n+QIURC")
            await modem.read_until(b"\r\n")
    assert bytes(received) == payload


async def test_send_fail_when_the_stack_is_full(modem: InProcessLink, peer: TcpPeer) -> None:
    await open_tcp(modem, peer.port)
    peer.reading.clear()  # the peer stops reading: windows and buffers fill up
    await peer.send(b"")
    chunk = "z" * 1024
    accepted = 0
    for _ in range(20000):
        reply = await modem.command(f"AT+QISEND=0,1024,{chunk}")
        tail = await modem.read_until(re.compile(rb"\r\nSEND (OK|FAIL)\r\n"))
        assert reply.endswith(OK)
        if b"SEND FAIL" in tail:
            break
        accepted += 1024
    else:
        pytest.fail("the module never answered SEND FAIL")
    assert await modem.last_error() == b"+QIGETERROR: 558,socket write failed"
    reply = await modem.command("AT+QISEND=0,0")
    sent, acked, unacked = map(int, reply.split(b"+QISEND: ")[1].split(b"\r")[0].split(b","))
    assert sent == accepted and acked + unacked == sent and unacked > 0
    peer.reading.set()  # everything answered SEND OK arrives, nothing more
    assert await peer.wait_received(accepted) == b"z" * accepted


def _has_ipv6() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _has_ipv6(), reason="no IPv6 loopback on this machine")
async def test_ipv6(modem: InProcessLink) -> None:
    peer = await TcpPeer().start("::1")
    try:
        await modem.command(f'AT+QIOPEN=1,0,"TCP","::1",{peer.port},0,0,1')
        await modem.expect(b"\r\n+QIOPEN: 0,0\r\n")
        await modem.command("AT+QISEND=0,4,six!")
        await peer.expect(b"six!")
        # an IPv6 literal on an IPv4 socket is refused
        await modem.command(f'AT+QIOPEN=1,1,"TCP","::1",{peer.port},0,0,0')
        await modem.expect(b"\r\n+QIOPEN: 1,552\r\n")
    finally:
        await peer.stop()


# -- DNS (§2.3.10, §2.3.11): dnsmasq -------------------------------------------------------


async def use_dns(link: InProcessLink, server: str) -> None:
    command = f'AT+QIDNSCFG=1,"{server}"'
    assert await link.command(command) == command.encode() + b"\r" + OK


async def test_before_any_is_set_the_host_resolvers_are_shown(modem: InProcessLink) -> None:
    try:
        host = [s for s in dns.resolver.Resolver().nameservers if ":" not in s]
    except dns.resolver.NoResolverConfiguration:
        host = []
    shown = [*host, "0.0.0.0", "0.0.0.0"][:2]
    reply = await modem.command("AT+QIDNSCFG=1")
    assert f'+QIDNSCFG: 1,"{shown[0]}","{shown[1]}"'.encode() in reply


async def test_ipv6_network_asks_for_aaaa(modem_factory: ModemFactory, dns_server: str) -> None:
    link = await modem_factory(ip_address="2001:db8::5")
    assert (await link.command('AT+QIDNSCFG=1,"127.0.53.1"')).endswith(ERROR)  # §2.3.11 note 3
    await use_dns(link, DNS_V6)
    await link.command('AT+QIDNSGIP=1,"six.bc66.test"')
    await link.expect(b'\r\n+QIURC: "dnsgip",0,1,60\r\n\r\n+QIURC: "dnsgip","::1"\r\n')
    reply = await link.command("AT+QIDNSCFG=1")
    assert b'+QIDNSCFG: 1,"::1","::"' in reply


# -- NTP (§2.3.9): chronyd -----------------------------------------------------------------


class KissOfDeath(asyncio.DatagramProtocol):
    """A server that answers every request with stratum 0 (RFC 4330 §8): no time."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:  # type: ignore[override]
        reply = bytes([0x24, 0]) + bytes(22) + data[40:48] + bytes(16)
        self.transport.sendto(reply, addr)  # type: ignore[attr-defined]


async def test_kiss_of_death_is_not_a_time(modem: InProcessLink) -> None:
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(KissOfDeath, local_addr=("127.0.0.1", 0))
    try:
        port = transport.get_extra_info("sockname")[1]
        await modem.command(f'AT+QNTP=1,"127.0.0.1",{port}')
        await modem.expect(b"\r\n+QNTP: 550\r\n")
    finally:
        transport.close()


# -- ping (§2.3.8): real ICMP echo, in every way a process may send it ---------------------


def _shared_state_dir() -> Path:
    """A state directory user nobody can write."""
    path = Path(tempfile.mkdtemp(prefix="bc66sim-"))
    path.chmod(0o777)
    return path


async def test_timeouts_count_as_lost() -> None:
    """In a namespace whose loopback ignores echo requests, nothing answers."""
    link = StdioLink(_shared_state_dir(),
                     netns_setup="sysctl -q -w net.ipv4.icmp_echo_ignore_all=1")  # fmt: skip
    await link.start()
    await link.sync()
    await link.command('AT+QPING=1,"127.0.0.1",1,2')
    await link.expect(b"\r\n+QPING: 569\r\n", timeout=5)
    await link.expect(b"\r\n+QPING: 569\r\n", timeout=5)
    await link.expect(b"\r\n+QPING: 0,2,0,2,0,0,0\r\n", timeout=5)
    await link.close()


async def test_unprivileged_icmp_sockets() -> None:
    """User nobody, no raw sockets, but ping_group_range admits it: real replies."""
    link = StdioLink(
        _shared_state_dir(),
        netns_setup="sysctl -q -w net.ipv4.ping_group_range='0 2147483647'",
        as_nobody=True,
    )
    await link.start()
    await link.sync()
    assert os.geteuid() == 0  # the namespace set-up needs root, as CI has
    await link.command('AT+QPING=1,"127.0.0.1",2,1,64')
    await link.expect_match(re.compile(REPLY % 64))
    await link.expect_match(re.compile(rb"\r\n\+QPING: 0,1,1,0,\d+,\d+,\d+\r\n"))
    await link.close()


async def test_no_way_to_send_icmp_is_an_error_not_a_fake_reply() -> None:
    link = StdioLink(_shared_state_dir(),
                     netns_setup="sysctl -q -w net.ipv4.ping_group_range='1 0'",
                     as_nobody=True)  # fmt: skip
    await link.start()
    await link.sync()
    await link.command('AT+QPING=1,"127.0.0.1"')
    await link.expect(b"\r\n+QPING: 554\r\n")
    assert await link.last_error() == b"+QIGETERROR: 554,create socket failed"
    await link.close()
    assert b"net.ipv4.ping_group_range" in link.stderr
