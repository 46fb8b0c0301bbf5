"""The layers import only downwards (docs/ARCHITECTURE.md; issue 10).

``note/`` is a leaf; ``at/``, ``net/`` and ``client/`` import nothing from
``module/``.  The check reads the source, so it cannot be fooled by what happens
to be imported already.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "bc66sim"


def imports_of(folder: str) -> dict[str, set[str]]:
    """Every ``bc66sim.*`` module each file of ``folder`` imports."""
    found: dict[str, set[str]] = {}
    for path in sorted((PACKAGE / folder).rglob("*.py")):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module)
            elif isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
        found[path.name] = {name for name in names if name.startswith("bc66sim")}
    return found


@pytest.mark.parametrize(
    ("folder", "allowed"),
    [
        ("note", ("bc66sim.note",)),
        ("at", ("bc66sim.at", "bc66sim.note")),
        ("net", ("bc66sim.net", "bc66sim.note", "bc66sim.clock")),
        ("client", ("bc66sim.client", "bc66sim.note")),
    ],
)
def test_imports_go_downwards_only(folder: str, allowed: tuple[str, ...]) -> None:
    wrong = {
        file: sorted(name for name in names if not name.startswith(allowed))
        for file, names in imports_of(folder).items()
    }
    assert {file: names for file, names in wrong.items() if names} == {}


def test_the_module_reaches_the_world_only_through_the_network_seam() -> None:
    """module/ may use net/'s interface (base) and the policy, not a real network."""
    seam = ("bc66sim.net.base", "bc66sim.net.policy")
    wrong = {
        file: sorted(n for n in names if n.startswith("bc66sim.net") and n not in seam)
        for file, names in imports_of("module").items()
    }
    assert {file: names for file, names in wrong.items() if names} == {}


def test_socket_states_change_only_through_the_transition_table() -> None:
    """Issue 10 §5: every transition goes through Socket.handle (module/socket.py)."""
    import re

    from bc66sim.module.socket import (
        TRANSITIONS,
        InvalidTransition,
        Socket,
        SocketEvent,
        SocketState,
    )
    from bc66sim.net.base import Family, Transport

    assignments = [
        f"{path.name}:{number}"
        for path in sorted((PACKAGE / "module").glob("*.py"))
        for number, text in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"\.state\s*=[^=]", text)
    ]
    # Only the two tables' own handlers assign a state: Socket.handle, Power._handle.
    assert [where.split(":")[0] for where in assignments] == ["power.py", "socket.py"]
    sock = Socket(0, Transport.TCP, "h", 1, 0, 0, Family.IPV4)  # type: ignore[arg-type]
    assert sock.handle(SocketEvent.OPENED) is SocketState.CONNECTED
    with pytest.raises(InvalidTransition, match="the open failed while CONNECTED"):
        sock.handle(SocketEvent.OPEN_FAILED)
    assert sock.handle(SocketEvent.CLOSED_BY_PEER) is SocketState.REMOTE_CLOSING
    assert set(TRANSITIONS.values()) == {
        SocketState.CONNECTED, SocketState.INITIAL, SocketState.REMOTE_CLOSING
    }  # fmt: skip


def test_nothing_below_the_control_plane_imports_it() -> None:
    """control/ drives the module through its methods and reads its events; the module,
    the network and the transports never know it is there (docs/ARCHITECTURE.md)."""
    below = ("module", "net", "transport", "at", "note", "client")
    wrong = {
        f"{folder}/{file}": sorted(n for n in names if n.startswith("bc66sim.control"))
        for folder in below
        for file, names in imports_of(folder).items()
    }
    assert {where: names for where, names in wrong.items() if names} == {}


def test_the_control_client_needs_no_aiohttp() -> None:
    """``bc66sim ctl`` and the pytest fixture's client are the standard library only."""
    source = (PACKAGE / "control" / "client.py").read_text()
    assert "aiohttp" not in source
