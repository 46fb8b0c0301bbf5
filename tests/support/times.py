"""Reading the module's time answers (``AT+CCLK?``, ``+QNTP``) in the tests."""

from __future__ import annotations

import datetime as dt
import re

TIME = re.compile(rb'"(\d\d/\d\d/\d\d,\d\d:\d\d:\d\d)([+-]\d\d)"')


def parse(text: bytes) -> tuple[dt.datetime, int]:
    """The first ``"yy/MM/dd,hh:mm:ss±zz"`` in ``text``: the time in UTC, and the zone."""
    match = TIME.search(text)
    assert match is not None, text
    local = dt.datetime.strptime(match.group(1).decode(), "%y/%m/%d,%H:%M:%S")
    quarters = int(match.group(2))
    return local.replace(tzinfo=dt.UTC) - dt.timedelta(minutes=15 * quarters), quarters


def close_to_now(when: dt.datetime) -> bool:
    """Within 5 s of the host's UTC time."""
    return abs((when - dt.datetime.now(dt.UTC)).total_seconds()) < 5
