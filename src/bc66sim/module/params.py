"""Parameter declarations: what a command's write form takes, said once.

A :class:`~bc66sim.module.commands.Spec` lists its parameters (``params``); the
dispatcher checks a write command against them before the handler runs and hands
the handler typed values (:class:`Args`), and the test form's answer (``=?``) is
rendered from the same list, so a range cannot say one thing in the check and
another in the answer.  What a list cannot say (a user name goes with a password,
a length bounds the data after it, a socket must be open) stays in the handler.

Forms of a parameter, as the manuals write them (V.250 §5.3, note §2.2):

- a number from a range or a set: ``(0-4)``, ``(0,1,4)``; quoted numbers are taken
  too (CLARIFICATIONS §4);
- a word from a set: ``("IP","IPV6")``, matched without regard to case;
- a string of at most N characters, quoted or not (CLARIFICATIONS §4): ``"<APN>"``;
- a bit string: ``("0000"-"1111")``;
- a parameter that must stay empty on NB-IoT (``AT+CPSMS``'s 2G/3G timers): `` ``.

A parameter with a ``default`` may be left out or empty; so may an ``optional``
one, which the handler then sees as ``None``.  The parameters of a command whose
first one chooses the rest (``AT+QICFG="<keyword>",…``) are :class:`Keyed`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from bc66sim.at.parser import Arg
from bc66sim.module.errors import CmeError, CommandError, Err

Value = int | str

#: Longest number a parameter may be written with (``int()`` of more is pointless work).
_MAX_DIGITS = 10
_DIGITS = frozenset("0123456789")


class BadParameter(Exception):
    """A parameter is missing, malformed or out of range."""


def value_list(values: Sequence[int]) -> str:
    """How a test answer lists values: ``0-2`` for a run of three or more, else ``0,1``."""
    if isinstance(values, range) and values.step == 1 and len(values) > 2:
        return f"{values.start}-{values.stop - 1}"
    contiguous = len(values) > 2 and list(values) == list(range(values[0], values[-1] + 1))
    return f"{values[0]}-{values[-1]}" if contiguous else ",".join(map(str, values))


@dataclass(frozen=True, slots=True)
class Param:
    """One parameter: its name (as the manual spells it), default and test-form text."""

    name: str
    default: Value | None = None
    #: May be left out with no default: the handler sees ``None``.
    optional: bool = False
    #: The test form's text for it, where the manual writes something other than
    #: what :meth:`render` gives (``<remote_port>`` instead of a range).
    shown: str | None = None
    #: The last parameter may repeat to the end of the line (``AT+QBAND=2,3,8``); when
    #: the last few all repeat, they repeat as a group (``AT+QMTSUB``: topic, QoS, ...).
    repeats: bool = False

    @property
    def required(self) -> bool:
        return self.default is None and not self.optional

    def check(self, arg: Arg, position: int) -> Value:
        """The typed value of ``arg``; :class:`BadParameter` when it is not one."""
        raise NotImplementedError

    def render(self) -> str:
        """How the test form shows this parameter."""
        raise NotImplementedError

    def test_text(self) -> str:
        return self.render() if self.shown is None else self.shown


@dataclass(frozen=True, slots=True)
class Int(Param):
    """A number from ``values`` (a ``range`` or the allowed numbers).

    ``supported``, when given, is the part of ``values`` the module does: another
    value of ``values`` is valid but answers ``unsupported`` (``<contextID>`` 2 or 3
    of the TCP/IP commands: 555, CLARIFICATIONS §8).
    """

    values: Sequence[int] = ()
    supported: Sequence[int] | None = None
    unsupported: Err | CmeError = Err.NOT_SUPPORTED

    def check(self, arg: Arg, position: int) -> int:
        text = arg.text.strip(" ")
        if not text or not set(text) <= _DIGITS or len(text) > _MAX_DIGITS:
            raise BadParameter(f"parameter {position} ({self.name}) is not a number: {text!r}")
        value = int(text)
        if value not in self.values:
            raise BadParameter(
                f"parameter {position} ({self.name}) not in {value_list(self.values)}: {value}"
            )
        if self.supported is not None and value not in self.supported:
            raise CommandError(self.unsupported)
        return value

    def render(self) -> str:
        return f"({value_list(self.values)})"


@dataclass(frozen=True, slots=True)
class Word(Param):
    """One of ``choices``, any case; the handler gets the manual's spelling."""

    choices: tuple[str, ...] = ()

    def check(self, arg: Arg, position: int) -> str:
        for choice in self.choices:
            if arg.text.upper() == choice.upper():
                return choice
        raise BadParameter(f"parameter {position} ({self.name}) not one of {self.choices}")

    def render(self) -> str:
        return "(" + ",".join(f'"{choice}"' for choice in self.choices) + ")"


@dataclass(frozen=True, slots=True)
class Text(Param):
    """A string of at most ``max_length`` characters (``pattern``: the whole must match)."""

    max_length: int = 0
    pattern: str | None = None
    #: The test form shows it as ``"<name>"`` (quoted) or ``<name>``.
    quoted: bool = True

    def check(self, arg: Arg, position: int) -> str:
        if len(arg.text) > self.max_length:
            raise BadParameter(f"parameter {position} ({self.name}) longer than {self.max_length}")
        if self.pattern is not None and re.fullmatch(self.pattern, arg.text) is None:
            raise BadParameter(f"parameter {position} ({self.name}) is not {self.pattern}")
        return arg.text

    def render(self) -> str:
        return f'"<{self.name}>"' if self.quoted else f"<{self.name}>"


def bits(name: str, count: int, *, optional: bool = False) -> Text:
    """A string of ``count`` binary digits, as 27.007 writes timer and eDRX values."""
    shown = f'("{"0" * count}"-"{"1" * count}")'
    return Text(name, optional=optional, shown=shown, max_length=count, pattern=f"[01]{{{count}}}")


@dataclass(frozen=True, slots=True)
class Empty(Param):
    """A parameter that must stay empty here (a 2G/3G timer on an NB-IoT module)."""

    optional: bool = True

    def check(self, arg: Arg, position: int) -> Value:
        raise BadParameter(f"parameter {position} ({self.name}) must be empty on NB-IoT")

    def render(self) -> str:
        return ""


@dataclass(frozen=True, slots=True)
class Keyed:
    """Parameters whose first one (a keyword) chooses the rest: ``AT+QICFG="viewmode",1``.

    The test form answers one line per keyword, in the order declared.
    """

    key: str
    variants: Mapping[str, tuple[Param, ...]] = field(default_factory=dict)

    def params_for(self, keyword: str) -> tuple[Param, ...]:
        return (Word(self.key, choices=(keyword,)), *self.variants[keyword])

    def choose(self, arg: Arg | None) -> tuple[Param, ...]:
        if arg is None:
            raise BadParameter(f"parameter 1 ({self.key}) is missing")
        for keyword in self.variants:
            if arg.text.lower() == keyword.lower():
                return self.params_for(keyword)
        raise BadParameter(f"no {self.key} {arg.text!r}")

    def test_lines(self, name: str) -> tuple[str, ...]:
        return tuple(
            f'{name}: "{keyword}"' + "".join("," + p.test_text() for p in params)
            for keyword, params in self.variants.items()
        )


Params = tuple[Param, ...] | Keyed


def test_line(name: str, params: tuple[Param, ...]) -> str:
    """The test form's answer for a flat parameter list: ``+QIRD: (0-4),(1-512)``.

    It runs to the last parameter shown: the manuals leave out trailing ones
    (``+CGDCONT: (1-10),("IP",…)`` says nothing of the APN), which ``shown=""`` marks.
    """
    return f"{name}: " + ",".join(param.test_text() for param in params).rstrip(",")


class Args:
    """A command's parameters, checked against its declaration, as typed values.

    Values of parameters left out are their defaults (``None`` for an optional one);
    ``len()`` and :meth:`given` tell what the host actually wrote, for rules that
    depend on it (both formats of ``AT+QICFG="dataformat"``, or neither).
    """

    def __init__(self, raw: Sequence[Arg | None], params: Params = (), *, check: bool) -> None:
        self._raw = tuple(raw)
        declared = params.choose(self._raw[0] if self._raw else None) if (
            isinstance(params, Keyed) and check) else params  # fmt: skip
        self._values: list[Value | None] = []
        if isinstance(declared, Keyed):  # an execute form of a keyed command: nothing given
            return
        if not declared:
            if check and self._raw:
                raise BadParameter(f"{len(self._raw)} parameters, none taken")
            return
        if check:
            self._check_count(declared)
        # Then each value, in order: the first bad one is the answer (V.250 §5.4.2).
        group = 0
        while group < len(declared) and declared[-1 - group].repeats:
            group += 1
        first_repeated = len(declared) - group
        for position in range(1, max(len(declared), len(self._raw)) + 1):
            if position <= len(declared):
                param = declared[position - 1]
            else:
                param = declared[first_repeated + (position - 1 - first_repeated) % group]
            arg = self._raw[position - 1] if position <= len(self._raw) else None
            if arg is None:
                self._values.append(param.default)
            else:
                self._values.append(param.check(arg, position) if check else None)

    def _check_count(self, declared: tuple[Param, ...]) -> None:
        """Too many parameters, or a required one left out: checked before any value."""
        if len(self._raw) > len(declared) and not declared[-1].repeats:
            raise BadParameter(f"{len(self._raw)} parameters, at most {len(declared)}")
        for position, param in enumerate(declared, start=1):
            if param.required and not self.given(position - 1):
                raise BadParameter(f"parameter {position} ({param.name}) is missing")

    def __len__(self) -> int:
        return len(self._raw)

    def given(self, index: int) -> bool:
        """Whether the host wrote parameter ``index`` (0-based), and not empty."""
        return index < len(self._raw) and self._raw[index] is not None

    def require(self, low: int, high: int) -> None:
        """A rule on how many parameters, beyond the declaration (``len()`` is what was written)."""
        if not low <= len(self._raw) <= high:
            raise BadParameter(f"{len(self._raw)} parameters, want {low}-{high}")

    def value(self, index: int) -> Value | None:
        return self._values[index] if index < len(self._values) else None

    def number(self, index: int) -> int:
        """Parameter ``index`` (0-based), declared a number: given, or its default."""
        value = self.value(index)
        if not isinstance(value, int):
            raise TypeError(f"parameter {index + 1} is {value!r}, not a number")
        return value

    def text(self, index: int) -> str:
        """Parameter ``index`` (0-based), declared a string: given, or its default."""
        value = self.value(index)
        if not isinstance(value, str):
            raise TypeError(f"parameter {index + 1} is {value!r}, not a string")
        return value

    def numbers(self, first: int) -> list[int]:
        """Parameters ``first`` on (0-based), a repeated number (``AT+QBAND``'s bands)."""
        values = self._values[first:]
        if None in values:
            raise BadParameter(f"an empty parameter after parameter {first}")
        return [self.number(index) for index in range(first, len(self._values))]
