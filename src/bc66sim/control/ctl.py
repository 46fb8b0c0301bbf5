"""``bc66sim ctl``: the control plane from a shell (issue 12 §3).

::

    bc66sim ctl status                      # the serve of the default state dir
    bc66sim ctl --state-dir DIR detach      # the serve that uses DIR
    bc66sim ctl --control URL --token T urc '+QIURC: "pdpdeact",1'

``status`` and ``energy`` print JSON; a fault prints one short line (``--json``: the
whole answer).  Errors are one line on stderr and exit code 1 (a dead server, a
wrong token, a refused request); a usage mistake is exit code 2.
"""

from __future__ import annotations

import argparse
import codecs
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import platformdirs

from bc66sim.control.client import ControlClient, ControlError

Command = Callable[[ControlClient, argparse.Namespace], Any]


def add_parser(commands: Any) -> None:
    """``ctl`` and its commands, on ``bc66sim``'s subparsers."""
    ctl = commands.add_parser("ctl", help="drive a running bc66sim serve (its control plane)")
    ctl.add_argument(
        "--state-dir", type=Path, default=None, metavar="DIR",
        help="find the serve that uses DIR (default: the default state dir)",
    )  # fmt: skip
    ctl.add_argument("--control", metavar="URL", help="the control plane's URL (with --token)")
    ctl.add_argument("--token", help="the control plane's token (with --control)")
    ctl.add_argument("--json", action="store_true", help="print every answer as JSON")
    sub = ctl.add_subparsers(
        dest="ctl_command",
        required=True,
        metavar="COMMAND",
        help="what to do (bc66sim ctl COMMAND --help)",
    )
    for name, helptext, arguments in _COMMANDS:
        parser = sub.add_parser(name, help=helptext)
        for argument, options in arguments:
            parser.add_argument(argument, **options)


def _override(client: ControlClient, args: argparse.Namespace) -> Any:
    if args.raw:
        if len(args.response) != 1:
            raise ControlError("--raw takes one RESPONSE, with escapes (\\r, \\n, \\xNN)")
        try:
            raw = codecs.decode(args.response[0], "unicode_escape")
        except UnicodeDecodeError as exc:
            raise ControlError(
                f"--raw: a bad escape in {args.response[0]!r}: {exc.reason}"
            ) from None
        return client.override(args.at_command, raw, once=args.once)
    return client.override(args.at_command, list(args.response), once=args.once)


_INT: dict[str, Any] = {"type": int}
_FLOAT: dict[str, Any] = {"type": float}
_DIRECTION: dict[str, Any] = {"choices": ("up", "down")}
_COMMANDS: list[tuple[str, str, list[tuple[str, dict[str, Any]]]]] = [
    ("status", "the module's state (JSON)", []),
    ("energy", "the energy summary (JSON)", []),
    ("detach", "the network detaches the module", []),
    ("attach", "attach again", []),
    ("reset-peer", "the peer of TCP socket ID resets it", [("id", _INT)]),
    ("override", "answer COMMAND with RESPONSE lines instead of the module",
     [("at_command", {"metavar": "COMMAND"}),
      ("response", {"nargs": "+", "help": "one line each (framed)"}),
      ("--once", {"action": "store_true", "help": "only the next time"}),
      ("--raw", {"action": "store_true", "help": "one RESPONSE sent as is, with escapes"})]),
    ("clear-overrides", "remove every override", []),
    ("urc", "say a URC", [("text", {})]),
    ("pin", "drive a pin", [("name", {"choices": ("PWRKEY", "RESET", "PSM_EINT")}),
                            ("action", {"choices": ("high", "low", "pulse")})]),
    ("coverage-loss", "out of coverage for SECONDS (link)", [("seconds", _FLOAT)]),
    ("ce", "the coverage enhancement level (link)", [("level", _INT)]),
    ("signal", "RSRP (dBm) and SINR (dB) (link)", [("rsrp", _FLOAT), ("sinr", _FLOAT)]),
    ("drop", "drop the next N packets (link)", [("direction", _DIRECTION), ("n", _INT)]),
    ("delay", "delay the next N packets by SECONDS (link)",
     [("direction", _DIRECTION), ("n", _INT), ("seconds", _FLOAT)]),
    ("service-unreachable", "DNS or NTP servers unreachable (link)",
     [("service", {"choices": ("dns", "ntp")}), ("seconds", {"type": float, "nargs": "?"})]),
]  # fmt: skip

_RUN: dict[str, Command] = {
    "status": lambda c, a: c.status(),
    "energy": lambda c, a: c.energy(),
    "detach": lambda c, a: c.detach(),
    "attach": lambda c, a: c.attach(),
    "reset-peer": lambda c, a: c.reset_peer(a.id),
    "override": _override,
    "clear-overrides": lambda c, a: c.clear_overrides(),
    "urc": lambda c, a: c.urc(a.text),
    "pin": lambda c, a: c.pin(a.name, a.action),
    "coverage-loss": lambda c, a: c.coverage_loss(a.seconds),
    "ce": lambda c, a: c.ce(a.level),
    "signal": lambda c, a: c.signal(a.rsrp, a.sinr),
    "drop": lambda c, a: c.drop(a.direction, a.n),
    "delay": lambda c, a: c.delay(a.direction, a.n, a.seconds),
    "service-unreachable": lambda c, a: c.service_unreachable(a.service, a.seconds),
}


def client_for(args: argparse.Namespace) -> ControlClient:
    """``--control`` and ``--token``, or the control.json of the state dir."""
    if (args.control is None) != (args.token is None):
        raise ControlError("--control and --token go together")
    if args.control is not None:
        if args.state_dir is not None:
            raise ControlError("give --state-dir, or --control with --token, not both")
        return ControlClient(args.control, args.token)
    state_dir = args.state_dir or Path(platformdirs.user_state_dir("bc66sim"))
    return ControlClient.from_state_dir(state_dir)


def run(args: argparse.Namespace) -> int:
    """Run one ctl command; the exit code."""
    try:
        answer = _RUN[args.ctl_command](client_for(args), args)
    except ControlError as exc:
        print(f"bc66sim ctl: error: {exc}", file=sys.stderr)
        return 1
    if args.json or args.ctl_command in ("status", "energy"):
        print(json.dumps(answer, indent=2))
    else:
        print(_summary(args.ctl_command, answer))
    return 0


def _summary(name: str, answer: Any) -> str:
    """One line for a person: the command and what it changed."""
    if not isinstance(answer, dict):
        return f"{name}: ok"
    shown = {k: v for k, v in answer.items() if k not in ("ok", "fault") and v is not None}
    details = ", ".join(f"{k}={json.dumps(v)}" for k, v in shown.items())
    return f"{name}: ok" + (f" ({details})" if details else "")
