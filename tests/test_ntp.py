"""§2.3.9 AT+QNTP / AT+QNTTP against a real NTP server (chronyd on loopback)."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import socket

import pytest

from support.links import InProcessLink, ModemFactory

OK = b"\r\nOK\r\n"
ERROR = b"\r\nERROR\r\n"
TIME = re.compile(rb'"(\d\d/\d\d/\d\d,\d\d:\d\d:\d\d)([+-]\d\d)"')


def parse(text: bytes) -> tuple[dt.datetime, int]:
    match = TIME.search(text)
    assert match is not None, text
    local = dt.datetime.strptime(match.group(1).decode(), "%y/%m/%d,%H:%M:%S")
    quarters = int(match.group(2))
    return local.replace(tzinfo=dt.UTC) - dt.timedelta(minutes=15 * quarters), quarters


def close_to_now(when: dt.datetime) -> bool:
    return abs((when - dt.datetime.now(dt.UTC)).total_seconds()) < 5


@pytest.fixture
async def modem(modem_factory: ModemFactory) -> InProcessLink:
    """A module that gives an NTP server 1 s (not 10) before 569."""
    return await modem_factory(ntp_timeout=1.0)


async def test_sync_sets_the_module_clock(modem: InProcessLink, ntp_server: int) -> None:
    await modem.command('AT+CCLK="30/01/01,00:00:00+00"')
    command = f'AT+QNTP=1,"127.0.0.1",{ntp_server},1'
    assert await modem.command(command) == command.encode() + b"\r" + OK
    report = await modem.read_until(re.compile(rb"\r\n\+QNTP: 0,\"[^\"]+\"\r\n"))
    when, _ = parse(report)
    assert close_to_now(when)
    assert close_to_now(parse(await modem.command("AT+CCLK?"))[0])
    assert close_to_now(parse(await modem.command("AT+QCCLK?"))[0])
    assert await modem.last_error() == b"+QIGETERROR: 0,operation successful"


async def test_without_auto_set_the_clock_stays(modem: InProcessLink, ntp_server: int) -> None:
    await modem.command('AT+CCLK="30/01/01,00:00:00+00"')
    await modem.command(f'AT+QNTP=1,"127.0.0.1",{ntp_server},0')
    assert close_to_now(parse(await modem.read_until(re.compile(rb"\+QNTP: 0,\"[^\"]+\"")))[0])
    assert b'"30/01/01,00:00:0' in await modem.command("AT+CCLK?")


async def test_time_is_shown_in_the_module_zone(modem: InProcessLink, ntp_server: int) -> None:
    await modem.command('AT+CCLK="30/01/01,00:00:00+08"')  # UTC+2
    await modem.command(f'AT+QNTP=1,"127.0.0.1",{ntp_server}')  # port given, auto-set default
    when, quarters = parse(await modem.read_until(re.compile(rb"\+QNTP: 0,\"[^\"]+\"")))
    assert quarters == 8 and close_to_now(when)


async def test_qnttp_alias_answers_with_its_own_prefix(
    modem: InProcessLink, ntp_server: int, dns_server: str
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


async def test_no_server_times_out(modem: InProcessLink) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))  # takes the query, never answers
        await modem.command(f'AT+QNTP=1,"127.0.0.1",{silent.getsockname()[1]}')
        assert (await modem.command('AT+QNTP=1,"127.0.0.1"')).endswith(ERROR)
        assert await modem.last_error() == b"+QIGETERROR: 568,operation busy"
        await modem.expect(b"\r\n+QNTP: 569\r\n", timeout=5)
    assert await modem.last_error() == b"+QIGETERROR: 569,operation timeout"


async def test_unknown_server_name(modem: InProcessLink, dns_server: str) -> None:
    await modem.command(f'AT+QIDNSCFG=1,"{dns_server}"')
    await modem.command('AT+QNTP=1,"nope.bc66.test"')
    await modem.expect(b"\r\n+QNTP: 565\r\n")


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


async def test_not_attached(modem: InProcessLink) -> None:
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
async def test_bad_parameters(modem: InProcessLink, command: str, code: bytes) -> None:
    assert await modem.command(command) == command.encode() + b"\r" + ERROR
    assert (await modem.last_error()).startswith(b"+QIGETERROR: " + code)
