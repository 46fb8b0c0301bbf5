"""§2.3.10 AT+QIDNSGIP and §2.3.11 AT+QIDNSCFG.

Module behaviour, on MemoryNetwork + ManualClock (``pytest.mark.memory``):
``dns_server`` serves the zone dnsmasq serves end to end, and every wait is module
time; ``@BOTH_WORLDS`` tests run against dnsmasq too.  A real answer's TTL and the
host's own resolvers are in test_end_to_end.py.
"""

from __future__ import annotations

import pytest

from bc66sim.net.base import Family
from bc66sim.net.memory import MemoryNetwork
from support.links import MemoryLink, ModemFactory
from support.memory_peers import MemoryTcpPeer
from support.servers import DNS_V6
from support.worlds import BOTH_WORLDS

pytestmark = pytest.mark.memory  # module behaviour: the memory network's fixtures

OK = b"\r\nOK\r\n"
ERROR = b"\r\nERROR\r\n"


async def use_dns(link: MemoryLink, server: str) -> None:
    command = f'AT+QIDNSCFG=1,"{server}"'
    assert await link.command(command) == command.encode() + b"\r" + OK


@BOTH_WORLDS  # dnsmasq answers the same zone with the same TTL
async def test_lookup_reports_every_address_and_the_ttl(modem: MemoryLink, dns_server: str) -> None:
    await use_dns(modem, dns_server)
    command = 'AT+QIDNSGIP=1,"multi.bc66.test"'
    assert await modem.command(command) == command.encode() + b"\r" + OK
    await modem.expect(b'\r\n+QIURC: "dnsgip",0,2,120\r\n')
    first = await modem.read_until(b'"\r\n')
    second = await modem.read_until(b'"\r\n')
    # A server may rotate the records it returns: the order is the server's, not ours.
    assert sorted([first, second]) == [
        b'\r\n+QIURC: "dnsgip","127.0.0.11"\r\n',
        b'\r\n+QIURC: "dnsgip","127.0.0.12"\r\n',
    ]
    await modem.quiet()
    assert await modem.last_error() == b"+QIGETERROR: 0,operation successful"


async def test_unknown_name(modem: MemoryLink, dns_server: str) -> None:
    await use_dns(modem, dns_server)
    await modem.command('AT+QIDNSGIP=1,"nope.bc66.test"')
    await modem.expect(b'\r\n+QIURC: "dnsgip",565\r\n')
    assert await modem.last_error() == b"+QIGETERROR: 565,dns parse failed"


async def test_server_not_answering_times_out(modem_factory: ModemFactory, silent_dns: str) -> None:
    link = await modem_factory(dns_timeout=1.0)
    await use_dns(link, silent_dns)
    await link.command('AT+QIDNSGIP=1,"iot.bc66.test"')
    # a second lookup while the first runs: busy
    assert await link.command('AT+QIDNSGIP=1,"iot.bc66.test"') == (
        b'AT+QIDNSGIP=1,"iot.bc66.test"\r' + ERROR
    )
    assert await link.last_error() == b"+QIGETERROR: 564,dns busy"
    await link.expect(b'\r\n+QIURC: "dnsgip",569\r\n', timeout=5)
    assert await link.last_error() == b"+QIGETERROR: 569,operation timeout"


async def test_an_address_is_its_own_answer(modem: MemoryLink) -> None:
    await modem.command('AT+QIDNSGIP=1,"192.0.2.7"')
    await modem.expect(b'\r\n+QIURC: "dnsgip",0,1,0\r\n\r\n+QIURC: "dnsgip","192.0.2.7"\r\n')


async def test_not_attached(modem: MemoryLink, dns_server: str) -> None:
    await use_dns(modem, dns_server)
    await modem.command("AT+CGATT=0")
    assert await modem.command('AT+QIDNSGIP=1,"iot.bc66.test"') == (
        b'AT+QIDNSGIP=1,"iot.bc66.test"\r' + OK
    )
    await modem.expect(b'\r\n+QIURC: "dnsgip",561\r\n')
    assert (await modem.command('AT+QIDNSCFG=1,"127.0.0.9"')).endswith(ERROR)
    assert await modem.last_error() == b"+QIGETERROR: 561,open pdp context failed"


@pytest.mark.parametrize(
    ("command", "code"),
    [
        ('AT+QIDNSCFG=1,"not-an-ip"', b"552,invalid parameters"),
        ('AT+QIDNSCFG=1,"::1"', b"552,invalid parameters"),
        ('AT+QIDNSCFG=1,"127.0.0.1","2001:db8::1"', b"552,invalid parameters"),
        ("AT+QIDNSCFG=1," + "1" * 65, b"552,invalid parameters"),
        ("AT+QIDNSCFG=2", b"555,operation not supported"),
        ("AT+QIDNSCFG=4", b"552,invalid parameters"),
        ("AT+QIDNSCFG", b"552,invalid parameters"),
        ('AT+QIDNSGIP=1,""', b"552,invalid parameters"),
        ("AT+QIDNSGIP=1", b"552,invalid parameters"),
        (f'AT+QIDNSGIP=1,"{"h" * 151}"', b"552,invalid parameters"),
        ('AT+QIDNSGIP=3,"iot.bc66.test"', b"555,operation not supported"),
    ],
)
async def test_bad_parameters(modem: MemoryLink, command: str, code: bytes) -> None:
    assert await modem.command(command) == command.encode() + b"\r" + ERROR
    assert await modem.last_error() == b"+QIGETERROR: " + code


async def test_test_commands(modem: MemoryLink) -> None:
    assert await modem.command("AT+QIDNSGIP=?") == (
        b'AT+QIDNSGIP=?\r\r\n+QIDNSGIP: (1-3),"<hostname>"\r\n' + OK
    )
    assert await modem.command("AT+QIDNSCFG=?") == (
        b"AT+QIDNSCFG=?\r\r\n+QIDNSCFG: (1-3),<pridnsaddr>,<secdnsaddr>\r\n" + OK
    )


async def test_secondary_keeps_its_value(modem: MemoryLink) -> None:
    await modem.command('AT+QIDNSCFG=1,"127.0.0.8","127.0.0.9"')
    await modem.command('AT+QIDNSCFG=1,"127.0.0.7"')
    assert b'+QIDNSCFG: 1,"127.0.0.7","127.0.0.9"' in await modem.command("AT+QIDNSCFG=1")


async def test_settings_do_not_survive_a_reboot(modem: MemoryLink) -> None:
    await modem.command('AT+QIDNSCFG=1,"127.0.0.8","127.0.0.9"')
    await modem.command("AT+QRST=1")
    await modem.read_until(b"\r\n+IP: ", timeout=3)
    assert b'"127.0.0.8"' not in await modem.command("AT+QIDNSCFG=1")


@BOTH_WORLDS  # the same on the real network
async def test_qiopen_uses_the_configured_servers(
    modem: MemoryLink, dns_server: str, peer: MemoryTcpPeer
) -> None:
    await use_dns(modem, dns_server)
    await modem.command(f'AT+QIOPEN=1,0,"TCP","iot.bc66.test",{peer.port}')
    await modem.expect(b"\r\n+QIOPEN: 0,0\r\n")
    await modem.command("AT+QISEND=0,2,hi")
    await peer.expect(b"hi")
    reply = await modem.command("AT+QISTATE=1,0")
    assert f'"TCP","iot.bc66.test",{peer.port},0,2'.encode() in reply
    await modem.command(f'AT+QIOPEN=1,1,"TCP","nope.bc66.test",{peer.port}')
    await modem.expect(b"\r\n+QIOPEN: 1,565\r\n")


async def test_ipv6_network_asks_for_aaaa(
    modem_factory: ModemFactory, dns_server: str, memory_network: MemoryNetwork
) -> None:
    memory_network.resolvers[Family.IPV6] = []  # as on the test host: no IPv6 resolver
    link = await modem_factory(ip_address="2001:db8::5")
    assert (await link.command('AT+QIDNSCFG=1,"127.0.53.1"')).endswith(ERROR)  # §2.3.11 note 3
    await use_dns(link, DNS_V6)
    await link.command('AT+QIDNSGIP=1,"six.bc66.test"')
    await link.expect(b'\r\n+QIURC: "dnsgip",0,1,60\r\n\r\n+QIURC: "dnsgip","::1"\r\n')
    reply = await link.command("AT+QIDNSCFG=1")
    assert b'+QIDNSCFG: 1,"::1","::"' in reply
