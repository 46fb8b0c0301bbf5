"""No byte ends a command without an answer, and no exception leaves a handler (issue 9)."""

from __future__ import annotations

import asyncio
import logging
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bc66sim.module.commands import Spec
from bc66sim.module.modem import TABLE
from support.fuzz import SEEDS, FuzzResult, extra_seeds, fuzz_lines, mutate
from support.links import InProcessLink, Link

ALL_SEEDS = SEEDS + extra_seeds()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(ALL_SEEDS), st.integers(0, 2**32)), max_size=25))
def test_mutated_command_lines_are_answered(picks: list[tuple[bytes, int]]) -> None:
    lines = [mutate(seed, random.Random(salt)) for seed, salt in picks]
    result = FuzzResult()
    asyncio.run(fuzz_lines(lines, result))
    assert result.crashes == []
    assert result.unanswered == []


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.binary(max_size=40).map(lambda raw: b"AT" + raw), max_size=20))
def test_lines_of_any_bytes_are_answered(lines: list[bytes]) -> None:
    result = FuzzResult()
    asyncio.run(fuzz_lines(lines, result))
    assert result.crashes == []
    assert result.unanswered == []


@pytest.mark.parametrize(
    ("line", "final"),
    [
        (b"AT+QIRD=0,\xb2", b"+CME ERROR: 552"),
        (b"AT+QISEND=\xb9,1,a", b"+CME ERROR: 552"),
        (b"AT+CMEE=\xb3", b"+CME ERROR: 50"),
        (b'AT+CCLK="\xb2\xb2/01/01,00:00:00+00"', b"+CME ERROR: 50"),
        (b"ATE\xb2", b"ERROR"),  # not V.250 syntax at all
        (b"ATS\xb93=1", b"ERROR"),
    ],
)
async def test_superscript_digits_are_not_digits(any_link: Link, line: bytes, final: bytes) -> None:
    """Bytes 0xB2, 0xB3, 0xB9 (``²³¹`` in Latin-1) once raised out of the parser.

    They are answered as the bad parameters they are — not as an internal error
    (550 / ``+CME ERROR: 100``) — and the UART goes on working.
    """
    await any_link.write(b"ATE0;+CMEE=1\r\n")
    await any_link.read_until(b"OK\r\n")
    await any_link.write(line + b"\r\n")
    assert await any_link.read_until(b"\r\n", timeout=5) == b"\r\n"
    assert await any_link.read_until(b"\r\n") == final + b"\r\n"
    await any_link.write(b"AT\r\n")
    await any_link.expect(b"\r\nOK\r\n")


async def test_a_handler_that_raises_is_answered_and_logged(
    modem: InProcessLink, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*_: object) -> None:
        raise KeyError("a bug")

    monkeypatch.setitem(TABLE.specs, "+QBUG", Spec("+QBUG", execute=broken))
    monkeypatch.setitem(TABLE.specs, "+QIBUG", Spec("+QIBUG", tcpip=True, execute=broken))
    await modem.command("AT+CMEE=1")
    with caplog.at_level(logging.ERROR, logger="bc66sim"):
        assert (await modem.command("AT+QBUG")).endswith(b"\r\n+CME ERROR: 100\r\n")
        assert (await modem.command("AT+QIBUG")).endswith(b"\r\n+CME ERROR: 550\r\n")
    assert (await modem.last_error()) == b"+QIGETERROR: 550,unknown error"
    assert [record.exc_info is not None for record in caplog.records] == [True, True]
    assert "KeyError: 'a bug'" in caplog.text
    assert (await modem.command("AT")).endswith(b"\r\nOK\r\n")
