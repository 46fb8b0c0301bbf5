"""``serve``'s control-plane options, and starting it as they ask.

Kept apart from server.py so that parsing a command line (and ``bc66sim ctl``)
does not import aiohttp.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from bc66sim.control.watch import SERVE_BUDGET, Budget, fleet_share
from bc66sim.module.modem import Modem
from bc66sim.transport.tcp import parse_address
from bc66sim.transport.trace import Trace

if TYPE_CHECKING:
    from bc66sim.control.server import ControlServer
    from bc66sim.fleet import Fleet

log = logging.getLogger("bc66sim.control")

DEFAULT_ADDRESS = "127.0.0.1:0"


class ControlSetupError(Exception):
    """The control plane cannot start as asked: one line for the user (exit code 2)."""


def add_serve_options(parser: argparse.ArgumentParser) -> None:
    """``serve``'s options for the control plane."""
    group = parser.add_argument_group("control plane (bc66sim ctl, HTTP API)")
    group.add_argument(
        "--control", metavar="HOST:PORT", default=DEFAULT_ADDRESS,
        help="where the control plane listens (default %(default)s: loopback, a free port)",
    )  # fmt: skip
    group.add_argument("--no-control", action="store_true", help="no control plane")
    group.add_argument(
        "--control-public", action="store_true",
        help="allow --control on a non-loopback address (anyone with the token controls "
        "the module)",
    )  # fmt: skip


async def start_for_serve(
    modem: Modem,
    trace: Trace,
    state_dir: Path | None,
    args: argparse.Namespace,
    place: str = "",
    budget: Budget = SERVE_BUDGET,
) -> ControlServer | None:
    """``serve``'s control plane as its options ask (None with ``--no-control``);
    ``budget``: the module's share of the recent past (control/watch.py)."""
    address = control_address(args)
    if address is None:
        return None
    host, port = address
    from bc66sim.control.server import ControlServer  # aiohttp only when it is used

    server = ControlServer(modem, trace, host=host, port=port, state_dir=state_dir, place=place,
                           budget=budget)  # fmt: skip
    if getattr(args, "battery_mah", None):  # serve's --battery-mah (a fleet has none)
        server.battery_mah = args.battery_mah
    await server.start()
    return server


def control_address(args: argparse.Namespace) -> tuple[str, int] | None:
    """Where ``--control`` asks the control plane to listen (None with ``--no-control``);
    an address beyond loopback only with ``--control-public``."""
    if args.no_control:
        return None
    try:
        host, port = parse_address(args.control)
    except ValueError as exc:
        raise ControlSetupError(f"--control: {exc}") from None
    if not _loopback(host):
        if not args.control_public:
            raise ControlSetupError(
                f"--control: {host} is not a loopback address; add --control-public "
                "to serve the control plane there"
            )
        log.warning("the control plane listens on %s: anyone who can reach it and has the "
                    "token controls the module (and sees its traffic)", host)  # fmt: skip
    return host, port


async def start_for_fleet(fleet: Fleet, args: argparse.Namespace) -> ControlServer | None:
    """``fleet``'s control plane: every module, ``/modules/<n>/``, one token."""
    address = control_address(args)
    if not fleet.modems or address is None:
        return None
    server = fleet_server(fleet, *address, state_dir=args.state_dir)
    await server.start()
    return server


def fleet_server(
    fleet: Fleet,
    host: str,
    port: int,
    *,
    state_dir: Path | None,
    token: str | None = None,
    fleet_size: int | None = None,
) -> ControlServer:
    """A control plane (not started) for every module of ``fleet``; ``fleet_size``: the
    whole fleet's, when ``fleet`` is one worker's part of it (shards.py)."""
    from bc66sim.control.server import ControlServer  # aiohttp only when it is used

    # The recent past of a fleet's modules shares one budget: thousands of modules
    # must not each keep what one serve keeps.
    share = fleet_share(fleet_size or len(fleet.modems))
    server = ControlServer(fleet.modems[0], fleet.traces[0], host=host, port=port,
                           state_dir=state_dir, place=fleet.places[0], budget=share,
                           token=token, first_index=fleet.first_index,
                           fleet_size=fleet_size)  # fmt: skip
    for modem, trace, place in zip(fleet.modems[1:], fleet.traces[1:], fleet.places[1:],
                                   strict=True):  # fmt: skip
        server.add(modem, trace, place, share)
    return server


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"
