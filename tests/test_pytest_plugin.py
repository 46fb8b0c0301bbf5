"""The shipped pytest plugin, used as a firmware team would: from their own test file."""

from __future__ import annotations

import pytest

USER_TESTS = """
import pytest
import serial

from bc66sim.client import BC66


def test_raw_serial(bc66_emulator):
    port = serial.serial_for_url(bc66_emulator.url, timeout=2)
    port.write(b"ATE0\\r")
    port.read_until(b"OK\\r\\n")
    port.write(b"AT+CGMM\\r")
    assert port.read_until(b"OK\\r\\n").endswith(b"\\r\\nQuectel_BC66\\r\\n\\r\\nOK\\r\\n")
    port.close()


@pytest.mark.bc66(transport="pty", attach_delay=0.2)
def test_driver_over_a_pty(bc66_emulator):
    assert not bc66_emulator.url.startswith("socket://")
    with BC66.open(bc66_emulator.url) as modem:
        modem.wait_ready(timeout=10)
        assert modem.command("AT+CGATT?") == ["+CGATT: 1"]


def test_stop_is_clean(bc66_emulator):
    assert bc66_emulator.stop() == 0
"""


def test_plugin_fixture_in_a_user_suite(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user=USER_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)


FAILING_TEST = """
import pytest
import serial


@pytest.mark.bc66(network="ideal", time_scale=10, factory_reset=True)
def test_that_fails(bc66_emulator):
    port = serial.serial_for_url(bc66_emulator.url, timeout=2)
    port.write(b"AT+CGMI\\r\\n")
    port.read_until(b"OK\\r\\n")
    assert False, "the firmware under test got it wrong"
"""


def test_a_failing_test_shows_the_at_trace(pytester: pytest.Pytester) -> None:
    """Any serve option in the marker; the module's AT trace in a failed test's report."""
    pytester.makepyfile(test_user=FAILING_TEST)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*bc66sim AT trace*", "*host> AT+CGMI\\r\\n*",
                                 "*<host*Quectel_Ltd*"])  # fmt: skip
