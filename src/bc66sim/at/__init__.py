"""Pure AT protocol code: bytes in, commands and payloads out; lines out, bytes out.

No asyncio, no sockets, no clocks (see docs/ARCHITECTURE.md).
"""

from bc66sim.at.framer import (
    CommandLine,
    DataCancelled,
    DataEntered,
    DataTooLong,
    Event,
    Framer,
    LineTooLong,
)
from bc66sim.at.parser import Arg, Command, Form, ParseError, parse_line

__all__ = [
    "Arg",
    "Command",
    "CommandLine",
    "DataCancelled",
    "DataEntered",
    "DataTooLong",
    "Event",
    "Form",
    "Framer",
    "LineTooLong",
    "ParseError",
    "parse_line",
]
