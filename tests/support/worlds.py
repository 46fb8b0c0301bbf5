"""The two worlds a module test runs in (tests/conftest.py: the ``world`` fixture).

``memory``: MemoryNetwork + ManualClock; ``host``: HostNetwork with real sockets and
servers on loopback.  ``@BOTH_WORLDS`` runs one test body in each: a behaviour that
the in-memory network and the real one must show alike.
"""

from __future__ import annotations

import pytest

WORLDS = ["memory", "host"]
BOTH_WORLDS = pytest.mark.parametrize("world", WORLDS, indirect=True)
