"""Answers that replace the module's own for chosen command lines (issue 12 §2).

A test sets them through the control plane: ``AT+CSQ`` answered ``+CSQ: 5,0`` /
``OK`` once, or until cleared.  The module consults them before it parses a
command line (``Modem._run_commands``): a matching line is answered with the
override's bytes and nothing else happens (no handler runs, no data mode starts).

Matching ignores case and the spaces around the line.  A command ending in ``*``
matches every line that starts with what comes before it (``AT+QIOPEN=*``).  An
exact match wins over a prefix, a longer prefix over a shorter one.
"""

from __future__ import annotations

from dataclasses import dataclass

from bc66sim.at.results import line


@dataclass
class Override:
    """One replaced answer; ``used`` counts the lines it answered."""

    command: str
    response: bytes
    once: bool
    used: int = 0

    def describe(self) -> dict[str, object]:
        return {"command": self.command, "response": self.response.decode("latin-1"),
                "once": self.once, "used": self.used}  # fmt: skip


def framed(lines: list[str]) -> bytes:
    """Lines framed as the module frames its own (``\\r\\n<text>\\r\\n`` each)."""
    return b"".join(line(text) for text in lines)


class Overrides:
    """The overrides in force, by command."""

    def __init__(self) -> None:
        self._by_command: dict[str, Override] = {}

    def set(self, command: str, response: bytes, *, once: bool = False) -> Override:
        """Answer ``command`` with exactly ``response`` (replacing an earlier override)."""
        key = _key(command)
        if not key.startswith("AT"):
            raise ValueError(f"a command line starts with AT, not {command!r}")
        override = Override(command.strip(), response, once)
        self._by_command[key] = override
        return override

    def clear(self) -> int:
        """Remove them all; how many there were."""
        count = len(self._by_command)
        self._by_command.clear()
        return count

    def all(self) -> list[Override]:
        return list(self._by_command.values())

    def answer(self, text: bytes) -> bytes | None:
        """The bytes that answer this command line instead of the module, or None."""
        if not self._by_command:
            return None
        key = _key(text.decode("latin-1"))
        found = self._by_command.get(key)
        if found is None:
            prefixes = [k for k in self._by_command if k.endswith("*") and key.startswith(k[:-1])]
            if not prefixes:
                return None
            found = self._by_command[max(prefixes, key=len)]
        found.used += 1
        if found.once:
            del self._by_command[_key(found.command)]
        return found.response


def _key(command: str) -> str:
    return command.strip().upper()
