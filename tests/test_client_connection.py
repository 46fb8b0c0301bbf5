"""The driver's sans-IO protocol core, :class:`Connection`: bytes in, events out.

No event loop, no port, no clock: each test plays what the driver sends and what a
module writes, and looks at the events (h11's own tests are written so).
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bc66sim.client import LocalProtocolError
from bc66sim.client.connection import TRANSITIONS, Connection, State, Step
from bc66sim.client.events import (
    NEED_DATA,
    Attached,
    CloseResult,
    DataReceived,
    DataWaiting,
    Event,
    MqttClosed,
    MqttConnected,
    MqttDisconnected,
    MqttMessage,
    MqttOpened,
    MqttOutcome,
    MqttStatus,
    PdpDeactivated,
    PromptReady,
    ProtocolViolation,
    Rebooted,
    Registration,
    Response,
    SendResult,
    Service,
    ServiceProgress,
    ServiceResult,
    SocketClosed,
    SocketOpened,
    Urc,
)
from bc66sim.client.protocol import Info

NASTY = b'OK\r\nERROR\r\n+QIURC: "closed",0\r\n\x00\xff> '  # data that looks like output


def drain(conn: Connection) -> list[Event]:
    found: list[Event] = []
    while (event := conn.next_event()) is not NEED_DATA:
        found.append(event)
    return found


def answer(conn: Connection, command: str, reply: bytes) -> list[Event]:
    conn.send(command)
    conn.receive_data(reply)
    return drain(conn)


def ok(command: str, *lines: str | Info) -> Response:
    infos = tuple(Info(line) if isinstance(line, str) else line for line in lines)
    return Response(command, infos, ok=True)


# -- answers ---------------------------------------------------------------------------


def test_a_response_collects_its_information_lines() -> None:
    conn = Connection()
    assert conn.next_event() is NEED_DATA
    assert answer(conn, "AT+CGATT?", b"\r\n+CGATT: 1\r\n\r\nOK\r\n") == [
        ok("AT+CGATT?", "+CGATT: 1")
    ]
    assert conn.state is State.IDLE
    assert answer(conn, "ATI", b"\r\nQuectel_Ltd\r\n\r\nQuectel_BC66\r\n\r\nOK\r\n") == [
        ok("ATI", "Quectel_Ltd", "Quectel_BC66")
    ]
    assert answer(conn, "AT+CFUN=9", b"\r\n+CME ERROR: 50\r\n") == [
        Response("AT+CFUN=9", (), ok=False, code=50)
    ]


def test_nothing_until_the_final_result_code() -> None:
    conn = Connection()
    conn.send("AT+CGATT?")
    conn.receive_data(b"\r\n+CGATT: 1\r\n\r\nO")
    assert conn.next_event() is NEED_DATA
    assert conn.state is State.AWAITING_ANSWER
    conn.receive_data(b"K\r\n")
    assert drain(conn) == [ok("AT+CGATT?", "+CGATT: 1")]


def test_urcs_arriving_mid_answer_are_routed_and_not_taken_for_it() -> None:
    conn = Connection()
    events = answer(
        conn,
        "AT+CGATT?",
        b"\r\n+CGATT: 1\r\n\r\n+CEREG: 5\r\n\r\n+QIOPEN: 3,566\r\n\r\n+QPING: 0,1,1,0,1,1,1\r\n"
        b"\r\nOK\r\n",
    )
    assert events == [
        Registration(5, text="+CEREG: 5"),
        SocketOpened(3, 566, text="+QIOPEN: 3,566"),
        Urc(text="+QPING: 0,1,1,0,1,1,1"),  # no ping is running
        ok("AT+CGATT?", "+CGATT: 1"),
    ]


def test_a_qiopen_line_is_the_urc_not_the_answer() -> None:
    conn = Connection()
    assert answer(conn, 'AT+QIOPEN=1,0,"TCP","h",1,0,0', b"\r\nOK\r\n\r\n+QIOPEN: 0,0\r\n") == [
        ok('AT+QIOPEN=1,0,"TCP","h",1,0,0'),
        SocketOpened(0, 0, text="+QIOPEN: 0,0"),
    ]


def test_data_mode_prompt_payload_and_send_result() -> None:
    conn = Connection()
    assert answer(conn, "AT+QISEND=0,5", b"\r\n> ") == [PromptReady("AT+QISEND=0,5")]
    assert conn.state is State.DATA_MODE
    assert conn.send_data(b"hel\r\n") == b"hel\r\n"
    assert conn.state is State.AWAITING_ANSWER
    conn.receive_data(b"\r\nOK\r\n")
    assert drain(conn) == [ok("AT+QISEND=0,5")]
    assert conn.state is State.AWAITING_TRAILER
    conn.receive_data(b"\r\nSEND FAIL\r\n")
    assert drain(conn) == [SendResult(sent=False)]
    assert conn.state is State.IDLE


def test_hex_payload_and_data_up_to_ctrl_z() -> None:
    conn = Connection(hex_send=True)
    answer(conn, "AT+QISEND=1,2", b"\r\n> ")
    assert conn.send_data(b"\x1a\xff") == b"1AFF"
    conn = Connection()
    answer(conn, "AT+QISEND=1", b"\r\n> ")
    assert conn.send_data(b"abc") == b"abc\x1a"
    conn.receive_data(b"\r\nOK\r\n\r\nSEND OK\r\n")
    assert drain(conn) == [ok("AT+QISEND=1"), SendResult(sent=True)]


def test_a_refused_prompt_is_the_response() -> None:
    conn = Connection()
    assert answer(conn, "AT+QISEND=0,5", b"\r\nERROR\r\n") == [
        Response("AT+QISEND=0,5", (), ok=False)
    ]
    assert conn.state is State.IDLE


def test_close_and_the_send_forms_with_a_trailer() -> None:
    conn = Connection()
    assert answer(conn, "AT+QICLOSE=0", b"\r\nOK\r\n\r\nCLOSE OK\r\n") == [
        ok("AT+QICLOSE=0"),
        CloseResult(),
    ]
    assert answer(conn, "AT+QISEND=0,3,abc", b"\r\nOK\r\n\r\nSEND OK\r\n") == [
        ok("AT+QISEND=0,3,abc"),
        SendResult(sent=True),
    ]
    assert answer(conn, "AT+QISEND=0,0", b"\r\n+QISEND: 3,3,0\r\n\r\nOK\r\n") == [
        ok("AT+QISEND=0,0", "+QISEND: 3,3,0")  # the query form: no trailer
    ]
    assert conn.state is State.IDLE
    assert answer(conn, "AT+QICLOSE=3", b"\r\n+CME ERROR: 572\r\n") == [
        Response("AT+QICLOSE=3", (), ok=False, code=572)  # no trailer after an error
    ]
    assert conn.state is State.IDLE


def test_test_forms_answer_with_information_lines() -> None:
    """``=?`` of a command whose write form answers by URC, or enters data mode."""
    conn = Connection()
    test_answer = b'\r\n+QPING: (1-3),"<host>",(1-255),(1-10),(32-200)\r\n\r\nOK\r\n'
    assert answer(conn, "AT+QPING=?", test_answer) == [
        ok("AT+QPING=?", '+QPING: (1-3),"<host>",(1-255),(1-10),(32-200)')
    ]
    assert not conn.running(Service.PING)
    reply = b"\r\n+QISEND: (0-4),(0-1024),<data>\r\n\r\nOK\r\n"
    assert answer(conn, "AT+QISEND=?", reply) == [
        ok("AT+QISEND=?", "+QISEND: (0-4),(0-1024),<data>")
    ]
    assert conn.state is State.IDLE


def test_a_payload_read_by_count_survives_every_byte() -> None:
    conn = Connection()
    data = bytes(range(256))
    reply = b"\r\n+QIRD: 256,0\r\n" + data + b"\r\n\r\nOK\r\n"
    assert answer(conn, "AT+QIRD=0,512", reply) == [ok("AT+QIRD=0,512", Info("+QIRD: 256,0", data))]


# -- URCs ------------------------------------------------------------------------------


def test_each_urc_kind() -> None:
    conn = Connection()
    conn.receive_data(
        b"\r\n+IP: 10.7.0.2\r\n"
        b"\r\n+CEREG: 0\r\n"
        b'\r\n+QIURC: "recv",2,5\r\n'
        b'\r\n+QIURC: "recv",2,"buff full"\r\n'
        b'\r\n+QIURC: "closed",2\r\n'
        b'\r\n+QIURC: "pdpdeact",1\r\n'
        b"\r\n+CSCON: 1\r\n"
    )
    assert drain(conn) == [
        Attached("10.7.0.2", text="+IP: 10.7.0.2"),
        Registration(0, text="+CEREG: 0"),
        DataWaiting(2, text='+QIURC: "recv",2,5'),
        DataWaiting(2, text='+QIURC: "recv",2,"buff full"'),
        SocketClosed(2, text='+QIURC: "closed",2'),
        PdpDeactivated(1, text='+QIURC: "pdpdeact",1'),
        Urc(text="+CSCON: 1"),
    ]
    assert not Registration(0, text="").registered
    assert Registration(5, text="").registered


def test_direct_push_once_the_open_was_accepted() -> None:
    """The access mode comes from AT+QIOPEN itself; its OK makes the socket push."""
    conn = Connection()
    command = 'AT+QIOPEN=1,1,"UDP","127.0.0.1",9,0,1'
    reply = b'\r\nOK\r\n\r\n+QIOPEN: 1,0\r\n\r\n+QIURC: "recv",1,21\r\n' + NASTY[:21] + b"\r\n"
    assert answer(conn, command, reply) == [
        ok(command),
        SocketOpened(1, 0, text="+QIOPEN: 1,0"),
        DataReceived(1, NASTY[:21], text='+QIURC: "recv",1,21'),
    ]
    assert conn.is_push(1)
    answer(conn, "AT+QISWTMD=1,0", b"\r\nOK\r\n")
    assert not conn.is_push(1)
    answer(conn, "AT+QISWTMD=1,1", b"\r\nOK\r\n")
    answer(conn, "AT+QICLOSE=1", b"\r\nOK\r\n\r\nCLOSE OK\r\n")
    assert not conn.is_push(1)


def test_a_refused_open_does_not_make_a_push_socket() -> None:
    conn = Connection()
    answer(conn, 'AT+QIOPEN=1,1,"UDP","127.0.0.1",9,0,1', b"\r\n+CME ERROR: 552\r\n")
    assert not conn.is_push(1)


def test_push_data_in_hex_and_view_mode_1() -> None:
    conn = Connection(view_mode=1, recv_hex=True)
    answer(conn, 'AT+QIOPEN=1,0,"TCP","h",1,0,1', b"\r\nOK\r\n")
    conn.receive_data(b'\r\n+QIURC: "recv",0,3,ABCDEF\r\n')
    assert drain(conn) == [DataReceived(0, b"\xab\xcd\xef", text='+QIURC: "recv",0,3')]


def test_a_reboot_interrupts_the_command_and_forgets_sockets_and_runs() -> None:
    conn = Connection()
    answer(conn, 'AT+QIOPEN=1,1,"TCP","h",1,0,1', b"\r\nOK\r\n")
    answer(conn, 'AT+QPING=1,"h"', b"\r\nOK\r\n")
    assert conn.running(Service.PING)
    assert answer(conn, "AT+QRST=1", b"\r\nRDY\r\n") == [Rebooted("AT+QRST=1", text="RDY")]
    assert conn.state is State.IDLE
    assert not conn.is_push(1) and not conn.running(Service.PING)
    conn.receive_data(b"\r\nRDY\r\n\r\n+QPING: 0,1,1,0,1,1,1\r\n")
    assert drain(conn) == [Rebooted(None, text="RDY"), Urc(text="+QPING: 0,1,1,0,1,1,1")]


# -- service runs ----------------------------------------------------------------------

PING = 'AT+QPING=1,"iot.bc66.test",4,3'
PING_LINES = (
    '+QPING: 0,"127.0.0.1",32,1,64',
    "+QPING: 569",
    '+QPING: 0,"127.0.0.1",32,2,64',
    "+QPING: 0,3,2,1,1,2,1",
)


def run(conn: Connection, command: str, lines: tuple[str, ...]) -> list[Event]:
    events = answer(conn, command, b"\r\nOK\r\n")
    assert events[0] == ok(command)
    conn.receive_data(b"".join(b"\r\n" + line.encode() + b"\r\n" for line in lines))
    return drain(conn)


def test_a_ping_run_ends_with_its_summary_not_with_a_timed_out_request() -> None:
    events = run(Connection(), PING, PING_LINES)
    assert events == [
        *(ServiceProgress(Service.PING, text=line) for line in PING_LINES[:3]),
        ServiceResult(Service.PING, PING_LINES, text=PING_LINES[3]),
    ]


def test_a_ping_run_ends_with_an_error_alone() -> None:
    assert run(Connection(), PING, ("+QPING: 565", "+QPING: 0,1,1,0,1,1,1")) == [
        ServiceResult(Service.PING, ("+QPING: 565",), text="+QPING: 565"),
        Urc(text="+QPING: 0,1,1,0,1,1,1"),  # the run is over
    ]


def test_a_dns_run_ends_after_its_count_of_addresses_or_an_error() -> None:
    lines = ('+QIURC: "dnsgip",0,2,600', '+QIURC: "dnsgip","10.0.0.1"', '+QIURC: "dnsgip","::1"')
    assert run(Connection(), 'AT+QIDNSGIP=1,"multi"', lines) == [
        ServiceProgress(Service.DNS, text=lines[0]),
        ServiceProgress(Service.DNS, text=lines[1]),
        ServiceResult(Service.DNS, lines, text=lines[2]),
    ]
    failed = ('+QIURC: "dnsgip",565',)
    assert run(Connection(), 'AT+QIDNSGIP=1,"nope"', failed) == [
        ServiceResult(Service.DNS, failed, text=failed[0])
    ]


def test_an_ntp_run_is_one_line_with_the_prefix_of_its_command() -> None:
    line = '+QNTP: 0,"25/01/02,03:04:05+00"'
    assert run(Connection(), 'AT+QNTP=1,"ntp"', (line,)) == [
        ServiceResult(Service.NTP, (line,), text=line)
    ]
    alias = '+QNTTP: 0,"25/01/02,03:04:05+00"'
    assert run(Connection(), 'AT+QNTTP=1,"ntp"', (alias,)) == [
        ServiceResult(Service.NTP, (alias,), text=alias)
    ]


def test_a_run_starts_only_when_its_command_is_accepted() -> None:
    conn = Connection()
    assert answer(conn, PING, b"\r\nERROR\r\n\r\n+QPING: 0,1,1,0,1,1,1\r\n") == [
        Response(PING, (), ok=False),
        Urc(text="+QPING: 0,1,1,0,1,1,1"),
    ]


def test_run_lines_during_another_command_still_belong_to_the_run() -> None:
    conn = Connection()
    answer(conn, PING, b"\r\nOK\r\n")
    events = answer(conn, "AT+CSQ", b"\r\n+CSQ: 25,0\r\n\r\n+QPING: 565\r\n\r\nOK\r\n")
    assert events == [
        ServiceResult(Service.PING, ("+QPING: 565",), text="+QPING: 565"),
        ok("AT+CSQ", "+CSQ: 25,0"),
    ]


def test_a_new_run_replaces_an_unfinished_one() -> None:
    conn = Connection()
    run(conn, PING, PING_LINES[:1])
    assert run(conn, PING, PING_LINES[3:]) == [
        ServiceResult(Service.PING, PING_LINES[3:], text=PING_LINES[3])
    ]


def test_a_malformed_run_line_ends_the_run_as_a_violation() -> None:
    conn = Connection()
    events = run(conn, 'AT+QIDNSGIP=1,"x"', ('+QIURC: "dnsgip",x', '+QIURC: "dnsgip","10.0.0.1"'))
    assert len(events) == 2
    assert isinstance(events[0], ProtocolViolation) and events[0].service is Service.DNS
    assert "a URC no BC66 sends" in events[0].reason
    assert events[1] == Urc(text='+QIURC: "dnsgip","10.0.0.1"')


# -- bad input -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (b"\r\n+QIRD: 99999999999,0\r\n", "not a byte count"),
        (b"\r\n+QIRD: 1000,0\r\n" + b"x" * 1000 + b"\r\n", "beyond the module's limits"),
        (b"\r\n+QIRD: 3,0\r\nabcdefgh\r\n", "the data is not 3 bytes"),
        (b"\r\n+QIRD: 5,0,hello\r\n", "not a \\+QIRD header"),
    ],
)
def test_garbled_input_is_a_violation_then_the_connection_recovers(
    reply: bytes, reason: str
) -> None:
    conn = Connection()
    events = answer(conn, "AT+QIRD=0,512", reply + b"\r\nOK\r\n")
    assert isinstance(events[0], ProtocolViolation) and events[0].service is None
    assert reason.replace("\\", "") in events[0].reason
    assert events[-1] == Response("AT+QIRD=0,512", events[-1].lines, ok=True)  # type: ignore[union-attr]
    assert answer(conn, "ATI", b"\r\nQuectel_Ltd\r\n\r\nOK\r\n") == [ok("ATI", "Quectel_Ltd")]


@pytest.mark.parametrize("urc", ["+QIOPEN: x", "+CEREG: x", '+QIURC: "closed"', "+QIOPEN: 0"])
def test_a_urc_without_its_fields_is_a_violation(urc: str) -> None:
    conn = Connection()
    conn.receive_data(b"\r\n" + urc.encode() + b"\r\n\r\n+CEREG: 1\r\n")
    violation, after = drain(conn)
    assert violation == ProtocolViolation(violation.reason)  # type: ignore[union-attr]
    assert f"a URC no BC66 sends: {urc!r}" in violation.reason  # type: ignore[union-attr]
    assert after == Registration(1, text="+CEREG: 1")


def test_answers_out_of_turn() -> None:
    conn = Connection()
    conn.receive_data(b"\r\nOK\r\n\r\nSEND OK\r\n\r\n+CME ERROR: 3\r\n")
    assert drain(conn) == []  # nobody waits for them
    events = answer(conn, "AT+QICLOSE=0", b"\r\nOK\r\n\r\nOK\r\n\r\nSEND OK\r\n")
    assert events[0] == ok("AT+QICLOSE=0")
    assert all(isinstance(event, ProtocolViolation) for event in events[1:])
    assert len(events) == 3 and conn.state is State.AWAITING_TRAILER


def test_abandon_drops_the_rest_of_the_answer() -> None:
    conn = Connection()
    conn.send("AT+CSQ")
    conn.abandon()
    conn.receive_data(b"\r\n+CSQ: 25,0\r\n\r\nOK\r\n")
    assert drain(conn) == [Urc(text="+CSQ: 25,0")]
    assert conn.state is State.IDLE


def test_escape_then_a_probe_resynchronises() -> None:
    conn = Connection()
    answer(conn, "AT+QISEND=0,500", b"\r\n> ")
    assert conn.escape() + conn.send("AT") == b"\x1b\rAT\r"
    conn.receive_data(b"\r\n+QIRD: 500,0\r\nabc")  # a payload that never completes
    assert drain(conn) == []
    conn.discard_input()
    conn.receive_data(b"\r\nOK\r\n")
    assert drain(conn) == [ok("AT")]


# -- misuse ----------------------------------------------------------------------------


def test_misuse_raises_and_changes_nothing() -> None:
    conn = Connection()
    with pytest.raises(LocalProtocolError, match="cannot send data while IDLE"):
        conn.send_data(b"x")
    conn.send("AT+CSQ")
    with pytest.raises(LocalProtocolError, match=r"'AT\+CSQ' is in flight"):
        conn.send("AT")
    assert conn.state is State.AWAITING_ANSWER and conn.command == "AT+CSQ"
    conn.abandon()
    with pytest.raises(LocalProtocolError, match="one line"):
        conn.send("AT\rAT")
    answer(conn, "AT+QISEND=0,5", b"\r\n> ")
    with pytest.raises(LocalProtocolError, match="takes 5 bytes"):
        conn.send_data(b"1234")
    with pytest.raises(LocalProtocolError, match="while DATA_MODE"):
        conn.send("AT")
    assert conn.state is State.DATA_MODE
    conn.escape()
    answer(conn, "AT+QISEND=0", b"\r\n> ")
    with pytest.raises(LocalProtocolError, match="Ctrl\\+Z or Esc"):
        conn.send_data(b"a\x1ab")
    with pytest.raises(LocalProtocolError, match="1 to 1460 bytes"):
        conn.send_data(b"x" * 1461)


# -- the state machine is data -----------------------------------------------------------


def test_every_state_is_reachable_and_can_be_reset() -> None:
    reached = {State.IDLE} | set(TRANSITIONS.values())
    assert reached == set(State)
    assert all(TRANSITIONS[state, Step.RESET] is State.IDLE for state in State)


def test_the_state_changes_only_through_the_table() -> None:
    source = Path(__file__).resolve().parents[1] / "src/bc66sim/client/connection.py"
    assigning: set[str] = set()
    for function in ast.walk(ast.parse(source.read_text())):
        if isinstance(function, ast.FunctionDef):
            for node in ast.walk(function):
                store = isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store)
                if store and node.attr == "state":  # type: ignore[attr-defined]
                    assigning.add(function.name)
    assert assigning == {"__init__", "_move", "_follow"}


# -- the split of the input does not matter ----------------------------------------------

Step_ = tuple[str, str | bytes]
TRANSCRIPT: list[Step_] = [
    ("send", "AT+CGATT?"),
    ("recv", b"\r\n+CGATT: 1\r\n\r\n+CEREG: 5\r\n\r\nOK\r\n"),
    ("send", 'AT+QIOPEN=1,1,"UDP","127.0.0.1",9,0,1'),
    ("recv", b'\r\nOK\r\n\r\n+QIOPEN: 1,0\r\n\r\n+QIURC: "recv",1,21\r\n' + NASTY[:21] + b"\r\n"),
    ("send", "AT+QIRD=0,512"),
    (
        "recv",
        b"\r\n+QIRD: 15,0\r\n" + NASTY[:15] + b"\r\n"
        b'\r\n+QIURC: "recv",1,21\r\n' + NASTY[:21] + b"\r\n"
        b'\r\n+QIURC: "recv",0,5\r\n'
        b'\r\n+QIURC: "closed",2\r\n'
        b"\r\nOK\r\n",
    ),
    ("send", "AT+QISEND=0,5"),
    ("recv", b"\r\n> "),
    ("data", b"hello"),
    ("recv", b"\r\nOK\r\n\r\nSEND OK\r\n"),
    ("send", PING),
    ("recv", b"\r\nOK\r\n" + b"".join(b"\r\n" + line.encode() + b"\r\n" for line in PING_LINES)),
    ("send", "AT+QIRD=0,512"),
    ("recv", b"\r\n+QIRD: 5,x\r\nhello\r\n\r\nOK\r\n"),
    ("send", "ATI"),
    ("recv", b"\r\nQuectel_Ltd\r\n\r\nRDY\r\n"),
]


def play(cut: Callable[[bytes], Iterator[bytes]]) -> list[Event]:
    conn = Connection()
    found: list[Event] = []
    for kind, item in TRANSCRIPT:
        if kind == "send":
            assert isinstance(item, str)
            conn.send(item)
        elif kind == "data":
            assert isinstance(item, bytes)
            conn.send_data(item)
        else:
            assert isinstance(item, bytes)
            for chunk in cut(item):
                conn.receive_data(chunk)
                found += drain(conn)
    return found


def whole(data: bytes) -> Iterator[bytes]:
    yield data


EXPECTED = play(whole)


def test_the_transcript_gives_what_it_should() -> None:
    kinds = [type(event).__name__ for event in EXPECTED]
    assert kinds == [
        "Registration", "Response",
        "Response", "SocketOpened", "DataReceived",
        "DataReceived", "DataWaiting", "SocketClosed", "Response",
        "PromptReady", "Response", "SendResult",
        "Response", "ServiceProgress", "ServiceProgress", "ServiceProgress", "ServiceResult",
        "ProtocolViolation", "Urc", "Response",  # the data after the bad header is a line
        "Rebooted",
    ]  # fmt: skip
    assert EXPECTED[8] == ok("AT+QIRD=0,512", Info("+QIRD: 15,0", NASTY[:15]))
    assert EXPECTED[-1] == Rebooted("ATI", text="RDY")


def test_byte_by_byte() -> None:
    assert play(lambda data: (data[i : i + 1] for i in range(len(data)))) == EXPECTED


def split_at(at: int) -> Callable[[bytes], Iterator[bytes]]:
    return lambda data: iter((data[:at], data[at:]))


def test_every_byte_boundary() -> None:
    """Each answer of the transcript cut in two at every offset."""
    longest = max(len(item) for kind, item in TRANSCRIPT if kind == "recv")
    for at in range(longest + 1):
        assert play(split_at(at)) == EXPECTED, at


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(1, 64), min_size=1, max_size=40))
def test_any_split(sizes: list[int]) -> None:
    def cut(data: bytes) -> Iterator[bytes]:
        start = 0
        for size in sizes * (len(data) // sum(sizes) + 1):
            yield data[start : start + size]
            start += size

    assert play(cut) == EXPECTED


def test_error_codes_carry_their_meaning() -> None:
    from bc66sim.client.errors import CommandError

    assert str(CommandError("cannot resolve example.org", 565)) == (
        "cannot resolve example.org (error 565: dns parse failed)"
    )
    assert "(error 50: incorrect parameters)" in str(CommandError("AT+CGATT=7 failed", 50))
    unknown = str(CommandError("x", 9999))
    assert "(error 9999: an error code the BC66 manuals do not list)" in unknown


# -- the module's MQTT client (MQTT note; client/mqtt.py drives it) --------------------------


def test_mqtt_outcomes_are_typed_events() -> None:
    conn = Connection()
    conn.receive_data(
        b"\r\n+QMTOPEN: 0,-1\r\n\r\n+QMTCONN: 1,0,5\r\n\r\n+QMTCONN: 1,2\r\n"
        b"\r\n+QMTSUB: 2,7,0,1,128\r\n\r\n+QMTPUB: 3,9,1,2\r\n\r\n+QMTUNS: 4,65535,0\r\n"
        b"\r\n+QMTDISC: 5,0\r\n\r\n+QMTCLOSE: 0,-1\r\n\r\n+QMTSTAT: 0,2\r\n"
    )
    assert drain(conn) == [
        MqttOpened(0, -1, text="+QMTOPEN: 0,-1"),
        MqttConnected(1, 0, 5, text="+QMTCONN: 1,0,5"),
        MqttConnected(1, 2, None, text="+QMTCONN: 1,2"),
        MqttOutcome(2, "SUB", 7, 0, (1, 128), text="+QMTSUB: 2,7,0,1,128"),
        MqttOutcome(3, "PUB", 9, 1, (2,), text="+QMTPUB: 3,9,1,2"),
        MqttOutcome(4, "UNS", 65535, 0, (), text="+QMTUNS: 4,65535,0"),
        MqttDisconnected(5, 0, text="+QMTDISC: 5,0"),
        MqttClosed(0, -1, text="+QMTCLOSE: 0,-1"),
        MqttStatus(0, 2, text="+QMTSTAT: 0,2"),
    ]


def test_the_mqtt_write_commands_answer_ok_and_their_urc_is_not_taken_for_the_answer() -> None:
    """``+QMTOPEN: 0,0`` right behind the OK of AT+QMTOPEN is a URC; the query's
    ``+QMTOPEN: 0,"host",1883`` is its answer."""
    conn = Connection()
    line = 'AT+QMTOPEN=0,"127.0.0.1",1883'
    assert answer(conn, line, b"\r\nOK\r\n\r\n+QMTOPEN: 0,0\r\n") == [
        ok(line),
        MqttOpened(0, 0, text="+QMTOPEN: 0,0"),
    ]
    query = b'\r\n+QMTOPEN: 0,"127.0.0.1",1883\r\n\r\nOK\r\n'
    assert answer(conn, "AT+QMTOPEN?", query) == [ok("AT+QMTOPEN?", '+QMTOPEN: 0,"127.0.0.1",1883')]


def test_a_hex_message_keeps_every_byte() -> None:
    """After ``AT+QMTCFG="dataformat",<id>,1,1`` that client's messages go and come as
    hex digits: CR LF, quotes and Ctrl+Z in a payload are just bytes."""
    conn = Connection()
    assert answer(conn, 'AT+QMTCFG="dataformat",2,1,1', b"\r\nOK\r\n")[0].ok  # type: ignore[union-attr]
    payload = b'a"\r\nOK\r\n\x1a\x1b\x00\xff'
    line = f'+QMTRECV: 2,5,"a/b","c",{len(payload)},"{payload.hex().upper()}"'
    conn.receive_data(b"\r\n" + line.encode() + b"\r\n")
    assert drain(conn) == [MqttMessage(2, 5, 'a/b","c', payload, text=line)]
    publish = 'AT+QMTPUB=2,1,1,0,"a/b"'
    assert answer(conn, publish, b"\r\n> ") == [PromptReady(publish)]
    assert conn.send_data(payload) == payload.hex().upper().encode() + b"\x1a"
    conn.receive_data(b"\r\nOK\r\n\r\n+QMTPUB: 2,1,0\r\n")
    assert drain(conn) == [ok(publish), MqttOutcome(2, "PUB", 1, 0, (), text="+QMTPUB: 2,1,0")]


def test_text_messages_with_and_without_their_length() -> None:
    conn = Connection()
    conn.receive_data(
        b'\r\n+QMTRECV: 0,0,"t","say "hi", twice"\r\n\r\n+QMTRECV: 0,3,"t",12,"a","b","c",d"\r\n'
    )
    assert [(event.msg_id, event.payload) for event in drain(conn)] == [  # type: ignore[union-attr]
        (0, b'say "hi", twice'),
        (3, b'a","b","c",d'),
    ]


@pytest.mark.parametrize(
    "line",
    [
        b'+QMTRECV: 0,1,"t","4142',  # no closing quote
        b"+QMTRECV: 0,1",
        b"+QMTPUB: 0",
        b"+QMTSTAT: x,1",
    ],
)
def test_a_broken_mqtt_urc_is_a_protocol_violation(line: bytes) -> None:
    conn = Connection()
    conn.receive_data(b"\r\n" + line + b"\r\n\r\n+CEREG: 1\r\n")
    found = drain(conn)
    assert isinstance(found[0], ProtocolViolation)
    assert found[1] == Registration(1, text="+CEREG: 1")


def test_hex_that_is_not_what_was_announced_is_a_protocol_violation() -> None:
    conn = Connection()
    answer(conn, 'AT+QMTCFG="dataformat",0,0,1', b"\r\nOK\r\n")
    conn.receive_data(b'\r\n+QMTRECV: 0,1,"t",3,"4142"\r\n')
    assert isinstance(drain(conn)[0], ProtocolViolation)


def test_a_reboot_forgets_the_mqtt_formats() -> None:
    conn = Connection()
    answer(conn, 'AT+QMTCFG="dataformat",0,1,1', b"\r\nOK\r\n")
    conn.receive_data(b"\r\nRDY\r\n")
    drain(conn)
    conn.receive_data(b'\r\n+QMTRECV: 0,0,"t","4142"\r\n')
    assert drain(conn)[0].payload == b"4142"  # type: ignore[union-attr]


def test_a_certificate_is_typed_after_the_prompt_and_answered_with_its_length() -> None:
    conn = Connection(hex_send=True)  # the sockets' format does not apply to a PEM
    line = 'AT+QSSLCFG=1,0,"cacert"'
    assert answer(conn, line, b"\r\n> ") == [PromptReady(line)]
    pem = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    assert conn.send_data(pem) == pem + b"\x1a"
    conn.receive_data(b'\r\n+QSSLCFG: 1,0,"cacert",58\r\n\r\nOK\r\n')
    assert drain(conn) == [ok(line, '+QSSLCFG: 1,0,"cacert",58')]


def test_an_mqtt_message_beyond_the_limit_is_refused_here() -> None:
    conn = Connection()
    conn.send('AT+QMTPUB=0,0,0,0,"t"')
    conn.receive_data(b"\r\n> ")
    drain(conn)
    with pytest.raises(LocalProtocolError):
        conn.send_data(b"x" * 1025)
    with pytest.raises(LocalProtocolError):
        conn.send_data(b"a\x1ab")  # text up to Ctrl+Z cannot hold it
