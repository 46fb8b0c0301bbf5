"""TLS sockets of the SSL note: ``AT+QSSLOPEN``, ``AT+QSSLSEND``, ``AT+QSSLCLOSE``.

A connection per ``<contextID>,<connectID>`` pair, with that pair's ``AT+QSSLCFG``
settings (the same contexts the MQTT clients use, tls.py).  Received data is always
pushed, ``+QSSLURC: "recv",<ctx>,<conn>,<len>,"<data>"`` (there is no buffer mode
and no ``AT+QSSLRECV`` on the BC66), and a server's close is
``+QSSLURC: "closed",<ctx>,<conn>``, after which the pair is free again.  Formats
and codes: docs/research/mqtt.md, "SSL sockets" (the BC66 note's text was not at
hand; Quectel's QuecOpen RIL and the BC660K SSL note give them).
"""

from __future__ import annotations

import enum
import logging
from typing import TYPE_CHECKING

from bc66sim.at.results import line
from bc66sim.module.commands import Args, BadParameter, DataPrompt, Reply, Result
from bc66sim.module.errors import CommandError, Err
from bc66sim.module.mqtt.reception import Reception
from bc66sim.module.mqtt.tls import TlsError, TlsFlow
from bc66sim.net.base import Family, NetError, Transport
from bc66sim.note.limits import MAX_DATA_MODE_HEX, MAX_DATA_MODE_TEXT, MAX_URC

if TYPE_CHECKING:
    from bc66sim.module.modem import Modem
    from bc66sim.module.mqtt.service import MqttService

log = logging.getLogger(__name__)

#: ``AT+QSSLOPEN``'s host is at most 150 bytes (as ``AT+QIOPEN``'s).
MAX_HOST = 150
#: A ``+QSSLURC: "recv"`` carries at most this many bytes of data: the rest follows
#: in the next one (a URC is at most 1400 bytes in all; the head takes some).
MAX_RECV_CHUNK = MAX_URC - 64


class SslErr(enum.IntEnum):
    """``<err>`` of ``+QSSLOPEN`` / ``+QSSLSEND`` / ``+QSSLCLOSE`` (BC660K SSL note)."""

    OK = 0
    EXCEPTION = 1
    CONNECTION = 2  # no route, refused, the name did not resolve
    CERTIFICATE = 3  # the server's certificate was refused
    KEY = 4  # the client certificate or key does not load
    CIPHER = 5
    STATE = 6  # already open / not open
    TIMEOUT = 7


class Phase(enum.Enum):
    OPENING = "opening"
    OPEN = "open"


class SslSocket:
    """One ``<contextID>,<connectID>`` connection, from ``AT+QSSLOPEN`` to its close."""

    def __init__(self, service: SslSockets, pair: tuple[int, int], host: str, port: int) -> None:
        self._service = service
        self._modem = service.modem
        self.pair = pair
        self.host, self.port = host, port
        self.phase = Phase.OPENING
        self.tls: TlsFlow | None = None
        self.reception = Reception(self._modem, self, f"SSL connection {self.name}")

    @property
    def name(self) -> str:
        return f"{self.pair[0]},{self.pair[1]}"

    async def open(self) -> None:
        modem = self._modem
        try:
            address = await modem.dns.address_of(self.host, Family.IPV4, self.port)
            flow = await modem.network.open_flow(
                Transport.TCP, address, self.port, local_port=0, family=Family.IPV4,
                listener=self.reception, timeout=modem.config.open_timeout,
            )  # fmt: skip
        except NetError as exc:
            log.info("SSL %s: connection to %s:%d failed: %s", self.name, self.host, self.port, exc)
            self._opened(SslErr.CONNECTION)
            return
        if self._service.sockets.get(self.pair) is not self:
            flow.close()  # closed while opening
            return
        settings = self._service.mqtt.ssl
        try:
            context = settings.context(*self.pair)
        except TlsError as exc:
            flow.close()
            self._opened(SslErr.CERTIFICATE if exc.verify else SslErr.KEY)
            return
        self.tls = self.reception.tls = self.reception.wire = TlsFlow(
            flow, context, self.host, modem.power.uplink
        )
        try:
            await self.tls.handshake(modem.clock, settings.get(*self.pair).timeout)
        except TlsError as exc:
            log.info("SSL %s: TLS with %s failed: %s", self.name, self.host, exc)
            flow.close()
            self.tls = None
            timed_out = "timed out" in str(exc)
            failed = SslErr.TIMEOUT if timed_out else SslErr.CONNECTION
            self._opened(SslErr.CERTIFICATE if exc.verify else failed)
            return
        if self._service.sockets.get(self.pair) is not self:
            self.tls.close()
            return
        self.phase = Phase.OPEN
        log.info("SSL %s: connected to %s:%d", self.name, self.host, self.port)
        self._opened(SslErr.OK)
        self.reception.release()

    def _opened(self, err: SslErr) -> None:
        if self._service.sockets.get(self.pair) is not self:
            return
        if err is not SslErr.OK:
            self._service.forget(self)
            self.reception.detach()
        self._service.urc(f"+QSSLOPEN: {self.name},{int(err)}")

    def send(self, data: bytes) -> None:
        assert self.tls is not None
        self.tls.send(data)

    def close(self) -> None:
        self.reception.detach()
        if self.tls is not None:
            self.tls.close()
            self.tls = None

    def on_data(self, data: bytes) -> None:
        if self.tls is None:
            return  # closed (the reception is detached then, but a call may be on its way)
        plain = self.tls.decrypt(data)
        if plain is None:
            self.on_closed()
            return
        if plain:
            self._service.show(self, plain)
        if self.tls is not None and self.tls.ended:
            self.on_closed()

    def on_closed(self) -> None:
        if self._service.sockets.get(self.pair) is not self:
            return
        self._service.forget(self)
        self.close()
        self._service.urc(f'+QSSLURC: "closed",{self.name}')


class SslSockets:
    """Every open SSL connection of the module, by ``(contextID, connectID)``."""

    def __init__(self, mqtt: MqttService) -> None:
        self.mqtt = mqtt
        self.modem: Modem = mqtt.modem
        self.sockets: dict[tuple[int, int], SslSocket] = {}

    def urc(self, text: str) -> None:
        self.modem.emit_urc(line(text))

    def forget(self, sock: SslSocket) -> None:
        if self.sockets.get(sock.pair) is sock:
            del self.sockets[sock.pair]
            self.modem.power.socket_closed()

    def show(self, sock: SslSocket, data: bytes) -> None:
        """``+QSSLURC: "recv",<ctx>,<conn>,<len>,"<data>"``, in URC-sized pieces; the
        host's reading pace holds the server back (flow control)."""
        hex_data = self.mqtt.ssl.get(*sock.pair).dataformat[1] == 1
        for start in range(0, len(data), MAX_RECV_CHUNK // (2 if hex_data else 1)):
            piece = data[start : start + MAX_RECV_CHUNK // (2 if hex_data else 1)]
            shown = piece.hex().upper().encode() if hex_data else piece
            head = f'+QSSLURC: "recv",{sock.name},{len(piece)},"'.encode()
            self.modem.emit_urc(line(head + shown + b'"'))
        sock.reception.after_output()

    def holds_a_connection(self) -> bool:
        return bool(self.sockets)

    def network_lost(self) -> None:
        for sock in list(self.sockets.values()):
            sock.on_closed()

    def shut(self) -> None:
        for sock in list(self.sockets.values()):
            sock.close()
        self.sockets.clear()


# -- the commands (registered by commands.py) ------------------------------------------------


def qsslopen(modem: Modem, args: Args, reply: Reply) -> Result:
    pair = (args.number(0), args.number(1))
    host, port = args.text(2), args.number(3)
    if not host:
        raise BadParameter("an empty host")
    service = modem.mqtt.ssl_sockets
    if pair in service.sockets:
        service.urc(f"+QSSLOPEN: {pair[0]},{pair[1]},{int(SslErr.STATE)}")
        return None
    if not modem.radio.attached:
        raise CommandError(Err.PDP_BROKEN)
    sock = service.sockets[pair] = SslSocket(service, pair, host, port)
    modem.power.uplink()
    modem.spawn(sock.open())
    return None


def qsslsend(modem: Modem, args: Args, reply: Reply) -> Result:
    pair = (args.number(0), args.number(1))
    sock = modem.mqtt.ssl_sockets.sockets.get(pair)
    if sock is None or sock.phase is not Phase.OPEN:
        raise CommandError(Err.SOCKET_CLOSED)
    hex_mode = modem.mqtt.ssl.get(*pair).dataformat[0] == 1
    limit = MAX_DATA_MODE_HEX if hex_mode else MAX_DATA_MODE_TEXT
    length = args.number(2) if args.given(2) else None
    if length is not None and not 1 <= length <= limit:
        raise BadParameter(f"send length 1-{limit}")

    def complete(data: bytes, final: Reply) -> None:
        payload = _decoded(data, hex_mode)
        current = modem.mqtt.ssl_sockets.sockets.get(pair)
        if current is not sock or sock.tls is None:
            raise CommandError(Err.SOCKET_CLOSED)
        sock.send(payload)
        modem.mqtt.ssl_sockets.urc(f"+QSSLSEND: {sock.name},{int(SslErr.OK)}")

    per_byte = 2 if hex_mode else 1
    fixed = None if length is None else length * per_byte
    return DataPrompt(fixed_length=fixed, max_length=limit * per_byte, complete=complete)


def _decoded(data: bytes, hex_mode: bool) -> bytes:
    if not hex_mode:
        return data
    try:
        return bytes.fromhex(data.decode("latin-1"))
    except ValueError as exc:
        raise BadParameter("not hex digits") from exc


def qsslclose(modem: Modem, args: Args, reply: Reply) -> Result:
    pair = (args.number(0), args.number(1))
    service = modem.mqtt.ssl_sockets
    sock = service.sockets.get(pair)
    if sock is None:
        service.urc(f"+QSSLCLOSE: {pair[0]},{pair[1]},{int(SslErr.STATE)}")
        return None
    service.forget(sock)
    sock.close()
    service.urc(f"+QSSLCLOSE: {sock.name},{int(SslErr.OK)}")
    return None
