"""A pytest plugin: an emulated BC66 for your own tests (registered as ``pytest11``).

::

    def test_my_firmware_talks_to_the_modem(bc66_emulator):
        port = serial.serial_for_url(bc66_emulator.url, timeout=1)   # or bc66sim.client.BC66
        ...

    @pytest.mark.bc66(transport="pty", attach_delay=1.0, network="ideal")
    def test_over_a_pty(bc66_emulator):
        open(bc66_emulator.url, "r+b", buffering=0)

``bc66_emulator.url`` is a pyserial URL or path: ``socket://127.0.0.1:<port>`` for
the TCP transport (the default), a pty path for ``transport="pty"``.  The emulator
runs as ``bc66sim serve`` in a child process with its own state directory; its log
is ``bc66_emulator.log``.

``bc66_emulator.control`` drives it from outside (its control plane,
:class:`bc66sim.control.client.ControlClient`)::

    def test_my_firmware_sees_the_detach(bc66_emulator):
        ...
        bc66_emulator.control.detach()          # the host then reads +CEREG: 0
        bc66_emulator.control.override("AT+CSQ", ["+CSQ: 5,0", "OK"], once=True)
        bc66_emulator.control.pin("PWRKEY", "pulse")
        assert bc66_emulator.control.status()["pins"]["outputs"]["VDD_EXT"] == "high"
"""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bc66sim.control.client import ControlClient

READY = re.compile(r"ready on (\S+)")


@dataclass
class EmulatedBC66:
    """A running ``bc66sim serve``; ``url`` is what a host program opens."""

    url: str
    process: subprocess.Popen[bytes]
    #: Its control plane: faults, overrides, URCs, pins, status (bc66sim.control).
    control: ControlClient
    log: list[str] = field(default_factory=list)

    def stop(self) -> int:
        """Stop the emulator (SIGTERM: sockets closed, state saved); its exit code."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        return self.process.wait()


#: The AT trace of a fixture's emulator, in its state directory.
TRACE_FILE = "at.trace"


def _cli_options(options: dict[str, object]) -> list[str]:
    """``time_scale=60`` -> ``--time-scale 60``; ``True`` a flag; ``False``/None left out."""
    argv: list[str] = []
    for name, value in options.items():
        flag = "--" + name.replace("_", "-")
        if value is True:
            argv.append(flag)
        elif value is not False and value is not None:
            argv += [flag, str(value)]
    return argv


def start_emulator(
    state_dir: Path,
    *,
    transport: str = "tcp",
    attach_delay: float = 0.0,
    model: str = "BC66",
    network: str = "ce0",
    seed: int | None = None,
    timeout: float = 20,
    **serve_options: object,
) -> EmulatedBC66:
    """Start ``bc66sim serve`` and wait until it says where it is.

    ``network`` is the link profile (``ce0`` by default: what a device in good
    coverage sees; ``ideal`` for a fast LAN-like link); ``seed`` fixes its delays.
    Any other ``serve`` option is a keyword too: ``time_scale=60`` is
    ``--time-scale 60``, ``scenario="lift-ride"``, ``factory_reset=True`` a flag.
    The AT trace is kept in ``state_dir/at.trace`` (shown when a test fails).
    """
    if transport == "tcp":
        where = ["--tcp", "127.0.0.1:0"]
    elif transport == "pty":
        where = ["--pty", str(state_dir / "ttyBC66")]
    else:
        raise ValueError(f"transport is 'tcp' or 'pty', not {transport!r}")
    process = subprocess.Popen(
        [sys.executable, "-m", "bc66sim", "serve", *where, "--attach-delay", str(attach_delay),
         "--model", model, "--network", network, "--state-dir", str(state_dir),
         "--trace", str(state_dir / TRACE_FILE),
         *(["--seed", str(seed)] if seed is not None else []), *_cli_options(serve_options)],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    log: list[str] = []
    ready = threading.Event()
    found: list[str] = []

    def read_log() -> None:  # keeps the pipe drained for the emulator's whole life
        assert process.stderr is not None
        for raw in process.stderr:
            text = raw.decode(errors="replace").rstrip()
            log.append(text)
            match = READY.search(text)
            if match and not ready.is_set():
                found.append(match.group(1))
                ready.set()
        ready.set()

    threading.Thread(target=read_log, name="bc66sim-log", daemon=True).start()
    deadline = time.monotonic() + timeout
    while not ready.wait(0.1):
        if time.monotonic() > deadline:
            break
    if not found:
        process.kill()
        raise RuntimeError("bc66sim serve did not start:\n" + "\n".join(log))
    url = f"socket://{found[0]}" if transport == "tcp" else found[0]
    # serve writes control.json before it says where it is ready.
    control = ControlClient.from_state_dir(state_dir)
    return EmulatedBC66(url=url, process=process, control=control, log=log)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "bc66(transport='tcp', attach_delay=0.0, model='BC66', network='ce0', seed=None): "
        "how bc66_emulator is started",
    )


@pytest.fixture
def bc66_emulator(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[EmulatedBC66]:
    """An emulated BC66 in a child process, stopped after the test."""
    marker = request.node.get_closest_marker("bc66")
    options = dict(marker.kwargs) if marker is not None else {}
    state_dir = tmp_path_factory.mktemp("bc66sim")
    emulator = start_emulator(state_dir, **options)
    request.node.bc66sim_trace = state_dir / TRACE_FILE
    yield emulator
    emulator.stop()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A failed test that used ``bc66_emulator`` shows the module's AT trace in its report."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    trace = getattr(item, "bc66sim_trace", None)
    if report.failed and isinstance(trace, Path) and trace.exists():
        text = trace.read_text(errors="replace")
        lines = text.splitlines()[-200:]  # the end: what led to the failure
        report.sections.append(("bc66sim AT trace (last 200 lines)", "\n".join(lines)))
