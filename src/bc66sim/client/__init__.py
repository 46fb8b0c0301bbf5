"""The host driver: talk to any BC66, real or emulated, from Python.

``BC66`` / ``Socket`` block; ``AsyncBC66`` / ``AsyncSocket`` are the asyncio core
underneath.  See the README's "Host driver" section.
"""

from bc66sim.client.aio import AsyncBC66, PingReply, PingResult
from bc66sim.client.errors import (
    BC66Error,
    BC66Timeout,
    CommandError,
    ConnectionLost,
    LocalProtocolError,
    ModuleRebooted,
    NetworkLost,
    ProtocolError,
    SocketClosed,
)
from bc66sim.client.sockets import AsyncSocket
from bc66sim.client.sync import BC66, Socket

__all__ = [
    "BC66",
    "AsyncBC66",
    "AsyncSocket",
    "BC66Error",
    "BC66Timeout",
    "CommandError",
    "ConnectionLost",
    "LocalProtocolError",
    "ModuleRebooted",
    "NetworkLost",
    "PingReply",
    "PingResult",
    "ProtocolError",
    "Socket",
    "SocketClosed",
]
