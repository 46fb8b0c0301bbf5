"""The asyncio core of the host driver: :class:`AsyncBC66`.

The protocol is :class:`~bc66sim.client.connection.Connection`'s (sans-IO): what a
command awaits, URC routing, when a service run is finished.  This layer does the
I/O around it: one task reads the port into the connection and drains its events —
answers go to the command waiting for them, URC events resolve futures and wake
sockets at once (even while a command is in flight).  Commands run one at a time.
Every wait has a timeout that raises; a port that closes or a module that reboots
fails every waiter at once with a typed exception, never a silent hang.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import re
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar, Unpack

from bc66sim.client import events
from bc66sim.client.connection import MAX_ANSWERS, Connection, State
from bc66sim.client.errors import (
    BC66Error,
    BC66Timeout,
    CommandError,
    ConnectionLost,
    ModuleRebooted,
    MqttError,
    NetworkLost,
    ProtocolError,
    SocketClosed,
)
from bc66sim.client.events import NEED_DATA, Service
from bc66sim.client.mqtt import AsyncMqttClient, MqttOptions
from bc66sim.client.protocol import Info, int_fields
from bc66sim.client.sockets import AsyncSocket
from bc66sim.client.streams import ByteStream, open_stream
from bc66sim.note.errors import Err
from bc66sim.note.limits import MAX_SOCKETS, MQTT_CLIENTS

log = logging.getLogger(__name__)

#: Seconds for a command's answer (the note allows 300 ms; a slow UART, more).
COMMAND_TIMEOUT = 5.0
#: Seconds between wake-up attempts (AsyncBC66.wake): an awake BC66 answers AT in ms.
WAKE_TRY = 0.3
#: Seconds for +QIOPEN (§2.3.1 note: wait up to 60 s).
OPEN_TIMEOUT = 65.0
SOCKET_IDS = range(MAX_SOCKETS)


@dataclass(frozen=True)
class PingReply:
    address: str
    size: int
    milliseconds: int
    ttl: int


@dataclass(frozen=True)
class PingResult:
    """``+QPING`` lines: one entry per request (None when it timed out) and the summary."""

    replies: tuple[PingReply | None, ...]
    sent: int
    received: int
    lost: int
    min_ms: int
    max_ms: int
    avg_ms: int


def error_for(message: str, code: int | None) -> BC66Error:
    """The exception for a module error code (Chapter 3)."""
    if code == Err.SOCKET_CLOSED:
        return SocketClosed(message, code)
    if code in (Err.OPEN_PDP_FAILED, Err.PDP_BROKEN):
        return NetworkLost(message, code)
    return CommandError(message, code)


class AsyncBC66:
    """A BC66 (real or emulated) on a byte stream; open it with :meth:`open`."""

    def __init__(
        self,
        stream: ByteStream,
        *,
        hex_send: bool = False,
        hex_recv: bool = False,
        view_mode: int = 0,
        timeout: float = COMMAND_TIMEOUT,
    ) -> None:
        self.timeout = timeout
        self._stream = stream
        self._conn = Connection(view_mode=view_mode, recv_hex=hex_recv, hex_send=hex_send)
        self._lock = asyncio.Lock()
        self._answers: asyncio.Queue[events.Answer | BC66Error] = asyncio.Queue()
        self._sockets: dict[int, AsyncSocket] = {}
        self._mqtt: dict[int, AsyncMqttClient] = {}
        self._opening: dict[int, asyncio.Future[int]] = {}
        self._service: tuple[Service, asyncio.Future[list[str]]] | None = None
        self._service_lock = asyncio.Lock()
        self._attached = asyncio.Event()
        self._broken: BC66Error | None = None
        self._desync = False
        self._reader: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        #: Called with the text of every URC, after the driver has handled it.
        self.urc_listeners: list[Callable[[str], None]] = []

    # -- life cycle -------------------------------------------------------------------

    @classmethod
    async def open(cls, port: str, *, baudrate: int = 115200, **options: object) -> AsyncBC66:
        """Open ``port`` (a pyserial URL or path) and configure the module for the driver."""
        modem = cls(await open_stream(port, baudrate), **options)  # type: ignore[arg-type]
        modem._reader = asyncio.create_task(modem._read_loop())
        try:
            await modem._configure()
        except BaseException:
            await modem.close()
            raise
        return modem

    async def _configure(self) -> None:
        """Reach the command line whatever state the module is in, then set it up."""
        # Leave a data-mode prompt and end a partial line; in command mode the module
        # answers that line with ERROR, so wait until a plain AT is answered OK.
        async with self._lock:  # no command may take that ERROR for its own
            await self._stream.write(self._conn.escape())
            await asyncio.sleep(0.1)
        for attempt in range(6):
            try:
                await self.command("AT", timeout=1.0)
                break
            except (BC66Timeout, CommandError):
                if attempt == 5:
                    raise
                await asyncio.sleep(0.1)
        for line in (
            "ATE0",
            "AT+CMEE=1",
            "AT+CEREG=1",
            'AT+QICFG="echomode",0',
            'AT+QICFG="showlength",1',
            f'AT+QICFG="viewmode",{self._conn.view_mode}',
            f'AT+QICFG="dataformat",{int(self.hex_send)},{int(self._conn.recv_hex)}',
        ):
            await self.command(line)
        if "+CGATT: 1" in await self.command("AT+CGATT?"):
            self._attached.set()

    async def close(self) -> None:
        """Disconnect every MQTT client, close every socket (``AT+QICLOSE``) and the port."""
        for client in list(self._mqtt.values()):
            with contextlib.suppress(BC66Error):
                await client.disconnect()
        for sock in list(self._sockets.values()):
            with contextlib.suppress(BC66Error):
                await sock.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        for task in list(self._tasks):
            task.cancel()
        await self._stream.close()
        self._fail(ConnectionLost("the driver was closed"))

    async def __aenter__(self) -> AsyncBC66:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @property
    def hex_send(self) -> bool:
        """Payloads go to the module as hex digits (``AT+QICFG="dataformat"``)."""
        return self._conn.hex_send

    @hex_send.setter
    def hex_send(self, value: bool) -> None:
        self._conn.hex_send = value

    @property
    def attached(self) -> bool:
        return self._attached.is_set()

    @property
    def broken(self) -> bool:
        """The port is gone, or the driver was closed: no command will be answered."""
        return self._broken is not None

    async def wait_ready(self, timeout: float = 60.0) -> None:
        """Wait until the module is attached to the network (``+IP:``, ``+CGATT: 1``)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not self._attached.is_set():
            self._check_broken()
            if "+CGATT: 1" in await self.command("AT+CGATT?"):
                self._attached.set()
                return
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise BC66Timeout(f"the module did not attach within {timeout} s")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._attached.wait(), min(0.5, remaining))

    async def wake(self, timeout: float = 5.0) -> None:
        """Make sure the module hears the next command (PSM deep sleep, ``AT+QSCLK=1``).

        A BC66 in deep sleep loses the bytes that wake it: the first ``AT`` may get
        no answer at all.  This sends ``AT`` every :data:`WAKE_TRY` seconds until one
        is answered ``OK`` (well inside the sleep lock a wake-up holds); an awake
        module answers the first one at once.
        """
        await _atomic(self._wake(timeout))

    async def _wake(self, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        async with self._lock:
            self._check_broken()
            # A lost answer is what waking looks like, not a desync: no resync's long wait.
            first = self._conn.escape() if self._desync else b""
            self._desync = False
            self._conn.discard_input()
            self._drop_answers()
            try:
                while True:
                    await self._stream.write(first + self._conn.send("AT"))
                    first = b""
                    try:
                        await self._collect("AT", min(WAKE_TRY, max(0.05, deadline - loop.time())))
                        return
                    except BC66Timeout:
                        self._desync = False
                        self._conn.abandon()
                        if loop.time() >= deadline:
                            raise BC66Timeout(
                                f"the module did not wake within {timeout} s"
                            ) from None
            finally:
                self._conn.abandon()

    # -- commands ---------------------------------------------------------------------

    async def command(self, line: str, *, timeout: float | None = None) -> list[str]:
        """Run one command; its information lines, or an exception with the module's code."""
        answer = await self.exchange(line, timeout=timeout)
        return [info.text for info in answer]

    async def exchange(
        self, line: str, *, timeout: float | None = None, trailer: bool = False
    ) -> list[Info]:
        """Run one command and return its information lines (with payloads)."""
        return await _atomic(self._exchange(line, timeout, trailer))

    async def _exchange(self, line: str, timeout: float | None, trailer: bool) -> list[Info]:
        async with self._lock:
            try:
                await self._prepare()
                await self._stream.write(self._conn.send(line))
                response = await self._collect(line, timeout)
                if not response.ok:
                    raise await self._failure(line, response)
                if trailer:
                    await self._trailer(line, timeout)
                return list(response.lines)
            finally:
                self._conn.abandon()  # whatever is left of the answer is nobody's

    async def prompted(self, line: str, data: bytes, *, timeout: float | None = None) -> list[Info]:
        """A command that prompts ``> `` for data typed up to Ctrl+Z (``AT+QMTPUB``
        without its message, ``AT+QSSLCFG`` with a certificate); its information lines."""
        lines, _ = await _atomic(self._prompted(line, data, timeout, trailer=False))
        return lines

    async def send_chunk(self, connect_id: int, data: bytes, timeout: float | None) -> bool:
        """``AT+QISEND=<id>,<n>`` in data mode; True for ``SEND OK``, False for ``SEND FAIL``."""
        line = f"AT+QISEND={connect_id},{len(data)}"
        _, result = await _atomic(self._prompted(line, data, timeout, trailer=True))
        return isinstance(result, events.SendResult) and result.sent

    async def _prompted(
        self, line: str, data: bytes, timeout: float | None, *, trailer: bool
    ) -> tuple[list[Info], events.SendResult | events.CloseResult | None]:
        """Send ``line``, wait for its prompt, send ``data``; its information lines and
        (``trailer``) what follows its OK."""
        async with self._lock:
            try:
                await self._prepare()
                await self._stream.write(self._conn.send(line))
                event = await self._answer(line, timeout)
                if isinstance(event, events.Response):
                    raise await self._failure(line, event)
                if not isinstance(event, events.PromptReady):
                    raise BC66Error(f"{line}: unexpected {event}")
                if self._conn.state is not State.DATA_MODE:
                    raise ModuleRebooted("the module rebooted")  # right after its prompt
                await self._stream.write(self._conn.send_data(data))
                response = await self._collect(line, timeout)
                if not response.ok:
                    raise await self._failure(line, response)
                after = await self._trailer(line, timeout) if trailer else None
                return list(response.lines), after
            finally:
                self._conn.abandon()

    async def _prepare(self) -> None:
        self._check_broken()
        if self._desync:
            await self._resync()
        # What is left belongs to no command now: a late answer after a timeout, or the
        # reboot error of a command that got its OK first. A dead port is _broken.
        self._drop_answers()

    def _drop_answers(self) -> None:
        while not self._answers.empty():
            log.debug("stray answer dropped: %s", self._answers.get_nowait())

    async def _resync(self) -> None:
        """After a timeout: leave any data mode and wait until the module answers again."""
        self._desync = False
        self._conn.discard_input()  # a payload counted from a bad header is not waited for
        self._drop_answers()
        await self._stream.write(self._conn.escape() + self._conn.send("AT"))
        try:
            with contextlib.suppress(BC66Timeout, ProtocolError):
                await self._collect("AT", 2.0)
        finally:
            self._conn.abandon()
        await asyncio.sleep(0.05)  # late answers land, and _prepare drops them

    async def _answer(
        self, line: str, timeout: float | None, since: float | None = None
    ) -> events.Answer:
        """The next answer; ``timeout`` counts from ``since`` (default: now)."""
        loop = asyncio.get_running_loop()
        started = loop.time() if since is None else since
        remaining = (timeout or self.timeout) - (loop.time() - started)
        try:
            item = await asyncio.wait_for(self._answers.get(), max(remaining, 0.0))
        except TimeoutError:
            self._desync = True
            waited = loop.time() - started
            raise BC66Timeout(f"no answer to {line!r} after {waited:.1f} s") from None
        if isinstance(item, BC66Error):
            raise item
        return item

    async def _collect(self, line: str, timeout: float | None) -> events.Response:
        """The information lines and final result of ``line``, within ``timeout`` in all."""
        started = asyncio.get_running_loop().time()
        while True:
            event = await self._answer(line, timeout, started)
            if isinstance(event, events.Response):
                return event

    async def _trailer(
        self, line: str, timeout: float | None
    ) -> events.SendResult | events.CloseResult:
        event = await self._answer(line, timeout)
        if not isinstance(event, events.SendResult | events.CloseResult):
            raise BC66Error(f"{line}: expected Trailer, got {event}")
        return event

    async def _failure(self, line: str, response: events.Response) -> BC66Error:
        code = response.code
        if code is None and line.upper().startswith(("AT+QI", "AT+QPING", "AT+QNT")):
            await self._stream.write(self._conn.send("AT+QIGETERROR"))
            infos = (await self._collect("AT+QIGETERROR", None)).lines
            if infos:
                fields = int_fields(infos[0].text)
                code = fields[0] if fields else None
        return error_for(f"{line} failed", code)

    def _check_broken(self) -> None:
        if self._broken is not None:
            raise self._broken

    # -- the reader -------------------------------------------------------------------

    async def _read_loop(self) -> None:
        try:
            while data := await self._stream.read():
                self._conn.receive_data(data)
                while (event := self._conn.next_event()) is not NEED_DATA:
                    self._dispatch(event)
        except Exception as exc:  # any failure of the port ends the driver, loudly
            log.debug("reader failed", exc_info=True)
            self._fail(ConnectionLost(f"the port failed: {exc}"))
            return
        self._fail(ConnectionLost("the port closed (is the module or emulator gone?)"))

    def _dispatch(self, event: events.Event) -> None:
        """Hand one event of the connection to whoever waits for it."""
        if isinstance(event, events.Answer):
            self._on_answer(event)
        elif isinstance(event, events.ProtocolViolation):
            self._on_violation(event)
        else:
            self._on_urc(event)
            for listener in self.urc_listeners:
                listener(event.text)

    def _on_answer(self, answer: events.Answer) -> None:
        if self._answers.qsize() >= MAX_ANSWERS:
            # Nobody reads them (a module talking to itself): dropped, so nothing piles up.
            log.debug("stray answer dropped: %s", answer)
        else:
            self._answers.put_nowait(answer)

    def _on_violation(self, event: events.ProtocolViolation) -> None:
        """What the module said is not what a BC66 says: whoever waits for it fails."""
        error = ProtocolError(event.reason)
        service = self._service
        if event.service is None:
            self._protocol_error(error)
        elif service is not None and service[0] is event.service and not service[1].done():
            log.warning("%s", error)
            service[1].set_exception(error)
        else:
            log.warning("%s", error)

    def _protocol_error(self, error: ProtocolError) -> None:
        """The call in flight fails with ``error``; the next one resyncs first (the rest
        of the broken answer may still come); the session goes on."""
        log.warning("%s", error)
        if self._conn.state is not State.IDLE:
            self._desync = True
            self._answers.put_nowait(error)

    def _fail(self, error: BC66Error) -> None:
        if self._broken is None:
            self._broken = error
        self._answers.put_nowait(error)
        self._fail_waiters(error)

    def _fail_waiters(self, error: BC66Error) -> None:
        for future in list(self._opening.values()):
            if not future.done():
                future.set_exception(error)
        if self._service is not None and not self._service[1].done():
            self._service[1].set_exception(error)
        for sock in list(self._sockets.values()):
            sock.fail(error)
        for client in list(self._mqtt.values()):
            client.fail(error)

    # -- URCs -------------------------------------------------------------------------

    def _on_urc(self, event: events.UrcEvent) -> None:
        if isinstance(event, events.Rebooted):
            self._on_reboot(event)
        elif isinstance(event, events.Attached):
            self._attached.set()
        elif isinstance(event, events.Registration):
            self._on_registration(event)
        elif isinstance(event, events.SocketOpened):
            future = self._opening.get(event.connect_id)
            if future is not None and not future.done():
                future.set_result(event.err)
        elif isinstance(event, events.DataReceived | events.DataWaiting | events.SocketClosed):
            sock = self._sockets.get(event.connect_id)
            if sock is not None:
                sock.on_event(event)
        elif isinstance(event, events.MqttUrc):
            client = self._mqtt.get(event.client)
            if client is not None:
                client.on_event(event)
        elif isinstance(event, events.ServiceResult):
            service = self._service
            if service is not None and service[0] is event.service and not service[1].done():
                service[1].set_result(list(event.lines))
        elif not isinstance(event, events.ServiceProgress):
            log.debug("URC %s", event.text)

    def _on_reboot(self, event: events.Rebooted) -> None:
        log.warning("the module rebooted (RDY)")
        self._attached.clear()
        error = ModuleRebooted("the module rebooted")
        if event.interrupted is not None:
            self._answers.put_nowait(error)  # the command in flight will get no answer
        self._fail_waiters(error)
        self._sockets.clear()
        self.spawn(self._configure_after_reboot())

    async def _configure_after_reboot(self) -> None:
        await asyncio.sleep(0.05)
        self._drop_answers()
        with contextlib.suppress(BC66Error):
            await self._configure()

    def _on_registration(self, event: events.Registration) -> None:
        if event.registered:
            self._attached.set()
            return
        if self._attached.is_set():
            log.warning("the module detached from the network")
        self._attached.clear()
        for sock in list(self._sockets.values()):
            sock.fail(NetworkLost("the module detached from the network"))

    def spawn(self, awaitable: object) -> None:
        """Run ``awaitable`` as a task the driver keeps (and cancels on close)."""
        task = asyncio.ensure_future(awaitable)  # type: ignore[call-overload]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- sockets ----------------------------------------------------------------------

    async def connect(
        self,
        kind: str,
        host: str,
        port: int,
        *,
        local_port: int = 0,
        push: bool = False,
        timeout: float = OPEN_TIMEOUT,
    ) -> AsyncSocket:
        """Open a TCP or UDP socket (§2.3.1); ``push`` selects direct push mode."""
        kind = kind.upper()
        if kind not in ("TCP", "UDP"):
            raise ValueError("kind is 'TCP' or 'UDP'")
        connect_id = next((i for i in SOCKET_IDS if i not in self._sockets), None)
        if connect_id is None:
            raise BC66Error("all five sockets are in use")
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._opening[connect_id] = future
        sock = AsyncSocket(self, connect_id, kind, push=push)
        self._sockets[connect_id] = sock
        try:
            line = f'AT+QIOPEN=1,{connect_id},"{kind}","{host}",{port},{local_port},{int(push)}'
            await self.command(line)
            try:
                err = await asyncio.wait_for(future, timeout)
            except TimeoutError:
                raise BC66Timeout(f"no +QIOPEN for socket {connect_id} in {timeout} s") from None
            if err != 0:
                raise error_for(f"cannot open {kind} to {host}:{port}", err)
        except BaseException:
            self._sockets.pop(connect_id, None)
            with contextlib.suppress(BC66Error):
                await self.exchange(f"AT+QICLOSE={connect_id}", trailer=True)
            raise
        finally:
            self._opening.pop(connect_id, None)
        return sock

    def forget(self, sock: AsyncSocket) -> None:
        if self._sockets.get(sock.connect_id) is sock:
            del self._sockets[sock.connect_id]

    # -- MQTT (the module's own client; client/mqtt.py) -------------------------------

    async def mqtt(
        self,
        host: str,
        port: int,
        client_id: str,
        **options: Unpack[MqttOptions],
    ) -> AsyncMqttClient:
        """Connect one of the module's MQTT clients to a broker (``AT+QMTOPEN``,
        ``AT+QMTCONN``); raises :class:`MqttError` with the module's result code.
        ``options``: see :class:`AsyncMqttClient` (credentials, keep-alive, will, TLS,
        reconnection, callbacks)."""
        index = next((i for i in range(MQTT_CLIENTS) if i not in self._mqtt), None)
        if index is None:
            raise MqttError(f"all {MQTT_CLIENTS} MQTT clients are in use")
        client = AsyncMqttClient(self, index, host, port, client_id, **options)
        self._mqtt[index] = client
        try:
            await client.start()
        except BaseException:
            self.forget_mqtt(client)
            raise
        return client

    def forget_mqtt(self, client: AsyncMqttClient) -> None:
        if self._mqtt.get(client.index) is client:
            del self._mqtt[client.index]

    # -- network services -------------------------------------------------------------

    async def _service_call(self, service: Service, line: str, timeout: float) -> list[str]:
        """Run a command whose outcome is a run of URCs; the connection says when it ends."""
        async with self._service_lock:
            future: asyncio.Future[list[str]] = asyncio.get_running_loop().create_future()
            self._service = (service, future)
            try:
                await self.command(line)
                return await asyncio.wait_for(future, timeout)
            except TimeoutError:
                raise BC66Timeout(f"no answer to {line!r} in {timeout} s") from None
            finally:
                self._service = None

    async def resolve(self, name: str, timeout: float = 30.0) -> list[str]:
        """``AT+QIDNSGIP``: the addresses of ``name``, from the module's DNS servers."""
        started = asyncio.get_running_loop().time()
        lines = await self._service_call(Service.DNS, f'AT+QIDNSGIP=1,"{name}"', timeout)
        with _parsing(lines):
            err = int_fields(lines[0])[0]
        if err != 0:
            servers = await self._dns_servers()
            message = f"DNS lookup of {name} via {servers} failed {_after(started)}"
            raise error_for(message, err)
        with _parsing(lines):
            return [line.split(",", 1)[1].strip('"') for line in lines[1:]]

    async def _dns_servers(self) -> str:
        """Which servers the module asked (``AT+QIDNSCFG=1``), for an error message."""
        try:
            answer = await self.command("AT+QIDNSCFG=1")
        except BC66Error:
            return "the module's DNS servers"
        servers = [field.strip('"') for field in answer[0].split(",")[1:]] if answer else []
        chosen = [server for server in servers if server not in ("", "0.0.0.0", "::")]
        return " and ".join(chosen) if chosen else "the network's DNS servers"

    async def ping(
        self, host: str, *, timeout: int = 4, count: int = 4, size: int = 32
    ) -> PingResult:
        """``AT+QPING``: one entry per request and the summary (CLARIFICATIONS §21)."""
        line = f'AT+QPING=1,"{host}",{timeout},{count},{size}'
        started = asyncio.get_running_loop().time()
        lines = await self._service_call(Service.PING, line, count * (timeout + 2) + 10.0)
        with _parsing(lines):
            replies: list[PingReply | None] = []
            for text in lines:
                fields = text.split(":", 1)[1].strip().split(",")
                if len(fields) == 5:
                    ip = fields[1].strip('"')
                    replies.append(PingReply(ip, int(fields[2]), int(fields[3]), int(fields[4])))
                elif len(fields) == 1 and fields[0] == str(int(Err.TIMEOUT)):
                    replies.append(None)
                elif len(fields) == 1:
                    raise error_for(f"ping of {host} failed {_after(started)}", int(fields[0]))
            summary = int_fields(lines[-1])
            return PingResult(tuple(replies), *summary[1:])

    async def ntp_time(
        self, server: str, port: int = 123, *, set_clock: bool = False, timeout: float = 30.0
    ) -> dt.datetime:
        """``AT+QNTP``: the server's time (UTC); ``set_clock`` also sets the module's RTC."""
        line = f'AT+QNTP=1,"{server}",{port},{int(set_clock)}'
        started = asyncio.get_running_loop().time()
        lines = await self._service_call(Service.NTP, line, timeout)
        with _parsing(lines):
            match = re.search(r'(\d+),"(\d\d/\d\d/\d\d,\d\d:\d\d:\d\d)([+-]\d+)"', lines[0])
            if match is None:
                message = f"NTP query of {server}:{port} failed {_after(started)}"
                raise error_for(message, int_fields(lines[0])[0])
            local = dt.datetime.strptime(match.group(2), "%y/%m/%d,%H:%M:%S")
            offset = dt.timedelta(minutes=15 * int(match.group(3)))
            return (local - offset).replace(tzinfo=dt.UTC)


T = TypeVar("T")


def _after(started: float) -> str:
    """How long the module tried before it gave up, for an error message: a slow
    failure (a timeout) and an instant one (a refusal) are different problems."""
    return f"after {asyncio.get_running_loop().time() - started:.1f} s"


async def _atomic(coro: Coroutine[Any, Any, T]) -> T:
    """Run one exchange with the module to its end, even if the caller is cancelled.

    Half an exchange would leave the module waiting for promised data (the rest of
    the caller's commands would become payload) or its answer for the next command.
    The exchange ends by itself: its own timeouts bound it.
    """
    task = asyncio.ensure_future(coro)
    task.add_done_callback(_retrieve)
    return await asyncio.shield(task)


def _retrieve(task: asyncio.Future[Any]) -> None:
    """Mark an exchange's outcome as seen, when its caller is gone."""
    if not task.cancelled():
        task.exception()


@contextlib.contextmanager
def _parsing(lines: list[str]) -> Iterator[None]:
    """Fields that are not what a BC66 sends are a ProtocolError, not a ValueError."""
    try:
        yield
    except (ValueError, IndexError, TypeError) as exc:
        raise ProtocolError(f"the module's answer {lines!r} does not parse: {exc}") from exc
