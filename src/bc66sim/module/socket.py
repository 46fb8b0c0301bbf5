"""One socket service: its state machine and its receive buffer.

Everything that affects a socket's state lives here.  The states are those of
``<socket_state>`` (§2.3.3)::

    (free) --QIOPEN--> CONNECTING --ok--> CONNECTED --peer/network closed--> REMOTE_CLOSING
                           |                  |                                   |
                           +--failed--> INITIAL (kept until QICLOSE, §2.3.1)      |
                                              +------------QICLOSE--------> (free) <--+

UDP passes CONNECTING at once (CLARIFICATIONS §10).  ``CLOSING`` (3) is never
observable: ``AT+QICLOSE`` completes before it answers, and frees the id.

The transitions are data (:data:`TRANSITIONS`, as h11's ``_state.py`` keeps its
own): every change of state goes through :meth:`Socket.handle`, and an event a
state does not expect is a bug (:class:`InvalidTransition`), never a silent change.
"""

from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bc66sim.net.base import Family, Flow, Transport
from bc66sim.note.limits import MAX_NODES

if TYPE_CHECKING:
    from bc66sim.module.power import Receiver


class SocketState(enum.IntEnum):
    """``<socket_state>`` of §2.3.3."""

    INITIAL = 0
    CONNECTING = 1
    CONNECTED = 2
    CLOSING = 3
    REMOTE_CLOSING = 4


class SocketEvent(enum.Enum):
    """What happens to a socket, as the module's stack sees it."""

    OPENED = "the flow opened"
    OPEN_FAILED = "the open failed"
    CLOSED_BY_PEER = "the peer or the network closed the flow"


#: The socket's life (§2.3.3): (state, event) -> the next state.
TRANSITIONS: dict[tuple[SocketState, SocketEvent], SocketState] = {
    (SocketState.CONNECTING, SocketEvent.OPENED): SocketState.CONNECTED,
    (SocketState.CONNECTING, SocketEvent.OPEN_FAILED): SocketState.INITIAL,
    (SocketState.CONNECTED, SocketEvent.CLOSED_BY_PEER): SocketState.REMOTE_CLOSING,
}


class InvalidTransition(Exception):
    """An event the socket's state does not expect: a bug in the module."""


class AccessMode(enum.IntEnum):
    """``<access_mode>`` of §2.3.1 (§1.2)."""

    BUFFER = 0
    DIRECT_PUSH = 1


@dataclass
class Socket:
    """A socket service and, in buffer access mode, its received-data nodes."""

    connect_id: int
    transport: Transport
    host: str
    remote_port: int
    local_port: int
    access_mode: AccessMode
    family: Family
    state: SocketState = SocketState.CONNECTING
    flow: Flow | None = None
    #: Total payload bytes handed to the stack (``<sent>`` of §2.3.4).
    sent: int = 0
    #: Total payload bytes that arrived from the network for it (the dashboard's table).
    received: int = 0
    #: Buffer access mode: one node per TCP read or UDP datagram (CLARIFICATIONS §16).
    nodes: deque[bytes] = field(default_factory=deque)
    #: Bytes already read from the head node.
    head_read: int = 0
    buff_full_reported: bool = False
    #: TCP reading is paused: the buffer is full, or the URC queue is.
    paused: bool = False
    #: Where the network hands this socket's downlink (module/power.py).
    receiver: Receiver | None = None

    def handle(self, event: SocketEvent) -> SocketState:
        """Move to the state :data:`TRANSITIONS` gives for ``event``; the only way to move."""
        try:
            self.state = TRANSITIONS[self.state, event]
        except KeyError:
            raise InvalidTransition(
                f"socket {self.connect_id}: {event.value} while {self.state.name}"
            ) from None
        return self.state

    def istate_line(self) -> str:
        """One ``+QISTATE:`` line (§2.3.3); the host as given, local port as given."""
        return (
            f'+QISTATE: {self.connect_id},"{self.transport.value}","{self.host}",'
            f"{self.remote_port},{self.local_port},{int(self.state)},1,{int(self.access_mode)}"
        )

    # -- buffer access mode ----------------------------------------------------------

    @property
    def buffer_full(self) -> bool:
        return len(self.nodes) >= MAX_NODES

    def store(self, data: bytes) -> bool:
        """Keep a node; False when all 20 are taken (the caller drops or pauses)."""
        if self.buffer_full:
            return False
        self.nodes.append(data)
        return True

    def read(self, max_length: int) -> tuple[bytes, int]:
        """Up to ``max_length`` bytes of the head node and what remains in it (§2.3.5 note 3)."""
        if not self.nodes:
            return b"", 0
        head = self.nodes[0]
        chunk = head[self.head_read : self.head_read + max_length]
        self.head_read += len(chunk)
        remaining = len(head) - self.head_read
        if remaining == 0:
            self.nodes.popleft()
            self.head_read = 0
            self.buff_full_reported = False
        return chunk, remaining

    def take_all(self) -> list[bytes]:
        """Empty the buffer (switch to direct push, CLARIFICATIONS §20)."""
        chunks = list(self.nodes)
        if chunks:
            chunks[0] = chunks[0][self.head_read :]
        self.nodes.clear()
        self.head_read = 0
        self.buff_full_reported = False
        return [chunk for chunk in chunks if chunk]
