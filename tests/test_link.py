"""NB-IoT link conditions (issue 12 §1) and the link's faults, on module time.

The module runs on MemoryNetwork + ManualClock through a LinkNetwork: every delay
is module time, so a test checks that a URC does *not* come a moment before the
link allows it, and does come right after.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from pathlib import Path

import pytest

from bc66sim.clock import ManualClock
from bc66sim.net.base import Signal
from bc66sim.net.link import PROFILES, LinkNetwork, LinkProfile, load_profile, with_category
from bc66sim.net.memory import MemoryNetwork
from support.links import MemoryLink
from support.memory_peers import MemoryTcpPeer, MemoryUdpPeer

OK = b"\r\nOK\r\n"
#: A link with no randomness: 0.5 s each way, 8 kbit/s each way (1000 bytes a second).
STEADY = LinkProfile("steady", delay=0.5, uplink_bps=8000, downlink_bps=8000, core_hops=2,
                     signal=Signal(rsrp=-100, rsrq=-11, sinr=5, ecl=0, tx_power=20))  # fmt: skip


def urc(text: str) -> bytes:
    return f"\r\n{text}\r\n".encode()


async def module(tmp_path: Path, profile: LinkProfile = STEADY) -> MemoryLink:
    link = MemoryLink(tmp_path, link=profile)
    await link.start()
    await link.sync()
    return link


async def open_udp(link: MemoryLink) -> None:
    said = await link.say('AT+QIOPEN=1,0,"UDP","127.0.0.1",47002,0,1')
    assert (said + await link.advance(0.1)).endswith(OK + urc("+QIOPEN: 0,0")), said


def test_profiles_and_profile_files(tmp_path: Path) -> None:
    assert load_profile("ce0") is PROFILES["ce0"]
    assert load_profile("ideal").delay == 0 and load_profile("ideal").uplink_bps is None
    nb2 = with_category(PROFILES["ce0"], "NB2")
    assert nb2.downlink_bps == pytest.approx(127_000) and nb2.uplink_bps == pytest.approx(159_000)
    path = tmp_path / "cellar.toml"
    path.write_text('base = "ce1"\ndelay = 1.4\nuplink_bps = 12000\n[signal]\nrsrp = -116\n')
    profile = load_profile(str(path))
    assert (profile.name, profile.delay, profile.uplink_bps) == ("cellar", 1.4, 12000)
    assert profile.downlink_bps == PROFILES["ce1"].downlink_bps
    assert profile.signal.rsrp == -116 and profile.signal.ecl == 1
    wrong = [('delay = "x"', "must be a number"), ("speed = 3", "unknown"),
             ("udp_loss = 2", "between 0 and 1"), ("[signal]\nfoo = 1", "unknown"),
             ('base = "ce9"', "base must be"), ("delay = ", "Invalid value"),
             ('uplink_bps = "fast"', "bits per second"), ("uplink_bps = 0", "bits per second"),
             ("delay = nan", "must be a number"), ("delay = inf", "must be a number"),
             ('core_hops = "x"', "core_hops"), ('[signal]\nrsrp = "x"', "signal rsrp"),
             ("[signal]\nsinr = 99", "signal sinr"),
             ("delay = true", "must be a number")]  # fmt: skip
    for text, message in wrong:
        path.write_text(text)
        with pytest.raises(ValueError, match=message):
            load_profile(str(path))
    with pytest.raises(ValueError, match="not one of ideal, ce0, ce1, ce2"):
        load_profile("ce7")


def test_faults_refuse_what_is_not_a_number() -> None:
    clock = ManualClock()
    link = LinkNetwork(MemoryNetwork(clock), PROFILES["ce0"], clock, seed=1)
    for call in (lambda: link.delay("up", 1, math.nan), lambda: link.coverage_loss(math.inf),
                 lambda: link.coverage_loss(math.nan), lambda: link.set_signal(math.nan, 0),
                 lambda: link.service_unreachable("dns", math.nan),
                 lambda: link.drop("sideways", 1)):  # fmt: skip
        with pytest.raises(ValueError):
            call()


def test_the_same_seed_gives_the_same_delays() -> None:
    def draws(seed: int) -> list[float]:
        clock = ManualClock()
        link = LinkNetwork(MemoryNetwork(clock), PROFILES["ce1"], clock, seed=seed)
        return [link.one_way_delay() for _ in range(50)]

    assert draws(7) == draws(7)
    assert draws(7) != draws(8)
    delays = sorted(draws(7))
    assert delays[25] == pytest.approx(PROFILES["ce1"].delay, rel=0.5)  # the median
    assert delays[-1] > 2 * delays[25]  # a heavy tail


async def test_a_datagram_takes_the_links_time_both_ways(tmp_path: Path) -> None:
    link = await module(tmp_path)
    MemoryUdpPeer(link.network, echo=True)
    await open_udp(link)
    await link.say("AT+QISEND=0,100," + "x" * 100)
    # Up: 0.1 s on the air at 8 kbit/s, 0.5 s delay; the memory network's 0.05 s
    # each way; down: 0.1 s and 0.5 s again: 1.3 s in all.
    assert await link.advance(1.29) == b""
    assert await link.advance(0.02) == urc('+QIURC: "recv",0,100\r\n' + "x" * 100)
    await link.close()


async def test_the_rate_is_a_queue_not_a_loss(tmp_path: Path) -> None:
    link = await module(tmp_path)
    peer = MemoryUdpPeer(link.network, echo=False)
    await open_udp(link)
    for _ in range(5):  # 5000 bytes at 1000 bytes a second
        await link.say("AT+QISEND=0,1000," + "y" * 1000)
    await link.advance(5.5)
    assert len(peer.datagrams) == 4
    await link.advance(0.1)
    assert len(peer.datagrams) == 5  # in order, none lost
    await link.close()


async def test_tcp_is_shaped_and_in_order(tmp_path: Path) -> None:
    link = await module(tmp_path)
    peer = MemoryTcpPeer(link.network)
    said = await link.say('AT+QIOPEN=1,0,"TCP","127.0.0.1",47001,0,1')
    # The handshake crosses the link: up and back, plus the memory network's latency.
    assert said.endswith(OK) and b"+QIOPEN: " not in said
    # SYN up (0.56 s), the memory network's handshake (0.1 s), SYN-ACK down (0.56 s).
    assert await link.advance(1.21) == b""
    assert await link.advance(0.02) == urc("+QIOPEN: 0,0")
    for chunk in (b"one", b"two", b"three"):
        await peer.send(chunk)
    said = await link.advance(2)
    assert said == b"".join(urc(f'+QIURC: "recv",0,{len(c)}\r\n{c.decode()}')
                            for c in (b"one", b"two", b"three"))  # fmt: skip
    await link.close()


async def test_udp_loss_and_the_drop_fault(tmp_path: Path) -> None:
    link = await module(tmp_path, dataclasses.replace(STEADY, udp_loss=1.0))
    peer = MemoryUdpPeer(link.network, echo=False)
    await open_udp(link)
    said = await link.say("AT+QISEND=0,3,abc")
    assert said.endswith(b"SEND OK\r\n")  # the module sent it; the radio lost it
    await link.advance(5)
    assert not peer.datagrams
    await link.close()

    link = await module(tmp_path)
    peer = MemoryUdpPeer(link.network, echo=False)
    await open_udp(link)
    assert link.link is not None
    link.link.drop("up", 2)
    for text in ("a", "b", "c"):
        await link.say(f"AT+QISEND=0,1,{text}")
    await link.advance(5)
    assert list(peer.datagrams) == [b"c"]
    await link.close()


async def test_a_coverage_loss(tmp_path: Path) -> None:
    link = await module(tmp_path)
    udp = MemoryUdpPeer(link.network, echo=False)
    await open_udp(link)
    await link.say("AT+QISEND=0,2,hi")
    assert await udp.next_datagram() == b"hi"
    await link.say("AT+CEREG=1")
    assert link.link is not None
    link.link.coverage_loss(30)
    assert await link.advance(0) == urc("+CEREG: 2")
    assert await link.say("AT+CSQ") == b"AT+CSQ\r\n\r\n+CSQ: 99,99\r\n" + OK
    await link.say("AT+QISEND=0,4,lost")  # UDP into a dead link is lost
    await link.advance(10)
    udp.send(b"gone")  # and so is UDP from the far side
    assert await link.advance(19.9) == b""
    assert await link.advance(0.2) == urc("+CEREG: 1")
    await link.advance(5)
    assert not udp.datagrams
    assert (
        await link.say("AT+QISEND=0,4,back") == b"AT+QISEND=0,4,back\r\n" + OK + b"\r\nSEND OK\r\n"
    )
    assert await udp.next_datagram() == b"back"
    await link.close()


async def test_tcp_rides_out_a_short_loss_and_breaks_in_a_long_one(tmp_path: Path) -> None:
    link = await module(tmp_path)
    peer = MemoryTcpPeer(link.network)
    await link.say('AT+QIOPEN=1,0,"TCP","127.0.0.1",47001,0,1')
    await link.advance(2)
    assert link.link is not None
    link.link.coverage_loss(20)
    await link.say("AT+QISEND=0,5,hello")
    await link.advance(19)
    assert peer.received == b""
    await link.advance(2)  # coverage back: the held segment goes
    assert peer.received == b"hello"

    link.link.coverage_loss(600)  # past the stack's 120 s of retransmissions
    await link.say("AT+QISEND=0,5,again")
    assert await link.advance(119) == urc("+CEREG: 2")[:0]  # (CEREG reports are off)
    assert await link.advance(2) == urc('+QIURC: "closed",0')
    await link.close()


async def test_the_signal_follows_the_ce_level(tmp_path: Path) -> None:
    link = await module(tmp_path)
    said = await link.say("AT+QENG=0")
    assert b",-100,-11,-89,5," in said and b',"1A2B",0,20,2' in said
    assert link.link is not None
    link.link.set_ce(2)
    said = await link.say("AT+QENG=0")
    assert b",-125,-17,-114,-6," in said and b',"1A2B",2,23,2' in said
    assert await link.say("AT+CSQ") == b"AT+CSQ\r\n\r\n+CSQ: 0,0\r\n" + OK
    assert b"+CESQ: 99,99,255,255,6,16" in await link.say("AT+CESQ")
    link.link.set_signal(-80, 20)
    assert b"+CESQ: 99,99,255,255,6,61" in await link.say("AT+CESQ")
    with pytest.raises(ValueError):
        link.link.set_signal(-20, 0)
    await link.close()


async def test_ping_measures_the_link(tmp_path: Path) -> None:
    link = await module(tmp_path)
    link.network.ping_replies["127.0.0.9"] = 64
    said = await link.say('AT+QPING=1,"127.0.0.9",4,1,32')
    said += await link.advance(5)
    # 60 bytes each way at 1000 bytes/s (0.06 s) + 0.5 s, and the memory network's
    # 2 x 0.05 s: 1220 ms; the TTL loses the operator's 2 core hops.
    assert urc('+QPING: 0,"127.0.0.9",32,1220,62') in said, said
    await link.close()


async def test_dns_unreachable_then_back(tmp_path: Path) -> None:
    link = await module(tmp_path)
    link.network.zone["iot.test"] = (["127.0.0.7"], 300)
    assert link.link is not None
    link.link.service_unreachable("dns", 100)
    said = await link.say('AT+QIDNSGIP=1,"iot.test"')
    said += await link.advance(30)
    assert urc('+QIURC: "dnsgip",569') in said, said
    link.link.service_unreachable("dns", 0)
    said = await link.say('AT+QIDNSGIP=1,"iot.test"')
    said += await link.advance(5)
    assert urc('+QIURC: "dnsgip","127.0.0.7"') in said, said
    await link.close()


async def test_the_delay_fault_holds_the_next_packets(tmp_path: Path) -> None:
    link = await module(tmp_path)
    peer = MemoryUdpPeer(link.network, echo=True)
    await open_udp(link)
    assert link.link is not None
    link.link.delay("down", 1, 2.0)  # the next reply comes 2 s late; the one after does not
    await link.say("AT+QISEND=0,1,a")
    # 0.5 s up, the memory network's 2 x 0.05 s, 0.5 s down and 2 s more: 3.1 s.
    assert await link.advance(3.05) == b""
    assert await link.advance(0.1) == urc('+QIURC: "recv",0,1\r\na')
    await link.say("AT+QISEND=0,1,b")
    assert (await link.advance(1.3)).endswith(urc('+QIURC: "recv",0,1\r\nb'))
    assert len(peer.datagrams) == 2
    await link.close()


async def test_an_unreachable_ntp_server(tmp_path: Path) -> None:
    link = await module(tmp_path)
    link.network.ntp_servers[("127.0.0.8", 123)] = dt.timedelta(0)
    assert link.link is not None
    link.link.service_unreachable("ntp", None)
    said = await link.say('AT+QNTP=1,"127.0.0.8",123')
    said += await link.advance(30)
    assert said.endswith(urc("+QNTP: 569")), said
    link.link.service_unreachable("ntp", 0)
    said = await link.say('AT+QNTP=1,"127.0.0.8",123')
    said += await link.advance(30)
    assert urc("+QNTP: 0,") in said or b"\r\n+QNTP: 0," in said, said
    await link.close()


async def test_tcp_keeps_its_order_and_its_bytes_through_a_jittery_link(tmp_path: Path) -> None:
    link = await module(tmp_path, PROFILES["ce1"])
    peer = MemoryTcpPeer(link.network)
    await link.say('AT+QIOPEN=1,0,"TCP","127.0.0.1",47001,0,1')
    await link.advance(30)
    assert link.link is not None
    link.link.drop("up", 2)  # TCP resends what the radio lost: late, never missing
    sent = b""
    for n in range(40):
        chunk = f"{n:03d}-".encode()
        await link.say(f"AT+QISEND=0,4,{chunk.decode()}")
        sent += chunk
    await link.advance(300)
    assert bytes(peer.received) == sent
    await link.say("AT+QISEND=0,4,last")
    said = await link.say("AT+QICLOSE=0")  # closed right after SEND OK: the bytes still go
    assert said.endswith(b"CLOSE OK\r\n")
    await peer.wait_closed(timeout=60)
    assert bytes(peer.received) == sent + b"last"
    await link.close()


async def test_the_attach_waits_for_coverage_and_cereg_stays_true(tmp_path: Path) -> None:
    link = MemoryLink(tmp_path, link=STEADY, attach_delay=1.0)
    assert link.link is not None
    await link.start()
    link.link.coverage_loss(30)  # no cell at power-on
    said = await link.advance(20)
    assert b"+IP:" not in said
    assert b"+CGATT: 0" in await link.say("AT+CGATT?")
    said = await link.advance(12)  # coverage at 30 s, the attach 1 s later
    assert urc("+IP: 10.20.30.40") in said, said
    await link.say("AT+CEREG=1")
    await link.say("AT+CFUN=0")
    await link.say("AT+CFUN=1")
    await link.advance(2)
    link.link.coverage_loss(5)  # after a CFUN cycle the loss is still reported
    assert await link.advance(0) == urc("+CEREG: 2")
    assert await link.advance(5.1) == urc("+CEREG: 1")
    await link.close()
