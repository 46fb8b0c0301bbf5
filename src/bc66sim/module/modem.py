"""The emulated BC66: one object that owns the module's state and its output.

Bytes from the host go in through :meth:`Modem.receive_data`; everything the
module says goes out through the ``write`` callable a transport attaches.  The
modem orders its output: a URC never lands inside a response or a data-mode
exchange (CLARIFICATIONS §3) — it is queued and written right after, each URC
in a single write.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from typing import Any

from bc66sim.at import framer as fr
from bc66sim.at.parser import Command, ParseError, parse_line
from bc66sim.at.results import ERROR, OK, PROMPT, line
from bc66sim.clock import Clock, LoopClock, TimerHandle
from bc66sim.module import dns, general, network, ntp, ping, powersave, sockets, tcpip_config
from bc66sim.module.commands import BadParameter, CommandTable, DataPrompt, Reply, Spec
from bc66sim.module.energy import Currents
from bc66sim.module.errors import CmeError, CommandError, Err
from bc66sim.module.events import EventHub, HostConnected, UrcEmitted
from bc66sim.module.identity import MODELS, iccid_for
from bc66sim.module.mqtt import commands as mqtt_commands
from bc66sim.module.mqtt.service import MqttService
from bc66sim.module.nvram import Nvram, NvSettings
from bc66sim.module.overrides import Overrides
from bc66sim.module.pins import Pins
from bc66sim.module.power import Power, PowerConfig
from bc66sim.module.radio import Radio
from bc66sim.net.base import Network
from bc66sim.net.policy import DestinationPolicy
from bc66sim.note.limits import DEFAULT_DNS_TIMEOUT, DEFAULT_OPEN_TIMEOUT, MAX_QUEUED_URC_BYTES

log = logging.getLogger(__name__)

Writer = Callable[[bytes], None]

TABLE = CommandTable()
general.register(TABLE)
network.register(TABLE)
powersave.register(TABLE)
sockets.register(TABLE)
tcpip_config.register(TABLE)
dns.register(TABLE)
ntp.register(TABLE)
ping.register(TABLE)
mqtt_commands.register(TABLE)


@dataclass(frozen=True)
class ModemConfig:
    """What the emulator's user chooses; the host cannot change it with AT."""

    attach_delay: float = 2.0
    #: The module's simulated address (``+IP:``, ``AT+CGPADDR``; CLARIFICATIONS §25).
    ip_address: str = "10.20.30.40"
    open_timeout: float = DEFAULT_OPEN_TIMEOUT
    #: Seconds a DNS lookup may take before it fails with 569 (565 in AT+QIOPEN).
    dns_timeout: float = DEFAULT_DNS_TIMEOUT
    #: Seconds to wait for an NTP server's answer before +QNTP: 569.
    ntp_timeout: float = 10.0
    #: Seconds from one echo request of AT+QPING to the next.
    ping_interval: float = 1.0
    #: Seconds a command line whose CR came last waits for its LF, from a host that
    #: ends lines with CR LF (at/framer.py: line ends).  The LF of a host writing byte
    #: by byte comes within microseconds; this bound only matters to a host that
    #: switches to CR alone, and only once.
    line_feed_wait: float = 0.05
    #: ``BC66`` or ``BC66-NA`` (identity.MODELS): model name, firmware and bands.
    model: str = "BC66"
    #: 14 digits and a Luhn check digit (3GPP TS 23.003 §6.2.1).
    imei: str = "866818039921448"
    #: MCC 001, MNC 01 (the test network of the simulated cell), then the MSIN.
    imsi: str = "001010123456789"
    #: The ICCID of the SIM; None derives it from the IMSI (identity.iccid_for).
    iccid: str | None = None
    #: The two-digit software version number of IMEISV (``AT+CGSN=2|3``).
    software_version: str = "01"
    #: Destinations the module may reach (``--allow`` / ``--deny``); None: all.
    policy: DestinationPolicy | None = None
    #: NB-IoT time: RRC inactivity, the network's PSM grant and what it holds (power.py).
    power: PowerConfig = field(default_factory=PowerConfig)
    #: The current of each power state, for the energy summary (energy.py).
    currents: Currents = field(default_factory=Currents)


#: ``serve --power-on-at-connect``: seconds from a host's arrival to the boot.
POWER_ON_AFTER_HOST = 0.5


class Modem:
    """The emulated module; see the module docstring."""

    def __init__(
        self,
        network: Network,
        *,
        config: ModemConfig | None = None,
        nvram: Nvram | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.network = network
        #: Module time: every timer of the module and its RTC (bc66sim.clock).
        self.clock: Clock = clock or LoopClock()
        #: The UART's timings (a held line's LF, the bytes lost waking from deep sleep)
        #: are the host's, in wall time even when module time is scaled (--time-scale).
        self.uart_clock: Clock = getattr(self.clock, "wall", self.clock)
        self.config = config or ModemConfig()
        if self.config.model not in MODELS:
            raise ValueError(f"unknown model {self.config.model!r}: one of {', '.join(MODELS)}")
        self.model = MODELS[self.config.model]
        self.iccid = self.config.iccid or iccid_for(self.config.imsi)
        self.policy = self.config.policy or DestinationPolicy()
        self.nvram = nvram or Nvram(None)
        self.nv = self.nvram.load()
        #: What the module does, for listeners (module/events.py: the control plane's feed).
        self.events = EventHub()
        #: Answers set by the control plane in place of the module's (module/overrides.py).
        self.overrides = Overrides()
        self.radio = Radio(self)
        self.sockets = sockets.SocketService(self)
        self.mqtt = MqttService(self)
        self.power = Power(self, self.config.power)
        self.pins = Pins(self)
        #: The error of the last TCP/IP command (§2.3.13).
        self.last_error = Err.OK
        self.powered = False
        self._framer = fr.Framer()
        self._reset_volatile()
        self._writer: Writer | None = None
        self._urcs: deque[bytes] = deque()
        self._urc_bytes = 0
        self._drain_waiters: list[Callable[[], None]] = []
        #: Transports whose output waits beyond their high-water mark (output_blocked).
        self._congested: set[str] = set()
        self._prompt: tuple[Spec, DataPrompt] | None = None
        self._responding = False
        #: While input is handled, output gathers here: one transport write per chunk.
        self._batch: bytearray | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._line_feed_timer: TimerHandle | None = None
        #: serve --power-on-at-connect: the module boots with the first host.
        self._waiting_for_host = False
        self._boot_timer: TimerHandle | None = None

    # -- wiring --------------------------------------------------------------------

    def attach_output(self, writer: Writer | None) -> None:
        """Where the module's bytes go (a transport); None drops them, like a loose wire."""
        self._writer = writer

    def set_echo(self, on: bool) -> None:
        """``ATE``: applies from the next byte the framer consumes."""
        self._framer.echo = on

    def host_connected(self) -> None:
        """A new host is on the UART, ready to hear the module (a TCP connection): what
        was learnt of the last one is forgotten, and a module waiting for its first host
        boots now."""
        self.events.publish(HostConnected())
        self._framer.crlf_host = True
        if self._waiting_for_host:
            self._waiting_for_host = False
            # As a board pulses PWRKEY (>= 500 ms) and the firmware then boots: a host
            # that opens a serial port also flushes what waits in it (pyserial does),
            # and RDY written at once would be lost in that flush.  Wall time: it is
            # the host's pace, not the module's, that this waits for.
            self._boot_timer = self.uart_clock.call_later(POWER_ON_AFTER_HOST, self.power_on)

    def power_on_with_the_first_host(self) -> None:
        """``serve --power-on-at-connect``: boot when a host first connects, so it sees
        ``RDY`` and ``+IP:`` (:meth:`host_connected`)."""
        self._waiting_for_host = True

    @property
    def echo(self) -> bool:
        return self._framer.echo

    def load_profile(self, profile: NvSettings | None = None) -> None:
        """Echo, ``CMEE``, ``CTZR``, ``IPR`` and the ``CEREG`` mode from a profile (V.250
        §6.1): the one ``AT&W`` saved (at boot and by ``ATZ``), or the factory one (``AT&F``)."""
        saved = profile or self.nv
        self.set_echo(bool(saved.echo))
        self.cmee, self.ctzr, self.ipr = saved.cmee, saved.ctzr, saved.ipr
        self.radio.settings.cereg_mode = saved.cereg_mode

    def _write(self, data: bytes) -> None:
        if self._batch is not None:
            self._batch += data
        elif self._writer is not None and data:
            self._writer(data)

    def spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Run background work (an open, a timer) owned by the module."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def start_service(
        self,
        name: str,
        busy: Err,
        work: Callable[[], Coroutine[Any, Any, None]],
        report: Callable[[Err], None],
    ) -> None:
        """Start a network service run (DNS, ping, NTP; §2.3.8-§2.3.10).

        One run of each service at a time: another answers ``ERROR`` with ``busy``.
        Not attached: the run fails at once and ``report`` tells it (561), as
        ``AT+QIOPEN`` does.
        """
        if name in self._services:
            raise CommandError(busy)
        if not self.radio.attached:
            report(Err.OPEN_PDP_FAILED)
            return
        self.power.uplink()  # a lookup, an echo request, an NTP query: uplink
        services = self._services
        services.add(name)

        async def run() -> None:
            # Free the service in the same step as its last URC: a host that answers
            # that URC at once must find it free (a done callback would come a loop
            # iteration later, and uvloop may read the host's next line before it).
            try:
                await work()
            finally:
                services.discard(name)

        self.spawn(run())

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("module task failed", exc_info=task.exception())

    # -- power ---------------------------------------------------------------------

    def _reset_volatile(self) -> None:
        """What a boot sets back to its defaults (NVRAM settings stay)."""
        # The host's line ends are the host's: they survive the module's reboot.
        self._framer = fr.Framer(crlf_host=self._framer.crlf_host)
        self.load_profile()
        self.tcpip = tcpip_config.TcpipSettings()
        self.dns = dns.DnsService(self)
        #: Network services running now (start_service).
        self._services: set[str] = set()

    def wake_from_deep_sleep(self) -> None:
        """What a wake-up from deep sleep resets: the settings "invalid after deep-sleep
        wakeup" in their Characteristics row (``AT+QICFG="echomode"``, §2.3.12)."""
        self.tcpip.echo_mode = tcpip_config.TcpipSettings().echo_mode
        echo = self._framer.echo  # a line half-typed before the sleep is gone
        self._framer = fr.Framer(crlf_host=self._framer.crlf_host)
        self._framer.echo = echo

    def psm_eint(self) -> None:
        """The PSM_EINT pin's falling edge: wakes the module from deep sleep."""
        self.power.psm_eint()

    def power_on(self) -> None:
        """Boot: ``RDY``, then attach after the configured delay (CLARIFICATIONS §24)."""
        self.powered = True
        self.power.power_on()
        self.radio.power_on()
        self._reset_volatile()  # after the radio's: the profile sets its CEREG mode
        self.emit_urc(line("RDY"))

    def reboot(self) -> None:
        """``AT+QRST=1``: sockets closed silently, volatile settings reset, ``RDY`` again."""
        self._shutdown_state()
        asyncio.get_running_loop().call_soon(self.power_on)

    def power_down(self) -> None:
        """``AT+QPOWD``: the module stops until its PWRKEY (module/pins.py) boots it again."""
        self.halt()
        log.warning("module powered down (AT+QPOWD); its PWRKEY (bc66sim ctl pin PWRKEY "
                    "pulse) or a restart of the emulator boots it again")  # fmt: skip

    def halt(self) -> None:
        """Stop without a word (``AT+QPOWD``, RESET held low): sockets gone, UART dead."""
        self._shutdown_state()

    def _shutdown_state(self) -> None:
        self.powered = False
        self._cancel_line_feed_timer()
        if self._boot_timer is not None:
            self._boot_timer.cancel()
            self._boot_timer = None
        self.sockets.close_all()
        self.mqtt.shut()
        self.radio.power_off()
        self.power.power_off()
        for task in list(self._tasks):
            task.cancel()
        self._urcs.clear()
        self._urc_bytes = 0
        self._drain_waiters.clear()
        self._prompt = None

    async def close(self) -> bool:
        """Clean shutdown: host sockets closed, state saved; False when saving failed."""
        tasks = list(self._tasks)
        self._shutdown_state()  # cancels them
        await asyncio.gather(*tasks, return_exceptions=True)
        return self.save_nvram()

    def persist(self) -> None:
        """Save the NVRAM settings a command just changed; if that fails, the command
        fails (550 / ``+CME ERROR: 100``): the host must not believe they are saved."""
        if not self.save_nvram():
            raise NvramError(f"could not save state to {self.nvram.path}")

    def save_nvram(self) -> bool:
        """Write the NVRAM settings; False (and an error in the log) when that fails."""
        try:
            self.nvram.save(self.nv)
        except OSError as exc:
            log.error("could not save state to %s: %s", self.nvram.path, exc)
            return False
        return True

    # -- URCs ----------------------------------------------------------------------

    @property
    def _holding_urcs(self) -> bool:
        return self._responding or self._framer.in_data_mode or self._framer.has_partial_line

    def emit_urc(self, framed: bytes) -> None:
        """Write a URC now, or queue it while a response or data mode is in progress."""
        if not self.powered:
            return
        if self.power.asleep:  # nothing reaches a dead UART (nothing should be said)
            log.debug("URC while in deep sleep, lost: %r", framed)
            return
        self.events.publish(UrcEmitted(framed))
        if self._holding_urcs or self._urcs:
            self._urcs.append(framed)
            self._urc_bytes += len(framed)
        else:
            self._write(framed)

    @property
    def busy(self) -> bool:
        """Work the module must stay awake for: a network service running, or the host
        half-way through a line or in data mode (power.py: no deep sleep meanwhile)."""
        return bool(self._services) or self._framer.in_data_mode or self._framer.has_partial_line

    @property
    def output_blocked(self) -> bool:
        """The module cannot say more now: direct-push sockets stop reading meanwhile.

        Either URCs wait in the queue beyond its bound (the host is in data mode), or
        the transport's output waits for a host that does not read
        (:meth:`set_output_congested`).  A real module is held back by its UART the
        same way, and its TCP window closes.
        """
        return self._urc_bytes >= MAX_QUEUED_URC_BYTES or bool(self._congested)

    def when_output_drains(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once the output is no longer blocked."""
        self._drain_waiters.append(callback)

    def set_output_congested(self, source: str, congested: bool) -> None:
        """A transport (or its pacer) says its waiting output passed its high-water mark
        (True) or fell below its low-water mark (False)."""
        if congested:
            self._congested.add(source)
            return
        self._congested.discard(source)
        self._wake_drain_waiters()

    def _wake_drain_waiters(self) -> None:
        if self.output_blocked:
            return
        waiters, self._drain_waiters = self._drain_waiters, []
        for callback in waiters:
            callback()

    def _flush_urcs(self) -> None:
        if not self._urcs and not self._drain_waiters:
            return  # after nearly every command: nothing to say, nobody waiting
        if self._holding_urcs:
            return
        while self._urcs:
            self._write(self._urcs.popleft())
        self._urc_bytes = 0
        self._wake_drain_waiters()

    # -- input ---------------------------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        """Bytes from the host's UART."""
        if not self.powered:
            return  # a module that is off or rebooting hears nothing
        if not self.power.host_input():
            return  # deep sleep: these bytes woke the module and are lost (power.py)
        self._cancel_line_feed_timer()
        # Everything said meanwhile goes to the transport in one write (Modem._batch);
        # inline rather than a context manager: this is every command's path.
        self._batch = bytearray()
        try:
            taken = self._framer.receive_data(data)  # usually all of it
            self._drain_events()
            view = memoryview(data)[taken:]
            while view and self.powered:
                taken = self._framer.receive_data(bytes(view))
                view = view[taken:]
                self._drain_events()
            self._after_input()
        finally:
            batch, self._batch = self._batch, None
            self._write(bytes(batch))

    @contextlib.contextmanager
    def _one_write(self) -> Iterator[None]:
        """Everything said meanwhile goes to the transport in one write (Modem._batch)."""
        self._batch = bytearray()
        try:
            yield
        finally:
            batch, self._batch = self._batch, None
            self._write(bytes(batch))

    def _after_input(self) -> None:
        if not self.powered:
            return
        self._flush_urcs()
        if self._framer.awaiting_line_feed:
            wait = self.config.line_feed_wait
            self._line_feed_timer = self.uart_clock.call_later(wait, self._line_feed_missing)

    def _line_feed_missing(self) -> None:
        """The held line's LF did not come: run the line now (at/framer.py: line ends)."""
        self._line_feed_timer = None
        if not self.powered:
            return
        self._framer.release_line()
        with self._one_write():
            self._drain_events()
            self._after_input()

    def _cancel_line_feed_timer(self) -> None:
        if self._line_feed_timer is not None:
            self._line_feed_timer.cancel()
            self._line_feed_timer = None

    def _drain_events(self) -> None:
        while self.powered:
            event = self._framer.next_event()
            self._write(self._framer.take_echo())
            if event is None:
                return
            self._handle_event(event)

    def _handle_event(self, event: fr.Event) -> None:
        if isinstance(event, fr.CommandLine):
            self._run_line(event.text)
        elif isinstance(event, fr.LineTooLong):
            self._write(ERROR)
        elif self._prompt is not None:
            spec, prompt = self._prompt
            self._prompt = None
            self._responding = True  # a URC the data causes follows the OK
            try:
                self._finish_data_mode(spec, prompt, event)
            finally:
                self._responding = False
        self._flush_urcs()

    # -- commands ------------------------------------------------------------------

    def _run_line(self, text: bytes) -> None:
        self.power.command_seen()
        self._responding = True
        try:
            self._run_commands(text)
        except Exception:  # the handlers' own failures are answered in _run_command
            log.exception("command line %r failed", text)
            self._write(ERROR)
        finally:
            self._responding = False

    def _run_commands(self, text: bytes) -> None:
        override = self.overrides.answer(text)  # set by the control plane; usually none
        if override is not None:
            self._write(override)
            return
        try:
            commands = parse_line(text)
        except ParseError as exc:
            log.debug("syntax error in %r: %s", text, exc)
            if _is_tcpip_line(text):
                self.last_error = Err.INVALID_PARAMETERS
            self._write(ERROR)
            return
        body = bytearray()
        for command in commands:
            outcome = self._run_command(command, body)
            if outcome is None:
                return  # data mode, or an error already written
        self._write(bytes(body) + OK)

    def _run_command(self, command: Command, body: bytearray) -> bool | None:
        """Run one command; True to go on with the line, None when it ended the line."""
        spec = TABLE.get(command.name)
        handler = spec.handler(command.form) if spec is not None else None
        if spec is None or handler is None:
            self._write(bytes(body) + ERROR)
            if spec is not None and spec.tcpip:
                self.last_error = Err.INVALID_PARAMETERS
            return None
        reply = Reply()
        if spec.tcpip and spec.name != "+QIGETERROR":
            self.last_error = Err.OK  # handlers and later outcomes may set it again
        try:
            result = handler(self, spec.bind(command.form, command.args), reply)
        except (BadParameter, CommandError) as exc:
            self._answer_error(spec, exc, bytes(body) + bytes(reply.body))
            return None
        except Exception as exc:
            # A bug (or a state file that cannot be written, logged where it failed):
            # the host still gets a final result code and the UART keeps working.
            if not isinstance(exc, NvramError):
                log.exception("%s failed", command.name)
            self._answer_error(spec, _internal_error(spec), bytes(body))
            return None
        body += reply.body
        if isinstance(result, DataPrompt):
            self._enter_data_mode(spec, result, bytes(body))
            return None
        if reply.trailer:
            self._write(bytes(body) + OK + bytes(reply.trailer))
            return None
        return True

    def _answer_error(self, spec: Spec, exc: Exception, before: bytes) -> None:
        code: Err | CmeError
        if isinstance(exc, CommandError):
            code = exc.code
        else:
            log.debug("%s: %s", spec.name, exc)
            code = Err.INVALID_PARAMETERS if spec.tcpip else CmeError.INCORRECT_PARAMETERS
        if isinstance(code, Err):
            self.last_error = code
        self._write(before + self.error_result(code))

    def error_result(self, code: Err | CmeError) -> bytes:
        """``ERROR``, or ``+CME ERROR: <n>|<text>`` after ``AT+CMEE=1|2``."""
        if self.cmee == 1:
            return line(f"+CME ERROR: {int(code)}")
        if self.cmee == 2:
            return line(f"+CME ERROR: {code.description}")
        return ERROR

    # -- data mode (§2.3.4) ----------------------------------------------------------

    def _enter_data_mode(self, spec: Spec, prompt: DataPrompt, body: bytes) -> None:
        self._prompt = (spec, prompt)
        self._framer.start_data_mode(
            fixed_length=prompt.fixed_length,
            max_length=prompt.max_length,
            echo=bool(self.tcpip.echo_mode) if prompt.echo is None else prompt.echo,
        )
        self._write(body + PROMPT)

    def _finish_data_mode(self, spec: Spec, prompt: DataPrompt, event: fr.Event) -> None:
        if isinstance(event, fr.DataCancelled):
            self._answer_error(spec, CommandError(Err.CANCEL_SEND), b"")
            return
        if isinstance(event, fr.DataTooLong):
            self._answer_error(spec, BadParameter("data longer than the limit"), b"")
            return
        assert isinstance(event, fr.DataEntered)
        reply = Reply()
        self.last_error = Err.OK
        try:
            prompt.complete(event.payload, reply)
        except (BadParameter, CommandError) as exc:
            self._answer_error(spec, exc, bytes(reply.body))
            return
        except Exception:
            log.exception("%s failed after data mode", spec.name)
            self._answer_error(spec, _internal_error(spec), b"")
            return
        self._write(bytes(reply.body) + OK + bytes(reply.trailer))


class NvramError(Exception):
    """Settings could not be written to the state file."""


def _internal_error(spec: Spec) -> CommandError:
    """What an unexpected failure answers: 550 (unknown error) or ``+CME ERROR: 100``."""
    return CommandError(Err.UNKNOWN if spec.tcpip else CmeError.UNKNOWN)


def _is_tcpip_line(text: bytes) -> bool:
    upper = text.upper().lstrip()
    return upper.startswith((b"AT+QI", b"AT+QPING", b"AT+QNT"))
