"""§2.3.8 AT+QPING.

Module behaviour, on MemoryNetwork + ManualClock (``pytest.mark.memory``): 127.0.0.1
answers echo requests with TTL 64, as a Linux loopback does, and every wait is module
time; ``@BOTH_WORLDS`` tests send real ICMP echo too.  Every way a process may send
ICMP (or not) is in test_end_to_end.py.
"""

from __future__ import annotations

import re

import pytest

from support.links import MemoryLink, ModemFactory
from support.worlds import BOTH_WORLDS

pytestmark = pytest.mark.memory  # module behaviour: the memory network's fixtures

OK = b"\r\nOK\r\n"
ERROR = b"\r\nERROR\r\n"
REPLY = rb'\r\n\+QPING: 0,"127\.0\.0\.1",%d,(\d+),64\r\n'


@pytest.fixture(autouse=True)
def loopback_answers(world: str, request: pytest.FixtureRequest) -> None:
    """127.0.0.1 answers echo requests with TTL 64, as the host's loopback does."""
    if world == "memory":
        request.getfixturevalue("memory_network").ping_replies["127.0.0.1"] = 64


@pytest.fixture
async def fast_modem(modem_factory: ModemFactory) -> MemoryLink:
    """A module that sends echo requests back to back (no 1 s interval)."""
    return await modem_factory(ping_interval=0.0)


@BOTH_WORLDS  # the same on the real network
async def test_ping_reports_each_reply_and_a_summary(fast_modem: MemoryLink) -> None:
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
async def test_bad_parameters(fast_modem: MemoryLink, command: str, code: bytes) -> None:
    assert await fast_modem.command(command) == command.encode() + b"\r" + ERROR
    assert (await fast_modem.last_error()).startswith(b"+QIGETERROR: " + code)


async def test_test_command(fast_modem: MemoryLink) -> None:
    assert await fast_modem.command("AT+QPING=?") == (
        b'AT+QPING=?\r\r\n+QPING: (1-3),"<host>",(1-255),(1-10),(32-200)\r\n' + OK
    )


async def test_unknown_host(fast_modem: MemoryLink, dns_server: str) -> None:
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
