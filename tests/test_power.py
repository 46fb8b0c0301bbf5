"""NB-IoT time (issue 11): RRC, PSM, eDRX, deep sleep, held downlink, energy.

Every test runs on MemoryNetwork + ManualClock: an hour of PSM costs nothing, and
each URC is checked byte for byte at the moment of module time it comes.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bc66sim.module.power import (
    TRANSITIONS,
    PowerConfig,
    PowerEvent,
    PowerState,
    edrx_cycle,
    paging_window,
    t3324_seconds,
    t3412_seconds,
)
from support.links import MemoryLink
from support.memory_peers import MemoryTcpPeer, MemoryUdpPeer

OK = "\r\nOK\r\n"
PSM_10MIN_10S = 'AT+CPSMS=1,,,"00000001","00000101"'  # T3412 10 min, T3324 10 s


def urc(text: str) -> bytes:
    return f"\r\n{text}\r\n".encode()


async def module(tmp_path: Path, **power: object) -> MemoryLink:
    link = MemoryLink(tmp_path, power=PowerConfig(**power))  # type: ignore[arg-type]
    await link.start()
    await link.sync()
    return link


async def ok(link: MemoryLink, command: str) -> None:
    said = await link.say(command)
    assert said == f"{command}\r\n{OK}".encode(), said


async def open_udp(link: MemoryLink, mode: int = 1) -> None:
    """Socket 0 to the UDP peer on port 47002, in direct push (1) or buffer access mode."""
    said = await link.say(f'AT+QIOPEN=1,0,"UDP","127.0.0.1",47002,0,{mode}')
    said += await link.advance(0.1)
    assert said.startswith(b'AT+QIOPEN=1,0,"UDP","127.0.0.1",47002') and said.endswith(
        urc("+QIOPEN: 0,0")), said  # fmt: skip


def test_power_states_are_one_table() -> None:
    """Every state is reachable, and every transition of the module is in TRANSITIONS."""
    assert {state for state, _ in TRANSITIONS} == set(PowerState)
    assert set(TRANSITIONS.values()) == set(PowerState)
    assert TRANSITIONS[PowerState.DEEP_SLEEP, PowerEvent.WAKE] is PowerState.PSM
    assert (PowerState.DEEP_SLEEP, PowerEvent.CONNECT) not in TRANSITIONS  # wake first


def test_timer_values_decode_with_their_unit_bits() -> None:
    assert t3412_seconds("00000001") == 600  # 10 min units
    assert t3412_seconds("00100001") == 3600  # 1 h
    assert t3412_seconds("01000011") == 3 * 36000  # 10 h
    assert t3412_seconds("01100101") == 10  # 2 s
    assert t3412_seconds("10000010") == 60  # 30 s
    assert t3412_seconds("10100011") == 180  # 1 min
    assert t3412_seconds("11000001") == 1_152_000  # 320 h
    assert t3412_seconds("11100000") is None  # deactivated
    assert t3324_seconds("00000101") == 10  # 2 s
    assert t3324_seconds("00100011") == 180  # 1 min
    assert t3324_seconds("01000010") == 720  # 6 min
    assert t3324_seconds("11100000") is None
    assert t3324_seconds("01100001") == 60  # other units: minutes
    assert edrx_cycle("0010") == 20.48 and edrx_cycle("1111") == 10485.76
    assert edrx_cycle("0000") == 20.48  # codes NB-S1 lacks mean the shortest
    assert paging_window("0000") == 2.56 and paging_window("1111") == 40.96


async def test_rrc_connects_on_traffic_and_idles_after_inactivity(tmp_path: Path) -> None:
    link = await module(tmp_path)
    MemoryUdpPeer(link.network, echo=False)
    await ok(link, "AT+CSCON=1")
    assert await link.advance(19) == b""  # the attach connected the module
    assert await link.advance(1) == urc("+CSCON: 0")
    assert await link.say("AT+CSCON?") == f"AT+CSCON?\r\n\r\n+CSCON: 1,0\r\n{OK}".encode()
    said = await link.say('AT+QIOPEN=1,0,"UDP","127.0.0.1",47002,0,1')
    assert said.endswith(f"{OK}".encode() + urc("+CSCON: 1") + urc("+QIOPEN: 0,0")), said
    assert await link.advance(19.8) == b""
    await link.say("AT+QISEND=0,3,abc")  # traffic: the inactivity timer starts again
    assert await link.advance(19.9) == b""
    assert await link.advance(0.2) == urc("+CSCON: 0")
    assert link.modem.power.state is PowerState.IDLE
    await link.close()


async def test_psm_after_t3324_and_a_tau_at_t3412(tmp_path: Path) -> None:
    link = await module(tmp_path)
    await ok(link, "AT+QNBIOTEVENT=1,1")
    await ok(link, "AT+CSCON=1")
    await ok(link, "AT+QSCLK=0")  # PSM without deep sleep here
    await ok(link, PSM_10MIN_10S)
    assert await link.advance(20) == urc("+CSCON: 0")
    assert await link.advance(9.9) == b""
    assert await link.advance(0.1) == urc('+QNBIOTEVENT: "ENTER PSM"')
    assert link.modem.power.state is PowerState.PSM
    # T3412 runs from the RRC release: 600 s after it the module updates its area.
    assert await link.advance(600 - 10 - 0.1) == b""
    assert await link.advance(0.1) == urc('+QNBIOTEVENT: "EXIT PSM"') + urc("+CSCON: 1")
    assert await link.advance(2) == urc("+CSCON: 0")  # a TAU keeps it connected briefly
    assert await link.advance(10) == urc('+QNBIOTEVENT: "ENTER PSM"')
    await link.close()


async def test_the_granted_timers_are_the_networks(tmp_path: Path) -> None:
    link = await module(tmp_path, psm_grant=("01100101", "00000001"))  # T3412 10 s, T3324 2 s
    await ok(link, "AT+QNBIOTEVENT=1,1")
    await ok(link, PSM_10MIN_10S)
    await ok(link, "AT+CEREG=4")
    said = await link.say("AT+CEREG?")
    assert b'+CEREG: 4,1,"1A2B","0C3D4E5F",9,,,"00000001","01100101"' in said
    assert await link.advance(22) == urc('+QNBIOTEVENT: "ENTER PSM"')
    await link.close()


async def _into_deep_sleep(link: MemoryLink) -> None:
    for command in ('AT+QCFG="dsevent",1', "AT+QATWAKEUP=1", "AT+QNBIOTEVENT=1,1",
                    PSM_10MIN_10S, "AT+QSCLK=1", "AT+QRELLOCK"):  # fmt: skip
        await ok(link, command)
    assert await link.advance(30) == urc('+QNBIOTEVENT: "ENTER PSM"') + urc(
        '+QNBIOTEVENT: "ENTER DEEPSLEEP"'
    )
    assert link.modem.power.asleep


async def test_deep_sleep_loses_the_command_that_wakes_it(tmp_path: Path) -> None:
    link = await module(tmp_path)
    await _into_deep_sleep(link)
    # The UART is dead: the bytes wake the module and are lost (no echo, no answer).
    assert await link.say("AT") == urc('+QNBIOTEVENT: "EXIT DEEPSLEEP"') + urc("+QATWAKEUP")
    assert link.modem.power.state is PowerState.PSM  # awake, and still in PSM
    await link.advance(0.2)
    await ok(link, "AT")
    # The sleep lock holds it awake atlocktime (10 s) after the last command.
    assert await link.advance(9.9) == b""
    assert await link.advance(0.1) == urc('+QNBIOTEVENT: "ENTER DEEPSLEEP"')
    await link.close()


async def test_psm_eint_and_t3412_wake_it(tmp_path: Path) -> None:
    link = await module(tmp_path)
    await _into_deep_sleep(link)
    link.modem.psm_eint()
    assert await link.advance(0) == urc('+QNBIOTEVENT: "EXIT DEEPSLEEP"') + urc("+QATWAKEUP")
    await ok(link, "AT")  # the pin woke it: nothing is lost
    assert await link.advance(10) == urc('+QNBIOTEVENT: "ENTER DEEPSLEEP"')
    # T3412 (600 s from the RRC release, 20 s after boot): a TAU out of deep sleep.
    said = await link.advance(600)
    assert said.startswith(urc('+QNBIOTEVENT: "EXIT DEEPSLEEP"') + urc("+QATWAKEUP")
                           + urc('+QNBIOTEVENT: "EXIT PSM"')), said  # fmt: skip
    await link.close()


async def test_what_a_wake_up_keeps_and_resets(tmp_path: Path) -> None:
    link = await module(tmp_path)
    peer = MemoryUdpPeer(link.network, echo=False)
    await ok(link, 'AT+QICFG="echomode",0')
    await ok(link, 'AT+QIDNSCFG=1,"127.0.0.53"')
    await open_udp(link, 0)
    await ok(link, "AT+QISWTMD=0,1")
    await _into_deep_sleep(link)
    await link.say("AT")
    await link.advance(0.2)
    said = await link.say('AT+QICFG="echomode"')
    assert b'+QICFG: "echomode",1' in said  # invalid after deep-sleep wake-up: default
    assert b'+QIDNSCFG: 1,"127.0.0.53"' in await link.say("AT+QIDNSCFG=1")
    # §2.3.1 note 6: the UDP socket is there; the host sends without reopening it.
    said = await link.say("AT+QISEND=0,5,hello")
    assert said.startswith(b"AT+QISEND=0,5,hello\r\n\r\nOK\r\n\r\nSEND OK\r\n"), said
    assert await peer.next_datagram() == b"hello"
    assert b'+QISTATE: 0,"UDP","127.0.0.1",47002,' in await link.say("AT+QISTATE?")
    await link.close()


async def test_a_tcp_socket_keeps_the_module_out_of_deep_sleep(tmp_path: Path) -> None:
    link = await module(tmp_path)
    MemoryTcpPeer(link.network)
    await ok(link, 'AT+QCFG="dsevent",1')
    await ok(link, "AT+QNBIOTEVENT=1,1")
    await ok(link, PSM_10MIN_10S)
    said = await link.say('AT+QIOPEN=1,0,"TCP","127.0.0.1",47001,0,1')
    assert (said + await link.advance(0.2)).endswith(urc("+QIOPEN: 0,0"))
    await ok(link, "AT+QRELLOCK")
    assert await link.advance(40) == urc('+QNBIOTEVENT: "ENTER PSM"')  # and no deep sleep
    assert link.modem.power.state is PowerState.PSM
    said = await link.say("AT+QICLOSE=0")
    assert said.endswith(b"CLOSE OK\r\n"), said
    said = await link.say("AT+QRELLOCK")  # no TCP socket now: deep sleep, right after OK
    assert said == f"AT+QRELLOCK\r\n{OK}".encode() + urc('+QNBIOTEVENT: "ENTER DEEPSLEEP"')
    await link.close()


async def test_downlink_waits_in_the_network_while_in_psm(tmp_path: Path) -> None:
    link = await module(tmp_path, hold_datagrams=3)
    peer = MemoryUdpPeer(link.network, echo=False)
    await ok(link, "AT+QSCLK=0")  # PSM with the UART awake: the host's send goes through
    await ok(link, "AT+QNBIOTEVENT=1,1")
    await ok(link, PSM_10MIN_10S)
    await open_udp(link)
    await link.say("AT+QISEND=0,4,ping")
    await peer.next_datagram()
    assert await link.advance(30) == urc('+QNBIOTEVENT: "ENTER PSM"')
    for n in range(5):  # the network holds 3 and drops the rest
        peer.send(f"d{n}".encode())
    assert await link.advance(60) == b""  # unreachable: no URC in PSM (§2.4 note 1)
    said = await link.say("AT+QISEND=0,4,ping")  # an uplink: out of PSM, then the held data
    assert said.startswith(b"AT+QISEND=0,4,ping\r\n\r\nOK\r\n\r\nSEND OK\r\n"), said
    assert said.endswith(urc('+QNBIOTEVENT: "EXIT PSM"') + b"".join(
        urc(f'+QIURC: "recv",0,2\r\nd{n}') for n in range(3))), said  # fmt: skip
    await link.close()


async def test_held_downlink_arrives_at_the_tau(tmp_path: Path) -> None:
    link = await module(tmp_path)
    peer = MemoryUdpPeer(link.network, echo=False)
    await ok(link, PSM_10MIN_10S)
    await open_udp(link)
    await link.say("AT+QISEND=0,1,x")
    await peer.next_datagram()
    await link.advance(100)
    peer.send(b"later")
    assert await link.advance(400) == b""
    said = await link.advance(200)  # T3412: 600 s after the release
    assert said == urc('+QIURC: "recv",0,5\r\nlater'), said
    await link.close()


async def test_edrx_delivers_at_the_paging_occasion(tmp_path: Path) -> None:
    link = await module(tmp_path)
    peer = MemoryUdpPeer(link.network, echo=False)
    await ok(link, "AT+CSCON=1")
    await ok(link, 'AT+QEDRXCFG=1,5,"0010","0000"')  # 20.48 s cycle, 2.56 s window
    await open_udp(link)
    await link.say("AT+QISEND=0,1,x")
    await peer.next_datagram()
    assert await link.advance(20) == urc("+CSCON: 0")
    await link.advance(5)  # 5 s into the cycle: outside the paging window
    peer.send(b"news")
    assert await link.advance(15.4) == b""
    said = await link.advance(0.1)  # the next paging occasion, 20.48 s after the release
    assert said == urc("+CSCON: 1") + urc('+QIURC: "recv",0,4\r\nnews'), said
    await link.close()


async def test_without_power_saving_downlink_is_at_once(tmp_path: Path) -> None:
    link = await module(tmp_path)
    peer = MemoryUdpPeer(link.network, echo=False)
    await open_udp(link)
    await link.say("AT+QISEND=0,1,x")
    await peer.next_datagram()
    await link.advance(3600)
    peer.send(b"now")
    assert await link.advance(0.1) == urc('+QIURC: "recv",0,3\r\nnow')
    await link.close()


async def test_energy_follows_the_states(tmp_path: Path) -> None:
    link = await module(tmp_path)
    await _into_deep_sleep(link)
    await link.advance(3600)
    summary = link.modem.power.energy.summary(link.modem.clock.now())
    # 1 s idle searching before the attach, 20 s connected after it, 10 s of T3324;
    # then every 602 s a TAU (five) costs 2 s connected and 10 s of T3324.
    assert summary.seconds["connected"] == pytest.approx(20 + 5 * 2, abs=0.5)
    assert summary.seconds["idle"] == pytest.approx(1 + 10 + 5 * 10, abs=0.5)
    assert summary.seconds["deep_sleep"] == pytest.approx(
        link.modem.clock.now() - 30 - 5 * 12 - 1, abs=1.5)  # fmt: skip
    assert summary.total_seconds == pytest.approx(link.modem.clock.now(), abs=0.01)
    currents = link.modem.config.currents
    expected = summary.seconds["deep_sleep"] * currents.deep_sleep / 3600
    assert summary.mah["deep_sleep"] == pytest.approx(expected)
    assert summary.total_mah > 0 and summary.battery_days(2400) is not None
    await link.close()


async def test_tcp_downlink_waits_in_tcp_while_in_psm(tmp_path: Path) -> None:
    link = await module(tmp_path)
    peer = MemoryTcpPeer(link.network)
    await ok(link, "AT+QNBIOTEVENT=1,1")
    await ok(link, PSM_10MIN_10S)
    said = await link.say('AT+QIOPEN=1,0,"TCP","127.0.0.1",47001,0,0')
    assert (said + await link.advance(0.2)).endswith(urc("+QIOPEN: 0,0"))
    assert await link.advance(30) == urc('+QNBIOTEVENT: "ENTER PSM"')
    await peer.send(b"first")
    await peer.send(b"second")
    assert await link.advance(60) == b""
    assert link.modem.sockets.table[0] is not None and link.modem.sockets.table[0].paused
    said = await link.say("AT+QISEND=0,2,hi")
    assert said.startswith(b"AT+QISEND=0,2,hi\r\n\r\nOK\r\n\r\nSEND OK\r\n"), said
    assert said.endswith(urc('+QNBIOTEVENT: "EXIT PSM"') + urc('+QIURC: "recv",0')), said
    for chunk in (b"first", b"second"):  # nothing lost, in order
        said = await link.say("AT+QIRD=0,100")
        expected = b"AT+QIRD=0,100\r\n\r\n+QIRD: %d\r\n%s\r\n\r\nOK\r\n" % (len(chunk), chunk)
        assert said == expected, said
    await link.close()


def test_the_meter_counts_from_power_on() -> None:
    from bc66sim.module.energy import EnergyMeter

    meter = EnergyMeter()
    meter.enter("idle", 5000.0)  # a clock that does not start at 0 (the event loop's)
    meter.enter("psm", 5010.0)
    summary = meter.summary(5030.0)
    assert summary.seconds["off"] == 0 and summary.seconds["idle"] == 10
    assert summary.total_seconds == 30


# -- found by review: each was a wrong outcome before ----------------------------------------


async def test_a_running_ping_keeps_the_module_awake(tmp_path: Path) -> None:
    link = await module(tmp_path)
    link.network.ping_replies["127.0.0.9"] = 64
    await ok(link, "AT+QNBIOTEVENT=1,1")
    await ok(link, 'AT+CPSMS=1,,,"00000001","00000001"')  # T3324 2 s
    await ok(link, "AT+QRELLOCK")
    said = await link.say('AT+QPING=1,"192.0.2.1",60,2')  # no answer: two 60 s waits
    said += await link.advance(125)
    # Every result comes, then the release, T3324, PSM and sleep.
    assert said.endswith(urc("+QPING: 569") * 2 + urc("+QPING: 0,2,0,2,0,0,0")
                         + urc('+QNBIOTEVENT: "ENTER PSM"')), said  # fmt: skip
    assert link.modem.power.asleep
    await link.close()


async def test_data_mode_keeps_the_module_awake(tmp_path: Path) -> None:
    link = await module(tmp_path)
    peer = MemoryUdpPeer(link.network, echo=False)
    await open_udp(link)
    await ok(link, PSM_10MIN_10S)
    said = await link.say("AT+QISEND=0")
    assert said.endswith(b"> ")
    await link.advance(60)  # the host thinks a minute in data mode: no sleep
    assert not link.modem.power.asleep
    link.buffer.clear()
    await link.write(b"hello\x1a")
    assert await link.advance(0) == b"hello\r\nOK\r\n\r\nSEND OK\r\n"
    assert await peer.next_datagram() == b"hello"
    await link.close()


async def test_new_psm_timers_while_idle_are_asked_for_in_a_tau(tmp_path: Path) -> None:
    link = await module(tmp_path)
    await ok(link, "AT+QNBIOTEVENT=1,1")
    await ok(link, "AT+CSCON=1")
    assert await link.advance(20) == urc("+CSCON: 0")
    said = await link.say(PSM_10MIN_10S)
    assert said == f"{PSM_10MIN_10S}\r\n{OK}".encode() + urc("+CSCON: 1")
    assert await link.advance(2) == urc("+CSCON: 0")
    assert await link.advance(10) == urc('+QNBIOTEVENT: "ENTER PSM"')
    await link.close()


async def test_held_tcp_data_is_never_dropped_by_age(tmp_path: Path) -> None:
    link = await module(tmp_path)
    peer = MemoryTcpPeer(link.network)
    await ok(link, PSM_10MIN_10S)
    said = await link.say('AT+QIOPEN=1,0,"TCP","127.0.0.1",47001,0,1')
    assert (said + await link.advance(0.2)).endswith(urc("+QIOPEN: 0,0"))
    await link.advance(40)
    await peer.send(b"IMPORTANT")
    await link.advance(200)
    said = await link.say('AT+CPSMS=1,,,"01100101","00000101"')  # new timers: a TAU at once
    assert said.endswith(urc('+QIURC: "recv",0,9\r\nIMPORTANT')), said
    await link.close()


async def test_a_detach_wakes_a_sleeping_module(tmp_path: Path) -> None:
    link = await module(tmp_path)
    await ok(link, "AT+CEREG=1")
    await _into_deep_sleep(link)
    link.modem.radio.set_attach(False)  # the network detaches it (a control-plane fault)
    said = await link.advance(0)
    assert said == (urc('+QNBIOTEVENT: "EXIT DEEPSLEEP"') + urc("+QATWAKEUP")
                    + urc('+QNBIOTEVENT: "EXIT PSM"') + urc("+CEREG: 0")), said  # fmt: skip
    assert not link.modem.power.asleep
    await link.close()


async def test_qisend_with_an_empty_data_parameter_is_a_parameter_error(tmp_path: Path) -> None:
    link = await module(tmp_path)
    await open_udp(link)
    await ok(link, "AT+CMEE=1")
    assert await link.say("AT+QISEND=0,1,") == b"AT+QISEND=0,1,\r\n\r\n+CME ERROR: 552\r\n"
    await link.close()


async def test_cedrxs_mode_2_reports_the_networks_edrx(tmp_path: Path) -> None:
    """27.007 §7.40: ``AT+CEDRXS=2`` enables eDRX and the ``+CEDRXP`` URC: the network's
    parameters after the request and at each attach; mode 1 says nothing."""
    link = await module(tmp_path)
    said = await link.say('AT+CEDRXS=2,5,"0010"')
    assert said == f'AT+CEDRXS=2,5,"0010"\r\n{OK}'.encode() + urc(
        '+CEDRXP: 5,"0010","0010","0011"'
    ), said
    assert await link.say("AT+CFUN=0") == f"AT+CFUN=0\r\n{OK}".encode()
    await link.say("AT+CFUN=1")
    assert urc('+CEDRXP: 5,"0010","0010","0011"') in await link.advance(5)
    await ok(link, 'AT+CEDRXS=1,5,"0011"')
    await ok(link, "AT+CFUN=0")
    await link.say("AT+CFUN=1")
    assert b"+CEDRXP" not in await link.advance(5)
    await link.close()
