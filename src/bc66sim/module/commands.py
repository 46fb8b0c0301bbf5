"""The command table: every command is declared once, with its forms and handlers.

A handler receives the modem, the command's :class:`Args` and a :class:`Reply`
to write information lines into.  It returns ``None`` for ``OK``, a
:class:`DataPrompt` to enter data mode, or raises
:class:`~bc66sim.module.errors.CommandError`.  Parameter checks go through
:class:`Args`, whose failures the dispatcher answers with the family's
"invalid parameters" code: 552 for TCP/IP commands (CLARIFICATIONS §5), 50 for
the 3GPP ones.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bc66sim.at.parser import Arg, Form
from bc66sim.at.results import line
from bc66sim.module.errors import CommandError, Err
from bc66sim.note.limits import CONTEXT_IDS, SUPPORTED_CONTEXT

if TYPE_CHECKING:
    from bc66sim.module.modem import Modem


class BadParameter(Exception):
    """A parameter is missing, malformed or out of range."""


class Reply:
    """Collects a response's information lines and what follows its ``OK``."""

    def __init__(self) -> None:
        self.body = bytearray()
        #: Lines written right after the final OK (``SEND OK``, ``CLOSE OK``).
        self.trailer = bytearray()

    def line(self, text: str | bytes) -> None:
        self.body += line(text)

    def raw(self, data: bytes) -> None:
        self.body += data

    def after_ok(self, text: str) -> None:
        self.trailer += line(text)


@dataclass(frozen=True, slots=True)
class DataPrompt:
    """Enter data mode (§2.3.4): write ``> `` and collect a payload.

    ``complete`` gets the payload and a :class:`Reply`; it may raise
    :class:`~bc66sim.module.errors.CommandError` like any handler.
    """

    fixed_length: int | None
    max_length: int
    complete: Callable[[bytes, Reply], None]


Result = DataPrompt | None
Handler = Callable[["Modem", "Args", Reply], Result]


def answer_ok(modem: Modem, args: Args, reply: Reply) -> Result:
    """A handler with nothing to do but ``OK`` (``AT&W``, ``AT+QISWTMD?``)."""
    return None


def shows(render: Callable[[Modem], str]) -> Handler:
    """A handler that answers one information line rendered from the module's state."""

    def handler(modem: Modem, args: Args, reply: Reply) -> Result:
        reply.line(render(modem))
        return None

    return handler


#: Chapters of the *BC66&BC66-NA AT Commands Manual* (the module's general manual).
MANUAL_CHAPTERS = {
    2: "Product Information Query Commands",
    3: "UART Control Commands",
    4: "Network State Query Commands",
    5: "PDN and APN Commands",
    6: "Other Network Commands",
    7: "(U)SIM Related Commands",
    8: "Power Consumption Commands",
    9: "Platform Related Commands",
    10: "Time Related Commands",
}


def manual(chapter: int) -> str:
    """Where a general command is specified: a chapter of the AT Commands Manual."""
    return f"Manual ch. {chapter}: {MANUAL_CHAPTERS[chapter]}"


def note(section: str) -> str:
    """Where a TCP/IP command is specified: a section of the TCP/IP Application Note."""
    return f"TCP/IP note §{section}"


class Support(enum.Enum):
    """How much of a command the emulator does (docs/COMMANDS.md)."""

    #: What the module does, for real: the network, the state machines, the answers.
    FULL = "full behaviour"
    #: The settings are kept (and shown, and saved where the manual says so); what
    #: they control in the radio or the hardware is not emulated (yet).
    SETTINGS = "settings only"
    #: Answered as the module does, but there is nothing behind it in an emulator
    #: (a SIM file system, an RF test, a LED pin).
    NOT_APPLICABLE = "not applicable"


@dataclass(frozen=True, slots=True)
class Spec:
    """One command: its name (``+QIOPEN``), family and the handler of each form.

    ``test`` is the answer of the test form (lines before ``OK``); a command
    without it answers a bare ``OK`` to ``=?``, as note Table 1 allows.  A test
    answer that depends on the module (its model) comes from ``test_handler``.
    ``section`` is where the command is specified (docs/COMMANDS.md), ``support``
    and ``notes`` say what the emulator does of it.
    """

    name: str
    tcpip: bool = False
    test: tuple[str, ...] = ()
    read: Handler | None = None
    write: Handler | None = None
    execute: Handler | None = None
    test_handler: Handler | None = None
    section: str = ""
    support: Support = Support.FULL
    notes: str = ""

    @property
    def extended(self) -> bool:
        """``+NAME`` (V.250 §5.4); the others are basic commands (``E``, ``&W``)."""
        return self.name.startswith("+")

    @property
    def at_name(self) -> str:
        """The command as a host writes it: ``AT+QIOPEN``, ``ATE``, ``AT&W``."""
        return "AT" + self.name

    def forms(self) -> list[Form]:
        """The forms the command answers (every extended command answers its test form)."""
        handlers = ((Form.TEST, self.extended), (Form.READ, self.read), (Form.WRITE, self.write),
                    (Form.EXECUTE, self.execute))  # fmt: skip
        return [form for form, handler in handlers if handler]

    def handler(self, form: Form) -> Handler | None:
        """The handler of ``form``; None when the command does not have that form."""
        if form is Form.READ:
            return self.read
        if form is Form.WRITE:
            return self.write
        if form is Form.EXECUTE:
            return self.execute
        return self.test_handler or self._answer_test

    def _answer_test(self, modem: Modem, args: Args, reply: Reply) -> Result:
        """The test form's fixed answer (``test``); a bare ``OK`` when there is none."""
        for text in self.test:
            reply.line(text)
        return None


@dataclass
class CommandTable:
    specs: dict[str, Spec] = field(default_factory=dict)

    def add(self, *specs: Spec) -> None:
        for spec in specs:
            if spec.name in self.specs:
                raise ValueError(f"{spec.name} declared twice")
            self.specs[spec.name] = spec

    def get(self, name: str) -> Spec | None:
        return self.specs.get(name)

    def __iter__(self) -> Iterator[Spec]:
        return iter(self.specs.values())


class Args:
    """Typed, range-checked access to a write command's parameters."""

    def __init__(self, args: Iterable[Arg | None]) -> None:
        self._args = tuple(args)

    def __len__(self) -> int:
        return len(self._args)

    def require(self, low: int, high: int) -> None:
        """Between ``low`` and ``high`` parameters must be given."""
        if not low <= len(self._args) <= high:
            raise BadParameter(f"{len(self._args)} parameters, want {low}-{high}")

    def given(self, index: int) -> bool:
        return index < len(self._args) and self._args[index] is not None

    def number(self, index: int, low: int, high: int, default: int | None = None) -> int:
        """An integer in ``low..high``; quoted integers are accepted (CLARIFICATIONS §4)."""
        arg = self._args[index] if index < len(self._args) else None
        if arg is None:
            if default is None:
                raise BadParameter(f"parameter {index + 1} is missing")
            return default
        text = arg.text.strip(" ")
        if not (text.isascii() and text.isdigit()) or len(text) > 10:
            raise BadParameter(f"parameter {index + 1} is not a number: {text!r}")
        value = int(text)
        if not low <= value <= high:
            raise BadParameter(f"parameter {index + 1} out of range {low}-{high}: {value}")
        return value

    def choice(self, index: int, choices: Iterable[int], default: int | None = None) -> int:
        options = sorted(choices)
        value = self.number(index, options[0], options[-1], default)
        if value not in options:
            raise BadParameter(f"parameter {index + 1} not one of {options}: {value}")
        return value

    def text(self, index: int, max_length: int, default: str | None = None) -> str:
        """A string parameter, quoted or not (CLARIFICATIONS §4), of at most ``max_length``."""
        arg = self._args[index] if index < len(self._args) else None
        if arg is None:
            if default is None:
                raise BadParameter(f"parameter {index + 1} is missing")
            return default
        if len(arg.text) > max_length:
            raise BadParameter(f"parameter {index + 1} longer than {max_length}")
        return arg.text

    def hex(self, index: int, length: int) -> bytes:
        """Exactly ``length`` bytes written as ``2 * length`` hex digits."""
        digits = self.text(index, 2 * length)
        return decode_hex(digits, length)


def require_context(args: Args, index: int) -> None:
    """``<contextID>`` 1-3, of which only 1 is supported (CLARIFICATIONS §8: 555)."""
    if args.number(index, CONTEXT_IDS.start, CONTEXT_IDS.stop - 1) != SUPPORTED_CONTEXT:
        raise CommandError(Err.NOT_SUPPORTED)


def decode_hex(digits: str | bytes, length: int) -> bytes:
    """``length`` bytes from exactly ``2 * length`` hex digits (CLARIFICATIONS §13)."""
    text = digits.decode("latin-1") if isinstance(digits, bytes) else digits
    if len(text) != 2 * length:
        raise BadParameter("hex data does not match its length")
    try:
        data = bytes.fromhex(text)
    except ValueError as exc:
        raise BadParameter("not hex digits") from exc
    if len(data) != length:  # fromhex skips spaces: "41 42" is not 2 bytes of hex here
        raise BadParameter("not hex digits")
    return data


def value_list(values: Sequence[int]) -> str:
    """How a test answer lists values: ``0-2`` for a run of three or more, else ``0,1``."""
    contiguous = len(values) > 2 and list(values) == list(range(values[0], values[-1] + 1))
    return f"{values[0]}-{values[-1]}" if contiguous else ",".join(map(str, values))


def setting(
    name: str,
    values: tuple[int, ...],
    holder: Callable[[Modem], object],
    field_name: str,
    *,
    saved: bool = False,
    section: str,
    support: Support = Support.SETTINGS,
    notes: str = "",
) -> Spec:
    """A command that is one integer setting: ``=?`` its values, ``?`` it, ``=<n>`` sets it.

    ``holder(modem)`` is the object that keeps it (``modem.nv`` for a setting the
    manual saves to NVRAM: ``saved`` writes the state file after a change).
    """

    def read(modem: Modem, args: Args, reply: Reply) -> Result:
        reply.line(f"{name}: {getattr(holder(modem), field_name)}")
        return None

    def write(modem: Modem, args: Args, reply: Reply) -> Result:
        args.require(1, 1)
        setattr(holder(modem), field_name, args.choice(0, values))
        if saved:
            modem.persist()
        return None

    return Spec(name, test=(f"{name}: ({value_list(values)})",), read=read, write=write,
                section=section, support=support, notes=notes)  # fmt: skip
