"""Load-test a real backend with emulated devices on Locust: :class:`BC66User`.

Each Locust user is one device: an emulated BC66 behind its NB-IoT link profile,
with its power model, and the device behaviour the locustfile writes with the
host driver (``self.modem``, a :class:`bc66sim.client.BC66`)::

    from locust import task, between
    from bc66sim.locust import BC66User

    class Sensor(BC66User):
        network = "ce1"               # the module's link profile
        wait_time = between(50, 70)   # meanwhile the module goes idle (or to PSM)

        @task
        def report(self):
            self.modem.wake()
            with self.modem.connect("UDP", "collector.example", 9000) as sock:
                sock.send(b'{"imei":"%s","t":21.5}' % self.imei.encode())
                sock.recv(64, timeout=30)

Every AT command, socket open, send and receive the device makes is one request
in Locust's statistics and web UI (request type ``AT``, ``socket``, ``DNS``,
``MQTT`` …); what raises is a failure, and the task ends with it as with any
Locust client.

gevent against asyncio
----------------------
Locust runs users as greenlets on gevent, and monkey-patches the standard library
(sockets, ``select``, threads) so blocking calls yield to other greenlets.  The
emulator and the driver's core are asyncio.  Running asyncio on the patched
modules in the greenlets' own thread would make every device's I/O depend on
both schedulers at once, so the two never share a thread:

- One **native thread** per Locust process (started with gevent's *original*
  ``start_new_thread``, not the patched one that makes greenlets) runs an event
  loop (uvloop where installed, which does its I/O in libuv; else asyncio's own on
  the selector gevent replaced).  Every device of the process (its module, its
  UART, its driver core) lives on that loop, and the module's real sockets are of
  the class gevent replaced (``net.base.SOCKET_CLASS``), so no gevent hub runs
  there.
- A greenlet calls into it with ``loop.call_soon_threadsafe`` and waits on a
  :class:`gevent.event.AsyncResult`; the result comes back through gevent's
  ``hub.loop.run_callback_threadsafe``, the hub's documented way in from another
  thread.  So a greenlet that waits for its module yields to the other users, and
  nothing blocks either loop.  No coordinator of our own: Locust's master and
  workers distribute users, and each worker process hosts its users' modules.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import ipaddress
import itertools
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar, Unpack

import gevent
import gevent.event
import gevent.monkey
import gevent.pool
from locust import User, events
from locust.env import Environment
from locust.exception import StopUser
from locust.runners import MasterRunner, WorkerRunner

from bc66sim import loop as event_loop
from bc66sim.client.aio import OPEN_TIMEOUT, AsyncBC66, PingResult
from bc66sim.client.errors import BC66Timeout
from bc66sim.client.mqtt import AsyncMqttClient, MqttOptions
from bc66sim.client.sockets import AsyncSocket
from bc66sim.client.sync import BC66, MqttClient, Socket
from bc66sim.clock import LoopClock
from bc66sim.fleet import DEFAULT, FDS_PER_MODULE, raise_fd_limit
from bc66sim.module.identity import numbered_imei, numbered_imsi
from bc66sim.module.modem import Modem, ModemConfig
from bc66sim.module.nvram import Nvram
from bc66sim.net import base as net_base
from bc66sim.net.host import HostNetwork
from bc66sim.net.link import LinkNetwork, LinkProfile, load_profile
from bc66sim.transport.tcp import TcpPort
from bc66sim.transport.trace import Trace

__all__ = ["BC66User", "Device", "DeviceSocket"]

log = logging.getLogger(__name__)
# A module's own log lines (each socket opened, each host gone) are one per device
# per event: thousands of devices would bury Locust's output.  Warnings still show.
if logging.getLogger("bc66sim").level == logging.NOTSET:
    logging.getLogger("bc66sim").setLevel(logging.WARNING)
    log.setLevel(logging.INFO)

T = TypeVar("T")

# The module's real sockets (net/host.py, net/icmp.py) are of the class gevent
# replaced: a gevent socket on the emulator's thread would start a second gevent hub
# there.  Set once, here: this module is only imported where Locust runs.
net_base.SOCKET_CLASS = gevent.monkey.get_original("socket", "socket")

#: Devices a Locust worker numbers apart: worker w's n-th device is w × this + n
#: (IMEI and IMSI).
DEVICES_PER_WORKER = 1_000_000
#: Simulated addresses: worker w's n-th device is FIRST_IP + w × ADDRESSES_PER_WORKER
#: + n, all within 10.0.0.0/8 (256 workers of 65,536 devices each).
FIRST_IP = "10.0.0.1"
ADDRESSES_PER_WORKER = 1 << 16


# -- the asyncio side: one native thread per process ---------------------------------


class _LoopThread:
    """An event loop in a native thread, and the greenlet-friendly way to call it."""

    def __init__(self, loop_name: str = event_loop.default()) -> None:
        self.loop = _unpatched_loop(loop_name)
        start_new_thread = gevent.monkey.get_original("_thread", "start_new_thread")
        start_new_thread(self._main, ())

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def submit(self, coro: Coroutine[Any, Any, Any]) -> _Call:
        """Start ``coro`` on the loop; its outcome arrives in the calling thread's hub."""
        hub_loop = gevent.get_hub().loop
        call = _Call(self.loop)

        def settle(task: asyncio.Task[Any]) -> None:  # on the asyncio thread
            hub_loop.run_callback_threadsafe(_deliver, task, call.result)

        def start() -> None:  # on the asyncio thread
            call.task = self.loop.create_task(coro)
            call.task.add_done_callback(settle)

        self.loop.call_soon_threadsafe(start)
        return call

    def call(self, coro: Coroutine[Any, Any, T], timeout: float | None) -> T:
        """``coro``'s result, run on the loop; the calling greenlet yields meanwhile."""
        call = self.submit(coro)
        started = time.monotonic()
        try:
            # wait(), not get(timeout): a gevent.Timeout of the caller's own (``with
            # gevent.Timeout(5, False):`` around a call) must reach the caller as such.
            call.result.wait(timeout)  # returns the value, which may be None: ask ready()
            if not call.result.ready():
                call.cancel()
                raise BC66Timeout(f"no result after {time.monotonic() - started:.1f} s")
            value: T = call.result.get()
        except BaseException:  # the user was stopped (GreenletExit): end its call too
            call.cancel()
            raise
        return value


class _Call:
    """A coroutine started on the loop thread: its task there, its result here."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.task: asyncio.Task[Any] | None = None  # set on the loop's thread
        self.result: gevent.event.AsyncResult = gevent.event.AsyncResult()

    def cancel(self) -> None:
        def cancel() -> None:
            if self.task is not None:
                self.task.cancel()

        self._loop.call_soon_threadsafe(cancel)


def _unpatched_loop(name: str) -> asyncio.AbstractEventLoop:
    """A loop that does its waiting outside gevent: uvloop (libuv), or asyncio's own
    on the selector the standard library had before gevent patched it (gevent's
    would run a second hub inside the loop's thread)."""
    if event_loop.chosen(name) == "uvloop":
        return event_loop.new_loop("uvloop")
    selector_class = gevent.monkey.get_original("selectors", "DefaultSelector")
    return asyncio.SelectorEventLoop(selector_class())


def _deliver(task: asyncio.Task[Any], result: gevent.event.AsyncResult) -> None:
    """In the greenlet's hub: hand the finished task's outcome to the waiter."""
    if task.cancelled():
        result.set_exception(BC66Timeout("the call was cancelled"))
    elif (error := task.exception()) is not None:
        result.set_exception(error)
    else:
        result.set(task.result())


class _DeviceRunner:
    """One device's :class:`~bc66sim.client.sync.Runner`: the shared loop thread."""

    def __init__(self, thread: _LoopThread) -> None:
        self._thread = thread

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        return self._thread.call(coro, timeout)

    def stop(self) -> None:
        """The driver closed; the module behind it is shut down by its user."""


# -- the process's devices ------------------------------------------------------------


@dataclass
class _Started:
    """A device's power-on, as the asyncio thread saw it (wall-clock times)."""

    began: float
    opened: float | None = None  # the driver had the module's command line
    attached: float | None = None
    modem: Modem | None = None
    port: TcpPort | None = None
    core: AsyncBC66 | None = None
    error: BaseException | None = None
    task: asyncio.Task[Any] | None = None


@dataclass
class _Totals:
    """What this process's devices used, for the run's energy summary."""

    devices: int = 0
    mah: float = 0.0
    seconds: float = 0.0


class _Devices:
    """Every device (module, UART, driver core) of this Locust process."""

    def __init__(self) -> None:
        self.thread = _LoopThread()
        self._numbers = itertools.count()
        self.modems: set[Modem] = set()
        self.closed = _Totals()
        raise_fd_limit(64 + 1000 * FDS_PER_MODULE)

    def number(self, environment: Environment) -> tuple[int, str]:
        """The next device's number (IMEI, IMSI) and its simulated address."""
        runner = environment.runner
        worker = runner.worker_index if isinstance(runner, WorkerRunner) else 0
        local = next(self._numbers)
        address = ipaddress.ip_address(FIRST_IP) + worker * ADDRESSES_PER_WORKER + local
        if address not in ipaddress.ip_network("10.0.0.0/8") or local >= ADDRESSES_PER_WORKER:
            raise ValueError(f"worker {worker}, device {local}: beyond the address plan")
        return worker * DEVICES_PER_WORKER + local, str(address)

    async def start(self, config: ModemConfig, profile: LinkProfile, seed: int | None,
                    attach_timeout: float, started: _Started) -> None:  # fmt: skip
        """Power on a module behind its link, on a loopback UART; open the driver on it
        and wait for the attach.  Each step's time and outcome go into ``started``."""
        started.task = asyncio.current_task()
        try:
            clock = LoopClock()
            network = LinkNetwork(HostNetwork(), profile, clock, seed=seed)
            started.modem = Modem(network, config=config, nvram=Nvram(None), clock=clock)
            self.modems.add(started.modem)
            started.port = TcpPort("127.0.0.1", 0)
            where = await started.port.open(started.modem, Trace())
            started.modem.power_on()
            started.core = await AsyncBC66.open(f"socket://{where}")
            started.opened = time.time()
            await started.core.wait_ready(attach_timeout)
            started.attached = time.time()
        except Exception as exc:
            started.error = exc
            raise

    async def stop(self, started: _Started) -> None:
        """Close a device, however far its start came."""
        try:
            if started.task is not None and not started.task.done():
                started.task.cancel()
                with contextlib.suppress(BaseException):
                    await started.task
            if started.core is not None:
                await started.core.close()
            modem = started.modem
            if modem is not None:
                summary = modem.power.energy.summary(modem.clock.now())
                self.closed.devices += 1
                self.closed.mah += summary.total_mah
                self.closed.seconds += summary.total_seconds
                self.modems.discard(modem)
                await modem.close()
            if started.port is not None:
                await started.port.close()
        except Exception:
            log.exception("a device did not close cleanly")

    async def forget_closed(self) -> None:
        """On the loop's thread, where the totals change: a new run begins."""
        self.closed = _Totals()

    async def totals(self) -> _Totals:
        """Closed devices and the ones running now, together."""
        totals = _Totals(self.closed.devices, self.closed.mah, self.closed.seconds)
        for modem in self.modems:
            summary = modem.power.energy.summary(modem.clock.now())
            totals.devices += 1
            totals.mah += summary.total_mah
            totals.seconds += summary.total_seconds
        return totals


_devices: _Devices | None = None


def _process_devices() -> _Devices:
    global _devices
    if _devices is None:
        _devices = _Devices()
    return _devices


# -- the host driver, measured ----------------------------------------------------------

#: The request event's signature (locust.event.Events.request).
RequestEvent = Callable[..., None]


def _command_name(line: str) -> str:
    """A command line's statistics name: ``AT+QIOPEN``, ``AT+CEREG?``, ``AT+QICFG=?``."""
    name, equals, rest = line.strip().partition("=")
    return name + "=?" if equals and rest == "?" else name


class _Measure:
    """Times a call and fires Locust's request event for it."""

    def __init__(self, fire: RequestEvent) -> None:
        self._fire = fire

    def __call__(self, kind: str, name: str, call: Callable[[], T],
                 size: Callable[[T], int] = lambda _: 0) -> T:  # fmt: skip
        started = time.time()
        clock = time.perf_counter()
        try:
            result = call()
        except Exception as exc:
            self.record(kind, name, started, time.perf_counter() - clock, exc)
            raise
        self.record(kind, name, started, time.perf_counter() - clock, None, size(result))
        return result

    def record(self, kind: str, name: str, started: float, seconds: float,
               exception: BaseException | None, size: int = 0) -> None:  # fmt: skip
        """One request: its type and name, wall-clock start, duration, failure, size."""
        self._fire(request_type=kind, name=name, start_time=started, context={},
                   response_time=seconds * 1000, response_length=size, response=None,
                   exception=exception)  # fmt: skip


def _in_hub(callback: Callable[..., Any]) -> Callable[..., None]:
    """``callback``, called from the loop's thread, run in the calling greenlet's hub."""
    hub_loop = gevent.get_hub().loop

    def relay(*args: Any) -> None:
        hub_loop.run_callback_threadsafe(callback, *args)

    return relay


class DeviceSocket(Socket):
    """A module socket whose opens, sends and receives are Locust requests."""

    def __init__(
        self, sock: AsyncSocket, runner: _DeviceRunner, peer: tuple[str, int], measure: _Measure
    ) -> None:
        super().__init__(sock, runner, peer)
        self._measure = measure

    def send(self, data: bytes, timeout: float | None = None) -> int:
        return self._measure(
            "socket",
            f"send {self.kind}",
            lambda: Socket.send(self, data, timeout),
            lambda sent: sent,
        )

    def sendall(self, data: bytes, timeout: float | None = None) -> None:
        self._measure(
            "socket",
            f"send {self.kind}",
            lambda: Socket.sendall(self, data, timeout),
            lambda _: len(data),
        )

    def recv(self, bufsize: int, timeout: float | None = None) -> bytes:
        return self._measure(
            "socket", f"recv {self.kind}", lambda: Socket.recv(self, bufsize, timeout), len
        )

    def close(self) -> None:
        self._measure("socket", f"close {self.kind}", super().close)


class DeviceMqttClient(MqttClient):
    """The module's MQTT client; connect, subscribe and publish are Locust requests."""

    def __init__(self, client: AsyncMqttClient, runner: _DeviceRunner, measure: _Measure) -> None:
        super().__init__(client, runner)
        self._measure = measure

    def subscribe(self, topic: str, qos: int = 0, callback: Any = None) -> int:
        handler = None if callback is None else _in_hub(callback)
        return self._measure(
            "MQTT", "subscribe", lambda: MqttClient.subscribe(self, topic, qos, handler)
        )

    def unsubscribe(self, topic: str) -> None:
        self._measure("MQTT", "unsubscribe", lambda: MqttClient.unsubscribe(self, topic))

    def publish(self, topic: str, payload: bytes | str, qos: int = 0, retain: bool = False) -> None:
        size = len(payload.encode() if isinstance(payload, str) else payload)
        self._measure(
            "MQTT",
            f"publish qos {qos}",
            lambda: MqttClient.publish(self, topic, payload, qos, retain),
            lambda _: size,
        )

    def disconnect(self) -> None:
        self._measure("MQTT", "disconnect", super().disconnect)


class Device(BC66):
    """The host driver of one user's module (:class:`bc66sim.client.BC66`), measured:
    each call is one request in Locust's statistics."""

    def __init__(
        self, core: AsyncBC66, runner: _DeviceRunner, measure: _Measure, imei: str
    ) -> None:
        super().__init__(core, runner)
        self._measure = measure
        #: The module's IMEI: the device's identity for the backend.
        self.imei = imei

    def wait_ready(self, timeout: float = 60.0) -> None:
        self._measure("module", "attach", lambda: BC66.wait_ready(self, timeout))

    def wake(self, timeout: float = 5.0) -> None:
        self._measure("module", "wake", lambda: BC66.wake(self, timeout))

    def command(self, line: str, timeout: float | None = None) -> list[str]:
        return self._measure(
            "AT",
            _command_name(line),
            lambda: BC66.command(self, line, timeout),
            lambda lines: sum(len(text) for text in lines),
        )

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
        return self._measure(
            "socket",
            f"open {kind.upper()}",
            lambda: BC66.connect(
                self, kind, host, port, local_port=local_port, push=push, timeout=timeout
            ),
        )

    def _socket(self, sock: AsyncSocket, peer: tuple[str, int]) -> Socket:
        assert isinstance(self._runner, _DeviceRunner)
        return DeviceSocket(sock, self._runner, peer, self._measure)

    def resolve(self, name: str, timeout: float = 30.0) -> list[str]:
        return self._measure("DNS", "AT+QIDNSGIP", lambda: BC66.resolve(self, name, timeout))

    def ntp_time(self, server: str, port: int = 123, *, set_clock: bool = False) -> dt.datetime:
        return self._measure(
            "NTP", "AT+QNTP", lambda: BC66.ntp_time(self, server, port, set_clock=set_clock)
        )

    def ping(self, host: str, *, timeout: int = 4, count: int = 4, size: int = 32) -> PingResult:
        return self._measure(
            "ping",
            "AT+QPING",
            lambda: BC66.ping(self, host, timeout=timeout, count=count, size=size),
        )

    def mqtt(
        self, host: str, port: int, client_id: str, **options: Unpack[MqttOptions]
    ) -> MqttClient:
        """As :meth:`BC66.mqtt`; its callbacks run in the user's gevent hub, where a
        Locust event may be fired (the driver calls them on the loop's thread)."""
        on_message, on_status = options.get("on_message"), options.get("on_status")
        if on_message is not None:
            options["on_message"] = _in_hub(on_message)
        if on_status is not None:
            options["on_status"] = _in_hub(on_status)
        return self._measure(
            "MQTT", "connect", lambda: BC66.mqtt(self, host, port, client_id, **options)
        )

    def _mqtt_client(self, client: AsyncMqttClient) -> MqttClient:
        assert isinstance(self._runner, _DeviceRunner)
        return DeviceMqttClient(client, self._runner, self._measure)


# -- the user ----------------------------------------------------------------------------


class BC66User(User):
    """A Locust user that is a device: an emulated BC66 and its host software.

    The module powers on as the user is spawned, and attaches; ``self.modem`` (also
    ``self.client``) waits for that the first time it is used, then is the module's
    driver.  The power-on and the attach are the requests ``module power on`` and
    ``module attach``; a device whose module does not attach within
    :attr:`attach_timeout` is counted as that failure once and leaves the test.
    ``self.imei`` is the module's IMEI.  When the user stops, the module's sockets
    close and it powers off.
    """

    abstract = True
    #: The module's link profile: a name (``ideal``, ``ce0``, ``ce1``, ``ce2``) or a
    #: profile file (net/link.py); its delays, rates, loss and attach time apply.
    network: ClassVar[str | LinkProfile] = "ce0"
    #: ``BC66`` or ``BC66-NA``.
    model: ClassVar[str] = "BC66"
    #: Seconds from power-on to attach; None: the link profile's.
    attach_delay: ClassVar[float | None] = None
    #: Seeds the link's random draws (each device adds its number); None: unseeded.
    seed: ClassVar[int | None] = None
    #: Seconds a module may take to attach before the user gives up.
    attach_timeout: ClassVar[float] = 120.0

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        devices = _process_devices()
        self._devices = devices
        self._measure = _Measure(environment.events.request.fire)
        number, address = devices.number(environment)
        profile = self.network if isinstance(self.network, LinkProfile) else (
            load_profile(self.network))  # fmt: skip
        attach_delay = profile.attach_time if self.attach_delay is None else self.attach_delay
        config = ModemConfig(
            attach_delay=attach_delay,
            ip_address=address,
            model=self.model,
            imei=numbered_imei(DEFAULT.imei, number),
            imsi=numbered_imsi(DEFAULT.imsi, number),
        )
        #: The module's IMEI: the device's identity for the backend.
        self.imei = config.imei
        seed = None if self.seed is None else self.seed + number
        # Powering on here, without waiting, lets Locust spawn users at its own rate
        # while their modules attach in the background (seconds on NB-IoT).
        self._started = _Started(time.time())
        self._ready = devices.thread.submit(
            devices.start(config, profile, seed, self.attach_timeout, self._started)
        ).result
        self._device: Device | None = None
        self._start_recorded = False

    @property
    def modem(self) -> Device:
        """The module's driver; the first use waits until it has attached."""
        if self._device is None:
            self._device = self._wait_ready()
        return self._device

    @property
    def client(self) -> Device:
        """:attr:`modem`, under the name Locust's own users give their client."""
        return self.modem

    def _wait_ready(self) -> Device:
        """The driver once the module attached; the start's steps recorded once.  A
        device whose module did not start or attach leaves the test (StopUser)."""
        started = self._started
        if self._start_recorded:
            raise StopUser()
        with contextlib.suppress(Exception):  # its failure is in started.error
            self._ready.get()
        self._start_recorded = True
        for name, since, until in (("power on", started.began, started.opened),
                                   ("attach", started.opened, started.attached)):  # fmt: skip
            if since is None:
                break
            failed = until is None
            self._measure.record("module", name, since, (until or time.time()) - since,
                                 started.error if failed else None)  # fmt: skip
            if failed:
                break
        if started.error is not None or started.core is None:
            log.warning("device %s: %s; it leaves the test", self.imei,
                        started.error or "the module did not start")  # fmt: skip
            raise StopUser()
        return Device(started.core, _DeviceRunner(self._devices.thread), self._measure, self.imei)

    def start(self, group: gevent.pool.Group) -> gevent.Greenlet:
        greenlet: gevent.Greenlet = super().start(group)
        greenlet.link(lambda _: self._power_off())  # however the user ended
        return greenlet

    def _power_off(self) -> None:
        """In the hub as the user's greenlet ends: close the device in the background."""
        started = self._started
        self._devices.thread.submit(self._devices.stop(started))


# -- the run's energy, across workers -----------------------------------------------------

_ENERGY_KEY = "bc66sim_energy"
_master_totals: dict[str, _Totals] = {}


def _report_energy(client_id: str, data: dict[str, Any], **_: Any) -> None:
    """On a worker: send this process's device energy with each stats report."""
    if _devices is None:
        return
    totals = _devices.thread.call(_devices.totals(), 10)
    data[_ENERGY_KEY] = [totals.devices, totals.mah, totals.seconds]


def _gather_energy(client_id: str, data: dict[str, Any], **_: Any) -> None:
    """On the master: keep each worker's latest figures."""
    if _ENERGY_KEY in data:
        _master_totals[client_id] = _Totals(*data[_ENERGY_KEY])


def _forget_energy(**_: Any) -> None:
    """A new run (the web UI starts one after another): its own totals."""
    _master_totals.clear()
    if _devices is not None:
        _devices.thread.submit(_devices.forget_closed())


def _say_energy(environment: Environment, **_: Any) -> None:
    """Once, where the run is seen whole, as Locust quits (after the workers' last
    reports have come in): the energy the devices used."""
    runner = environment.runner
    if isinstance(runner, WorkerRunner):
        return
    if isinstance(runner, MasterRunner):
        parts = list(_master_totals.values())
    elif _devices is not None:
        parts = [_devices.thread.call(_devices.totals(), 10)]
    else:
        return
    devices = sum(part.devices for part in parts)
    mah = sum(part.mah for part in parts)
    seconds = sum(part.seconds for part in parts)
    if devices and seconds > 0:
        log.info("bc66sim: %d devices used %.4f mAh in all; %.4f mA on average per device",
                 devices, mah, mah * 3600 / seconds)  # fmt: skip


def _web_ui_on_loopback(parser: Any, **_: Any) -> None:
    """Locust's web UI listens on every interface unless told; with bc66sim it listens on
    loopback unless told (``--web-host``, ``LOCUST_WEB_HOST``), as bc66sim's own control
    plane and dashboard do. A master's port for its workers is Locust's and unchanged."""
    parser.set_defaults(web_host="127.0.0.1")


events.init_command_line_parser.add_listener(_web_ui_on_loopback)  # type: ignore[no-untyped-call]
events.report_to_master.add_listener(_report_energy)  # type: ignore[no-untyped-call]
events.worker_report.add_listener(_gather_energy)  # type: ignore[no-untyped-call]
events.test_start.add_listener(_forget_energy)  # type: ignore[no-untyped-call]
events.quitting.add_listener(_say_energy)  # type: ignore[no-untyped-call]
