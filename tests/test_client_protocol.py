"""The driver's response parser: URCs interleaved with responses are never lost or
mistaken for them, payloads are read by count, and the split of the input does not matter.

A real BC66 may write a URC while a response is still going on; the emulator never
does (CLARIFICATIONS §3), so a scripted module forces it here.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bc66sim.client import AsyncBC66, BC66Timeout, ProtocolError
from bc66sim.client.aio import MAX_ANSWERS
from bc66sim.client.protocol import Final, Info, Pending, Prompt, ResponseParser, Trailer, Urc

NASTY = b'OK\r\nERROR\r\n+QIURC: "closed",0\r\n\x00\xff> '  # data that looks like output


def parse(chunks: list[bytes], pending: Pending, **options: object) -> list[object]:
    parser = ResponseParser(is_push=lambda connect_id: connect_id == 1, **options)  # type: ignore[arg-type]
    parser.pending = pending
    events: list[object] = []
    for chunk in chunks:
        events += parser.feed(chunk)
    return events


STREAM = (
    b"\r\n+QIRD: 15,0\r\n" + NASTY[:15] + b"\r\n"
    b'\r\n+QIURC: "recv",1,21\r\n' + NASTY[:21] + b"\r\n"  # a push URC inside the response
    b'\r\n+QIURC: "recv",0,5\r\n'  # a buffer-mode notice (socket 0 is not in push mode)
    b'\r\n+QIURC: "closed",2\r\n'
    b"\r\nOK\r\n"
)
EXPECTED = [
    Info("+QIRD: 15,0", NASTY[:15]),
    Urc('+QIURC: "recv",1,21', NASTY[:21]),
    Urc('+QIURC: "recv",0,5'),
    Urc('+QIURC: "closed",2'),
    Final(ok=True),
]
QIRD = Pending("AT+QIRD=0,512", prefix="+QIRD:")


def test_interleaved_stream() -> None:
    assert parse([STREAM], QIRD) == EXPECTED


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, len(STREAM)), max_size=30))
def test_split_does_not_matter(cuts: list[int]) -> None:
    points = sorted(set(cuts))
    chunks = [STREAM[a:b] for a, b in zip([0, *points], [*points, len(STREAM)], strict=True)]
    assert parse(chunks, QIRD) == EXPECTED


def test_view_mode_1_and_hex() -> None:
    data = bytes(range(256))
    stream = (
        b"\r\n+QIRD: 256,0," + data.hex().upper().encode() + b"\r\n\r\nOK\r\n"
        b'\r\n+QIURC: "recv",1,3,' + b"ABCDEF" + b"\r\n"
    )
    events = parse([stream], QIRD, view_mode=1, recv_hex=True)
    assert events == [
        Info("+QIRD: 256,0", data),
        Final(ok=True),
        Urc('+QIURC: "recv",1,3', b"\xab\xcd\xef"),
    ]


def test_prompt_trailer_and_errors() -> None:
    pending = Pending("AT+QISEND=0,5", prompt=True)
    assert parse([b"\r\n> "], pending) == [Prompt()]
    assert parse([b"\r\nOK\r\n\r\nSEND FAIL\r\n\r\n+CME ERROR: 567\r\n"], pending) == [
        Final(ok=True), Trailer("SEND FAIL"), Final(ok=False, code=567)
    ]  # fmt: skip


def test_urc_with_the_pending_prefix_only_when_expected() -> None:
    # AT+QIOPEN=... has no information lines: a +QIOPEN: line is the URC.
    assert parse([b"\r\n+QIOPEN: 0,0\r\n"], Pending("AT+QIOPEN=1,0,...")) == [Urc("+QIOPEN: 0,0")]
    assert parse([b"\r\n+CGATT: 1\r\n"], Pending("AT+CGATT?", prefix="+CGATT:")) == [
        Info("+CGATT: 1")
    ]


def test_many_echo_lines_at_once() -> None:
    events = parse([b"AT\r\r\n" * 20_000 + b"\r\nOK\r\n"], Pending("AT"))
    assert events == [Final(ok=True)]


def test_noise_is_bounded() -> None:
    parser = ResponseParser()
    parser.feed(b"x" * 100_000)
    assert parser.feed(b"\r\nOK\r\n") == [Final(ok=True)]


class ScriptedModule:
    """A module on TCP that answers from a script, URCs wedged inside its responses."""

    def __init__(self, answers: dict[bytes, bytes]) -> None:
        self.answers = answers
        self.port = 0
        self._server: asyncio.Server | None = None

    async def start(self) -> ScriptedModule:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while line := await reader.readuntil(b"\r"):
            writer.write(self.answers.get(line.rstrip(b"\r"), b"\r\nOK\r\n"))

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()


@pytest.fixture
async def scripted() -> AsyncIterator[ScriptedModule]:
    module = await ScriptedModule(
        {
            b"AT+CGATT?": b"\r\n+CGATT: 1\r\n\r\n+CEREG: 5\r\n\r\nOK\r\n",
            b"ATI": b"\r\nQuectel_Ltd\r\n\r\n+QIOPEN: 3,566\r\n\r\nQuectel_BC66\r\n\r\nOK\r\n",
            b"AT+CSQ": b"\r\n+CSQ: 25,0\r\n\r\n+QPING: 0,1,1,0,1,1,1\r\n\r\nOK\r\n",
        }
    ).start()
    yield module
    await module.stop()


async def test_driver_separates_urcs_from_responses(scripted: ScriptedModule) -> None:
    modem = await AsyncBC66.open(f"socket://127.0.0.1:{scripted.port}")
    seen: list[str] = []
    modem.urc_listeners.append(seen.append)
    assert await modem.command("AT+CGATT?") == ["+CGATT: 1"]
    assert await modem.command("ATI") == ["Quectel_Ltd", "Quectel_BC66"]
    assert await modem.command("AT+CSQ") == ["+CSQ: 25,0"]
    assert seen == ["+CEREG: 5", "+QIOPEN: 3,566", "+QPING: 0,1,1,0,1,1,1"]
    assert modem.attached
    await modem.close()


class SequencedModule(ScriptedModule):
    """A scripted module whose answer to a line may change each time it is sent."""

    def __init__(self, sequences: dict[bytes, list[bytes]]) -> None:
        super().__init__({})
        self.sequences = sequences

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while line := await reader.readuntil(b"\r"):
            answers = self.sequences.get(line.rstrip(b"\r"), [])
            writer.write(answers.pop(0) if answers else b"\r\nOK\r\n")


async def test_a_recv_urc_right_after_an_empty_read_is_not_lost() -> None:
    """The module answers ``+QIRD: 0`` and the next datagram's URC comes in the same
    write: the driver reads again (once a lost wakeup, found by a TCP timing change)."""
    module = await SequencedModule(
        {
            b"AT+CGATT?": [b"\r\n+CGATT: 1\r\n\r\nOK\r\n"] * 2,
            b'AT+QIOPEN=1,0,"UDP","127.0.0.1",9,0,0': [
                b'\r\nOK\r\n\r\n+QIOPEN: 0,0\r\n\r\n+QIURC: "recv",0,5\r\n'
            ],
            b"AT+QIRD=0,512": [
                b'\r\n+QIRD: 0\r\n\r\nOK\r\n\r\n+QIURC: "recv",0,5\r\n',
                b"\r\n+QIRD: 5,0\r\nhello\r\n\r\nOK\r\n",
            ],
            b"AT+QICLOSE=0": [b"\r\nOK\r\n\r\nCLOSE OK\r\n"],
        }
    ).start()
    modem = await AsyncBC66.open(f"socket://127.0.0.1:{module.port}")
    sock = await modem.connect("UDP", "127.0.0.1", 9)
    assert await sock.recv(100, timeout=5) == b"hello"
    await modem.close()
    await module.stop()


@pytest.mark.parametrize(
    ("answer", "reason", "options"),
    [
        (b"\r\n+QIRD: 99999999999,0\r\n", "not a byte count", {}),
        (b"\r\n+QIRD: 1000,0\r\n" + b"x" * 1000 + b"\r\n", "beyond the module's limits", {}),
        (b"\r\n+QIRD: 5,x\r\nhello\r\n", "not a byte count", {}),
        (b"\r\n+QIRD: 5,0\r\n" + b"GGGGGGGGGG" + b"\r\n", "not hex", {"hex_recv": True}),
        (b"\r\n+QIRD: 5,0,hello\r\n", "not a \\+QIRD header", {}),  # view 1 layout
    ],
)
async def test_a_malformed_qird_fails_the_call_and_the_session_goes_on(
    answer: bytes, reason: str, options: dict[str, object]
) -> None:
    """Issue 9 §3: a bad header once made every later command time out, bad hex ended
    the session, and ``+QIRD: 5,x`` was read as data."""
    module = await SequencedModule(
        {
            b"AT+CGATT?": [b"\r\n+CGATT: 1\r\n\r\nOK\r\n"] * 2,
            b'AT+QIOPEN=1,0,"UDP","127.0.0.1",9,0,0': [
                b'\r\nOK\r\n\r\n+QIOPEN: 0,0\r\n\r\n+QIURC: "recv",0,5\r\n'
            ],
            b"AT+QIRD=0,512": [answer + b"\r\nOK\r\n"],
            b"AT+QICLOSE=0": [b"\r\nOK\r\n\r\nCLOSE OK\r\n"],
            b"ATI": [b"\r\nQuectel_Ltd\r\n\r\nQuectel_BC66\r\n\r\nOK\r\n"],
        }
    ).start()
    modem = await AsyncBC66.open(f"socket://127.0.0.1:{module.port}", **options)  # type: ignore[arg-type]
    sock = await modem.connect("UDP", "127.0.0.1", 9)
    with pytest.raises(ProtocolError, match=reason):
        await sock.recv(100, timeout=5)
    assert await modem.command("ATI", timeout=5) == ["Quectel_Ltd", "Quectel_BC66"]
    await modem.close()
    await module.stop()


async def test_a_timeout_says_how_long_it_waited(scripted: ScriptedModule) -> None:
    modem = await AsyncBC66.open(f"socket://127.0.0.1:{scripted.port}")
    scripted.answers[b"AT+CSQ"] = b""  # the module says nothing
    with pytest.raises(BC66Timeout, match=r"no answer to 'AT\+CSQ' after 0\.[3-9] s"):
        await modem.command("AT+CSQ", timeout=0.3)
    await modem.close()


async def test_malformed_urcs_do_not_end_the_session() -> None:
    """Found by an adversarial review: one bad URC line once made every call fail."""
    module = await SequencedModule(
        {
            b"AT+CGATT?": [b"\r\n+CGATT: 1\r\n\r\nOK\r\n"] * 2,
            b"ATI": [
                b'\r\n+QIOPEN: x\r\n\r\n+CEREG: x\r\n\r\n+QIURC: "closed"\r\n\r\n+QIOPEN: 0\r\n'
                b"\r\nQuectel_Ltd\r\n\r\nOK\r\n"
            ],
            b"AT+CSQ": [b"\r\n+CSQ: 25,0\r\n\r\nOK\r\n"],
        }
    ).start()
    modem = await AsyncBC66.open(f"socket://127.0.0.1:{module.port}")
    with contextlib.suppress(ProtocolError):  # the call in flight may fail with it
        await modem.command("ATI", timeout=5)
    assert await modem.command("AT+CSQ", timeout=5) == ["+CSQ: 25,0"]
    await modem.close()
    await module.stop()


async def test_a_payload_shorter_or_longer_than_its_count() -> None:
    module = await SequencedModule(
        {
            b"AT+CGATT?": [b"\r\n+CGATT: 1\r\n\r\nOK\r\n"] * 2,
            b'AT+QIOPEN=1,0,"UDP","127.0.0.1",9,0,0': [
                b'\r\nOK\r\n\r\n+QIOPEN: 0,0\r\n\r\n+QIURC: "recv",0,5\r\n'
            ],
            b"AT+QIRD=0,512": [
                b"\r\n+QIRD: 3,0\r\nabcdefgh\r\n\r\nOK\r\n",  # more data than counted
                b"\r\n+QIRD: 500,0\r\nabc\r\n\r\nOK\r\n",  # less: never completes
            ],
            b"AT+QICLOSE=0": [b"\r\nOK\r\n\r\nCLOSE OK\r\n"],
        }
    ).start()
    modem = await AsyncBC66.open(f"socket://127.0.0.1:{module.port}", timeout=1.0)
    sock = await modem.connect("UDP", "127.0.0.1", 9)
    with pytest.raises(ProtocolError, match="the data is not 3 bytes"):
        await sock.recv(100, timeout=5)
    sock._data_waiting = True
    with pytest.raises(BC66Timeout):
        await sock.recv(100, timeout=5)
    started = asyncio.get_running_loop().time()
    assert await modem.command("ATI", timeout=2) == []  # resynchronised
    assert asyncio.get_running_loop().time() - started < 2
    await modem.close()
    await module.stop()


async def test_answers_nobody_waits_for_do_not_pile_up(scripted: ScriptedModule) -> None:
    modem = await AsyncBC66.open(f"socket://127.0.0.1:{scripted.port}")
    scripted.answers[b"AT+FLOOD"] = b"\r\nOK\r\n" * 10_000
    await modem.command("AT+FLOOD")
    await asyncio.sleep(0.2)
    assert modem._answers.qsize() <= MAX_ANSWERS  # bounded, not 10,000
    assert await modem.command("AT+CSQ") == ["+CSQ: 25,0"]
    await modem.close()


async def test_the_blocking_driver_keeps_the_timeout_message(scripted: ScriptedModule) -> None:
    from bc66sim.client import BC66

    scripted.answers[b"AT+CSQ"] = b""
    modem = await asyncio.to_thread(BC66.open, f"socket://127.0.0.1:{scripted.port}")
    try:
        with pytest.raises(BC66Timeout, match=r"no answer to 'AT\+CSQ' after"):
            await asyncio.to_thread(modem.command, "AT+CSQ", timeout=0.3)
    finally:
        await asyncio.to_thread(modem.close)


def test_a_short_malformed_recv_line_does_not_swallow_the_ok() -> None:
    """Found by a code review: the reader waited for 32 bytes past a line that had ended."""
    events = parse([b'\r\n+QIURC: "recv",\r\n\r\nOK\r\n'], Pending("AT"))
    assert events == [Urc('+QIURC: "recv",'), Final(ok=True)]
    events = parse([b'\r\n+QIURC: "recv",1,\r\n\r\nOK\r\n'], Pending("AT"))
    assert events[-1] == Final(ok=True)
