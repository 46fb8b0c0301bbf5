"""What ``POST /faults/<name>`` does (issue 12 §2), apart from HTTP.

Each fault reads its JSON body (checked here: a wrong or missing field is a
:class:`FaultError` 400 with a message saying what was expected) and acts on the
module through its own methods: the radio's attach, the socket service, the
pins, the overrides, ``emit_urc``.  Link faults (coverage, CE level, signal,
drops, delays, unreachable services) are the link model's: they call the
same-named method of ``modem.network`` (``--network``), and answer 409 when the
network has none.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from bc66sim.at.results import line
from bc66sim.module.modem import Modem
from bc66sim.module.overrides import framed
from bc66sim.note.limits import MAX_SOCKETS

Body = dict[str, Any]


class FaultError(Exception):
    """A request the control plane refuses: ``status`` 400 (bad input), 404, 409 (state)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _fields(body: Body, required: tuple[str, ...], optional: tuple[str, ...] = ()) -> None:
    unknown = sorted(set(body) - set(required) - set(optional))
    if unknown:
        expected = ", ".join(required + optional) or "none"
        raise FaultError(400, f"unknown field {unknown[0]!r}; expected: {expected}")
    missing = [name for name in required if name not in body]
    if missing:
        raise FaultError(400, f"missing field {missing[0]!r}")


def _number(body: Body, name: str, *, minimum: float | None = None) -> float:
    value = body[name]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FaultError(400, f"{name!r} must be a number, not {value!r}")
    if minimum is not None and value < minimum:
        raise FaultError(400, f"{name!r} must be at least {minimum:g}, not {value!r}")
    return float(value)


def _integer(body: Body, name: str, choices: range) -> int:
    value = body[name]
    if isinstance(value, bool) or not isinstance(value, int) or value not in choices:
        raise FaultError(400, f"{name!r} must be an integer {choices.start}-{choices[-1]}, "
                              f"not {value!r}")  # fmt: skip
    return value


def _choice(body: Body, name: str, choices: tuple[str, ...]) -> str:
    value = body[name]
    if value not in choices:
        raise FaultError(400, f"{name!r} must be one of {', '.join(choices)}, not {value!r}")
    return str(value)


def _text(body: Body, name: str) -> str:
    value = body[name]
    if not isinstance(value, str) or not value:
        raise FaultError(400, f"{name!r} must be a non-empty string, not {value!r}")
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        raise FaultError(400, f"{name!r}: only characters U+0000-U+00FF go over a UART") from None
    return value


def _powered(modem: Modem) -> None:
    if not modem.powered:
        raise FaultError(409, "the module is off (AT+QPOWD, or RESET held low)")


# -- the module ---------------------------------------------------------------------


def detach(modem: Modem, body: Body) -> Body:
    """The network detaches the module; it stays detached until ``attach``."""
    _fields(body, ())
    _powered(modem)
    modem.radio.set_attach(False)
    return {"attached": modem.radio.attached}


def attach(modem: Modem, body: Body) -> Body:
    """Attach again, after the configured attach delay."""
    _fields(body, ())
    _powered(modem)
    if modem.radio.cfun != 1:
        raise FaultError(409, f"the radio is off (AT+CFUN={modem.radio.cfun})")
    modem.radio.set_attach(True)
    return {"attached": modem.radio.attached, "attach_delay": modem.config.attach_delay}


def reset_peer(modem: Modem, body: Body) -> Body:
    """The peer of a TCP socket resets the connection (a RST)."""
    _fields(body, ("id",))
    connect_id = _integer(body, "id", range(MAX_SOCKETS))
    _powered(modem)
    try:
        modem.sockets.reset_by_peer(connect_id)
    except ValueError as exc:
        raise FaultError(409, str(exc)) from None
    return {"id": connect_id}


def override(modem: Modem, body: Body) -> Body:
    """Answer a command line with given bytes (a string, sent as is) or lines (framed)."""
    _fields(body, ("command", "response"), ("once",))
    command = _text(body, "command")
    response = body["response"]
    if isinstance(response, list) and all(isinstance(item, str) for item in response):
        lines = [_text({"line": item}, "line") if item else "" for item in response]
        raw = framed(lines)
    elif isinstance(response, str):
        raw = _text(body, "response").encode("latin-1")
    else:
        raise FaultError(400, "'response' must be a string (sent as is) or a list of lines")
    once = body.get("once", False)
    if not isinstance(once, bool):
        raise FaultError(400, f"'once' must be true or false, not {once!r}")
    try:
        return modem.overrides.set(command, raw, once=once).describe()
    except ValueError as exc:
        raise FaultError(400, str(exc)) from None


def urc(modem: Modem, body: Body) -> Body:
    """Say a URC, framed as the module frames its own."""
    _fields(body, ("text",))
    text = _text(body, "text")
    _powered(modem)
    if modem.power.asleep:
        raise FaultError(409, "the module is in deep sleep: its UART is dead")
    modem.emit_urc(line(text))
    return {"text": text}


def pin(modem: Modem, body: Body) -> Body:
    """Drive PWRKEY, RESET or PSM_EINT high, low or pulse (module/pins.py)."""
    _fields(body, ("name", "action"))
    try:
        modem.pins.drive(str(body["name"]), str(body["action"]))
    except ValueError as exc:
        raise FaultError(400, str(exc)) from None
    return modem.pins.describe()


# -- the link (net/link.py, --network) ------------------------------------------------


DIRECTIONS = ("up", "down")
SERVICES = ("dns", "ntp")


def _coverage_loss(body: Body) -> tuple[Any, ...]:
    _fields(body, ("seconds",))
    return (_number(body, "seconds", minimum=0),)


def _ce(body: Body) -> tuple[Any, ...]:
    _fields(body, ("level",))
    return (_integer(body, "level", range(3)),)


def _signal(body: Body) -> tuple[Any, ...]:
    _fields(body, ("rsrp", "sinr"))
    return _number(body, "rsrp"), _number(body, "sinr")


def _drop(body: Body) -> tuple[Any, ...]:
    _fields(body, ("direction", "count"))
    return _choice(body, "direction", DIRECTIONS), _integer(body, "count", range(1, 1 << 31))


def _delay(body: Body) -> tuple[Any, ...]:
    _fields(body, ("direction", "count", "seconds"))
    direction = _choice(body, "direction", DIRECTIONS)
    return (
        direction,
        _integer(body, "count", range(1, 1 << 31)),
        _number(body, "seconds", minimum=0),
    )


def _service_unreachable(body: Body) -> tuple[Any, ...]:
    _fields(body, ("service",), ("seconds",))
    seconds = body.get("seconds")
    return (_choice(body, "service", SERVICES),
            None if seconds is None else _number(body, "seconds", minimum=0))  # fmt: skip


#: Link faults: the request's name -> (the link's method, what reads its arguments).
LINK_FAULTS: dict[str, tuple[str, Callable[[Body], tuple[Any, ...]]]] = {
    "coverage-loss": ("coverage_loss", _coverage_loss),
    "ce": ("set_ce", _ce),
    "signal": ("set_signal", _signal),
    "drop": ("drop", _drop),
    "delay": ("delay", _delay),
    "service-unreachable": ("service_unreachable", _service_unreachable),
}


async def link_fault(modem: Modem, name: str, body: Body) -> Body:
    """Call the link model's method for ``name``, awaiting it if it is a coroutine."""
    method_name, read = LINK_FAULTS[name]
    arguments = read(body)
    method = getattr(modem.network, method_name, None)
    if not callable(method):
        raise FaultError(409, "needs a link profile (--network)")
    try:
        result = method(*arguments)
        if inspect.isawaitable(result):
            result = await result
    except ValueError as exc:
        raise FaultError(400, str(exc)) from None
    return {"applied": name, "result": result if _json_plain(result) else None}


def _json_plain(value: object) -> bool:
    return value is None or isinstance(value, str | int | float | bool | list | dict)


#: Module faults: the request's name -> its function.
MODULE_FAULTS: dict[str, Callable[[Modem, Body], Body]] = {
    "detach": detach,
    "attach": attach,
    "reset-peer": reset_peer,
    "override": override,
    "urc": urc,
    "pin": pin,
}

NAMES = (*MODULE_FAULTS, *LINK_FAULTS)


async def apply(modem: Modem, name: str, body: Body) -> Body:
    """Apply fault ``name`` with its JSON body; raises :class:`FaultError`."""
    if name in MODULE_FAULTS:
        return MODULE_FAULTS[name](modem, body)
    if name in LINK_FAULTS:
        return await link_fault(modem, name, body)
    raise FaultError(404, f"unknown fault {name!r}; one of {', '.join(NAMES)}")
