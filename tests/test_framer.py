"""The sans-IO framer and parser: same events whatever the split, never a crash."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bc66sim.at import framer as fr
from bc66sim.at.parser import Arg, Command, Form, ParseError, parse_line


def feed(
    framer: fr.Framer,
    chunks: list[bytes],
    prompts: dict[int, tuple[int | None, int]],
    *,
    impatient: bool = False,
):
    """Feed chunks; enter data mode after the n-th command line when ``prompts`` says so.

    A line held for its LF is released after the last chunk (the modem's timer), and
    after every chunk when ``impatient`` (a timer that fires before the LF comes).
    Returns the events and the echo, as a transport would see them.
    """
    events: list[fr.Event] = []
    echo = bytearray()

    def drain() -> None:
        while True:
            event = framer.next_event()
            echo.extend(framer.take_echo())
            if event is None:
                return
            events.append(event)
            commands = sum(isinstance(e, fr.CommandLine) for e in events)
            if isinstance(event, fr.CommandLine) and commands in prompts:
                fixed, limit = prompts[commands]
                framer.start_data_mode(fixed_length=fixed, max_length=limit, echo=True)
            if isinstance(event, fr.CommandLine) and event.text == b"ATE0":
                framer.echo = False

    for number, chunk in enumerate(chunks, 1):
        framer.receive_data(chunk)
        drain()
        if impatient or number == len(chunks):
            framer.release_line()
            drain()
    return events, bytes(echo)


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    pieces, last = [], 0
    for point in points:
        pieces.append(data[last:point])
        last = point
    pieces.append(data[last:])
    return pieces


STREAM = (
    b"AT\r\nATE1\rAT+QISEND=0\rhello\x1a"
    b'AT+QISEND=0,5\r\x1a\x1b\r\n\x00AT+QICFG="echomode",0\r'
    b"AT+X\x08Y\rATE0\rAT+QISEND=1\rabc\x1bAT\r"
    # A CR LF host: the LF ends the line, and is never payload (one LF only).
    b"AT+QISEND=2,3\r\n\nabAT+QISEND=2\r\nxyz\x1aAT\r\n\r\n\n"
)
PROMPTS = {3: (None, 1460), 4: (5, 1460), 8: (None, 1460), 10: (3, 1460), 11: (None, 1460)}


def test_events_of_a_known_stream() -> None:
    events, echo = feed(fr.Framer(), [STREAM], PROMPTS)
    assert events == [
        fr.CommandLine(b"AT"),
        fr.CommandLine(b"ATE1"),
        fr.CommandLine(b"AT+QISEND=0"),
        fr.DataEntered(b"hello"),
        fr.CommandLine(b"AT+QISEND=0,5"),
        fr.DataEntered(b"\x1a\x1b\r\n\x00"),  # fixed length: every byte is data
        fr.CommandLine(b'AT+QICFG="echomode",0'),
        fr.CommandLine(b"AT+Y"),  # backspace edits the line
        fr.CommandLine(b"ATE0"),
        fr.CommandLine(b"AT+QISEND=1"),
        fr.DataCancelled(),
        fr.CommandLine(b"AT"),
        fr.CommandLine(b"AT+QISEND=2,3"),
        fr.DataEntered(b"\nab"),
        fr.CommandLine(b"AT+QISEND=2"),
        fr.DataEntered(b"xyz"),
        fr.CommandLine(b"AT"),
    ]
    # Echo is the bytes received, until ATE0; data-mode echo follows echomode.
    assert echo.startswith(b"AT\r\nATE1\rAT+QISEND=0\rhelloAT+QISEND=0,5\r\x1a\x1b\r\n\x00")
    assert echo.endswith(b"ATE0\rabc\nabxyz")


def test_a_cr_host_may_send_a_payload_that_starts_with_lf() -> None:
    """Once the wait for an LF has given up, the prompt went out: an LF is payload."""
    events, _ = feed(fr.Framer(), [b"AT+QISEND=0,3\r", b"\nab"], {1: (3, 1460)}, impatient=True)
    assert events == [fr.CommandLine(b"AT+QISEND=0,3"), fr.DataEntered(b"\nab")]
    # The same bytes in one write: that LF ends the line.
    events, _ = feed(fr.Framer(), [b"AT+QISEND=0,3\r\nabc"], {1: (3, 1460)})
    assert events == [fr.CommandLine(b"AT+QISEND=0,3"), fr.DataEntered(b"abc")]


def test_byte_by_byte_equals_at_once() -> None:
    whole = feed(fr.Framer(), [STREAM], PROMPTS)
    assert feed(fr.Framer(), [bytes([b]) for b in STREAM], PROMPTS) == whole


def test_the_lf_of_a_line_is_echoed_before_the_line_runs() -> None:
    """Issue 8: ``at+cgmm\\r\\n`` echoes CR LF, then the command runs."""
    framer = fr.Framer()
    framer.receive_data(b"at+cgmm\r\n")
    assert framer.next_event() == fr.CommandLine(b"at+cgmm")
    assert framer.take_echo() == b"at+cgmm\r\n"


def test_a_line_is_held_for_its_lf_only_from_a_cr_lf_host() -> None:
    framer = fr.Framer()
    framer.receive_data(b"AT\r")
    assert framer.next_event() is None
    assert framer.awaiting_line_feed and framer.has_partial_line
    framer.receive_data(b"\n")
    assert framer.next_event() == fr.CommandLine(b"AT")
    assert framer.take_echo() == b"AT\r\n"
    # The timer gives up on a host that ends lines with CR alone ...
    framer.receive_data(b"AT+A\r")
    assert framer.next_event() is None
    framer.release_line()
    assert framer.next_event() == fr.CommandLine(b"AT+A")
    # ... and such a host is not waited for again.
    framer.receive_data(b"AT+B\r")
    assert not framer.awaiting_line_feed
    assert framer.next_event() == fr.CommandLine(b"AT+B")
    # Until it ends a line with CR LF again.
    framer.receive_data(b"AT+C\r\nAT+D\r")
    assert framer.next_event() == fr.CommandLine(b"AT+C")
    assert framer.next_event() is None
    assert framer.awaiting_line_feed


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=3000), cuts=st.lists(st.integers(0, 3000), max_size=20))
def test_random_bytes_split_invariant(data: bytes, cuts: list[int]) -> None:
    prompts = {2: (None, 100), 3: (7, 100)}
    assert feed(fr.Framer(), split(data, cuts), prompts) == feed(fr.Framer(), [data], prompts)


def test_long_line_is_bounded_and_reported() -> None:
    framer = fr.Framer()
    framer.receive_data(b"AT" + b"A" * (fr.MAX_LINE * 3) + b"\rAT\r\n")
    assert framer.next_event() == fr.LineTooLong()
    assert framer.next_event() == fr.CommandLine(b"AT")


def test_variable_data_over_limit_is_refused_at_ctrl_z() -> None:
    framer = fr.Framer()
    framer.start_data_mode(fixed_length=None, max_length=4, echo=False)
    framer.receive_data(b"123456\x1aAT\r\n")
    assert framer.next_event() == fr.DataTooLong()
    assert framer.next_event() == fr.CommandLine(b"AT")


def test_many_empty_lines_do_not_exhaust_the_stack() -> None:
    framer = fr.Framer()
    framer.receive_data(b"\r" * 60_000 + b"\r\n" * 1000 + b"AT\r\n")
    assert framer.next_event() == fr.CommandLine(b"AT")


def test_pending_input_is_bounded() -> None:
    framer = fr.Framer()
    taken = framer.receive_data(b"x" * (fr.MAX_PENDING_INPUT + 10))
    assert taken == fr.MAX_PENDING_INPUT


@pytest.mark.parametrize(
    ("line", "commands"),
    [
        (b"AT", []),
        (b"at+qiopen=?", [Command("+QIOPEN", Form.TEST)]),
        (b"AT+QISTATE?", [Command("+QISTATE", Form.READ)]),
        (b"AT+QIGETERROR", [Command("+QIGETERROR", Form.EXECUTE)]),
        (
            b'AT+QIOPEN=1, 0 ,"TCP","a,b",80,,1',
            [
                Command(
                    "+QIOPEN",
                    Form.WRITE,
                    (
                        Arg("1"),
                        Arg("0"),
                        Arg("TCP", True),
                        Arg("a,b", True),
                        Arg("80"),
                        None,
                        Arg("1"),
                    ),
                )
            ],
        ),
        (b"ATE0", [Command("E", Form.WRITE, (Arg("0"),))]),
        (b"ATE0I", [Command("E", Form.WRITE, (Arg("0"),)), Command("I", Form.EXECUTE)]),
        (
            b"AT+CMEE=1;+CEREG?",
            [Command("+CMEE", Form.WRITE, (Arg("1"),)), Command("+CEREG", Form.READ)],
        ),
    ],
)
def test_parse(line: bytes, commands: list[Command]) -> None:
    assert parse_line(line) == commands


@pytest.mark.parametrize(
    "line", [b"", b"A", b"XT", b'AT+X="abc', b'AT+X=a"b', b"AT+=1", b"AT#", b'AT+X="a"b']
)
def test_parse_errors(line: bytes) -> None:
    with pytest.raises(ParseError):
        parse_line(line)


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=200))
def test_parser_only_parses_or_raises_parse_error(data: bytes) -> None:
    with contextlib.suppress(ParseError):
        parse_line(b"AT" + data)


def test_a_slow_cr_lf_host_is_waited_for_again() -> None:
    """Found by a code review: one LF later than the wait turned waiting off for good."""
    framer = fr.Framer()
    framer.receive_data(b"AT\r")
    assert framer.next_event() is None
    framer.release_line()  # the LF was late this once
    assert framer.next_event() == fr.CommandLine(b"AT")
    framer.receive_data(b"\n")
    assert framer.next_event() is None
    framer.receive_data(b"AT+QISEND=0,5\r")  # byte by byte, as before: held again
    assert framer.next_event() is None
    assert framer.awaiting_line_feed
