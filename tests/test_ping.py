"""§2.3.8 AT+QPING: real ICMP echo to loopback, in every way a process may send it."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import pytest

from support.links import InProcessLink, ModemFactory, StdioLink

OK = b"\r\nOK\r\n"
ERROR = b"\r\nERROR\r\n"
REPLY = rb'\r\n\+QPING: 0,"127\.0\.0\.1",%d,(\d+),64\r\n'


@pytest.fixture
async def fast_modem(modem_factory: ModemFactory) -> InProcessLink:
    """A module that sends echo requests back to back (no 1 s interval)."""
    return await modem_factory(ping_interval=0.0)


async def test_ping_reports_each_reply_and_a_summary(fast_modem: InProcessLink) -> None:
    command = 'AT+QPING=1,"127.0.0.1",2,3,100'
    assert await fast_modem.command(command) == command.encode() + b"\r" + OK
    times = []
    for _ in range(3):
        match = await fast_modem.expect_match(re.compile(REPLY % 100))
        times.append(int(re.findall(rb"(\d+),64", match)[0]))
    summary = f"\r\n+QPING: 0,3,3,0,{min(times)},{max(times)},{sum(times) // 3}\r\n"
    await fast_modem.expect(summary.encode())
    await fast_modem.quiet()
    assert await fast_modem.last_error() == b"+QIGETERROR: 0,operation successful"


@pytest.mark.parametrize(
    ("command", "code"),
    [
        ('AT+QPING=1,"127.0.0.1",0', b"552"),
        ('AT+QPING=1,"127.0.0.1",256', b"552"),
        ('AT+QPING=1,"127.0.0.1",4,0', b"552"),
        ('AT+QPING=1,"127.0.0.1",4,11', b"552"),
        ('AT+QPING=1,"127.0.0.1",4,4,31', b"552"),
        ('AT+QPING=1,"127.0.0.1",4,4,201', b"552"),
        ('AT+QPING=1,""', b"552"),
        ("AT+QPING=1", b"552"),
        (f'AT+QPING=1,"{"h" * 151}"', b"552"),
        ('AT+QPING=2,"127.0.0.1"', b"555"),
        ('AT+QPING=1,"::1"', b"555"),
    ],
)
async def test_bad_parameters(fast_modem: InProcessLink, command: str, code: bytes) -> None:
    assert await fast_modem.command(command) == command.encode() + b"\r" + ERROR
    assert (await fast_modem.last_error()).startswith(b"+QIGETERROR: " + code)


async def test_test_command(fast_modem: InProcessLink) -> None:
    assert await fast_modem.command("AT+QPING=?") == (
        b'AT+QPING=?\r\r\n+QPING: (1-3),"<host>",(1-255),(1-10),(32-200)\r\n' + OK
    )


async def test_unknown_host(fast_modem: InProcessLink, dns_server: str) -> None:
    await fast_modem.command(f'AT+QIDNSCFG=1,"{dns_server}"')
    await fast_modem.command('AT+QPING=1,"nope.bc66.test"')
    await fast_modem.expect(b"\r\n+QPING: 565\r\n")
    assert await fast_modem.last_error() == b"+QIGETERROR: 565,dns parse failed"


async def test_busy_and_not_attached(modem_factory: ModemFactory) -> None:
    link = await modem_factory(ping_interval=0.3)
    await link.command('AT+QPING=1,"127.0.0.1",1,2')
    assert (await link.command('AT+QPING=1,"127.0.0.1"')).endswith(ERROR)
    assert await link.last_error() == b"+QIGETERROR: 568,operation busy"
    await link.read_until(b"\r\n+QPING: 0,2,2,0,", timeout=5)
    await link.read_until(b"\r\n")
    await link.command("AT+CFUN=0")
    await link.command('AT+QPING=1,"127.0.0.1"')
    await link.expect(b"\r\n+QPING: 561\r\n")


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
