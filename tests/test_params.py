"""Declared parameters (issue 10 §4): one declaration checks, types and answers ``=?``.

``tests/recorded/test_forms.txt`` holds every command's test-form answer, for both
models, as the module gave them before the answers were rendered from the
declarations; they must stay byte-identical.  The MQTT and SSL commands' answers
(issue 13) were recorded when they were added, checked against the note's.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bc66sim.at.parser import CACHED_LINE_LENGTH, Arg, Form, ParseError, parse_line, split_args
from bc66sim.module.errors import CmeError, CommandError, Err
from bc66sim.module.modem import TABLE
from bc66sim.module.params import Args, BadParameter, Empty, Int, Keyed, Text, Word, bits
from support.links import MemoryLink

RECORDED = Path(__file__).parent / "recorded" / "test_forms.txt"


def _recorded() -> dict[tuple[str, str], list[str]]:
    answers: dict[tuple[str, str], list[str]] = {}
    key: tuple[str, str] | None = None
    for line in RECORDED.read_text().splitlines():
        if line.startswith("  "):
            assert key is not None
            answers[key].append(line[2:])
        else:
            model, command = line.split(" ", 1)
            key = (model, command)
            answers[key] = []
    return answers


@pytest.mark.parametrize("model", ["BC66", "BC66-NA"])
async def test_test_forms_are_byte_identical_to_the_recorded_ones(
    model: str, tmp_path: Path
) -> None:
    recorded = {command: lines for (m, command), lines in _recorded().items() if m == model}
    assert sorted(recorded) == sorted(f"{spec.at_name}=?" for spec in TABLE)
    link = MemoryLink(tmp_path, model=model)
    await link.start()
    await link.sync()
    try:
        for command, lines in recorded.items():
            said = await link.say(command)
            expected = f"{command}\r\n" + "".join(f"\r\n{text}\r\n" for text in lines)
            assert said == expected.encode(), command
    finally:
        await link.close()


def test_most_test_forms_come_from_the_declaration() -> None:
    """A hand-written test answer is the exception: where the manual's is not the list
    (the ranges of results; repeated groups ending in "..."; one line per SSL type)."""
    written = sorted(spec.name for spec in TABLE if spec.test)
    assert written == ["+CESQ", "+COPS", "+CSQ", "+QMTSUB", "+QMTUNS", "+QSSLCFG"]


def _args(text: str, params: tuple[Int | Text | Word | Empty, ...] | Keyed) -> Args:
    return Args(split_args(text), params, check=True)


PORT = Int("port", values=range(1, 65536), default=123)
MODE = Int("mode", values=(0, 1, 4))


def test_numbers_are_checked_and_typed() -> None:
    args = _args('4,"80"', (MODE, PORT))
    assert (args.number(0), args.number(1)) == (4, 80)
    assert _args("1", (MODE, PORT)).number(1) == 123  # the default
    for bad in ("2", "x", "-1", "1.5", "²", "99999999999", "4,0", "4,65536"):
        with pytest.raises(BadParameter):
            _args(bad, (MODE, PORT))


def test_count_and_missing_parameters_come_before_any_value() -> None:
    context = Int("contextID", values=range(1, 4), supported=(1,))
    host = Text("host", max_length=5)
    with pytest.raises(BadParameter):  # 2 is unsupported, but the host is missing
        _args("2,", (context, host))
    with pytest.raises(BadParameter):
        _args("1,a,b", (context, host))
    with pytest.raises(CommandError) as raised:
        _args("2,abcdefgh", (context, host))  # then values in order: 555 before the length
    assert raised.value.code is Err.NOT_SUPPORTED
    with pytest.raises(CommandError) as raised:
        _args("2", (Int("cid", values=range(1, 11), supported=(1,),
                        unsupported=CmeError.NOT_SUPPORTED),))  # fmt: skip
    assert raised.value.code is CmeError.NOT_SUPPORTED


def test_words_text_bits_and_empty() -> None:
    kind = Word("PDP_type", choices=("IP", "Non-IP"))
    assert _args("non-ip", (kind,)).text(0) == "Non-IP"
    timer = bits("T3412", 8, optional=True)
    assert _args('"00100001"', (timer,)).text(0) == "00100001"
    assert _args("", (timer,)).value(0) is None
    for bad in ('"0010000"', '"001000012"', '"0010000x"'):
        with pytest.raises(BadParameter):
            _args(bad, (timer,))
    with pytest.raises(BadParameter):
        _args("1,5", (Int("mode", values=(0, 1)), Empty("RAU")))
    assert _args("1,,", (Int("mode", values=(0, 1)), Empty("RAU"), Empty("READY"))).number(0) == 1
    with pytest.raises(BadParameter):
        _args('"IPX"', (kind,))


def test_repeated_and_keyed_parameters() -> None:
    bands = (Int("n", values=range(4)), Int("band", values=range(1, 256), repeats=True))
    assert _args("3,1,3,20", bands).numbers(1) == [1, 3, 20]
    with pytest.raises(BadParameter):
        _args("2,1,,3", bands).numbers(1)
    keyed = Keyed("keyword", {"viewmode": (Int("mode", values=(0, 1), optional=True),)})
    args = _args('"VIEWMODE",1', keyed)
    assert (args.text(0), args.number(1)) == ("viewmode", 1)
    for bad in ('"nope",1', '"viewmode",2', '"viewmode",1,1', ""):
        with pytest.raises(BadParameter):
            _args(bad, keyed)
    assert keyed.test_lines("+QICFG") == ('+QICFG: "viewmode",(0,1)',)


def test_a_handler_asking_for_the_wrong_type_is_a_bug_not_an_answer() -> None:
    args = Args((Arg("1"),), (MODE,), check=True)
    with pytest.raises(TypeError):
        args.text(0)


@pytest.mark.parametrize("long", [False, True])
def test_lines_split_at_semicolons_outside_quotes_whatever_their_length(long: bool) -> None:
    # Long lines are parsed each time; short ones are remembered (at/parser.py).
    pad = "0" * (CACHED_LINE_LENGTH if long else 0)
    line = f'AT+QICFG="a;b",1;+QIDNSCFG=1,"8.8.8.8";+QISEND=0,4,"x{pad}"'.encode()
    names = [(command.name, command.args) for command in parse_line(line)]
    assert names == [
        ("+QICFG", (Arg("a;b", quoted=True), Arg("1"))),
        ("+QIDNSCFG", (Arg("1"), Arg("8.8.8.8", quoted=True))),
        ("+QISEND", (Arg("0"), Arg("4"), Arg("x" + pad, quoted=True))),
    ]
    assert parse_line(line) == parse_line(line)  # a fresh list each time, equal
    assert parse_line(line) is not parse_line(line)
    for _ in range(2):  # an error is raised every time, never remembered as a result
        with pytest.raises(ParseError, match="unterminated"):
            parse_line(f'AT+QICFG="a;b{pad};+CSQ'.encode())


def test_a_checked_write_is_remembered_and_a_bad_one_refused_each_time() -> None:
    spec = TABLE.get("+QIRD")
    assert spec is not None
    good = (Arg("0"), Arg("512"))
    assert spec.bind(Form.WRITE, good) is spec.bind(Form.WRITE, good)
    assert spec.bind(Form.WRITE, good).number(1) == 512
    for _ in range(2):  # never remembered as a success
        with pytest.raises(BadParameter):
            spec.bind(Form.WRITE, (Arg("0"), Arg("513")))
    # A form without parameters sees the defaults, one Args for every such line.
    assert spec.bind(Form.READ, ()) is spec.bind(Form.READ, ())
