"""The module's own MQTT client, driven from the host: :class:`AsyncMqttClient`.

A BC66 speaks MQTT itself (the *BC66 MQTT Application Note*): the host configures a
client (``AT+QMTCFG``), opens the broker's TCP connection (``AT+QMTOPEN``), connects
(``AT+QMTCONN``) and then subscribes and publishes by message ID, each outcome
coming later as a URC.  This class turns that into calls that return when the
broker has acknowledged (or raise with the module's code), callbacks for the
messages that arrive (``+QMTRECV``), and a reconnection after ``+QMTSTAT`` (the
connection is gone: the broker closed it, the keep-alive lapsed, the network went).

Payloads travel as hex digits both ways (``AT+QMTCFG="dataformat",<id>,1,1``), so
every byte value survives and a payload never ends the data mode early.  Callbacks
run on the driver's event loop; one that returns an awaitable is run as a task.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypedDict

from bc66sim.client import events
from bc66sim.client.errors import BC66Error, BC66Timeout, MqttError, MqttRefused
from bc66sim.note.limits import MAX_MQTT_DATA_MODE_MESSAGE, MAX_MQTT_TOPIC

if TYPE_CHECKING:
    from bc66sim.client.aio import AsyncBC66

log = logging.getLogger(__name__)

#: Seconds for +QMTOPEN (the note's budget is 75 s) and +QMTCLOSE / +QMTDISC.
OPEN_TIMEOUT = 80.0
CLOSE_TIMEOUT = 30.0
#: The module's packet timeout and retries (AT+QMTCFG="timeout" defaults, 10 s, 3):
#: an acknowledgement comes within (retries + 1) x timeout, or the module says 2.
PACKET_TIMEOUT = 10
RETRIES = 3
#: Seconds between reconnection attempts: doubling from the first to the last.
RECONNECT_DELAYS = (1.0, 60.0)
#: The SSL context the driver configures (AT+QSSLCFG=<contextID>,<client>,...).
SSL_CONTEXT = 1
MSG_IDS = range(1, 65536)

#: +QMTOPEN <result> (MQTT note).
OPEN_RESULTS = {
    -1: "failed to open the network connection",
    1: "wrong parameter",
    2: "the client identifier is occupied",
    3: "PDP activation failed",
    4: "the domain name was not resolved",
    5: "the network is disconnected",
}
#: The CONNACK's return code (MQTT 3.1.1 §3.2.2.3).
CONNACK_CODES = {
    1: "unacceptable protocol version",
    2: "client identifier rejected",
    3: "server unavailable",
    4: "bad user name or password",
    5: "not authorized",
}
#: +QMTSTAT <err_code> (MQTT note).
STATUS_CODES = {
    1: "the connection was closed or reset by the broker or the network",
    2: "no PINGRESP: the keep-alive lapsed",
    3: "CONNECT failed",
    4: "no CONNACK",
    5: "disconnected (DISCONNECT sent)",
    6: "a packet was never acknowledged",
    7: "the link is down or the broker unreachable",
}


@dataclass(frozen=True)
class Message:
    """A message from the broker (``+QMTRECV``)."""

    topic: str
    payload: bytes
    #: The PUBLISH's packet identifier (0 for QoS 0).
    msg_id: int


@dataclass(frozen=True)
class Will:
    """The last will the broker publishes if the connection dies without DISCONNECT."""

    topic: str
    message: str
    qos: int = 0
    retain: bool = False


@dataclass(frozen=True)
class Tls:
    """TLS for the broker connection: PEM texts, typed into the module (``AT+QSSLCFG``).

    With ``ca`` the module checks the broker's certificate (seclevel 1); with a
    client certificate and key as well it shows its own (seclevel 2).
    """

    ca: bytes | None = None
    cert: bytes | None = None
    key: bytes | None = None

    @property
    def seclevel(self) -> int:
        if self.cert is not None and self.key is not None:
            return 2
        return 1 if self.ca is not None else 0


MessageCallback = Callable[[Message], object]

#: The URCs that answer a client's own commands, and what :meth:`AsyncMqttClient._ask`
#: waits under for each.
_ANSWERED_BY: dict[type[events.MqttUrc], str] = {
    events.MqttOpened: "OPEN",
    events.MqttClosed: "CLOSE",
    events.MqttConnected: "CONN",
    events.MqttDisconnected: "DISC",
}


class MqttOptions(TypedDict, total=False):
    """The settings :meth:`AsyncBC66.mqtt <bc66sim.client.aio.AsyncBC66.mqtt>` passes on
    to :class:`AsyncMqttClient` (its defaults are the client's)."""

    username: str | None
    password: str | None
    keepalive: int
    clean_session: bool
    will: Will | None
    tls: Tls | None
    reconnect: bool
    on_message: MessageCallback | None
    on_status: Callable[[int], object] | None


@dataclass
class _Subscription:
    qos: int
    callback: MessageCallback | None


class AsyncMqttClient:
    """One of the module's six MQTT clients; made by :meth:`AsyncBC66.mqtt`."""

    def __init__(
        self,
        modem: AsyncBC66,
        index: int,
        host: str,
        port: int,
        client_id: str,
        *,
        username: str | None = None,
        password: str | None = None,
        keepalive: int = 120,
        clean_session: bool = True,
        will: Will | None = None,
        tls: Tls | None = None,
        reconnect: bool = True,
        on_message: MessageCallback | None = None,
        on_status: Callable[[int], object] | None = None,
    ) -> None:
        for name, text in (
            ("client_id", client_id),
            ("username", username),
            ("password", password),
        ):
            _check_text(name, text or "")
        if will is not None:
            _check_topic(will.topic)
            _check_text("will message", will.message)
        self.index = index
        self.host, self.port, self.client_id = host, port, client_id
        self.username, self.password = username, password
        self.keepalive, self.clean_session = keepalive, clean_session
        self.will, self.tls = will, tls
        self.reconnect = reconnect
        #: Messages no subscription's callback took.
        self.on_message = on_message
        #: Called with +QMTSTAT's <err_code> when the connection is gone.
        self.on_status = on_status
        #: Connections made, the first included (a reconnection adds one).
        self.connections = 0
        self._modem = modem
        self._subscriptions: dict[str, _Subscription] = {}
        self._waiting: dict[tuple[str, int], asyncio.Future[events.MqttUrc]] = {}
        #: QoS 0 publishes all carry msgID 0: their +QMTPUB come in order.
        self._qos0: deque[asyncio.Future[events.MqttUrc]] = deque()
        self._next_id = 1
        self._connected = asyncio.Event()
        self._lost: BC66Error | None = None
        self._closing = False
        self._reconnecting: asyncio.Task[None] | None = None

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    # -- the connection ----------------------------------------------------------------

    async def start(self) -> None:
        """Configure the module's client, open the broker connection and connect."""
        await self._session(resubscribe=False)

    async def _session(self, *, resubscribe: bool) -> None:
        await self._configure()
        await self._open()
        try:
            await self._connect()
            if resubscribe:
                for topic, subscription in list(self._subscriptions.items()):
                    await self._subscribe(topic, subscription.qos)
        except BaseException:
            with contextlib.suppress(BC66Error):
                await self._close_connection()
            raise
        self.connections += 1

    def _settings(self) -> list[str]:
        i = self.index
        lines = [
            f'AT+QMTCFG="keepalive",{i},{self.keepalive}',
            f'AT+QMTCFG="session",{i},{int(self.clean_session)}',
            f'AT+QMTCFG="timeout",{i},{PACKET_TIMEOUT},{RETRIES},0',
            f'AT+QMTCFG="dataformat",{i},1,1',
        ]
        will = self.will
        if will is None:
            lines.append(f'AT+QMTCFG="will",{i},0')
        else:
            lines.append(
                f'AT+QMTCFG="will",{i},1,{will.qos},{int(will.retain)},'
                f'"{will.topic}","{will.message}"'
            )
        if self.tls is None:
            lines.append(f'AT+QMTCFG="ssl",{i},0')
        else:
            lines.append(f'AT+QSSLCFG={SSL_CONTEXT},{i},"seclevel",{self.tls.seclevel}')
            lines.append(f'AT+QMTCFG="ssl",{i},1,{SSL_CONTEXT},{i}')
        return lines

    async def _configure(self) -> None:
        for line in self._settings():
            await self._modem.command(line)
        tls = self.tls
        if tls is None:
            return
        for kind, pem in (("cacert", tls.ca), ("clientcert", tls.cert), ("clientkey", tls.key)):
            if pem is not None:
                await self._modem.prompted(f'AT+QSSLCFG={SSL_CONTEXT},{self.index},"{kind}"', pem)

    async def _open(self) -> None:
        line = f'AT+QMTOPEN={self.index},"{self.host}",{self.port}'
        opened = await self._ask(("OPEN", 0), line, OPEN_TIMEOUT)
        assert isinstance(opened, events.MqttOpened)
        if opened.result == 2:  # still open from before (a crash of this side): close it
            await self._close_connection()
            opened = await self._ask(("OPEN", 0), line, OPEN_TIMEOUT)
            assert isinstance(opened, events.MqttOpened)
        if opened.result != 0:
            reason = OPEN_RESULTS.get(opened.result, "an unknown result")
            raise MqttError(f"cannot open {self.host}:{self.port}: {reason}", opened.result)

    async def _connect(self) -> None:
        credentials = ""
        if self.username is not None:
            credentials = f',"{self.username}"'
            if self.password is not None:
                credentials += f',"{self.password}"'
        line = f'AT+QMTCONN={self.index},"{self.client_id}"{credentials}'
        self._lost = None
        answer = await self._ask(("CONN", 0), line, _acknowledged_within())
        assert isinstance(answer, events.MqttConnected)
        if answer.result != 0:
            raise MqttError(f"{self.host}:{self.port}: CONNECT was not acknowledged", answer.result)
        if answer.code:
            reason = CONNACK_CODES.get(answer.code, "an unknown return code")
            raise MqttRefused(
                f"{self.host}:{self.port} refused the connection: {reason}", answer.code
            )
        self._connected.set()

    async def _close_connection(self) -> None:
        """``AT+QMTCLOSE``: the TCP connection goes, without DISCONNECT."""
        await self._ask(("CLOSE", 0), f"AT+QMTCLOSE={self.index}", CLOSE_TIMEOUT)

    async def disconnect(self) -> None:
        """``AT+QMTDISC`` (DISCONNECT, so no will); no reconnection after it."""
        self._closing = True
        if self._reconnecting is not None:
            self._reconnecting.cancel()
        try:
            if self._connected.is_set():
                self._connected.clear()
                await self._ask(("DISC", 0), f"AT+QMTDISC={self.index}", CLOSE_TIMEOUT)
        finally:
            self._modem.forget_mqtt(self)
            self._fail_waiting(MqttError("the client was disconnected"))

    async def __aenter__(self) -> AsyncMqttClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        with contextlib.suppress(BC66Error):
            await self.disconnect()

    # -- messages ----------------------------------------------------------------------

    async def subscribe(
        self, topic: str, qos: int = 0, callback: MessageCallback | None = None
    ) -> int:
        """``AT+QMTSUB``: subscribe to a topic filter; returns the QoS the broker granted.

        ``callback`` gets every message whose topic the filter matches; it is
        subscribed again after a reconnection.
        """
        _check_topic(topic)
        _check_qos(qos)
        granted = await self._subscribe(topic, qos)
        self._subscriptions[topic] = _Subscription(qos, callback)
        return granted

    async def _subscribe(self, topic: str, qos: int) -> int:
        outcome = await self._message_command("SUB", f'"{topic}",{qos}', None)
        granted = outcome.values[0] if outcome.values else qos
        if granted == 0x80:
            raise MqttError(f"the broker refused the subscription to {topic!r}", granted)
        return granted

    async def unsubscribe(self, topic: str) -> None:
        """``AT+QMTUNS``."""
        _check_topic(topic)
        self._subscriptions.pop(topic, None)
        await self._message_command("UNS", f'"{topic}"', None)

    async def publish(
        self, topic: str, payload: bytes | str, qos: int = 0, retain: bool = False
    ) -> None:
        """``AT+QMTPUB``: returns once the module sent it (QoS 0) or the broker
        acknowledged it (PUBACK for QoS 1, PUBCOMP for QoS 2)."""
        _check_topic(topic)
        _check_qos(qos)
        data = payload.encode() if isinstance(payload, str) else bytes(payload)
        if len(data) > MAX_MQTT_DATA_MODE_MESSAGE:
            raise ValueError(f"a message is at most {MAX_MQTT_DATA_MODE_MESSAGE} bytes")
        if "+" in topic or "#" in topic:
            raise ValueError("a topic to publish to has no wildcards")
        await self._message_command("PUB", f'{qos},{int(retain)},"{topic}"', data)

    async def _message_command(
        self, report: str, fields: str, data: bytes | None
    ) -> events.MqttOutcome:
        await self._wait_connected()
        qos0 = report == "PUB" and fields.startswith("0,")
        mid = 0 if qos0 else self._allocate_id(report)
        head = f"AT+QMT{report}={self.index},{mid},{fields}"
        future: asyncio.Future[events.MqttUrc] = asyncio.get_running_loop().create_future()
        if qos0:
            self._qos0.append(future)
        else:
            self._waiting[report, mid] = future
        try:
            if data is None:
                await self._modem.command(head)
            elif not data:
                await self._modem.command(head + ',""')  # the inline form: an empty message
            else:
                await self._modem.prompted(head, data)
            outcome = await self._wait(future, f"+QMT{report} for message {mid}")
        finally:
            if qos0:
                with contextlib.suppress(ValueError):
                    self._qos0.remove(future)
            else:
                self._waiting.pop((report, mid), None)
        assert isinstance(outcome, events.MqttOutcome)
        if outcome.result != 0:
            raise MqttError(f"{head}: the broker never acknowledged it", outcome.result)
        return outcome

    def _allocate_id(self, report: str) -> int:
        for _ in MSG_IDS:
            mid = self._next_id
            self._next_id = mid % MSG_IDS[-1] + 1
            if (report, mid) not in self._waiting:
                return mid
        raise MqttError("every message ID is in use")

    async def _wait_connected(self) -> None:
        if self._closing:
            raise MqttError("the client was disconnected")
        if self._connected.is_set():
            return
        if not self.reconnect or self._reconnecting is None:
            raise self._lost or MqttError("not connected")
        try:
            await asyncio.wait_for(self._connected.wait(), self._modem.timeout + OPEN_TIMEOUT)
        except TimeoutError:
            raise BC66Timeout(f"MQTT client {self.index}: not connected again in time") from None

    # -- waiting for URCs --------------------------------------------------------------

    async def _ask(self, key: tuple[str, int], line: str, timeout: float) -> events.MqttUrc:
        future: asyncio.Future[events.MqttUrc] = asyncio.get_running_loop().create_future()
        self._waiting[key] = future
        try:
            await self._modem.command(line)
            return await self._wait(future, f"the URC after {line!r}", timeout)
        finally:
            self._waiting.pop(key, None)

    async def _wait(
        self, future: asyncio.Future[events.MqttUrc], what: str, timeout: float | None = None
    ) -> events.MqttUrc:
        limit = _acknowledged_within() if timeout is None else timeout
        try:
            return await asyncio.wait_for(future, limit)
        except TimeoutError:
            raise BC66Timeout(f"MQTT client {self.index}: no {what} in {limit:.0f} s") from None

    def on_event(self, event: events.MqttUrc) -> None:
        """A URC about this client, from the driver's reader."""
        if isinstance(event, events.MqttMessage):
            self._deliver(Message(event.topic, event.payload, event.msg_id))
        elif isinstance(event, events.MqttStatus):
            self._on_status(event)
        elif isinstance(event, events.MqttOutcome):
            if event.result == 1:  # a retransmission (timeout notice): still waiting
                log.info("MQTT client %d: %s", self.index, event.text)
            elif event.report == "PUB" and event.msg_id == 0:
                while self._qos0:
                    if not (future := self._qos0.popleft()).done():
                        future.set_result(event)
                        break
            else:
                self._settle((event.report, event.msg_id), event)
        elif (key := _ANSWERED_BY.get(type(event))) is not None:
            self._settle((key, 0), event)

    def _settle(self, key: tuple[str, int], event: events.MqttUrc) -> None:
        future = self._waiting.get(key)
        if future is not None and not future.done():
            future.set_result(event)

    def _deliver(self, message: Message) -> None:
        taken = False
        for topic_filter, subscription in list(self._subscriptions.items()):
            if subscription.callback is not None and topic_matches(topic_filter, message.topic):
                self._call(subscription.callback, message)
                taken = True
        if not taken:
            if self.on_message is not None:
                self._call(self.on_message, message)
            else:
                log.info("MQTT client %d: a message on %r for nobody", self.index, message.topic)

    def _call(self, callback: Callable[..., object], *args: object) -> None:
        """A user's callback; its failure is logged, never the reader's end."""
        try:
            result = callback(*args)
            if inspect.isawaitable(result):
                self._modem.spawn(result)
        except Exception:
            log.exception("MQTT client %d: a callback failed", self.index)

    # -- losing the connection ---------------------------------------------------------

    def _on_status(self, event: events.MqttStatus) -> None:
        """``+QMTSTAT``: the module's client is closed; reconnect unless told not to."""
        reason = STATUS_CODES.get(event.err, "an unknown reason")
        log.warning("MQTT client %d: %s (+QMTSTAT %d)", self.index, reason, event.err)
        self.fail(MqttError(f"MQTT client {self.index}: {reason}", event.err))
        if self.on_status is not None:
            self._call(self.on_status, event.err)

    def fail(self, error: BC66Error) -> None:
        """The connection is gone (``+QMTSTAT``, a reboot, the port): every waiter
        fails with ``error``; a reconnection starts if the client wants one."""
        was_connected = self._connected.is_set()
        self._connected.clear()
        self._lost = error
        self._fail_waiting(error)
        if was_connected and self.reconnect and not self._closing and self._reconnecting is None:
            self._reconnecting = asyncio.ensure_future(self._reconnect())

    def _fail_waiting(self, error: BC66Error) -> None:
        for future in [*self._waiting.values(), *self._qos0]:
            if not future.done():
                future.set_exception(error)

    async def _reconnect(self) -> None:
        delay, longest = RECONNECT_DELAYS
        try:
            while not self._closing and not self._modem.broken:
                await asyncio.sleep(delay)
                delay = min(delay * 2, longest)
                try:
                    await self._modem.wait_ready(timeout=OPEN_TIMEOUT)
                    await self._session(resubscribe=True)
                except BC66Error as exc:
                    log.warning("MQTT client %d: reconnection failed: %s", self.index, exc)
                    continue
                log.info("MQTT client %d: connected again", self.index)
                return
        finally:
            self._reconnecting = None


def _acknowledged_within() -> float:
    """Seconds within which the module reports an acknowledgement or its failure."""
    return PACKET_TIMEOUT * (RETRIES + 1) + 10.0


def topic_matches(topic_filter: str, topic: str) -> bool:
    """Whether ``topic`` matches ``topic_filter`` with its ``+`` and ``#`` wildcards
    (MQTT 3.1.1 §4.7); topics starting with ``$`` match no leading wildcard."""
    if topic.startswith("$") and topic_filter[:1] in ("+", "#"):
        return False
    levels, wanted = topic.split("/"), topic_filter.split("/")
    for position, level in enumerate(wanted):
        if level == "#":
            return True
        if position >= len(levels) or (level != "+" and level != levels[position]):
            return False
    return len(levels) == len(wanted)


def _check_topic(topic: str) -> None:
    if not topic or len(topic.encode()) > MAX_MQTT_TOPIC:
        raise ValueError(f"a topic is 1 to {MAX_MQTT_TOPIC} bytes")
    _check_text("topic", topic)


def _check_text(name: str, text: str) -> None:
    """A quoted field of an AT command holds no quote and no line end."""
    if any(char in text for char in '"\r\n'):
        raise ValueError(f"the {name} cannot hold a quote or a line end: {text!r}")


def _check_qos(qos: int) -> None:
    if qos not in (0, 1, 2):
        raise ValueError("QoS is 0, 1 or 2")
