"""The socket commands (§2.3.1–§2.3.7) and the URCs of incoming data (§2.4).

:class:`SocketService` owns the five sockets and turns what their flows report
into URCs; the ``_qi*`` functions are the command handlers.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from bc66sim.at.results import line
from bc66sim.module.commands import (
    CONTEXT_ID,
    Args,
    BadParameter,
    CommandTable,
    DataPrompt,
    Reply,
    Result,
    Spec,
    answer_ok,
    decode_hex,
    note,
)
from bc66sim.module.errors import CommandError, Err
from bc66sim.module.params import Int, Text, Word
from bc66sim.module.socket import AccessMode, Socket, SocketEvent, SocketState
from bc66sim.net.base import Family, NetError, Transport
from bc66sim.note.limits import (
    CONTEXT_IDS,
    MAX_DATA_MODE_HEX,
    MAX_DATA_MODE_TEXT,
    MAX_HOST_LENGTH,
    MAX_READ,
    MAX_SEND_HEX,
    MAX_SEND_TEXT,
    MAX_SOCKETS,
    MAX_URC,
    NODE_SIZE,
    SUPPORTED_CONTEXT,
)

if TYPE_CHECKING:
    from bc66sim.module.modem import Modem

log = logging.getLogger(__name__)

_IDS = f"(0-{MAX_SOCKETS - 1})"


#: ``<connectID>`` 0-4 (§2.3.1).
CONNECT_ID = Int("connectID", values=range(MAX_SOCKETS))
_ON_OFF = (0, 1)


def register(table: CommandTable) -> None:
    table.add(
        Spec(
            "+QIOPEN",
            tcpip=True,
            section=note("2.3.1"),
            params=(
                CONTEXT_ID,
                CONNECT_ID,
                Word("service_type", choices=("TCP", "UDP"), shown='"TCP/UDP"'),
                Text("IP_address>/<domain_name", max_length=MAX_HOST_LENGTH),
                Int("remote_port", values=range(1, 65536), shown="<remote_port>"),
                Int("local_port", values=range(65536), default=0, shown="<local_port>"),
                Int("access_mode", values=_ON_OFF, default=0),
                Int("protocol_type", values=_ON_OFF, default=0),
            ),
            write=_qiopen,
        ),
        Spec("+QICLOSE", tcpip=True, section=note("2.3.2"), params=(CONNECT_ID,), write=_qiclose),
        Spec(
            "+QISTATE",
            tcpip=True,
            section=note("2.3.3"),
            # <contextID> for query type 0, <connectID> for 1: the handler tells which.
            params=(Int("query_type", values=_ON_OFF), Int("ID", values=range(MAX_SOCKETS))),
            test=(),
            read=_qistate_all,
            write=_qistate,
        ),
        Spec(
            "+QISEND",
            tcpip=True,
            section=note("2.3.4"),
            params=(
                CONNECT_ID,
                # Up to 1460 in data mode (§2.3.4); the test form shows the inline limit.
                Int(
                    "send_length",
                    values=range(MAX_DATA_MODE_TEXT + 1),
                    optional=True,
                    shown=f"(0-{MAX_SEND_TEXT})",
                ),
                Text("data", max_length=2 * MAX_SEND_TEXT, optional=True, quoted=False),
            ),
            write=_qisend,
        ),
        Spec(
            "+QISENDEX",
            tcpip=True,
            section=note("2.3.6"),
            params=(
                CONNECT_ID,
                Int("send_length", values=range(1, MAX_SEND_HEX + 1)),
                Text("hex_string", max_length=2 * MAX_SEND_HEX, quoted=False),
            ),
            write=_qisendex,
        ),
        Spec(
            "+QIRD",
            tcpip=True,
            section=note("2.3.5"),
            params=(CONNECT_ID, Int("read_length", values=range(1, MAX_READ + 1))),
            write=_qird,
        ),
        Spec(
            "+QISWTMD",
            tcpip=True,
            section=note("2.3.7"),
            params=(CONNECT_ID, Int("access_mode", values=_ON_OFF)),
            read=answer_ok,
            write=_qiswtmd,
        ),
    )


class _FlowListener:
    """Relays one flow's events to the service; holds them until the open is reported.

    It is also the socket's :class:`~bc66sim.module.power.Receiver`: what the network
    held for an unreachable module comes back through it.
    """

    def __init__(self, service: SocketService, sock: Socket) -> None:
        self._service = service
        self._sock = sock
        self._early: list[bytes | None] | None = []
        sock.receiver = self

    @property
    def transport(self) -> Transport:
        return self._sock.transport

    def describe(self) -> str:
        return f"socket {self._sock.connect_id}"

    def on_data(self, data: bytes) -> None:
        self._service.on_data(self._sock, data)

    def on_closed(self) -> None:
        self._service.on_closed(self._sock)

    def hold_reading(self) -> None:
        self._service.hold_reading(self._sock)

    def maybe_resume(self) -> None:
        self._service.maybe_resume(self._sock)

    def flow_data(self, data: bytes) -> None:
        if self._early is not None:
            self._early.append(data)
        else:
            self._service.arrived(self._sock, data)

    def flow_closed(self, reason: str) -> None:
        log.info("socket %d closed: %s", self._sock.connect_id, reason)
        if self._early is not None:
            self._early.append(None)
        else:
            self._service.arrived(self._sock, None)

    def release(self) -> None:
        """The open was reported: replay what arrived before it."""
        early, self._early = self._early or [], None
        for item in early:
            self._service.arrived(self._sock, item)


class SocketService:
    """The five socket services of the module."""

    def __init__(self, modem: Modem) -> None:
        self._modem = modem
        self.table: list[Socket | None] = [None] * MAX_SOCKETS

    def get(self, connect_id: int) -> Socket:
        """The allocated socket, or ``ERROR`` 572 (a TCP/IP command on a free id)."""
        sock = self.table[connect_id]
        if sock is None:
            raise CommandError(Err.NOT_ALLOWED)
        return sock

    # -- open / close --------------------------------------------------------------

    def open(self, sock: Socket) -> None:
        """§2.3.1: answer OK now; the outcome follows as ``+QIOPEN: <id>,<err>``."""
        self.table[sock.connect_id] = sock
        if not self._modem.radio.attached:
            self._report_open(sock, Err.OPEN_PDP_FAILED)
            return
        self._modem.power.uplink()  # the handshake (or the first datagram's setup)
        self._modem.spawn(self._connect(sock))

    async def _connect(self, sock: Socket) -> None:
        listener = _FlowListener(self, sock)
        try:
            address = await self._modem.dns.address_of(sock.host, sock.family, sock.remote_port)
            flow = await self._modem.network.open_flow(
                sock.transport,
                address,
                sock.remote_port,
                local_port=sock.local_port,
                family=sock.family,
                listener=listener,
                timeout=self._modem.config.open_timeout,
            )
        except NetError as exc:
            log.info("socket %d: open failed: %s", sock.connect_id, exc)
            if self._still_opening(sock):
                self._report_open(sock, exc.code)
            return
        if not self._still_opening(sock):
            flow.close()  # closed, or the network lost, while connecting
            return
        sock.flow = flow
        sock.handle(SocketEvent.OPENED)
        log.info(
            "socket %d: %s to %s:%d from local port %d",
            sock.connect_id,
            sock.transport.value,
            sock.host,
            sock.remote_port,
            flow.local_port,
        )
        self._report_open(sock, Err.OK)
        listener.release()

    def _still_opening(self, sock: Socket) -> bool:
        return self.table[sock.connect_id] is sock and sock.state is SocketState.CONNECTING

    def _report_open(self, sock: Socket, code: Err) -> None:
        if code is not Err.OK:
            sock.handle(SocketEvent.OPEN_FAILED)  # allocated until AT+QICLOSE (§2.3.1 note 3)
        self._modem.last_error = code
        self._modem.emit_urc(line(f"+QIOPEN: {sock.connect_id},{int(code)}"))

    def close(self, sock: Socket) -> None:
        """§2.3.2: free the id at once; bytes already accepted still reach the peer."""
        self.table[sock.connect_id] = None
        if sock.flow is not None:
            sock.flow.close()
            sock.flow = None
        sock.nodes.clear()
        if sock.transport is Transport.TCP:
            self._modem.power.socket_closed()  # deep sleep may be allowed now (§2.3.1 note 5)

    def close_all(self) -> None:
        """Reboot or power down: every socket closed, no URC."""
        for sock in self.table:
            if sock is not None:
                self.close(sock)

    def network_lost(self) -> None:
        """The PDP context broke (detach).

        Connected sockets report ``"closed"`` (§2.4.1); an open still in progress
        fails with 570 (PDP context broken down).
        """
        for sock in self.table:
            if sock is None:
                continue
            if sock.flow is not None:
                sock.flow.close()
                sock.flow = None
            if sock.state is SocketState.CONNECTED:
                self._mark_closed(sock)
            elif sock.state is SocketState.CONNECTING:
                self._report_open(sock, Err.PDP_BROKEN)

    def reset_by_peer(self, connect_id: int) -> None:
        """The peer resets a connected TCP socket (the control plane's fault): the real
        flow is aborted, and the module hears of it as of any close from the network
        (``+QIURC: "closed"``, once it is reachable).  ValueError says why it cannot."""
        sock = self.table[connect_id]
        if sock is None or sock.transport is not Transport.TCP:
            what = "not open" if sock is None else "UDP: it has no connection to reset"
            raise ValueError(f"socket {connect_id} is {what}")
        if sock.state is not SocketState.CONNECTED or sock.flow is None:
            raise ValueError(f"socket {connect_id} is not connected ({sock.state.name.lower()})")
        sock.flow.abort()
        self.arrived(sock, None)

    # -- incoming data -------------------------------------------------------------

    def arrived(self, sock: Socket, data: bytes | None) -> None:
        """Downlink for ``sock`` (None: the peer closed) reached the network; the
        radio delivers it when the module is reachable (module/power.py)."""
        if sock.receiver is not None:
            self._modem.power.downlink(sock.receiver, data)

    def hold_reading(self, sock: Socket) -> None:
        """The network holds this TCP socket's data: stop reading until it delivers."""
        self._pause(sock)

    def on_data(self, sock: Socket, data: bytes) -> None:
        if self.table[sock.connect_id] is not sock or sock.state is not SocketState.CONNECTED:
            return
        if sock.transport is Transport.UDP and len(data) > NODE_SIZE:
            # CLARIFICATIONS §16: a node holds at most 1460 bytes, and a node is a whole
            # datagram: the module's stack cannot take a larger one, so it is dropped whole.
            log.warning("socket %d: UDP datagram of %d bytes dropped: larger than %d bytes",
                        sock.connect_id, len(data), NODE_SIZE)  # fmt: skip
            return
        sock.received += len(data)
        if sock.access_mode is AccessMode.DIRECT_PUSH:
            self._push(sock, data)
        else:
            self._buffer(sock, data)

    def on_closed(self, sock: Socket) -> None:
        if self.table[sock.connect_id] is sock and sock.state is SocketState.CONNECTED:
            sock.flow = None
            self._mark_closed(sock)

    def _mark_closed(self, sock: Socket) -> None:
        sock.handle(SocketEvent.CLOSED_BY_PEER)  # CLARIFICATIONS §11
        self._modem.emit_urc(line(f'+QIURC: "closed",{sock.connect_id}'))

    def _buffer(self, sock: Socket, data: bytes) -> None:
        """Buffer access mode (§1.2, CLARIFICATIONS §16–17)."""
        was_empty = not sock.nodes
        if not sock.store(data):
            if sock.transport is Transport.UDP:
                log.warning("socket %d: buffer full, UDP datagram dropped", sock.connect_id)
                return
            sock.nodes.append(data)  # TCP data is never dropped
        nv = self._modem.nv
        if was_empty:
            length = f",{len(data)}" if nv.show_length else ""
            self._modem.emit_urc(line(f'+QIURC: "recv",{sock.connect_id}{length}'))
        if sock.buffer_full and not sock.buff_full_reported:
            sock.buff_full_reported = True
            self._modem.emit_urc(line(f'+QIURC: "recv",{sock.connect_id},"buff full"'))
            if sock.transport is Transport.TCP:
                self._pause(sock)

    def _push(self, sock: Socket, data: bytes) -> None:
        """Direct push mode: data in URCs of at most 1400 bytes (§2.4 notes 4–5)."""
        nv = self._modem.nv
        per_byte = 2 if nv.recv_hex else 1
        if sock.transport is Transport.UDP:
            urc = self._recv_urc(sock, data)
            if len(urc) > MAX_URC or self._modem.output_blocked:
                # A whole datagram, as the module's stack drops one it cannot pass on.
                why = "too long for a URC" if len(urc) > MAX_URC else "the host is not reading"
                log.warning("socket %d: UDP datagram of %d bytes dropped: %s",
                            sock.connect_id, len(data), why)  # fmt: skip
                return
            self._modem.emit_urc(line(urc))
            return
        header = len(self._recv_urc(sock, b"")) + len(str(MAX_URC))
        step = (MAX_URC - header) // per_byte
        for start in range(0, len(data), step):
            self._modem.emit_urc(line(self._recv_urc(sock, data[start : start + step])))
        if self._modem.output_blocked:
            self._pause(sock)

    def _recv_urc(self, sock: Socket, data: bytes) -> bytes:
        """``+QIURC: "recv",<id>,<n>`` and the data, per view mode (CLARIFICATIONS §18)."""
        nv = self._modem.nv
        separator = b"," if nv.view_mode else b"\r\n"
        head = f'+QIURC: "recv",{sock.connect_id},{len(data)}'.encode()
        return head + separator + self.format_data(data)

    def format_data(self, data: bytes) -> bytes:
        """Raw bytes, or upper-case hex in hex receive format (CLARIFICATIONS §13)."""
        return data.hex().upper().encode() if self._modem.nv.recv_hex else data

    # -- flow control --------------------------------------------------------------

    def _pause(self, sock: Socket) -> None:
        if sock.flow is not None and not sock.paused:
            sock.paused = True
            sock.flow.pause_reading()
            if sock.access_mode is AccessMode.DIRECT_PUSH:
                self._modem.when_output_drains(lambda: self.maybe_resume(sock))

    def maybe_resume(self, sock: Socket) -> None:
        """Read again once the buffer has a free node and the URC queue has room."""
        if not sock.paused or sock.flow is None or self.table[sock.connect_id] is not sock:
            return
        if sock.receiver is not None and self._modem.power.holding(sock.receiver):
            return  # the module is unreachable: its data waits in the network
        if sock.access_mode is AccessMode.BUFFER and sock.buffer_full:
            return
        if self._modem.output_blocked:
            self._modem.when_output_drains(lambda: self.maybe_resume(sock))
            return
        sock.paused = False
        sock.flow.resume_reading()

    def switch_mode(self, sock: Socket, mode: AccessMode) -> None:
        """§2.3.7; to direct push, buffered data is pushed first (CLARIFICATIONS §20)."""
        sock.access_mode = mode
        if mode is AccessMode.DIRECT_PUSH:
            for chunk in sock.take_all():
                self._push(sock, chunk)
        self.maybe_resume(sock)


# -- handlers -------------------------------------------------------------------------


def _qiopen(modem: Modem, args: Args, reply: Reply) -> Result:
    """§2.3.1 AT+QIOPEN."""
    connect_id = args.number(1)
    host = args.text(3)
    if not host:
        raise BadParameter("empty host")
    sock = Socket(
        connect_id=connect_id,
        transport=Transport(args.text(2)),
        host=host,
        remote_port=args.number(4),
        local_port=args.number(5),
        access_mode=AccessMode(args.number(6)),
        family=Family(args.number(7)),
    )
    if modem.sockets.table[connect_id] is not None:
        # CLARIFICATIONS §9: OK, then the id-in-use error as the outcome.
        modem.emit_urc(line(f"+QIOPEN: {connect_id},{int(Err.SOCKET_ID_USED)}"))
        modem.last_error = Err.SOCKET_ID_USED
        return None
    modem.sockets.open(sock)
    return None


def _qiclose(modem: Modem, args: Args, reply: Reply) -> Result:
    """§2.3.2 AT+QICLOSE: ``OK`` then ``CLOSE OK``."""
    sock = modem.sockets.get(args.number(0))
    modem.sockets.close(sock)
    reply.after_ok("CLOSE OK")
    return None


def _qistate_all(modem: Modem, args: Args, reply: Reply) -> Result:
    """§2.3.3 AT+QISTATE?: every existing connection."""
    for sock in modem.sockets.table:
        if sock is not None:
            reply.line(sock.istate_line())
    return None


def _qistate(modem: Modem, args: Args, reply: Reply) -> Result:
    """§2.3.3 AT+QISTATE=<query_type>,<contextID|connectID>."""
    args.require(2, 2)
    if args.number(0) == 0:
        if args.number(1) not in CONTEXT_IDS:
            raise BadParameter("contextID 1-3")
        if args.number(1) != SUPPORTED_CONTEXT:
            raise CommandError(Err.NOT_SUPPORTED)  # CLARIFICATIONS §8
        return _qistate_all(modem, args, reply)
    sock = modem.sockets.table[args.number(1)]
    if sock is not None:
        reply.line(sock.istate_line())
    return None


def _sendable(modem: Modem, connect_id: int) -> Socket:
    """A socket that can take data now, or the reason it cannot, as ``ERROR``."""
    sock = modem.sockets.get(connect_id)
    if sock.state is SocketState.CONNECTED and sock.flow is not None:
        return sock
    if not modem.radio.attached:
        raise CommandError(Err.PDP_BROKEN)
    if sock.state is SocketState.REMOTE_CLOSING:
        raise CommandError(Err.SOCKET_CLOSED)
    raise CommandError(Err.NOT_ALLOWED)


def _send(modem: Modem, sock: Socket, payload: bytes, reply: Reply) -> None:
    """Hand the payload to the stack: ``SEND OK``, or ``SEND FAIL`` when its buffer is full."""
    if not payload:
        raise BadParameter("nothing to send")
    modem.power.uplink(len(payload))
    assert sock.flow is not None
    if sock.flow.send(payload):
        sock.sent += len(payload)
        reply.after_ok("SEND OK")
    else:
        log.info("socket %d: send buffer full, SEND FAIL", sock.connect_id)
        modem.last_error = Err.SOCKET_WRITE_FAILED
        reply.after_ok("SEND FAIL")


def _qisend(modem: Modem, args: Args, reply: Reply) -> Result:
    """§2.3.4 AT+QISEND, all four forms."""
    connect_id = args.number(0)
    hex_mode = bool(modem.nv.send_hex)
    if len(args) == 2 and args.given(1) and args.number(1) == 0:
        return _qisend_query(modem, connect_id, reply)
    if len(args) == 3:
        length = _length(args, MAX_SEND_HEX if hex_mode else MAX_SEND_TEXT)
        if not args.given(2):
            raise BadParameter("the data is missing")
        data = args.text(2)
        payload = decode_hex(data, length) if hex_mode else data.encode("latin-1")
        if len(payload) != length:
            raise BadParameter("data does not match its length (§2.3.4 note 2)")
        _send(modem, _sendable(modem, connect_id), payload, reply)
        return None
    max_bytes = MAX_DATA_MODE_HEX if hex_mode else MAX_DATA_MODE_TEXT
    fixed = _length(args, max_bytes) if len(args) == 2 else None
    sock = _sendable(modem, connect_id)
    per_byte = 2 if hex_mode else 1

    def complete(data: bytes, final: Reply) -> None:
        payload = decode_hex(data, len(data) // 2) if hex_mode else data
        _send(modem, _sendable(modem, sock.connect_id), payload, final)

    return DataPrompt(
        fixed_length=None if fixed is None else fixed * per_byte,
        max_length=max_bytes * per_byte,
        complete=complete,
    )


def _length(args: Args, most: int) -> int:
    """``<send_length>`` 1 to ``most``: what the form and the data format allow."""
    if not args.given(1):
        raise BadParameter("send length missing")
    length = args.number(1)
    if not 1 <= length <= most:
        raise BadParameter(f"send length 1-{most}: {length}")
    return length


def _qisend_query(modem: Modem, connect_id: int, reply: Reply) -> Result:
    """``AT+QISEND=<id>,0``: sent, acked and not acked bytes (CLARIFICATIONS §15)."""
    sock = modem.sockets.get(connect_id)
    if sock.transport is Transport.UDP:
        reply.line(f"+QISEND: {sock.sent},0,0")  # acknowledgement is TCP's only
        return None
    unacked = sock.flow.unacked() if sock.flow is not None else 0
    unacked = min(unacked, sock.sent)
    reply.line(f"+QISEND: {sock.sent},{sock.sent - unacked},{unacked}")
    return None


def _qisendex(modem: Modem, args: Args, reply: Reply) -> Result:
    """§2.3.6 AT+QISENDEX: hex string data, whatever the data format."""
    connect_id = args.number(0)
    payload = decode_hex(args.text(2), args.number(1))
    _send(modem, _sendable(modem, connect_id), payload, reply)
    return None


def _qird(modem: Modem, args: Args, reply: Reply) -> Result:
    """§2.3.5 AT+QIRD, in both view modes (CLARIFICATIONS §18)."""
    connect_id, max_length = args.number(0), args.number(1)
    sock = modem.sockets.get(connect_id)
    if sock.access_mode is not AccessMode.BUFFER:
        raise CommandError(Err.NOT_ALLOWED)
    data, remaining = sock.read(max_length)
    if not data:
        reply.line("+QIRD: 0")
        return None
    header = f"+QIRD: {len(data)}"
    if modem.nv.show_length:
        header += f",{remaining}"
    shown = modem.sockets.format_data(data)
    if modem.nv.view_mode:
        reply.line(header.encode() + b"," + shown)
    else:
        reply.line(header)
        reply.raw(shown + b"\r\n")
    modem.sockets.maybe_resume(sock)
    return None


def _qiswtmd(modem: Modem, args: Args, reply: Reply) -> Result:
    """§2.3.7 AT+QISWTMD."""
    connect_id, mode = args.number(0), AccessMode(args.number(1))
    modem.sockets.switch_mode(modem.sockets.get(connect_id), mode)
    return None
