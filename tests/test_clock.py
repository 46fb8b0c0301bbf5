"""One clock (issue 10 §1): module time is handed to the module, never read behind its back.

With a :class:`ManualClock` a test drives hours of module time in milliseconds:
the attach after an hour, the RTC counting, timers firing in order.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from pathlib import Path

import pytest

from bc66sim.clock import MANUAL_EPOCH, ManualClock, ScaledClock
from bc66sim.module.modem import Modem, ModemConfig
from bc66sim.net.host import HostNetwork

MODULE = Path(__file__).resolve().parents[1] / "src" / "bc66sim" / "module"


async def test_timers_fire_in_order_at_their_own_time() -> None:
    clock = ManualClock()
    fired: list[tuple[str, float]] = []
    clock.call_later(3, lambda: fired.append(("c", clock.now())))
    clock.call_later(1, lambda: fired.append(("a", clock.now())))
    cancelled = clock.call_later(2, lambda: fired.append(("never", clock.now())))
    clock.call_at(2, lambda: fired.append(("b", clock.now())))
    cancelled.cancel()
    await clock.advance(2.5)
    assert fired == [("a", 1), ("b", 2)]
    assert clock.now() == 2.5
    await clock.advance(10)
    assert fired[-1] == ("c", 3) and clock.now() == 12.5
    assert clock.utc() == MANUAL_EPOCH + dt.timedelta(seconds=12.5)


async def test_sleeping_tasks_wake_in_order_and_chain() -> None:
    clock = ManualClock()
    woke: list[float] = []

    async def sleeper() -> None:
        for _ in range(3):
            await clock.sleep_until(clock.now() + 60)  # each wake arms the next sleep
            woke.append(clock.now())

    task = asyncio.create_task(sleeper())
    await clock.advance(150)
    assert woke == [60, 120]
    await clock.advance(30)
    assert woke == [60, 120, 180]
    await task


async def test_scaled_clock_runs_faster() -> None:
    clock = ScaledClock(1000)
    loop = asyncio.get_running_loop()
    handle = clock.call_later(3600, lambda: None)  # an hour of module time
    assert handle.when() - loop.time() == pytest.approx(3.6, abs=0.05)  # type: ignore[attr-defined]
    handle.cancel()
    with pytest.raises(ValueError):
        ScaledClock(0)


def run_lines(modem: Modem, out: bytearray, *lines: str) -> bytes:
    out.clear()
    for text in lines:
        modem.receive_data(text.encode() + b"\r\n")
    return bytes(out)


async def test_an_hour_of_module_time_in_milliseconds() -> None:
    """Attach after an hour, the RTC before and after the network gave it the time."""
    clock = ManualClock()
    out = bytearray()
    modem = Modem(HostNetwork(), config=ModemConfig(attach_delay=3600), clock=clock)
    modem.attach_output(out.extend)
    modem.power_on()
    assert bytes(out) == b"\r\nRDY\r\n"
    await clock.advance(3599)
    reply = run_lines(modem, out, "ATE0", "AT+CGATT?", "AT+CCLK?")
    assert b"+CGATT: 0" in reply
    assert b'+CCLK: "00/01/01,00:59:59+00"' in reply  # counting from the module's epoch
    out.clear()
    await clock.advance(1)
    assert bytes(out) == b"\r\n+IP: 10.20.30.40\r\n"
    assert b'+CCLK: "26/01/01,01:00:00+00"' in run_lines(modem, out, "AT+CCLK?")  # network time
    await clock.advance(2 * 3600 + 30)
    assert b'+CCLK: "26/01/01,03:00:30+00"' in run_lines(modem, out, "AT+CCLK?")
    await modem.close()


async def test_a_cr_lf_hosts_line_waits_for_its_lf_in_module_time() -> None:
    clock = ManualClock()
    out = bytearray()
    modem = Modem(HostNetwork(), config=ModemConfig(attach_delay=0), clock=clock)
    modem.attach_output(out.extend)
    modem.power_on()
    await clock.advance(0)
    out.clear()
    modem.receive_data(b"AT\r")  # a fresh host is taken to end lines with CR LF
    await clock.advance(0.049)
    assert bytes(out) == b""
    await clock.advance(0.001)
    assert bytes(out) == b"AT\r\r\nOK\r\n"
    await modem.close()


FORBIDDEN = re.compile(
    r"time\.monotonic\(|time\.time\(|datetime\.now\(|asyncio\.sleep\(|\bloop\.time\(|"
    r"(?<!clock)\.call_(later|at)\(|^import time$|^from time "
)


def test_the_module_reads_no_clock_but_its_own() -> None:
    """No file in module/ reads a clock or arms a timer except through the Clock."""
    found = [
        f"{path.name}:{number}: {text.strip()}"
        for path in sorted(MODULE.glob("*.py"))
        for number, text in enumerate(path.read_text().splitlines(), 1)
        if FORBIDDEN.search(text)
    ]
    assert found == []


async def test_a_failing_timer_does_not_stop_time(caplog: pytest.LogCaptureFixture) -> None:
    clock = ManualClock()
    fired: list[float] = []

    def broken() -> None:
        raise RuntimeError("a bug")

    clock.call_later(1, broken)
    clock.call_later(2, lambda: fired.append(clock.now()))
    await clock.advance(3)
    assert fired == [2] and clock.now() == 3
    assert "a timer's callback failed" in caplog.text
