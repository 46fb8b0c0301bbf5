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
    MqttError,
    MqttRefused,
    NetworkLost,
    ProtocolError,
    SocketClosed,
)
from bc66sim.client.mqtt import AsyncMqttClient, Message, Tls, Will
from bc66sim.client.sockets import AsyncSocket
from bc66sim.client.sync import BC66, MqttClient, Socket

__all__ = [
    "BC66",
    "AsyncBC66",
    "AsyncMqttClient",
    "AsyncSocket",
    "BC66Error",
    "BC66Timeout",
    "CommandError",
    "ConnectionLost",
    "LocalProtocolError",
    "Message",
    "ModuleRebooted",
    "MqttClient",
    "MqttError",
    "MqttRefused",
    "NetworkLost",
    "PingReply",
    "PingResult",
    "ProtocolError",
    "Socket",
    "SocketClosed",
    "Tls",
    "Will",
]
