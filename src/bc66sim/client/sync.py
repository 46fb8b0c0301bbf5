"""The blocking facade: :class:`BC66` and :class:`Socket`, for scripts.

An event loop runs in a background thread with the asyncio core; every call here
waits for its result with a timeout.  :class:`Socket` has enough of the
``socket.socket`` surface (``sendall``, ``recv``, ``settimeout``, ``makefile``,
``close``) that standard libraries such as ``http.client`` run over it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dt
import io
import threading
import time
from collections.abc import Coroutine
from typing import Any, Protocol, TypeVar, Unpack

from bc66sim.client.aio import OPEN_TIMEOUT, AsyncBC66, PingResult
from bc66sim.client.errors import BC66Timeout
from bc66sim.client.mqtt import AsyncMqttClient, MessageCallback, MqttOptions
from bc66sim.client.sockets import AsyncSocket

T = TypeVar("T")

#: Seconds a blocking socket waits by default: a hang is never silent.
DEFAULT_SOCKET_TIMEOUT = 60.0


class Runner(Protocol):
    """Where the blocking API's coroutines run, and how its caller waits for them:
    :class:`_LoopThread` for scripts, a gevent-friendly one for Locust (locust.py)."""

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """``coro``'s result, waited for at most ``timeout`` s (then BC66Timeout)."""
        ...

    def stop(self) -> None:
        """The driver is closed: release what this runner holds for it."""
        ...


class _LoopThread:
    """An event loop in a daemon thread; runs coroutines for the blocking API."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="bc66", daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        started = time.monotonic()
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            if future.done():
                raise  # the driver's own timeout, which says what timed out
            future.cancel()
            waited = time.monotonic() - started
            raise BC66Timeout(f"no result after {waited:.1f} s") from None

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
        self.loop.close()


class BC66:
    """A BC66, real or emulated, on a serial port or any pyserial URL.

    ::

        with BC66.open("/dev/ttyUSB0") as modem:       # or "socket://127.0.0.1:5566"
            modem.wait_ready(timeout=60)
            with modem.connect("TCP", "example.org", 80) as sock:
                sock.sendall(b"GET / HTTP/1.0\\r\\n\\r\\n")
                reply = sock.recv(4096, timeout=10)
    """

    def __init__(self, core: AsyncBC66, runner: Runner) -> None:
        self.core = core
        self._runner = runner

    @classmethod
    def open(cls, port: str, *, baudrate: int = 115200, **options: Any) -> BC66:
        """Open ``port`` and make the module ready for the driver (see :class:`AsyncBC66`)."""
        runner = _LoopThread()
        try:
            core = runner.run(AsyncBC66.open(port, baudrate=baudrate, **options), 30)
        except BaseException:
            runner.stop()
            raise
        return cls(core, runner)

    def _run(self, coro: Coroutine[Any, Any, T], timeout: float | None) -> T:
        return self._runner.run(coro, timeout)

    def wait_ready(self, timeout: float = 60.0) -> None:
        self._run(self.core.wait_ready(timeout), timeout + 5)

    def wake(self, timeout: float = 5.0) -> None:
        """Make sure the module hears the next command (it may be in deep sleep)."""
        self._run(self.core.wake(timeout), timeout + 5)

    def command(self, line: str, timeout: float | None = None) -> list[str]:
        """Any AT command; its information lines (raises with the module's code on ERROR)."""
        return self._run(self.core.command(line, timeout=timeout), (timeout or 30) + 5)

    def connect(
        self,
        kind: str,
        host: str,
        port: int,
        *,
        local_port: int = 0,
        push: bool = False,
        timeout: float = OPEN_TIMEOUT,
    ) -> Socket:
        sock = self._run(
            self.core.connect(kind, host, port, local_port=local_port, push=push, timeout=timeout),
            timeout + 10,
        )
        return self._socket(sock, (host, port))

    def _socket(self, sock: AsyncSocket, peer: tuple[str, int]) -> Socket:
        """The blocking face of an opened socket (locust.py measures its calls)."""
        return Socket(sock, self._runner, peer)

    def resolve(self, name: str, timeout: float = 30.0) -> list[str]:
        return self._run(self.core.resolve(name, timeout), timeout + 5)

    def ping(self, host: str, *, timeout: int = 4, count: int = 4, size: int = 32) -> PingResult:
        coro = self.core.ping(host, timeout=timeout, count=count, size=size)
        return self._run(coro, count * (timeout + 2) + 20.0)

    def ntp_time(self, server: str, port: int = 123, *, set_clock: bool = False) -> dt.datetime:
        return self._run(self.core.ntp_time(server, port, set_clock=set_clock), 40)

    def mqtt(
        self, host: str, port: int, client_id: str, **options: Unpack[MqttOptions]
    ) -> MqttClient:
        """Connect one of the module's MQTT clients (see :meth:`AsyncBC66.mqtt`).

        Callbacks (``on_message``, ``on_status``, a subscription's) run in the
        driver's thread: keep them short, or hand the message to your own queue.
        """
        client = self._run(self.core.mqtt(host, port, client_id, **options), 200)
        return self._mqtt_client(client)

    def _mqtt_client(self, client: AsyncMqttClient) -> MqttClient:
        return MqttClient(client, self._runner)

    def close(self) -> None:
        try:
            self._run(self.core.close(), 30)
        finally:
            self._runner.stop()

    def __enter__(self) -> BC66:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class Socket:
    """A module socket with the ``socket.socket`` calls most libraries use."""

    def __init__(self, sock: AsyncSocket, runner: Runner, peer: tuple[str, int]) -> None:
        self._sock = sock
        self._runner = runner
        self._peer = peer
        self._timeout: float | None = DEFAULT_SOCKET_TIMEOUT
        #: Files from makefile() still open: like socket.socket, close() waits for them.
        self._io_refs = 0
        self._close_requested = False

    @property
    def connect_id(self) -> int:
        return self._sock.connect_id

    @property
    def kind(self) -> str:
        """``TCP`` or ``UDP``."""
        return self._sock.kind

    def settimeout(self, timeout: float | None) -> None:
        self._timeout = timeout

    def gettimeout(self) -> float | None:
        return self._timeout

    def _wait(self, timeout: float | None) -> float | None:
        return None if timeout is None else timeout + 5

    def send(self, data: bytes, timeout: float | None = None) -> int:
        limit = self._timeout if timeout is None else timeout
        return self._runner.run(self._sock.send(data, limit), self._wait(limit))

    def sendall(self, data: bytes, timeout: float | None = None) -> None:
        limit = self._timeout if timeout is None else timeout
        self._runner.run(self._sock.sendall(data, limit), None)

    def recv(self, bufsize: int, timeout: float | None = None) -> bytes:
        limit = self._timeout if timeout is None else timeout
        return self._runner.run(self._sock.recv(bufsize, limit), self._wait(limit))

    def recvfrom(self, bufsize: int, timeout: float | None = None) -> tuple[bytes, tuple[str, int]]:
        return self.recv(bufsize, timeout), self._peer

    def makefile(self, mode: str = "r", buffering: int = -1, **text: Any) -> Any:
        """A file over the socket, as ``socket.makefile`` gives (http.client reads it)."""
        raw = _SocketIO(self, mode)
        self._io_refs += 1
        size = io.DEFAULT_BUFFER_SIZE if buffering in (-1, None) else buffering
        binary: io.BufferedIOBase = (
            io.BufferedReader(raw, size) if "r" in mode else io.BufferedWriter(raw, size)
        )
        return binary if "b" in mode else io.TextIOWrapper(binary, **text)

    def close(self) -> None:
        """``AT+QICLOSE``, once no file from :meth:`makefile` is open (as socket.socket)."""
        self._close_requested = True
        if self._io_refs <= 0:
            self._runner.run(self._sock.close(), 30)

    def _file_closed(self) -> None:
        self._io_refs -= 1
        if self._close_requested and self._io_refs <= 0:
            self.close()

    def __enter__(self) -> Socket:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class MqttClient:
    """The module's MQTT client, blocking (see :class:`AsyncMqttClient`)::

    with modem.mqtt("broker.example", 1883, "sensor-1") as mqtt:
        mqtt.subscribe("sensor-1/cmd", 1, lambda message: print(message.payload))
        mqtt.publish("sensor-1/temp", b"21.5", qos=1)
    """

    #: Seconds a call may take: the module's own retries end sooner.
    TIMEOUT = 200.0

    def __init__(self, client: AsyncMqttClient, runner: Runner) -> None:
        self.core = client
        self._runner = runner

    @property
    def connected(self) -> bool:
        return self.core.connected

    def subscribe(self, topic: str, qos: int = 0, callback: MessageCallback | None = None) -> int:
        return self._runner.run(self.core.subscribe(topic, qos, callback), self.TIMEOUT)

    def unsubscribe(self, topic: str) -> None:
        self._runner.run(self.core.unsubscribe(topic), self.TIMEOUT)

    def publish(self, topic: str, payload: bytes | str, qos: int = 0, retain: bool = False) -> None:
        self._runner.run(self.core.publish(topic, payload, qos, retain), self.TIMEOUT)

    def disconnect(self) -> None:
        self._runner.run(self.core.disconnect(), self.TIMEOUT)

    def __enter__(self) -> MqttClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.disconnect()


class _SocketIO(io.RawIOBase):
    def __init__(self, sock: Socket, mode: str) -> None:
        self._sock = sock
        self._mode = mode

    def readable(self) -> bool:
        return "r" in self._mode

    def writable(self) -> bool:
        return "w" in self._mode

    def readinto(self, buffer: Any) -> int:
        data = self._sock.recv(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def write(self, data: Any) -> int:
        self._sock.sendall(bytes(data))
        return len(data)

    def close(self) -> None:
        if not self.closed:
            super().close()
            self._sock._file_closed()
