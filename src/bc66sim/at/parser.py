"""Parse one command line into commands (V.250 §5.3, note §2.2).

``AT`` is followed by basic commands (``E0``, ``I``, ``&F``, ``Z``…) and/or
extended commands (``+QIOPEN=…``), the latter separated by ``;``.  Each extended
command has one of the four forms of note Table 1: test ``=?``, read ``?``,
write ``=<p1>[,<p2>…]`` and execute (no suffix).

Bytes are decoded as Latin-1 so that every byte value maps to one character and
back (payloads in ``AT+QISEND=<id>,<len>,<data>`` stay byte-exact).
"""

from __future__ import annotations

import enum
import functools
import string
from dataclasses import dataclass

#: Digits are ASCII only: ``str.isdigit`` also takes ``²`` (0xB2 in Latin-1), which
#: ``int`` refuses.
_DIGITS = frozenset("0123456789")
_NAME_CHARS = frozenset(string.ascii_letters + string.digits + "_&")


class Form(enum.Enum):
    """The four command types of note Table 1."""

    TEST = "test"
    READ = "read"
    WRITE = "write"
    EXECUTE = "execute"


@dataclass(frozen=True, slots=True)
class Arg:
    """One parameter as written: its text and whether it was in double quotes."""

    text: str
    quoted: bool = False


@dataclass(frozen=True, slots=True)
class Command:
    """One command of a line: ``name`` is upper case (``+QIOPEN``, ``E``, ``&F``)."""

    name: str
    form: Form
    args: tuple[Arg | None, ...] = ()


class ParseError(Exception):
    """The line is not valid AT syntax."""


#: Lines up to this long are remembered once parsed: hosts repeat the same few lines
#: (``AT``, ``AT+QISTATE?``, ``AT+QIRD=0,512``), and a parse is a pure function of them.
CACHED_LINE_LENGTH = 96


def parse_line(line: bytes) -> list[Command]:
    """Parse a command line (without its CR) into its commands.

    A bare ``AT`` gives an empty list.  Raises :class:`ParseError` on bad syntax.
    """
    if len(line) <= CACHED_LINE_LENGTH:
        return list(_parse_remembered(line))
    return _parse(line)


@functools.lru_cache(maxsize=1024)
def _parse_remembered(line: bytes) -> tuple[Command, ...]:
    return tuple(_parse(line))  # a ParseError is raised each time, never remembered


def _parse(line: bytes) -> list[Command]:
    text = line.decode("latin-1").strip(" ")
    if len(text) < 2 or text[:2].upper() != "AT":
        raise ParseError("a command line starts with AT")
    commands: list[Command] = []
    rest = text[2:]
    while rest:
        if rest[0] in "+$^":
            piece, rest = _split_extended(rest)
            commands.append(_parse_extended(piece))
        else:
            command, rest = _parse_basic(rest)
            commands.append(command)
            if rest.startswith(";"):  # ATE0;+CMEE=1: hosts separate basic commands too
                rest = rest[1:].lstrip(" ")
    return commands


def _split_extended(text: str) -> tuple[str, str]:
    """Split at the first ``;`` outside quotes (V.250 §5.3.1 concatenation).

    It jumps from quote to quote with ``str.find``: a long parameter (a hex payload)
    is not walked character by character.
    """
    start = 0
    while True:
        semicolon = text.find(";", start)
        quote = text.find('"', start)
        if quote < 0 or 0 <= semicolon < quote:
            if semicolon < 0:
                return text, ""
            return text[:semicolon], text[semicolon + 1 :].lstrip(" ")
        close = text.find('"', quote + 1)
        if close < 0:
            raise ParseError("unterminated string")
        start = close + 1


def _parse_extended(piece: str) -> Command:
    end = 1
    while end < len(piece) and piece[end] in _NAME_CHARS:
        end += 1
    name = piece[:end].upper()
    if end == 1:
        raise ParseError("missing command name")
    suffix = piece[end:].strip(" ")
    if suffix == "":
        return Command(name, Form.EXECUTE)
    if suffix == "?":
        return Command(name, Form.READ)
    if suffix.replace(" ", "") == "=?":
        return Command(name, Form.TEST)
    if suffix.startswith("="):
        data_at = _DATA_PARAMETER.get(name)
        if data_at is not None:
            return Command(name, Form.WRITE, _split_with_data(suffix[1:], data_at))
        return Command(name, Form.WRITE, split_args(suffix[1:]))
    raise ParseError(f"unexpected text after {name}")


#: Commands whose parameter at this index (0-based) is data, the rest of the line as
#: written: ``AT+QISEND=<id>,<len>,<data>``, where note §2.3.4 note 3 asks for JSON in
#: double quotes (``"{"a":1}"``): the quotes inside are the data's, not the syntax's.
_DATA_PARAMETER = {"+QISEND": 2}


def _split_with_data(text: str, index: int) -> tuple[Arg | None, ...]:
    """The parameters before ``index`` as usual; the rest of the line is the data, its
    outer double quotes (if any) removed."""
    pieces = text.split(",", index)
    if len(pieces) <= index:
        return split_args(text)
    data = pieces[index].strip(" ")
    head = split_args(",".join(pieces[:index]))
    if len(data) >= 2 and data[0] == data[-1] == '"':
        return (*head, Arg(data[1:-1], quoted=True))
    if '"' in data:
        raise ParseError("data with quotes must be in double quotes (note §2.3.4 note 3)")
    return (*head, Arg(data) if data else None)


def split_args(text: str) -> tuple[Arg | None, ...]:
    """Split parameters at commas outside quotes; an empty parameter is ``None``.

    Spaces around parameters are ignored outside quotes (CLARIFICATIONS §1).
    """
    args: list[Arg | None] = []
    i = 0
    while True:
        while i < len(text) and text[i] == " ":
            i += 1
        if i < len(text) and text[i] == '"':
            close = text.find('"', i + 1)
            if close < 0:
                raise ParseError("unterminated string")
            args.append(Arg(text[i + 1 : close], quoted=True))
            i = close + 1
            while i < len(text) and text[i] == " ":
                i += 1
            if i < len(text) and text[i] != ",":
                raise ParseError("text after a quoted string")
        else:
            comma = text.find(",", i)
            end = len(text) if comma < 0 else comma
            raw = text[i:end].strip(" ")
            if '"' in raw:
                raise ParseError("stray quote")
            args.append(Arg(raw) if raw else None)
            i = end
        if i >= len(text):
            return tuple(args)
        i += 1  # the comma


_BASIC_WITH_VALUE = set("EIQVXZ")


def _parse_basic(text: str) -> tuple[Command, str]:
    """``E0``, ``I``, ``&F0``, ``Z``, ``S3=13``, ``S3?`` (V.250 §5.3.1)."""
    if text[0] == "&":
        if len(text) < 2 or not (text[1].isascii() and text[1].isalpha()):
            raise ParseError("bad & command")
        name, i = "&" + text[1].upper(), 2
    elif text[0].upper() == "S" and len(text) > 1 and text[1] in _DIGITS:
        return _parse_s_register(text)
    elif text[0].upper() in _BASIC_WITH_VALUE:
        name, i = text[0].upper(), 1
    else:
        raise ParseError(f"unknown basic command {text[0]!r}")
    start = i
    while i < len(text) and text[i] in _DIGITS:
        i += 1
    value = text[start:i]
    args = (Arg(value),) if value else ()
    return Command(name, Form.WRITE if value else Form.EXECUTE, args), text[i:].lstrip(" ")


def _parse_s_register(text: str) -> tuple[Command, str]:
    i = 1
    while i < len(text) and text[i] in _DIGITS:
        i += 1
    name = "S" + text[1:i]
    if text[i : i + 1] == "?":
        return Command(name, Form.READ), text[i + 1 :]
    if text[i : i + 1] == "=":
        j = i + 1
        while j < len(text) and text[j] in _DIGITS:
            j += 1
        if j == i + 1:
            raise ParseError("S register needs a value")
        return Command(name, Form.WRITE, (Arg(text[i + 1 : j]),)), text[j:]
    raise ParseError("bad S register command")
