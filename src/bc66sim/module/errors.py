"""The module's way of answering an error from inside a handler."""

from __future__ import annotations

from bc66sim.note.errors import CmeError, Err

__all__ = ["CmeError", "CommandError", "Err"]


class CommandError(Exception):
    """Raised inside a handler to answer ``ERROR`` with a code.

    It never leaves the module: the dispatcher turns it into output (STYLE §6).
    """

    def __init__(self, code: Err | CmeError) -> None:
        super().__init__(code.name)
        self.code = code
