"""§2.3.9 AT+QNTP / AT+QNTTP.

Module behaviour, on MemoryNetwork + ManualClock (``pytest.mark.memory``): the NTP
server's time is the host's, as chronyd's is, and every wait is module time;
``@BOTH_WORLDS`` tests run against chronyd on loopback too.  A real server's
unusable answer is in test_end_to_end.py.
"""

from __future__ import annotations

import re

import pytest

from support.links import InProcessLink, MemoryLink, ModemFactory
from support.times import close_to_now, parse
from support.worlds import BOTH_WORLDS

pytestmark = pytest.mark.memory  # module behaviour: the memory network's fixtures

OK = b"\r\nOK\r\n"
ERROR = b"\r\nERROR\r\n"


@pytest.fixture
async def modem(modem_factory: ModemFactory) -> InProcessLink:
    """A module that gives an NTP server 1 s (not 10) before 569."""
    return await modem_factory(ntp_timeout=1.0)


@BOTH_WORLDS  # the same on the real network
async def test_sync_sets_the_module_clock(modem: MemoryLink, ntp_server: int) -> None:
    await modem.command('AT+CCLK="30/01/01,00:00:00+00"')
    command = f'AT+QNTP=1,"127.0.0.1",{ntp_server},1'
    assert await modem.command(command) == command.encode() + b"\r" + OK
    report = await modem.read_until(re.compile(rb"\r\n\+QNTP: 0,\"[^\"]+\"\r\n"))
    when, _ = parse(report)
    assert close_to_now(when)
    assert close_to_now(parse(await modem.command("AT+CCLK?"))[0])
    assert close_to_now(parse(await modem.command("AT+QCCLK?"))[0])
    assert await modem.last_error() == b"+QIGETERROR: 0,operation successful"


async def test_without_auto_set_the_clock_stays(modem: MemoryLink, ntp_server: int) -> None:
    await modem.command('AT+CCLK="30/01/01,00:00:00+00"')
    await modem.command(f'AT+QNTP=1,"127.0.0.1",{ntp_server},0')
    assert close_to_now(parse(await modem.read_until(re.compile(rb"\+QNTP: 0,\"[^\"]+\"")))[0])
    assert b'"30/01/01,00:00:0' in await modem.command("AT+CCLK?")


async def test_time_is_shown_in_the_module_zone(modem: MemoryLink, ntp_server: int) -> None:
    await modem.command('AT+CCLK="30/01/01,00:00:00+08"')  # UTC+2
    await modem.command(f'AT+QNTP=1,"127.0.0.1",{ntp_server}')  # port given, auto-set default
    when, quarters = parse(await modem.read_until(re.compile(rb"\+QNTP: 0,\"[^\"]+\"")))
    assert quarters == 8 and close_to_now(when)


async def test_qnttp_alias_answers_with_its_own_prefix(
    modem: MemoryLink, ntp_server: int, dns_server: str
) -> None:
    await modem.command(f'AT+QIDNSCFG=1,"{dns_server}"')
    await modem.command('AT+QNTTP=1,"ntp.bc66.test"')
    assert close_to_now(parse(await modem.read_until(re.compile(rb"\+QNTTP: 0,\"[^\"]+\"\r\n")))[0])
    assert await modem.command("AT+QNTTP=?") == (
        b'AT+QNTTP=?\r\r\n+QNTTP: (1-3),"<server>",<port>,(0,1)\r\n' + OK
    )
    assert await modem.command("AT+QNTP=?") == (
        b'AT+QNTP=?\r\r\n+QNTP: (1-3),"<server>",<port>,(0,1)\r\n' + OK
    )


async def test_no_server_times_out(modem: MemoryLink) -> None:
    silent = 47123  # nothing answers here
    await modem.command(f'AT+QNTP=1,"127.0.0.1",{silent}')
    assert (await modem.command('AT+QNTP=1,"127.0.0.1"')).endswith(ERROR)
    assert await modem.last_error() == b"+QIGETERROR: 568,operation busy"
    await modem.expect(b"\r\n+QNTP: 569\r\n", timeout=5)
    assert await modem.last_error() == b"+QIGETERROR: 569,operation timeout"


async def test_unknown_server_name(modem: MemoryLink, dns_server: str) -> None:
    await modem.command(f'AT+QIDNSCFG=1,"{dns_server}"')
    await modem.command('AT+QNTP=1,"nope.bc66.test"')
    await modem.expect(b"\r\n+QNTP: 565\r\n")


async def test_not_attached(modem: MemoryLink) -> None:
    await modem.command("AT+CGATT=0")
    await modem.command('AT+QNTP=1,"127.0.0.1"')
    await modem.expect(b"\r\n+QNTP: 561\r\n")


@pytest.mark.parametrize(
    ("command", "code"),
    [
        ('AT+QNTP=2,"127.0.0.1"', b"555"),
        ('AT+QNTP=4,"127.0.0.1"', b"552"),
        ('AT+QNTP=1,"127.0.0.1",0', b"552"),
        ('AT+QNTP=1,"127.0.0.1",65536', b"552"),
        ('AT+QNTP=1,"127.0.0.1",123,2', b"552"),
        ('AT+QNTP=1,""', b"552"),
        ("AT+QNTP=1", b"552"),
        ('AT+QNTP=1,"127.0.0.1",123,1,9', b"552"),
    ],
)
async def test_bad_parameters(modem: MemoryLink, command: str, code: bytes) -> None:
    assert await modem.command(command) == command.encode() + b"\r" + ERROR
    assert (await modem.last_error()).startswith(b"+QIGETERROR: " + code)
