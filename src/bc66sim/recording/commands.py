"""The command lines of recordings: ``bc66sim replay``, ``bc66sim tap``, ``bc66sim diff``.

Exit codes: 0 done (replayed to the end; no divergence), 1 a divergence (replay:
the host went its own way; diff: the recordings differ), 2 bad usage or a file
that is not a recording.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import re
import sys
from pathlib import Path
from typing import Any

from bc66sim import loop as event_loop
from bc66sim.clock import LoopClock
from bc66sim.recording import format as recording_format
from bc66sim.transport.base import PortError
from bc66sim.transport.trace import Trace
from bc66sim.transport.url import UrlError, add_uart_options, port_for_url, uart_url

log = logging.getLogger("bc66sim")

#: Seconds a finished replay still listens, so that extra bytes from the host count.
LINGER = 0.5


class CommandError(Exception):
    """One line for the user; exit code 2."""


def add_parsers(commands: Any) -> None:
    """``replay``, ``tap`` and ``diff`` on the CLI's subcommands."""
    replay = commands.add_parser(
        "replay", help="play the module's side of a recording to a host program"
    )
    replay.add_argument("recording", type=Path, help="a recording: its folder or session.jsonl")
    add_uart_options(replay)
    timing = replay.add_mutually_exclusive_group()
    timing.add_argument(
        "--speed",
        type=float,
        default=1.0,
        metavar="FACTOR",
        help="play FACTOR times as fast as recorded (default 1: as recorded)",
    )
    timing.add_argument(
        "--fast",
        action="store_true",
        help="no waiting: each answer as soon as the host's command is in",
    )
    replay.add_argument("-v", "--verbose", action="count", default=0, help="AT trace on stderr")
    event_loop.add_option(replay)

    tap = commands.add_parser("tap", help="pass bytes between a host and a real BC66, recorded")
    tap.add_argument("device", help="the real module's port: a device or a pyserial URL")
    tap.add_argument("--baud", type=int, default=115200, help="its rate (default 115200)")
    tap.add_argument("--rtscts", action="store_true",
                     help="hardware flow control on the module's port (RTS/CTS)")  # fmt: skip
    add_uart_options(tap)
    tap.add_argument("--record", metavar="DIR", required=True, help="record the session in DIR")
    tap.add_argument("-v", "--verbose", action="count", default=0, help="AT trace on stderr")
    event_loop.add_option(tap)

    diff = commands.add_parser("diff", help="compare two recordings command by command")
    diff.add_argument("a", type=Path, help="a recording (folder or session.jsonl)")
    diff.add_argument("b", type=Path, help="the other recording")
    diff.add_argument("--ignore", action="append", default=[], metavar="REGEX",
                      help="leave out what matches (an IMEI, a time); repeatable")  # fmt: skip
    diff.add_argument("-v", "--verbose", action="count", default=0, help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    try:
        if args.command == "diff":
            return _diff(args)
        loop = event_loop.chosen(args.loop)
        if args.command == "replay":
            return event_loop.run(_replay(args), loop)
        return event_loop.run(_tap(args), loop)
    except (CommandError, PortError, recording_format.RecordingError,
            event_loop.LoopError) as exc:  # fmt: skip
        print(f"bc66sim: error: {exc}", flush=True, file=sys.stderr)
        return 2


def _diff(args: argparse.Namespace) -> int:
    from bc66sim.recording.diff import compare  # only when diffing, as replay and tap

    a, b = recording_format.read(args.a), recording_format.read(args.b)
    try:
        divergence = compare(a, b, ignore=args.ignore, names=(str(args.a), str(args.b)))
    except re.error as exc:
        raise CommandError(f"--ignore: {exc}") from exc
    if divergence is None:
        print(f"the same: {args.a} and {args.b} agree command by command")
        return 0
    print(divergence.report)
    return 1


def _url(args: argparse.Namespace) -> str:
    try:
        return uart_url(args)
    except UrlError as exc:
        raise CommandError(str(exc)) from exc


async def _replay(args: argparse.Namespace) -> int:
    from bc66sim.recording.replay import Replayer, script

    if not args.fast and not args.speed > 0:
        raise CommandError("--speed must be a number above 0")
    recording = recording_format.read(args.recording)
    steps = script(recording)
    url = _url(args)
    choice = port_for_url(url)
    replayer = Replayer(steps, clock=LoopClock(), speed=None if args.fast else args.speed,
                        start_on_connect=choice.scheme in ("pty", "tcp"))  # fmt: skip
    stop = event_loop.stop_on_signals()
    where = await choice.port.open(replayer, Trace())
    log.info("replaying %s (%d steps) on %s%s", recording.path, len(steps), where,
             choice.hint.format(where=where))  # fmt: skip
    try:
        waiters = [asyncio.ensure_future(event.wait())
                   for event in (replayer.done, stop, choice.port.ended)]  # fmt: skip
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        if choice.port.ended.is_set():  # the end of standard input
            replayer.host_left("ended its input")
        if replayer.done.is_set() and replayer.divergence is None:
            await asyncio.sleep(LINGER)  # bytes the host sends after the end are a divergence
        for waiter in waiters:
            waiter.cancel()
    finally:
        await replayer.close()
        await choice.port.close()
    if replayer.divergence is not None:
        log.error("the host diverged from the recording: %s", replayer.divergence)
        return 1
    if not replayer.done.is_set():
        log.info("stopped after %d of %d steps", replayer.played, len(steps))
        return 1
    log.info("replayed all %d steps; the host's bytes matched the recording", len(steps))
    return 0


async def _tap(args: argparse.Namespace) -> int:
    from bc66sim.recording.recorder import Recorder
    from bc66sim.recording.tap import Tap

    try:
        recorder = Recorder(Path(args.record), source="tap")
    except OSError as exc:
        raise CommandError(f"--record: cannot write in {args.record}: {exc.strerror}") from exc
    tap = Tap(
        args.device,
        args.baud,
        rtscts=args.rtscts,
        on_connect=recorder.host_connected,
    )
    trace = Trace()
    trace.listeners.append(recorder.uart)
    choice = port_for_url(_url(args))
    stop = event_loop.stop_on_signals()
    try:
        module = tap.open()
        where = await choice.port.open(tap, trace)
    except PortError:
        tap.close()
        recorder.close()
        raise
    log.info("tap: the module on %s; the host's port on %s%s", module, where,
             choice.hint.format(where=where))  # fmt: skip
    try:
        waiters = [asyncio.ensure_future(event.wait())
                   for event in (stop, tap.ended, choice.port.ended)]  # fmt: skip
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        for waiter in waiters:
            waiter.cancel()
    finally:
        await choice.port.close()
        tap.close()
        recorder.close()
        log.info("recorded in %s", recorder.directory)
    return 1 if tap.failure is not None else 0
