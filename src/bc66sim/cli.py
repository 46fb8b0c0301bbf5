"""bc66sim: a software Quectel BC66 / BC66-NA NB-IoT module.

Host programs talk AT to it as to the real module — over a pty, a TCP port, a
serial line or stdin — and behind its radio is the real network.  ``serve`` runs
one module, ``fleet`` many, ``console`` is a terminal to one, ``ctl`` drives a
running ``serve`` (faults, pins, state).  ``bc66sim COMMAND --help`` for each.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import ipaddress
import logging
import math
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import platformdirs

from bc66sim import __version__
from bc66sim import loop as event_loop
from bc66sim.clock import Clock, LoopClock, ScaledClock
from bc66sim.console import run_console
from bc66sim.control import ctl
from bc66sim.control.options import (
    ControlSetupError,
    add_serve_options,
    control_address,
    start_for_fleet,
    start_for_serve,
)
from bc66sim.echo import serve_echo
from bc66sim.fleet import Fleet
from bc66sim.module.energy import DEFAULT_BATTERY_MAH
from bc66sim.module.identity import MODELS
from bc66sim.module.modem import Modem, ModemConfig
from bc66sim.module.nvram import Nvram, changed_settings
from bc66sim.module.power import PowerConfig
from bc66sim.net.base import Network
from bc66sim.net.host import HostNetwork
from bc66sim.net.link import LinkNetwork, LinkProfile, load_profile, with_category
from bc66sim.net.policy import DestinationPolicy
from bc66sim.recording import commands as recording_commands
from bc66sim.scenario import (
    Scenario,
    ScenarioError,
    ScenarioPlayer,
    find_scenario,
    load_scenario,
    shipped_scenarios,
)
from bc66sim.transport.base import PortError
from bc66sim.transport.pacing import piece_time
from bc66sim.transport.tcp import parse_address
from bc66sim.transport.trace import Trace, TraceFile
from bc66sim.transport.url import UrlError, add_uart_options, port_for_url, uart_url

if TYPE_CHECKING:
    from bc66sim.recording.recorder import Recorder

log = logging.getLogger("bc66sim")


class UsageError(Exception):
    """A problem the user can fix; printed as one line, exit code 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bc66sim", description=__doc__)
    parser.add_argument("--version", action="version", version=f"bc66sim {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run an emulated BC66 on a UART")
    add_uart_options(serve)
    serve.add_argument(
        "--baud",
        type=int,
        default=None,
        help="line rate: of --serial (default 115200); on --pty/--tcp, pace both "
        "directions as a UART of this rate would (default: unpaced)",
    )
    serve.add_argument(
        "--attach-delay",
        type=float,
        default=None,
        metavar="SECONDS",
        help="seconds from power-on to network attach (default: the link profile's, 2 in ce0)",
    )
    serve.add_argument(
        "--network",
        default="ce0",
        metavar="PROFILE",
        help="the radio link: ideal, ce0, ce1, ce2 (coverage enhancement levels) or a TOML "
        "profile file; delay, rate, loss and signal (default %(default)s; ideal: a LAN)",
    )
    serve.add_argument(
        "--category",
        choices=("NB1", "NB2"),
        default="NB1",
        help="Cat-NB1 or Cat-NB2 rates for the link profile (default %(default)s)",
    )
    serve.add_argument(
        "--seed",
        type=int,
        default=None,
        help="seed of the link's delays and drops: the same seed, the same sequence",
    )
    serve.add_argument(
        "--scenario",
        metavar="FILE",
        help="timed steps of link conditions and faults, in module time (a TOML file, or "
        f"a shipped one: {', '.join(shipped_scenarios())})",
    )
    serve.add_argument(
        "--state-dir",
        type=Path,
        default=Path(platformdirs.user_state_dir("bc66sim")),
        help="where NVRAM settings are kept (default: %(default)s)",
    )
    serve.add_argument("--ip", default="10.20.30.40", help="the module's simulated address")
    serve.add_argument(
        "--power-on-at-connect",
        action="store_true",
        help="with --tcp or --pty: boot the module when the first host connects or opens the "
        "port, so it sees RDY and +IP: (default: at start, as a module powered with its board)",
    )
    serve.add_argument(
        "--factory-reset",
        action="store_true",
        help="forget the NVRAM settings saved in --state-dir before starting (as a new module)",
    )
    _add_nbiot_time(serve)
    _add_model(serve)
    _add_destinations(serve)
    serve.add_argument("-v", "--verbose", action="count", default=0, help="AT trace on stderr")
    serve.add_argument(
        "--trace", metavar="FILE", help="write the AT trace (as -v shows it) to FILE, appended"
    )
    serve.add_argument(
        "--record", metavar="DIR",
        help="record the session in DIR: session.jsonl (AT bytes, events) and session.pcapng "
        "(the module's IP packets with its AT lines, for Wireshark)",
    )  # fmt: skip
    add_serve_options(serve)
    event_loop.add_option(serve)
    fleet = commands.add_parser("fleet", help="many emulated modules in one process")
    fleet.add_argument("count", type=int, help="how many modules")
    fleet_where = fleet.add_mutually_exclusive_group()
    fleet_where.add_argument(
        "--tcp", metavar="HOST:BASE", default="127.0.0.1:0",
        help="module n listens on BASE+n (base 0: free ports; the default)",
    )  # fmt: skip
    fleet_where.add_argument("--pty-dir", type=Path, metavar="DIR",
                             help="module n is a pty linked at DIR/ttyBC66-<n>")  # fmt: skip
    fleet.add_argument("--attach-delay", type=float, default=2.0, metavar="SECONDS",
                       help="seconds from power-on to each attach (default 2)")  # fmt: skip
    fleet.add_argument("--state-dir", type=Path, default=None,
                       help="NVRAM of module n in DIR/module-<n> (default: not kept)")  # fmt: skip
    fleet.add_argument("--ip", default="10.20.0.1", help="the first module's address")
    _add_model(fleet)
    _add_destinations(fleet)
    fleet.add_argument("-v", "--verbose", action="count", default=0,
                       help="every module's AT trace on stderr")  # fmt: skip
    fleet.add_argument(
        "--workers", type=int, nargs="?", const=0, default=1, metavar="W",
        help="share the modules among W processes (without W: one a core); default 1, "
        "one process with the control plane",
    )  # fmt: skip
    add_serve_options(fleet)
    event_loop.add_option(fleet)
    recording_commands.add_parsers(commands)
    console = commands.add_parser(
        "console", help="an interactive AT terminal (to PORT, or to an embedded module)"
    )
    console.add_argument("port", nargs="?", help="a pyserial URL or path; none: embedded")
    console.add_argument(
        "--baud",
        type=int,
        default=115200,
        help="the line rate of a serial PORT (default %(default)s)",
    )
    console.add_argument(
        "--attach-delay",
        type=float,
        default=2.0,
        metavar="SECONDS",
        help="the embedded module's seconds from power-on to attach (default 2)",
    )
    console.add_argument(
        "--state-dir",
        type=Path,
        default=Path(platformdirs.user_state_dir("bc66sim")),
        help="where the embedded module keeps its NVRAM settings (default: %(default)s)",
    )
    console.add_argument("-v", "--verbose", action="count", default=0,
                         help="the AT trace on stderr")  # fmt: skip
    console.add_argument("--ip", default="10.20.30.40", help=argparse.SUPPRESS)
    _add_model(console)
    ctl.add_parser(commands)
    echo = commands.add_parser(
        "echo-server", help="a TCP and UDP echo server on loopback, for walkthroughs and tests"
    )
    echo.add_argument("--host", default="127.0.0.1", help="where it listens (default %(default)s)")
    echo.add_argument("--port", type=int, default=8080,
                      help="the TCP and UDP port (default %(default)s; 0: a free one)")  # fmt: skip
    return parser


def _add_destinations(parser: argparse.ArgumentParser) -> None:
    rules = "an address, a network (10.0.0.0/8), a host name (*.example.org) or *, "
    parser.add_argument(
        "--allow",
        action="append",
        default=[],
        metavar="RULE",
        help=f"destinations the module may reach: {rules}optionally :PORT or :LOW-HIGH "
        "(repeatable; none given: all but the denied)",
    )
    parser.add_argument(
        "--deny",
        action="append",
        default=[],
        metavar="RULE",
        help="destinations the module may not reach (repeatable; wins over --allow)",
    )


def _add_nbiot_time(parser: argparse.ArgumentParser) -> None:
    """Options of NB-IoT time (module/power.py) and of the energy summary."""
    parser.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        metavar="FACTOR",
        help="module time runs FACTOR times as fast as the wall clock: radio timers, the "
        "sleep lock, the RTC (the real network's timing is untouched; default 1)",
    )
    parser.add_argument(
        "--rrc-inactivity",
        type=float,
        default=PowerConfig.rrc_inactivity,
        metavar="SECONDS",
        help="seconds without traffic before the network releases the RRC connection "
        "(default %(default)g)",
    )
    parser.add_argument(
        "--psm-grant",
        metavar="T3412,T3324",
        help="the PSM timers the network grants, whatever AT+CPSMS asks: two 8-bit strings "
        '(e.g. "00000001,00000101": 10 min, 10 s); default: as requested',
    )
    parser.add_argument(
        "--battery-mah",
        type=float,
        default=DEFAULT_BATTERY_MAH,
        metavar="MAH",
        help="the battery the exit's energy summary projects a life for (default %(default)g)",
    )


def _add_model(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model",
        choices=sorted(MODELS),
        default="BC66",
        help="the module emulated: its identity and bands (default: %(default)s)",
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "ctl":
        return ctl.run(args)
    if args.command == "echo-server":
        logging.basicConfig(level=logging.INFO, format="bc66sim: %(message)s", stream=sys.stderr)
        return _echo_server(args)
    if args.command in ("replay", "tap", "diff"):
        logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                            format="bc66sim: %(message)s", stream=sys.stderr)  # fmt: skip
        return recording_commands.run(args)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else _quiet_in_console(args),
        format="bc66sim: %(message)s",
        stream=sys.stderr,
    )
    if args.verbose < 2:
        logging.getLogger("asyncio").setLevel(logging.WARNING)
    try:
        config = _config(args)
        if args.command == "console":
            return run_console(args.port, baud=args.baud, config=config, state_dir=args.state_dir)
        try:
            loop = event_loop.chosen(args.loop)
        except event_loop.LoopError as exc:
            raise UsageError(str(exc)) from exc
        if args.command == "fleet" and args.workers != 1:
            return _sharded_fleet(args, config, loop)
        if args.command == "fleet":
            return event_loop.run(_fleet(args, config), loop)
        return event_loop.run(_serve(args, config), loop)
    except UsageError as exc:
        print(f"bc66sim: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _echo_server(args: argparse.Namespace) -> int:
    if not 0 <= args.port <= 65535:
        print("bc66sim: error: --port is 0-65535", file=sys.stderr)
        return 2

    async def run() -> None:
        await serve_echo(args.host, args.port, event_loop.stop_on_signals())

    try:
        asyncio.run(run())
    except OSError as exc:
        print(f"bc66sim: error: cannot listen on {args.host}:{args.port}: {exc.strerror}",
              file=sys.stderr)  # fmt: skip
        return 2
    return 0


def _quiet_in_console(args: argparse.Namespace) -> int:
    """The console's screen is the UART's: only warnings on stderr there."""
    return logging.WARNING if args.command == "console" else logging.INFO


def _config(args: argparse.Namespace) -> ModemConfig:
    try:
        ipaddress.ip_address(args.ip)
    except ValueError as exc:
        raise UsageError(f"--ip: {exc}") from exc
    profile = _link_profile(args)
    if args.attach_delay is None:
        args.attach_delay = profile.attach_time if profile is not None else 2.0
    if not math.isfinite(args.attach_delay) or args.attach_delay < 0:
        raise UsageError("--attach-delay must be 0 or more seconds")
    baud = getattr(args, "baud", None)
    if baud is not None and baud <= 0:
        raise UsageError("--baud must be a positive number")
    try:
        policy = DestinationPolicy.parse(getattr(args, "allow", []), getattr(args, "deny", []))
    except ValueError as exc:
        raise UsageError(f"--allow/--deny: {exc}") from exc
    config = ModemConfig(attach_delay=args.attach_delay, ip_address=args.ip, model=args.model,
                         policy=policy if policy.allow or policy.deny else None,
                         power=_power_config(args))  # fmt: skip
    if baud is not None:
        # A paced line hands bytes on in pieces: a CR and its LF may be a piece apart.
        wait = max(config.line_feed_wait, 2 * piece_time(baud))
        config = dataclasses.replace(config, line_feed_wait=wait)
    return config


def _link_profile(args: argparse.Namespace) -> LinkProfile | None:
    """The link profile ``--network`` names (serve only); None where there is none."""
    if not hasattr(args, "network"):
        return None
    try:
        return with_category(load_profile(args.network), args.category)
    except ValueError as exc:
        raise UsageError(f"--network: {exc}") from exc


def _scenario(args: argparse.Namespace) -> Scenario | None:
    if args.scenario is None:
        return None
    try:
        return load_scenario(find_scenario(args.scenario))
    except ScenarioError as exc:
        raise UsageError(f"--scenario: {exc}") from exc


def _power_config(args: argparse.Namespace) -> PowerConfig:
    if not hasattr(args, "rrc_inactivity"):
        return PowerConfig()
    finite = all(math.isfinite(value) for value in
                 (args.time_scale, args.rrc_inactivity, args.battery_mah))  # fmt: skip
    if not finite:
        raise UsageError("--time-scale, --rrc-inactivity and --battery-mah are finite numbers")
    if args.time_scale <= 0:
        raise UsageError("--time-scale must be a positive number")
    if args.rrc_inactivity <= 0:
        raise UsageError("--rrc-inactivity must be a positive number of seconds")
    if args.battery_mah <= 0:
        raise UsageError("--battery-mah must be positive")
    grant = None
    if args.psm_grant is not None:
        parts = tuple(args.psm_grant.split(","))
        if len(parts) != 2 or not all(re.fullmatch("[01]{8}", part) for part in parts):
            raise UsageError('--psm-grant: two 8-bit strings, "T3412,T3324"')
        grant = (parts[0], parts[1])
    return PowerConfig(rrc_inactivity=args.rrc_inactivity, psm_grant=grant)


def _fleet_settings(args: argparse.Namespace, config: ModemConfig) -> dict[str, Any]:
    """Fleet's keyword arguments (picklable: a sharded fleet's workers take them too),
    its ports or ptys checked."""
    if args.count < 1:
        raise UsageError("a fleet has at least one module")
    where: dict[str, Any] = {"pty_dir": args.pty_dir, "tcp_host": "127.0.0.1", "base_port": 0}
    if args.pty_dir is not None:
        args.pty_dir.mkdir(parents=True, exist_ok=True)
    else:
        try:
            where["tcp_host"], where["base_port"] = parse_address(args.tcp)
        except ValueError as exc:
            raise UsageError(f"--tcp: {exc}") from exc
        _warn_beyond_loopback(where["tcp_host"], config)
    return {**where, "attach_delay": config.attach_delay, "state_dir": args.state_dir,
            "first_ip": config.ip_address, "model": config.model,
            "policy": config.policy}  # fmt: skip


def _sharded_fleet(args: argparse.Namespace, config: ModemConfig, loop: str) -> int:
    """``fleet N --workers W``: the modules in W processes (shards.py)."""
    from bc66sim import shards

    if args.workers == 0:  # --workers without a number: one a core
        args.workers = shards.default_workers()
    if args.workers < 1:
        raise UsageError("--workers: at least 1")
    settings = _fleet_settings(args, config)  # (each worker raises its own file limit)
    try:
        address = control_address(args)
    except ControlSetupError as exc:
        raise UsageError(str(exc)) from exc
    control = shards.ControlOptions(*address, args.state_dir) if address is not None else None
    log.info("the fleet's modules in %d worker processes", min(args.workers, args.count))
    return shards.run(args.count, args.workers, settings, verbose=args.verbose, loop=loop,
                      control=control)  # fmt: skip


async def _fleet(args: argparse.Namespace, config: ModemConfig) -> int:
    fleet = Fleet(args.count, **_fleet_settings(args, config))
    stop = event_loop.stop_on_signals()
    control = None
    try:
        places = await fleet.start()
        control = await start_for_fleet(fleet, args)
    except (PortError, ControlSetupError) as exc:
        await fleet.close()
        raise UsageError(str(exc)) from exc
    try:
        if control is not None:
            log.info("control plane on %s", control.describe())
            log.info("dashboard: %s", control.dashboard_url)
        log.info("BC66 fleet of %d ready on %s", fleet.count, ",".join(places))
        await stop.wait()
    finally:
        await fleet.close()
        if control is not None:
            await control.close()
    return 0


async def _serve(args: argparse.Namespace, config: ModemConfig) -> int:
    clock = ScaledClock(args.time_scale) if args.time_scale != 1 else LoopClock()
    profile = _link_profile(args)
    assert profile is not None
    scenario = _scenario(args)
    seed = args.seed if args.seed is not None or scenario is None else scenario.seed
    network: Network = LinkNetwork(HostNetwork(), profile, clock, seed=seed)
    recorder = _recorder(args, config, clock)
    if recorder is not None:  # on the module's side of the link: what its radio sees
        from bc66sim.recording.network import RecordingNetwork  # scapy only when recording

        network = RecordingNetwork(network, recorder, lambda: config.ip_address)
    nvram = Nvram(args.state_dir)
    if args.factory_reset and nvram.factory_reset():
        log.info("factory reset: the saved settings in %s are forgotten", nvram.path)
    modem = Modem(network, config=config, nvram=nvram, clock=clock)
    _report_saved_settings(modem)
    _check_power_on(args)
    trace = Trace()
    trace_file = _trace_file(args)
    if trace_file is not None:
        trace.listeners.append(trace_file)
    if recorder is not None:
        trace.listeners.append(recorder.uart)
        modem.events.subscribe(recorder.module)
    stop = event_loop.stop_on_signals()
    try:  # before the UART opens: nothing may wait between its opening and the power-on
        control = await start_for_serve(modem, trace, args.state_dir, args)
    except ControlSetupError as exc:
        raise UsageError(str(exc)) from exc
    if control is not None and recorder is not None:
        control.fault_listeners.append(recorder.fault)
    try:
        choice = port_for_url(_uart_url(args), args.baud)
        port = choice.port
        where = await port.open(modem, trace)
    except PortError as exc:
        if control is not None:
            await control.close()
        raise UsageError(str(exc)) from exc
    if choice.listen_host is not None:
        _warn_beyond_loopback(choice.listen_host, config)
    player = ScenarioPlayer(scenario, modem) if scenario is not None else None
    if control is not None:  # before "ready on": a program that waits for it finds control.json
        control.watches[0].place = where
        log.info("control plane on %s", control.describe())
        log.info("dashboard: %s", control.dashboard_url)
    try:
        log.info("%s ready on %s%s", modem.model.name, where, choice.hint.format(where=where))
        log.info("link: %s%s", profile.name, "" if seed is None else f", seed {seed}")
        if args.time_scale != 1:
            log.info("module time runs %g times as fast as the wall clock", args.time_scale)
        if args.power_on_at_connect:
            log.info("the module boots when the first host connects")
            modem.power_on_with_the_first_host()
        else:
            modem.power_on()
        if player is not None:
            player.start()
        waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(port.ended.wait())]
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        for waiter in waiters:
            waiter.cancel()
    finally:
        if player is not None:
            player.stop()
        summary = modem.power.energy.summary(modem.clock.now())
        saved = await modem.close()
        await port.close()
        if control is not None:
            await control.close()
        if trace_file is not None:
            trace_file.close()
        if recorder is not None:
            recorder.close()
            log.info("recorded in %s", recorder.directory)
        for text in summary.lines(args.battery_mah):
            log.info("%s", text)
        if saved:
            log.info("stopped; state saved in %s", args.state_dir)
        else:
            log.error("stopped; the state could NOT be saved in %s (see above)", args.state_dir)
    return 0 if saved else 1


def _check_power_on(args: argparse.Namespace) -> None:
    if args.power_on_at_connect and not _uart_url(args).startswith(("tcp:", "pty:")):
        raise UsageError("--power-on-at-connect needs a port a host connects to (--tcp or --pty)")


def _recorder(args: argparse.Namespace, config: ModemConfig, clock: Clock) -> Recorder | None:
    if args.record is None:
        return None
    from bc66sim.recording.recorder import Recorder  # scapy and pcapng only when recording

    try:
        return Recorder(Path(args.record), source="serve", model=config.model, clock=clock)
    except OSError as exc:
        raise UsageError(f"--record: cannot write in {args.record}: {exc.strerror}") from exc


def _trace_file(args: argparse.Namespace) -> TraceFile | None:
    if args.trace is None:
        return None
    try:
        return TraceFile(args.trace)
    except OSError as exc:
        raise UsageError(f"--trace: cannot write {args.trace}: {exc.strerror}") from exc


def _report_saved_settings(modem: Modem) -> None:
    """A module keeps its NVRAM between runs (a real one does): say what it brought back."""
    changed = changed_settings(modem.nv)
    if changed:
        shown = ", ".join(f"{name}={value!r}" for name, value in changed.items())
        log.info("NVRAM from %s: %s (--factory-reset forgets them)", modem.nvram.path, shown)


def _uart_url(args: argparse.Namespace) -> str:
    """The UART's URL (transport/url.py): ``--uart``, or what a shorthand option means."""
    try:
        return uart_url(args)
    except UrlError as exc:
        raise UsageError(str(exc)) from exc


def _warn_beyond_loopback(host: str, config: ModemConfig) -> None:
    """A UART reachable from other machines has no authentication: say so, once."""
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback:
        rules = "" if config.policy else " and no --allow/--deny rules limit what it reaches"
        log.warning("the UART on %s has no authentication: anyone who can connect can use "
                    "the module's network%s", host, rules)  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
