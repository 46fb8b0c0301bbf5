"""Module behaviour on MemoryNetwork + ManualClock (issue 10 §2): no sockets, no sleeps.

The same behaviours are shown end to end against real servers on loopback in the
other test files; here module time is driven, so a minute-long timeout costs a
millisecond and every outcome is deterministic.
"""

from __future__ import annotations

import datetime as dt

import pytest

from bc66sim.net.base import Transport
from support.links import MemoryLink
from support.memory_peers import MemoryTcpPeer

OK = b"\r\nOK\r\n"
PEER = "203.0.113.10"  # TEST-NET-3: never routed; here it lives in memory only


@pytest.fixture
async def module(memory_modem: MemoryLink) -> MemoryLink:
    """An attached module on MemoryNetwork + ManualClock, echo off."""
    await memory_modem.say("ATE0")
    return memory_modem


async def test_tcp_echo_in_buffer_access_mode(module: MemoryLink) -> None:
    module.network.tcp_echo(PEER, 7)
    assert await module.say(f'AT+QIOPEN=1,0,"TCP","{PEER}",7,0,0') == OK
    assert await module.advance(0.1) == b"\r\n+QIOPEN: 0,0\r\n"
    assert await module.say("AT+QISEND=0,5,hello") == OK + b"\r\nSEND OK\r\n"
    assert await module.advance(0.1) == b'\r\n+QIURC: "recv",0\r\n'
    assert await module.say("AT+QIRD=0,512") == b"\r\n+QIRD: 5\r\nhello\r\n" + OK


async def test_a_silent_peer_times_out_after_a_minute_of_module_time(module: MemoryLink) -> None:
    module.network.tcp_silent(PEER, 80)
    assert await module.say(f'AT+QIOPEN=1,0,"TCP","{PEER}",80,0,0') == OK
    assert await module.advance(59.9) == b""
    assert await module.advance(0.2) == b"\r\n+QIOPEN: 0,569\r\n"


async def test_refused_and_closed_by_the_peer(module: MemoryLink) -> None:
    module.network.tcp_close_after(PEER, 25, 4)
    await module.say(f'AT+QIOPEN=1,0,"TCP","{PEER}",9,0,0')  # nobody listens on 9
    assert await module.advance(1) == b"\r\n+QIOPEN: 0,566\r\n"
    await module.say(f'AT+QIOPEN=1,1,"TCP","{PEER}",25,0,0')
    assert await module.advance(1) == b"\r\n+QIOPEN: 1,0\r\n"
    await module.say("AT+QISEND=1,4,QUIT")
    assert await module.advance(1) == b'\r\n+QIURC: "closed",1\r\n'
    assert module.network.peers[-1].received == b"QUIT"


async def test_udp_keeps_datagram_boundaries(module: MemoryLink) -> None:
    module.network.udp_echo(PEER, 53)
    opened = await module.say(f'AT+QIOPEN=1,0,"UDP","{PEER}",53,0,0')
    assert opened == OK + b"\r\n+QIOPEN: 0,0\r\n"  # UDP "connects" at once
    await module.say("AT+QISEND=0,3,one")
    await module.say("AT+QISEND=0,3,two")
    await module.advance(1)
    assert await module.say("AT+QIRD=0,512") == b"\r\n+QIRD: 3\r\none\r\n" + OK
    assert await module.say("AT+QIRD=0,512") == b"\r\n+QIRD: 3\r\ntwo\r\n" + OK


async def test_a_full_buffer_holds_the_peer_back_and_loses_nothing(module: MemoryLink) -> None:
    module.network.peer(Transport.TCP, PEER, 1883)
    await module.say(f'AT+QIOPEN=1,0,"TCP","{PEER}",1883,0,0')
    await module.advance(1)
    peer = module.network.peers[-1]
    for number in range(25):
        peer.send(b"%04d" % number)
    said = await module.advance(1)
    assert said == b'\r\n+QIURC: "recv",0\r\n\r\n+QIURC: "recv",0,"buff full"\r\n'
    received = bytearray()
    while True:
        reply = await module.say("AT+QIRD=0,512")
        await module.advance(1)  # a freed node lets the held data in
        if reply.startswith(b"\r\n+QIRD: 0\r\n"):
            break
        received += reply.split(b"\r\n")[2]
    assert bytes(received) == b"".join(b"%04d" % n for n in range(25))


async def test_dns_from_the_zone_and_a_server_that_never_answers(module: MemoryLink) -> None:
    module.network.zone["iot.example"] = (["203.0.113.7", "203.0.113.8"], 300)
    assert await module.say('AT+QIDNSGIP=1,"iot.example"') == OK
    assert await module.advance(1) == (
        b'\r\n+QIURC: "dnsgip",0,2,300\r\n'
        b'\r\n+QIURC: "dnsgip","203.0.113.7"\r\n\r\n+QIURC: "dnsgip","203.0.113.8"\r\n'
    )
    await module.say('AT+QIDNSGIP=1,"nope.example"')
    assert await module.advance(1) == b'\r\n+QIURC: "dnsgip",565\r\n'
    await module.say('AT+QIDNSCFG=1,"198.51.100.1"')  # answers nothing
    await module.say('AT+QIDNSGIP=1,"iot.example"')
    assert await module.advance(9.9) == b""
    assert await module.advance(0.2) == b'\r\n+QIURC: "dnsgip",569\r\n'


async def test_ping_with_replies_and_without(module: MemoryLink) -> None:
    module.network.ping_replies[PEER] = 52
    await module.say(f'AT+QPING=1,"{PEER}",2,3,32')
    said = await module.advance(10)
    assert said == (b'\r\n+QPING: 0,"203.0.113.10",32,100,52\r\n' * 3
                    + b"\r\n+QPING: 0,3,3,0,100,100,100\r\n")  # fmt: skip
    await module.say('AT+QPING=1,"203.0.113.99",1,2')
    assert await module.advance(10) == b"\r\n+QPING: 569\r\n" * 2 + b"\r\n+QPING: 0,2,0,2,0,0,0\r\n"


async def test_ntp_sets_the_module_clock(module: MemoryLink) -> None:
    module.network.ntp_servers[(PEER, 123)] = dt.timedelta(hours=1)
    await module.say(f'AT+QNTP=1,"{PEER}"')
    said = await module.advance(1)
    server_time = module.clock.utc() + dt.timedelta(hours=1)
    assert said.startswith(b'\r\n+QNTP: 0,"' + f"{server_time:%y/%m/%d,%H}".encode())
    assert f"{server_time:%y/%m/%d,%H:%M}".encode() in await module.say("AT+CCLK?")
    await module.say('AT+QNTP=1,"203.0.113.99"')
    assert await module.advance(11) == b"\r\n+QNTP: 569\r\n"


async def test_the_modules_close_reaches_the_peer_after_its_data(module: MemoryLink) -> None:
    peer = MemoryTcpPeer(module.network, 7, host=PEER)
    await module.say(f'AT+QIOPEN=1,0,"TCP","{PEER}",7,0,0')
    await module.advance(1)
    peer.pause_reading()
    assert await module.say("AT+QISEND=0,4,last") == OK + b"\r\nSEND OK\r\n"
    assert await module.say("AT+QISEND=0,0") == b"\r\n+QISEND: 4,0,4\r\n" + OK
    assert await module.say("AT+QICLOSE=0") == OK + b"\r\nCLOSE OK\r\n"
    await module.advance(1)
    connection = await peer.connection()
    assert not connection.closed and peer.received == b""  # it reads nothing yet
    peer.resume_reading()
    assert peer.received == b"last" and connection.closed


async def test_a_connection_is_its_four_numbers(module: MemoryLink) -> None:
    """As on the host: the same local port to the same peer twice fails at once (566)."""
    module.network.tcp_echo(PEER, 7)
    opened = f'AT+QIOPEN=1,{{}},"TCP","{PEER}",7,{{}},0'
    assert await module.say(opened.format(0, 40555)) == OK
    assert await module.say(opened.format(1, 40555)) == OK + b"\r\n+QIOPEN: 1,566\r\n"
    assert await module.advance(1) == b"\r\n+QIOPEN: 0,0\r\n"
    assert await module.say(opened.format(2, 40555)) == OK + b"\r\n+QIOPEN: 2,566\r\n"
    await module.say("AT+QICLOSE=0")
    await module.say(opened.format(3, 40555))
    assert await module.advance(1) == b"\r\n+QIOPEN: 3,0\r\n"  # free again once closed
