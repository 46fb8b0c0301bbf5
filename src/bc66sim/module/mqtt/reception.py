"""What one MQTT or SSL connection receives, from the network flow to its owner.

:class:`Reception` is the flow's listener and the network's
:class:`~bc66sim.module.power.Receiver` for one connection of an MQTT client
(client.py) or an SSL socket (ssl_sockets.py):

- a TLS handshake's records go to the handshake at once (nothing is held then);
- what arrives before the owner reported the connection open waits for
  :meth:`Reception.release`;
- what arrives after the owner let the connection go (:meth:`Reception.detach`)
  reaches nobody;
- reading pauses while the network holds the connection's data (the module is
  unreachable) or the host's output is blocked, and resumes when neither holds.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Protocol

from bc66sim.module.mqtt.tls import TlsFlow
from bc66sim.net.base import Flow, Transport

if TYPE_CHECKING:
    from bc66sim.module.modem import Modem

log = logging.getLogger(__name__)


class Owner(Protocol):
    def on_data(self, data: bytes) -> None: ...

    def on_closed(self) -> None: ...


class Reception:
    def __init__(self, modem: Modem, owner: Owner, name: str) -> None:
        self._modem = modem
        self._owner = owner
        self._name = name
        self._early: list[bytes | None] | None = []
        self._current = True
        #: Set by the owner once the TLS session is made (its handshake runs first).
        self.tls: TlsFlow | None = None
        #: What reading is paused and resumed on: the flow, or the TLS session over it.
        self.wire: Flow | TlsFlow | None = None
        self.paused = False

    def release(self) -> None:
        """The owner reported the connection open: what waited goes on."""
        early, self._early = self._early or [], None
        for item in early:
            self._arrived(item)

    def detach(self) -> None:
        """The owner let the connection go: late data reaches nobody."""
        self._current = False

    def after_output(self) -> None:
        """URCs were written for this connection: with the host's output blocked, read
        no more until it drains (the host's reading pace holds the peer back)."""
        if self._modem.output_blocked:
            self.hold_reading()
            self._modem.when_output_drains(self.maybe_resume)

    # -- the flow's listener --------------------------------------------------------------

    def flow_data(self, data: bytes) -> None:
        if self.tls is not None and self.tls.handshaking:
            self.tls.handshake_data(data)
        elif self._early is not None:
            self._early.append(data)
        else:
            self._arrived(data)

    def flow_closed(self, reason: str) -> None:
        log.info("%s: connection closed: %s", self._name, reason)
        if self.tls is not None and self.tls.handshaking:
            self.tls.handshake_closed()
        elif self._early is not None:
            self._early.append(None)
        else:
            self._arrived(None)

    def _arrived(self, data: bytes | None) -> None:
        if self._current:
            self._modem.power.downlink(self, data)

    # -- power.Receiver -------------------------------------------------------------------

    @property
    def transport(self) -> Transport:
        return Transport.TCP

    def describe(self) -> str:
        return self._name

    def on_data(self, data: bytes) -> None:
        if self._current:
            self._owner.on_data(data)

    def on_closed(self) -> None:
        if self._current:
            self._owner.on_closed()

    def hold_reading(self) -> None:
        if self._current and self.wire is not None and not self.paused:
            self.paused = True
            self.wire.pause_reading()

    def maybe_resume(self) -> None:
        if not self._current or not self.paused or self.wire is None:
            return
        if self._modem.power.holding(self):
            return  # the module is unreachable: its data waits in the network
        if self._modem.output_blocked:
            self._modem.when_output_drains(self.maybe_resume)
            return
        self.paused = False
        self.wire.resume_reading()
