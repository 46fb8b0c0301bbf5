"""The command table: every command is declared once, with its forms and handlers.

A command declares its parameters (``params``, module/params.py); the dispatcher
checks a write command against them and answers a failure with the family's
"invalid parameters" code: 552 for TCP/IP commands (CLARIFICATIONS §5), 50 for
the 3GPP ones.  The test form's answer is rendered from the same declaration.

A handler receives the modem, the checked :class:`Args` and a :class:`Reply` to
write information lines into.  It returns ``None`` for ``OK``, a
:class:`DataPrompt` to enter data mode, or raises
:class:`~bc66sim.module.errors.CommandError` (or ``BadParameter`` for a rule
between parameters that a declaration cannot state).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bc66sim.at.parser import Arg, Form
from bc66sim.at.results import line
from bc66sim.module.params import Args, BadParameter, Int, Keyed, Params, test_line, value_list
from bc66sim.note.limits import CONTEXT_IDS, SUPPORTED_CONTEXT

if TYPE_CHECKING:
    from bc66sim.module.modem import Modem

__all__ = ["Args", "BadParameter", "value_list"]  # the handlers' vocabulary, from params


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
    #: Echo the data back (None: as ``AT+QICFG="echomode"`` says).
    echo: bool | None = None


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


#: Each command's parameters as its forms without any see them (Spec.bind), by id().
#: Each entry holds its spec too, so that no id is reused while it is remembered
#: (id() is cheap where hashing a Spec is not).
_UNBOUND: dict[int, tuple[Spec, Args]] = {}
#: Write forms' parameters as checked, by (id(spec), the arguments): at most this many.
_BOUND: dict[tuple[int, tuple[Arg | None, ...]], tuple[Spec, Args]] = {}
_BOUND_SIZE = 1024


@dataclass(frozen=True, slots=True)
class Spec:
    """One command: its name (``+QIOPEN``), family, parameters and the handler of each form.

    The test form answers the ``params`` (``+QIRD: (0-4),(1-512)``; one line per
    keyword of a :class:`Keyed` list); ``test`` replaces that where the manual's
    answer is not the parameter list (``+CSQ``: the ranges of its results), and
    ``test=()`` keeps it a bare ``OK`` (note Table 1 allows that; so does a command
    without parameters).  A test answer that depends on the module (its model)
    comes from ``test_handler``.
    ``section`` is where the command is specified (docs/COMMANDS.md), ``support``
    and ``notes`` say what the emulator does of it.
    """

    name: str
    tcpip: bool = False
    params: Params = ()
    test: tuple[str, ...] | None = None
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

    def bind(self, form: Form, args: Sequence[Arg | None]) -> Args:
        """A write command's parameters checked against ``params`` (:class:`BadParameter`).

        The other forms take none; their handlers see the defaults, which are the same
        every time: built once per command (``Args`` is never changed once built).
        """
        if form is Form.WRITE:
            # Hosts repeat the same lines (AT+QIRD=0,512 for every read): a checked set
            # of parameters is remembered, as a parse is (at/parser.py); never a failure.
            key = (id(self), tuple(args))
            remembered = _BOUND.get(key)
            if remembered is None:
                remembered = (self, Args(args, self.params, check=True))
                if len(_BOUND) >= _BOUND_SIZE:
                    _BOUND.clear()
                _BOUND[key] = remembered
            return remembered[1]
        if args:
            return Args(args, self.params, check=False)
        unbound = _UNBOUND.get(id(self))
        if unbound is None:
            unbound = _UNBOUND[id(self)] = (self, Args((), self.params, check=False))
        return unbound[1]

    def test_answer(self) -> tuple[str, ...]:
        """The lines of the test form's answer (before ``OK``)."""
        if self.test is not None:
            return self.test
        if isinstance(self.params, Keyed):
            return self.params.test_lines(self.name)
        return (test_line(self.name, self.params),) if self.params else ()

    def _answer_test(self, modem: Modem, args: Args, reply: Reply) -> Result:
        """The test form's answer: the parameters (or ``test``); a bare ``OK`` when none."""
        for text in self.test_answer():
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


#: ``<contextID>`` 1-3 of the TCP/IP commands, of which only 1 is supported
#: (CLARIFICATIONS §8: 555).
CONTEXT_ID = Int("contextID", values=CONTEXT_IDS, supported=(SUPPORTED_CONTEXT,))


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
        setattr(holder(modem), field_name, args.number(0))
        if saved:
            modem.persist()
        return None

    return Spec(name, params=(Int(field_name, values=values),), read=read, write=write,
                section=section, support=support, notes=notes)  # fmt: skip
