"""Scenarios: timed steps of link conditions and faults, in module time (issue 12).

``bc66sim serve --scenario FILE`` plays a TOML file of steps against the running
module, each at its moment of module time after power-on, with the link's random
draws seeded: a flaky field failure becomes a test that fails the same way every
run.  A file::

    name = "a lift ride"
    seed = 7                          # optional; --seed wins
    [[step]]
    at = 30                           # seconds of module time after power-on
    signal = { rsrp = -112, sinr = 1 }
    [[step]]
    at = 40
    coverage_loss = 45                # seconds without coverage
    [[step]]
    at = 85
    ce = 0

Each step has ``at`` and one action: ``network`` (a profile name or file),
``ce``, ``signal``, ``coverage_loss``, ``drop`` / ``delay`` (``{direction, count[,
seconds]}``), ``service_unreachable`` (``{service, seconds}``), ``detach``,
``attach``, ``urc`` (a line the module says).  Shipped files are in
``scenarios/``.
"""

from __future__ import annotations

import logging
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bc66sim.clock import TimerHandle
from bc66sim.control import faults
from bc66sim.net.link import load_profile

if TYPE_CHECKING:
    from bc66sim.module.modem import Modem

log = logging.getLogger(__name__)

ACTIONS = ("network", "ce", "signal", "coverage_loss", "drop", "delay", "service_unreachable",
           "detach", "attach", "urc")  # fmt: skip


class ScenarioError(ValueError):
    """A scenario file that cannot be played: the message says where and why."""


@dataclass(frozen=True)
class Step:
    at: float
    action: str
    value: Any


@dataclass(frozen=True)
class Scenario:
    name: str
    seed: int | None
    steps: tuple[Step, ...]


#: The scenarios that ship with bc66sim (``--scenario lift-ride``).
SHIPPED = Path(__file__).resolve().parent / "scenarios"


def shipped_scenarios() -> list[str]:
    return sorted(path.stem for path in SHIPPED.glob("*.toml"))


def find_scenario(name: str) -> Path:
    """A scenario file: a path, or the name of a shipped one."""
    path = Path(name)
    if path.is_file():
        return path
    shipped = SHIPPED / f"{name}.toml"
    if shipped.is_file():
        return shipped
    raise ScenarioError(f"{name!r}: no such file, and not one of {', '.join(shipped_scenarios())}")


def load_scenario(path: str | Path) -> Scenario:
    """Read and check a scenario file (every step, before anything is played)."""
    where = str(path)
    try:
        table = tomllib.loads(Path(path).read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ScenarioError(f"{where}: {exc}") from exc
    seed = table.get("seed")
    if seed is not None and not isinstance(seed, int):
        raise ScenarioError(f"{where}: seed is an integer")
    unknown = set(table) - {"name", "seed", "step", "description"}
    if unknown:
        raise ScenarioError(f"{where}: unknown settings {sorted(unknown)}")
    steps = []
    for number, raw in enumerate(table.get("step", []), start=1):
        steps.append(_step(f"{where}, step {number}", raw))
    return Scenario(str(table.get("name", Path(path).stem)), seed,
                    tuple(sorted(steps, key=lambda step: step.at)))  # fmt: skip


def _step(where: str, raw: object) -> Step:
    if not isinstance(raw, dict):
        raise ScenarioError(f"{where}: a step is a table")
    at = raw.get("at")
    if not isinstance(at, int | float) or at < 0:
        raise ScenarioError(f"{where}: 'at' is the seconds of module time after power-on")
    actions = [key for key in raw if key != "at"]
    if len(actions) != 1 or actions[0] not in ACTIONS:
        raise ScenarioError(f"{where}: one action of {', '.join(ACTIONS)}; found {actions}")
    action = actions[0]
    value = raw[action]
    checks: dict[str, Callable[[Any], bool]] = {
        "network": lambda v: isinstance(v, str),
        "ce": lambda v: v in (0, 1, 2),
        "signal": lambda v: isinstance(v, dict) and set(v) == {"rsrp", "sinr"},
        "coverage_loss": lambda v: isinstance(v, int | float) and v > 0,
        "drop": lambda v: isinstance(v, dict) and set(v) == {"direction", "count"},
        "delay": lambda v: isinstance(v, dict) and set(v) == {"direction", "count", "seconds"},
        "service_unreachable": lambda v: isinstance(v, dict) and set(v) == {"service", "seconds"},
        "detach": lambda v: v is True,
        "attach": lambda v: v is True,
        "urc": lambda v: isinstance(v, str) and v != "" and "\r" not in v and "\n" not in v,
    }
    if not checks[action](value):
        raise ScenarioError(f"{where}: bad value for {action}: {value!r} (see bc66sim.scenario)")
    if action == "network":
        try:
            load_profile(value)
        except ValueError as exc:
            raise ScenarioError(f"{where}: {exc}") from exc
    return Step(float(at), action, value)


class ScenarioPlayer:
    """Plays a scenario's steps on the module's clock, from power-on."""

    def __init__(self, scenario: Scenario, modem: Modem) -> None:
        self.scenario = scenario
        self._modem = modem
        self._timers: list[TimerHandle] = []
        self.played: list[Step] = []

    def start(self) -> None:
        """Arm every step relative to now (call it at power-on)."""
        log.info("scenario %r: %d steps", self.scenario.name, len(self.scenario.steps))
        for step in self.scenario.steps:
            self._timers.append(self._modem.clock.call_later(step.at, self._player(step)))

    def _player(self, step: Step) -> Callable[[], None]:
        return lambda: self._play(step)

    def stop(self) -> None:
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()

    def _play(self, step: Step) -> None:
        log.warning("scenario %r at %gs: %s %s", self.scenario.name, step.at, step.action,
                    "" if step.value is True else step.value)  # fmt: skip
        self.played.append(step)
        if step.action == "network":  # a new profile: the one step that is not a fault
            link = self._modem.network
            set_profile = getattr(link, "set_profile", None)  # a LinkNetwork, maybe wrapped
            if callable(set_profile):
                set_profile(load_profile(step.value))
            else:
                log.error("scenario step at %gs: a network step needs --network", step.at)
            return
        name, body = as_fault(step)
        self._modem.spawn(self._fault(step, name, body))

    async def _fault(self, step: Step, name: str, body: dict[str, Any]) -> None:
        try:
            await faults.apply(self._modem, name, body)
        except faults.FaultError as exc:
            log.error("scenario step at %gs failed: %s", step.at, exc.message)


def as_fault(step: Step) -> tuple[str, dict[str, Any]]:
    """A step as the control plane's fault and body (control/faults.py does them all)."""
    value = step.value
    if step.action in ("detach", "attach"):
        return step.action, {}
    if step.action == "urc":
        return "urc", {"text": value}
    if step.action == "ce":
        return "ce", {"level": value}
    if step.action == "coverage_loss":
        return "coverage-loss", {"seconds": value}
    return step.action.replace("_", "-"), dict(value)  # signal, drop, delay, service_unreachable
