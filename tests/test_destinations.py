"""``--allow`` / ``--deny``: what the module may reach (issue 9 §4).

Served beyond loopback, an emulator would be an open proxy and DNS relay.  Every
destination it opens — sockets, ping, NTP, DNS servers and the names looked up —
is checked, and a refused one is answered with the note's 572 (operation not
allowed).
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from bc66sim.net.policy import Denied, DestinationPolicy, Rule
from support.links import ModemFactory
from support.peers import TcpPeer, UdpPeer

OK = b"\r\nOK\r\n"


@pytest.mark.parametrize(
    ("rule", "address", "port", "matches"),
    [
        ("*", "8.8.8.8", 53, True),
        ("127.0.0.0/8", "127.1.2.3", None, True),
        ("127.0.0.0/8", "128.0.0.1", 80, False),
        ("127.0.0.1:8000-9000", "127.0.0.1", 8080, True),
        ("127.0.0.1:8000-9000", "127.0.0.1", 7999, False),
        ("127.0.0.1:53", "127.0.0.1", None, False),  # a ping has no port
        ("::1", "::1", 80, True),
        ("[fd00::/8]:443", "fd12::1", 443, True),
        ("*:53", "10.0.0.1", 53, True),
    ],
)
def test_address_rules(rule: str, address: str, port: int | None, matches: bool) -> None:
    assert Rule.parse(rule).matches_address(address, port) is matches


def test_name_rules() -> None:
    assert Rule.parse("*.bc66.test").matches_name("iot.bc66.test", 80)
    assert not Rule.parse("*.bc66.test").matches_name("bc66.test.evil", 80)
    assert Rule.parse("Example.ORG:443").matches_name("example.org.", 443)
    assert not Rule.parse("example.org:443").matches_name("example.org", 80)


@pytest.mark.parametrize(
    "bad",
    ["", "10.0.0.0/8:0", "1.2.3.4:70000", "a b", "[::1", "x:y", "127.0.0.1:\u0668\u0660",
     "1.2.3.4:+80", "*:5-", "999.1.1.1", "1.2.3"],
)  # fmt: skip
def test_bad_rules_say_why(bad: str) -> None:
    with pytest.raises(ValueError) as caught:
        Rule.parse(bad)
    assert repr(bad) in str(caught.value)


def test_deny_wins_and_allow_names_reach_their_addresses() -> None:
    policy = DestinationPolicy.parse(["127.0.0.0/8", "*.bc66.test"], ["127.0.0.9"])
    policy.check_address("127.0.0.1", 80)
    with pytest.raises(Denied, match=r"denied by --deny 127\.0\.0\.9"):
        policy.check_address("127.0.0.9", 80)
    with pytest.raises(Denied, match="matches no --allow rule"):
        policy.check_address("10.1.1.1", 80)
    assert policy.check_name("iot.bc66.test", 80) is True
    policy.check_address("10.1.1.1", 80, named=True)  # the name was allowed
    with pytest.raises(Denied):
        policy.check_address("127.0.0.9", 80, named=True)  # still denied


@pytest.mark.parametrize("address", ["::ffff:127.0.0.2", "::ffff:7f00:2", "0.0.0.0", "::"])
def test_other_spellings_of_a_denied_address_are_denied(address: str) -> None:
    """Found by an adversarial review: the stack reaches these as 127.0.0.x / loopback."""
    policy = DestinationPolicy.parse([], ["127.0.0.0/8", "::1"])
    with pytest.raises(Denied):
        policy.check_address(address, 80)


async def test_module_refuses_denied_destinations_with_572(
    modem_factory: ModemFactory, peer: TcpPeer, udp_peer: UdpPeer, dns_server: str
) -> None:
    policy = DestinationPolicy.parse(
        [f"127.0.0.1:{peer.port}", f"{dns_server}:53", "iot.bc66.test", "127.0.0.1"],
        [f"127.0.0.1:{udp_peer.port}", "*.evil.test"],
    )
    modem = await modem_factory(policy=policy)
    await modem.command("ATE0")
    await modem.command(f'AT+QIDNSCFG=1,"{dns_server}"')
    # A socket to an allowed port opens; to a denied one, +QIOPEN: <id>,572.
    assert await modem.command(f'AT+QIOPEN=1,0,"TCP","127.0.0.1",{peer.port},0,0') == OK
    await modem.expect(b"\r\n+QIOPEN: 0,0\r\n")
    assert await modem.command(f'AT+QIOPEN=1,1,"UDP","127.0.0.1",{udp_peer.port},0,0') == OK
    await modem.expect(b"\r\n+QIOPEN: 1,572\r\n")
    assert (await modem.last_error()) == b"+QIGETERROR: 572,operation not allowed"
    # An address no --allow rule names: refused too.
    assert await modem.command('AT+QIOPEN=1,2,"TCP","127.0.0.2",80,0,0') == OK
    await modem.expect(b"\r\n+QIOPEN: 2,572\r\n")
    # A name the rules allow is looked up and reached; a denied name is never looked up.
    assert await modem.command('AT+QIDNSGIP=1,"iot.bc66.test"') == OK
    assert b'"dnsgip",0,1' in await modem.read_until(b'"127.0.0.1"\r\n')
    assert await modem.command('AT+QIDNSGIP=1,"www.evil.test"') == OK
    await modem.expect(b'\r\n+QIURC: "dnsgip",572\r\n')
    # Ping and NTP: the same rules (127.0.0.1 without a port is allowed, .2 is not).
    assert await modem.command('AT+QPING=1,"127.0.0.2",1,1') == OK
    await modem.expect(b"\r\n+QPING: 572\r\n")
    assert await modem.command('AT+QNTP=1,"127.0.0.2",123') == OK
    await modem.expect(b"\r\n+QNTP: 572\r\n")


async def test_a_denied_dns_server_is_not_asked(
    modem_factory: ModemFactory, dns_server: str
) -> None:
    modem = await modem_factory(policy=DestinationPolicy.parse([], [f"{dns_server}:53"]))
    await modem.command("ATE0")
    await modem.command(f'AT+QIDNSCFG=1,"{dns_server}"')
    assert await modem.command('AT+QIDNSGIP=1,"iot.bc66.test"') == OK
    await modem.expect(b'\r\n+QIURC: "dnsgip",572\r\n')
    assert await modem.command('AT+QIOPEN=1,0,"TCP","iot.bc66.test",80,0,0') == OK
    await modem.expect(b"\r\n+QIOPEN: 0,572\r\n")


def test_cli_rejects_a_bad_rule_in_one_line(tmp_path: object) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bc66sim", "serve", "--stdio", "--deny", "1.2.3.4:99999"],
        capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "--allow/--deny: '1.2.3.4:99999': ports are 1-65535" in lines[0]


@pytest.mark.parametrize("command", [["serve", "--state-dir"], ["fleet", "2", "--state-dir"]])
def test_a_uart_beyond_loopback_warns_that_it_has_no_authentication(
    tmp_path: object, command: list[str]
) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "bc66sim", *command, str(tmp_path), "--tcp", "0.0.0.0:0"],
        stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        assert process.stderr is not None
        lines = [process.stderr.readline() for _ in range(2)]
    finally:
        process.terminate()
        process.wait(10)
    assert any("has no authentication" in line for line in lines), lines
