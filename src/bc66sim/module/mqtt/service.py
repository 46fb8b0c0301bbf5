"""The module's MQTT clients (six, ``<TCP_connectID>`` 0-5) and what they share: the
URC output, the SSL contexts, the module's power and its network's loss.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bc66sim.at.results import line
from bc66sim.module.mqtt.client import MqttClient, Phase, Stat
from bc66sim.module.mqtt.ssl_sockets import SslSockets
from bc66sim.module.mqtt.tls import SslSettings
from bc66sim.note.limits import MQTT_CLIENTS

if TYPE_CHECKING:
    from bc66sim.module.modem import Modem


class MqttService:
    def __init__(self, modem: Modem) -> None:
        self.modem = modem
        self.clients = [MqttClient(self, index) for index in range(MQTT_CLIENTS)]
        self.ssl = SslSettings()
        self.ssl_sockets = SslSockets(self)

    def urc(self, text: str) -> None:
        self.modem.emit_urc(line(text))

    def show_message(self, client: MqttClient, mid: int, topic: str, payload: bytes) -> None:
        """``+QMTRECV: <id>,<msgID>,"<topic>",[<len>,]"<payload>"``; the host's reading
        pace holds the broker back (flow control) instead of the URC queue growing."""
        config = client.config
        shown = payload.hex().upper().encode() if config.recv_hex else payload
        length = f"{len(payload)}," if config.show_recv_length else ""
        head = f'+QMTRECV: {client.id},{mid},"{topic}",{length}"'.encode()
        self.modem.emit_urc(line(head + shown + b'"'))
        if client.reception is not None:
            client.reception.after_output()

    def holds_a_connection(self) -> bool:
        """A TCP connection is open: the module does not go into deep sleep."""
        return self.ssl_sockets.holds_a_connection() or any(
            client.phase is not Phase.CLOSED for client in self.clients
        )

    def connection_gone(self) -> None:
        self.modem.power.socket_closed()

    def network_lost(self) -> None:
        """Detached: every connection is gone, and each says so (``+QMTSTAT: <id>,7``:
        the link is not alive; 1 is the broker's own close or reset)."""
        for client in self.clients:
            if client.phase is not Phase.CLOSED:
                client.lost(Stat.LINK_DOWN)
        self.ssl_sockets.network_lost()

    def shut(self) -> None:
        for client in self.clients:
            client.shut()
        self.ssl_sockets.shut()
        self.ssl = SslSettings()
