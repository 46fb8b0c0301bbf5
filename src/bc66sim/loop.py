"""The event loop the command line runs on: uvloop where it is installed, else asyncio's.

uvloop (libuv under asyncio's API) takes most of the event loop's own cost out of
each AT round trip: issue 15 measured a do-nothing ``Protocol`` server at 3.1x a
blocking echo on the standard loop and 1.2x on uvloop.  It is a regular
dependency where it has wheels (an environment marker in pyproject.toml keeps
other platforms on the standard loop).  ``--loop asyncio`` (or ``BC66SIM_LOOP=
asyncio``) chooses the standard loop anyway; the in-process tests run on it, and
the end-to-end tests on the loop a user gets.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

CHOICES = ("auto", "uvloop", "asyncio")
#: Environment variable for the default of ``--loop``.
ENV = "BC66SIM_LOOP"


class LoopError(Exception):
    """The loop asked for is not available: one line for the user."""


def default() -> str:
    return os.environ.get(ENV, "auto")


def add_option(parser: argparse.ArgumentParser) -> None:
    """``--loop`` on a command that runs an event loop."""
    parser.add_argument(
        "--loop", choices=CHOICES, default=default(),
        help=f"the event loop: uvloop where installed (auto, the default; env {ENV}), "
        "or asyncio's own",
    )  # fmt: skip


def chosen(name: str) -> str:
    """The loop ``name`` means here: "uvloop" or "asyncio"."""
    if name not in CHOICES:
        raise LoopError(f"--loop: one of {', '.join(CHOICES)}, not {name!r}")
    if name == "asyncio":
        return "asyncio"
    try:
        import uvloop  # noqa: F401
    except ImportError:
        if name == "uvloop":
            raise LoopError("--loop uvloop: uvloop is not installed (pip install uvloop)") from None
        return "asyncio"
    return "uvloop"


def stop_on_signals() -> asyncio.Event:
    """Set on Ctrl+C or SIGTERM: the clean way out of serve, fleet, replay and tap."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


def new_loop(name: str = "auto") -> asyncio.AbstractEventLoop:
    """A new event loop of the kind ``name`` chooses (for a thread of its own)."""
    if chosen(name) == "uvloop":
        import uvloop

        return uvloop.new_event_loop()
    return asyncio.new_event_loop()


def run(main: Coroutine[Any, Any, T], name: str = "auto") -> T:
    """``asyncio.run(main)`` on the loop ``name`` chooses."""
    if chosen(name) == "uvloop":
        import uvloop

        result: T = uvloop.run(main)
        return result
    return asyncio.run(main)
