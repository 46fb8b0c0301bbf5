"""Scenarios (issue 12 §3): timed steps of conditions and faults, in module time."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from bc66sim.net.link import PROFILES
from bc66sim.scenario import (
    ScenarioError,
    ScenarioPlayer,
    find_scenario,
    load_scenario,
    shipped_scenarios,
)
from support.links import MemoryLink, ServeProcess
from support.peers import UdpPeer

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def urc(text: str) -> bytes:
    return f"\r\n{text}\r\n".encode()


def test_the_shipped_scenarios_load() -> None:
    names = shipped_scenarios()
    assert {"lift-ride", "congested-cell", "night-detach", "quiet-cell"} <= set(names)
    for name in names:
        scenario = load_scenario(find_scenario(name))
        assert scenario.steps and scenario.seed is not None
        assert [step.at for step in scenario.steps] == sorted(step.at for step in scenario.steps)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[step]]\nat = -1\nce = 1", "'at' is the seconds"),
        ("[[step]]\nat = 1\nce = 5", "bad value for ce"),
        ("[[step]]\nat = 1\nce = 1\ndetach = true", "one action"),
        ("[[step]]\nat = 1\nexplode = true", "one action"),
        ('[[step]]\nat = 1\nnetwork = "ce9"', "not one of ideal"),
        ('[[step]]\nat = 1\nurc = "two\\nlines"', "bad value for urc"),
        ("colour = 1", "unknown settings"),
        ("seed = 'x'", "seed is an integer"),
        ("[[step]\n", "Expected"),
    ],
)
def test_bad_scenarios_say_where(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ScenarioError, match=message):
        load_scenario(path)
    with pytest.raises(ScenarioError, match="no such file"):
        find_scenario("no-such-scenario")


async def test_a_lift_ride_in_module_time(tmp_path: Path) -> None:
    link = MemoryLink(tmp_path, link=PROFILES["ce0"], seed=7, attach_delay=0.0)
    await link.start()
    await link.sync()
    await link.say("AT+CEREG=1")
    player = ScenarioPlayer(load_scenario(find_scenario("lift-ride")), link.modem)
    player.start()
    await link.advance(38)
    said = await link.say("AT+QENG=0")
    assert b",-117,-10,-106,-2," in said  # faded: RSRP -117 dBm, SINR -2 dB
    assert await link.advance(7) == urc("+CEREG: 2")  # 45 s: the cell is lost
    assert await link.say("AT+CSQ") == b"AT+CSQ\r\n\r\n+CSQ: 99,99\r\n\r\nOK\r\n"
    assert await link.advance(39.9) == b""
    assert await link.advance(0.2) == urc("+CEREG: 1")  # 85 s: back, at CE level 1
    assert b',"1A2B",1,23,2' in await link.say("AT+QENG=0")
    await link.advance(100)
    assert b',"1A2B",0,12,2' in await link.say("AT+QENG=0")  # 150 s: CE level 0 again
    assert [step.action for step in player.played] == [
        "signal",
        "signal",
        "coverage_loss",
        "ce",
        "ce",
    ]
    await link.close()


async def test_an_operator_detach_at_night(tmp_path: Path) -> None:
    link = MemoryLink(tmp_path, link=PROFILES["ideal"], attach_delay=0.0)
    await link.start()
    await link.sync()
    await link.say("AT+CEREG=1")
    ScenarioPlayer(load_scenario(find_scenario("night-detach")), link.modem).start()
    assert await link.advance(60) == urc("+CEREG: 0")
    said = await link.advance(180)
    assert said.startswith(urc("+CEREG: 1")) and urc("+IP: 10.20.30.40") in said, said
    await link.close()


async def _race(tmp_path: Path, peer: UdpPeer, *scenario: str, fixed: bool) -> int:
    state = tmp_path / ("fixed" if fixed else "buggy") / "-".join(scenario or ("none",))
    args = ("--tcp", "127.0.0.1:0", "--attach-delay", "0", "--network", "ce0", "--seed", "1")
    server = await ServeProcess(*args, *scenario, "--state-dir", str(state)).start()
    try:
        process = await asyncio.create_subprocess_exec(
            sys.executable, str(EXAMPLES / "reply_after_send_ok.py"), server.where,
            "127.0.0.1", str(peer.port), *(["--fixed"] if fixed else []),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        output, _ = await asyncio.wait_for(process.communicate(), 60)
    finally:
        await server.stop()
    assert process.returncode is not None
    expected = b"reply received" if process.returncode == 0 else b"the reply was lost"
    assert expected in output, output
    return process.returncode


async def test_the_race_after_send_ok_shows_in_a_quiet_cell(tmp_path: Path) -> None:
    """The worked example: the buggy wait passes on ce0, fails in the quiet cell;
    the fixed one passes in both."""
    peer = await UdpPeer(echo=True).start()
    try:
        assert await _race(tmp_path, peer, fixed=False) == 0
        assert await _race(tmp_path, peer, "--scenario", "quiet-cell", fixed=False) == 1
        assert await _race(tmp_path, peer, "--scenario", "quiet-cell", fixed=True) == 0
        assert await _race(tmp_path, peer, fixed=True) == 0
    finally:
        await peer.stop()
