"""``bc66sim fleet N --workers W``: one fleet, its modules shared among W processes.

One event loop serves a few thousand modules on one core (fleet.py); a machine
has more cores.  The parent splits the modules into W contiguous ranges and
starts one worker process per range (multiprocessing, *spawn*: a fresh
interpreter, no event loop or socket inherited).  Each worker is a
:class:`~bc66sim.fleet.Fleet` with ``first_index`` set, so module n is the same
device whoever serves it: its address, IMEI, IMSI, TCP port (``BASE+n``), pty
(``ttyBC66-<n>``) and state folder follow from n.

The parent prints one "ready on" line with every module's place in order, then
waits.  Ctrl+C or SIGTERM stops every worker (SIGTERM, then SIGKILL after
:data:`STOP_TIMEOUT` seconds) and the parent exits 0.  A worker that fails to
start, or ends on its own, stops the others and the parent exits 1: a fleet
with a silent hole in it is worse than none.

The control plane is the fleet's one (control/proxy.py): each worker serves its
modules' on a loopback port of its own, under the fleet's module numbers and one
token, and the parent listens where ``--control`` says and passes each request to
the worker that holds the module.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import multiprocessing.connection
import os
import queue
import secrets
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bc66sim.control.proxy import ControlThread

log = logging.getLogger("bc66sim")

#: Seconds a worker gets to stop after SIGTERM before it is killed.
STOP_TIMEOUT = 10.0
#: Seconds a worker may take to start its modules, and per module on top of that.
START_TIMEOUT = 30.0
START_PER_MODULE = 0.01


@dataclass(frozen=True)
class Shard:
    """What one worker serves: ``count`` modules from ``first_index``, and the fleet's
    settings (Fleet's keyword arguments)."""

    number: int
    first_index: int
    count: int
    settings: dict[str, Any] = field(default_factory=dict)
    #: The fleet's control-plane token: the worker serves its modules' on loopback
    #: (empty: no control plane); and how many modules the whole fleet has.
    control_token: str = field(default="", repr=False)
    fleet_size: int = 0


@dataclass(frozen=True)
class ControlOptions:
    """Where the fleet's control plane listens (``--control``), and its state folder."""

    host: str
    port: int
    state_dir: Path | None


def split(count: int, workers: int) -> list[tuple[int, int]]:
    """``count`` modules in ``workers`` contiguous ranges, (first, size), sizes within one."""
    workers = max(1, min(workers, count))
    size, extra = divmod(count, workers)
    ranges, first = [], 0
    for number in range(workers):
        share = size + (1 if number < extra else 0)
        ranges.append((first, share))
        first += share
    return ranges


def default_workers() -> int:
    """One worker a core this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _worker(shard: Shard, ready: Any, verbose: int, loop: str) -> None:
    """A worker process: its fleet, until SIGTERM or SIGINT."""
    from bc66sim import loop as event_loop

    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format=f"bc66sim[{shard.number}]: %(message)s")  # fmt: skip
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl+C reaches the whole group
        event_loop.run(_serve_shard(shard, ready), loop)


async def _serve_shard(shard: Shard, ready: Any) -> None:
    from bc66sim.control.options import ControlSetupError, fleet_server
    from bc66sim.fleet import Fleet
    from bc66sim.transport.base import PortError

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    fleet = Fleet(shard.count, first_index=shard.first_index, **shard.settings)
    control = None
    try:
        places = await fleet.start()
        if shard.control_token:
            control = fleet_server(fleet, "127.0.0.1", 0, state_dir=None,
                                   token=shard.control_token,
                                   fleet_size=shard.fleet_size)  # fmt: skip
            await control.start()
    except (PortError, OSError, ControlSetupError) as exc:
        ready.put((shard.number, None, str(exc), ""))
        await fleet.close()
        return
    ready.put((shard.number, places, "", control.url if control is not None else ""))
    try:
        await stop.wait()
    finally:
        if control is not None:
            await control.close()
        await fleet.close()


class ShardError(Exception):
    """The sharded fleet could not start or lost a worker: one line for the user."""


def run(count: int, workers: int, settings: dict[str, Any], *, verbose: int = 0,
        loop: str = "asyncio", control: ControlOptions | None = None) -> int:  # fmt: skip
    """Serve ``count`` modules in ``workers`` processes until a signal; the exit code."""
    context = multiprocessing.get_context("spawn")
    ready = context.Queue()
    token = secrets.token_urlsafe(32) if control is not None else ""
    shards = [Shard(number, first, size, settings, token, count)
              for number, (first, size) in enumerate(split(count, workers))]  # fmt: skip
    processes = [context.Process(target=_worker, args=(shard, ready, verbose, loop),
                                 name=f"bc66sim-worker-{shard.number}")
                 for shard in shards]  # fmt: skip
    stopping = False
    plane: ControlThread | None = None

    def on_signal(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        for process in processes:
            process.start()
        started = _wait_ready(shards, processes, ready, lambda: stopping)
        if started is None:
            return 0  # stopped before it was ready
        places, urls = started
        if control is not None:
            plane = _start_control(control, token, shards, urls)
        log.info("BC66 fleet of %d ready on %s (%d workers: pids %s)", count, ",".join(places),
                 len(processes), ",".join(str(p.pid) for p in processes))  # fmt: skip
        while not stopping:
            ended = multiprocessing.connection.wait([p.sentinel for p in processes], timeout=0.2)
            if ended and not stopping:
                lost = next(p for p in processes if p.sentinel in ended)
                lost.join()
                if lost.exitcode == 0:
                    # A worker only ends well when told to: Ctrl+C or a SIGTERM to the whole
                    # process group reached it before this process saw its own.
                    log.info("%s stopped: stopping the fleet", lost.name)
                    return 0
                raise ShardError(f"{lost.name} ended (exit code {lost.exitcode}); stopping the "
                                 "fleet")  # fmt: skip
        return 0
    except ShardError as exc:
        log.error("%s", exc)
        return 1
    finally:
        try:
            if plane is not None:
                plane.stop()
        finally:
            _stop(processes)
            _clear_links(settings.get("pty_dir"), count)
            ready.close()
            ready.join_thread()
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def _wait_ready(shards: list[Shard], processes: list[Any], ready: Any,
                stopping: Any) -> tuple[list[str], dict[int, str]] | None:  # fmt: skip
    """Every worker's places, in module order, and its control plane's URL; None if a
    signal came first."""
    found: dict[int, list[str]] = {}
    urls: dict[int, str] = {}
    deadline = time.monotonic() + START_TIMEOUT + START_PER_MODULE * max(s.count for s in shards)
    while len(found) < len(shards):
        if stopping():
            return None
        for process in processes:
            if process.exitcode is not None:
                raise ShardError(f"{process.name} ended while starting (exit code "
                                 f"{process.exitcode})")  # fmt: skip
        if time.monotonic() > deadline:
            raise ShardError("the workers did not start in time")
        try:
            number, places, error, url = ready.get(timeout=0.2)
        except queue.Empty:
            continue
        if places is None:
            raise ShardError(f"worker {number}: {error}")
        found[number] = places
        urls[number] = url
    return [place for number in sorted(found) for place in found[number]], urls


def _start_control(control: ControlOptions, token: str, shards: list[Shard],
                   urls: dict[int, str]) -> ControlThread:  # fmt: skip
    """The fleet's control plane, in front of the workers'; its address in the log."""
    from bc66sim.control.options import ControlSetupError
    from bc66sim.control.proxy import ControlThread, ShardedControl, ShardPlane

    planes = [ShardPlane(shard.first_index, shard.count, urls[shard.number]) for shard in shards]
    plane = ControlThread(ShardedControl(planes, token, host=control.host, port=control.port,
                                         state_dir=control.state_dir))  # fmt: skip
    try:
        plane.start()
    except ControlSetupError as exc:
        raise ShardError(str(exc)) from None
    log.info("control plane on %s", plane.control.describe())
    log.info("dashboard: %s", plane.control.dashboard_url)
    return plane


def _stop(processes: list[Any]) -> None:
    """SIGTERM to every worker still running, then SIGKILL to whoever does not end."""
    for process in processes:
        if process.is_alive():
            process.terminate()
    deadline = time.monotonic() + STOP_TIMEOUT
    for process in processes:
        if process.pid is None:
            continue
        process.join(max(0.0, deadline - time.monotonic()))
        if process.is_alive():
            log.warning("%s did not stop; killed", process.name)
            process.kill()
            process.join()
        process.close()


def _clear_links(pty_dir: Path | None, count: int) -> None:
    """The pty links a killed worker could not remove: each now points at nothing."""
    if pty_dir is None:
        return
    for index in range(count):
        link = pty_dir / f"ttyBC66-{index}"
        if link.is_symlink() and not link.exists():
            link.unlink(missing_ok=True)
