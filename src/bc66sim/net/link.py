"""NB-IoT link conditions on any Network: delay, rate, loss, coverage (issue 12 §1).

:class:`LinkNetwork` wraps a :class:`~bc66sim.net.base.Network` (the real one, or
the in-memory one) and shapes everything the module sends and receives through it
— TCP and UDP flows, DNS lookups, echo requests, NTP queries — as a radio link of a
:class:`LinkProfile` would: a one-way delay drawn from a heavy-tailed (log-normal)
distribution, occasional radio retransmissions, a rate cap per direction (bytes
wait their turn: a link is a queue), rare UDP loss, and the signal the module
reports.  The delay is applied to the real packets: what ``AT+QPING`` measures, and
how long a DNS answer or a transfer takes, is measured, not invented.  Every draw
comes from one seeded ``random.Random``: the same seed gives the same delays and
drops.  Delays run on the module's clock (a ManualClock drives them in tests).

Faults change the link at run time (the control plane calls them): a coverage loss
(nothing passes for N seconds: UDP is lost, TCP waits and rides it out, or breaks
when the module's stack would have given up), a new CE level or signal, the next N
packets dropped or delayed in one direction, a DNS or NTP server unreachable.

Profiles (:data:`PROFILES`; a TOML file may set any figure, see :func:`load_profile`):
the figures are orders of magnitude from 3GPP (TS 36.306 Cat-NB1/NB2 peak rates:
about 26 / 127 kbit/s down and 62 / 159 kbit/s up; TR 45.820's coverage classes
and latency targets, up to 10 s at the cell edge) and from published NB-IoT field
measurements (round trips of about 0.5-1 s in good coverage, several seconds at
CE level 2), with the usual operator thresholds for the CE levels (RSRP about
-105 dBm and -120 dBm).  They are defaults to be changed, not a claim about any
network: put what your operator measures in a profile file.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import math
import random
import tomllib
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bc66sim.clock import Clock, TimerHandle
from bc66sim.net.base import (
    Echo,
    Family,
    Flow,
    FlowListener,
    LinkConditions,
    NetError,
    Network,
    Pinger,
    Resolution,
    Signal,
    Transport,
)
from bc66sim.note.errors import Err
from bc66sim.note.limits import MAX_TCP_SEND_BACKLOG

log = logging.getLogger(__name__)

#: Downlink bytes the link may hold for a flow before it stops reading the peer.
DOWNLINK_HIGH_WATER = 64 * 1024
DOWNLINK_LOW_WATER = 16 * 1024
#: Cat-NB2 peak rates against Cat-NB1's (TS 36.306): the factor ``--category NB2`` applies.
NB2_FACTOR_DOWN = 127 / 26
NB2_FACTOR_UP = 159 / 62


@dataclass(frozen=True)
class LinkProfile:
    """The figures of one link; ``None`` rates are unlimited."""

    name: str
    #: Median one-way delay (s) and the spread of its log-normal distribution.
    delay: float = 0.0
    delay_spread: float = 0.0
    uplink_bps: float | None = None
    downlink_bps: float | None = None
    #: Probability a packet needs a radio retransmission (HARQ/RLC), and what it adds (s).
    retransmission: float = 0.0
    retransmission_delay: float = 0.0
    #: Probability a UDP datagram is lost on the radio (TCP's loss is retransmission).
    udp_loss: float = 0.0
    #: Seconds from power-on to the attach (``+IP:``), when ``--attach-delay`` is not given.
    attach_time: float = 2.0
    #: Routers of the operator's core between the module and the internet (ping TTLs).
    core_hops: int = 0
    #: Seconds a TCP stack retransmits into a dead link before it gives up.
    tcp_give_up: float = 120.0
    signal: Signal = field(default_factory=Signal)


PROFILES = {
    "ideal": LinkProfile("ideal"),
    "ce0": LinkProfile(
        "ce0", delay=0.3, delay_spread=0.35, uplink_bps=62_000, downlink_bps=26_000,
        retransmission=0.05, retransmission_delay=0.4, udp_loss=0.002, attach_time=2.0,
        core_hops=3, signal=Signal(rsrp=-95, rsrq=-10, sinr=10, ecl=0, tx_power=12),
    ),
    "ce1": LinkProfile(
        "ce1", delay=1.0, delay_spread=0.45, uplink_bps=16_000, downlink_bps=8_000,
        retransmission=0.15, retransmission_delay=1.5, udp_loss=0.01, attach_time=6.0,
        core_hops=3, signal=Signal(rsrp=-113, rsrq=-13, sinr=0, ecl=1, tx_power=23),
    ),
    "ce2": LinkProfile(
        "ce2", delay=3.0, delay_spread=0.55, uplink_bps=2_000, downlink_bps=2_000,
        retransmission=0.3, retransmission_delay=4.0, udp_loss=0.03, attach_time=15.0,
        core_hops=3, signal=Signal(rsrp=-125, rsrq=-17, sinr=-6, ecl=2, tx_power=23),
    ),
}  # fmt: skip


def with_category(profile: LinkProfile, category: str) -> LinkProfile:
    """The profile for a Cat-NB1 (as given) or Cat-NB2 device."""
    if category.upper() == "NB1":
        return profile
    if category.upper() != "NB2":
        raise ValueError(f"category {category!r}: NB1 or NB2")
    scale = {"uplink_bps": NB2_FACTOR_UP, "downlink_bps": NB2_FACTOR_DOWN}
    changed = {key: getattr(profile, key) * factor for key, factor in scale.items()
               if getattr(profile, key) is not None}  # fmt: skip
    return dataclasses.replace(profile, name=profile.name + "-nb2", **changed)


def load_profile(name: str) -> LinkProfile:
    """A built-in profile by name, or a TOML file that sets any figure.

    A file starts from ``base`` (a built-in name, ``ce0`` when not given)::

        base = "ce1"
        delay = 1.4                # median one-way delay, seconds
        uplink_bps = 12000
        [signal]
        rsrp = -116

    Raises ValueError with a message that says what is wrong.
    """
    if name in PROFILES:
        return PROFILES[name]
    path = Path(name)
    if not path.is_file():
        raise ValueError(f"{name!r}: not one of {', '.join(PROFILES)} and not a profile file")
    try:
        table = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"{name}: {exc}") from exc
    base = PROFILES.get(str(table.pop("base", "ce0")))
    if base is None:
        raise ValueError(f"{name}: base must be one of {', '.join(PROFILES)}")
    signal = table.pop("signal", {})
    known = {f.name for f in dataclasses.fields(LinkProfile)} - {"name", "signal"}
    unknown = set(table) - known
    if unknown or not isinstance(signal, dict):
        raise ValueError(f"{name}: unknown settings {sorted(unknown) or ['signal']}")
    bad_signal = set(signal) - {f.name for f in dataclasses.fields(Signal)}
    if bad_signal:
        raise ValueError(f"{name}: unknown signal settings {sorted(bad_signal)}")
    try:
        profile = dataclasses.replace(
            base, name=path.stem, **table, signal=dataclasses.replace(base.signal, **signal)
        )
    except TypeError as exc:
        raise ValueError(f"{name}: {exc}") from exc
    _check_profile(name, profile)
    return profile


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _check_profile(name: str, profile: LinkProfile) -> None:
    """Every figure of a profile file is a finite number in its range (a one-line error)."""
    for key in ("delay", "delay_spread", "retransmission", "retransmission_delay",
                "udp_loss", "attach_time", "tcp_give_up"):  # fmt: skip
        value = getattr(profile, key)
        if not _number(value) or value < 0:
            raise ValueError(f"{name}: {key} must be a number >= 0")
    for key in ("uplink_bps", "downlink_bps"):
        value = getattr(profile, key)
        if value is not None and (not _number(value) or value <= 0):
            raise ValueError(f"{name}: {key} must be a number of bits per second > 0")
    if not (0 <= profile.udp_loss <= 1 and 0 <= profile.retransmission <= 1):
        raise ValueError(f"{name}: probabilities are between 0 and 1")
    if not isinstance(profile.core_hops, int) or not 0 <= profile.core_hops <= 64:
        raise ValueError(f"{name}: core_hops must be a whole number 0-64")
    signal = profile.signal
    ranges = {"rsrp": (-156, -44), "rsrq": (-34, 3), "sinr": (-20, 40), "ecl": (0, 2),
              "tx_power": (-40, 23)}  # fmt: skip
    for key, (low, high) in ranges.items():
        value = getattr(signal, key)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ValueError(f"{name}: signal {key} must be a whole number {low}..{high}")


class _Direction:
    """One direction of the link: a queue at a rate, then a delay, in order."""

    def __init__(self, link: LinkNetwork, up: bool) -> None:
        self._link = link
        self.up = up
        self._free_at = 0.0  # when the transmitter is free again
        self._last_release = 0.0
        #: Packets to drop, and packets to delay (count, seconds), by the faults.
        self.drop_next = 0
        self.delay_next: deque[float] = deque()

    @property
    def _bps(self) -> float | None:
        profile = self._link.profile
        return profile.uplink_bps if self.up else profile.downlink_bps

    def release_time(self, size: int) -> float:
        """When ``size`` bytes sent now arrive at the far end (after any outage)."""
        now = self._link.clock.now()
        start = max(now, self._free_at, self._link.outage_until)
        bps = self._bps
        self._free_at = start + (size * 8 / bps if bps else 0.0)
        arrival = self._free_at + self._link.one_way_delay()
        if self.delay_next:
            arrival += self.delay_next.popleft()
        arrival = max(arrival, self._last_release)  # a link does not reorder
        self._last_release = arrival
        return arrival

    def dropped(self, transport: Transport) -> bool:
        """Whether the next packet is lost: a fault, an outage (UDP), or radio loss (UDP)."""
        if self.drop_next:
            self.drop_next -= 1
            return True
        if transport is not Transport.UDP:
            return False
        if self._link.in_outage:
            return True
        return self._link.rng.random() < self._link.profile.udp_loss


class LinkNetwork:
    """A :class:`Network` seen through an NB-IoT radio link; see the module docstring."""

    def __init__(
        self, inner: Network, profile: LinkProfile, clock: Clock, *, seed: int | None = None
    ) -> None:
        self.inner = inner
        self.profile = profile
        self.clock = clock
        self.rng = random.Random(seed)
        self.conditions = LinkConditions(signal=profile.signal)
        self.outage_until = 0.0
        self._outage_started = 0.0
        self._outage_timer: TimerHandle | None = None
        self._give_up_timer: TimerHandle | None = None
        self.up = _Direction(self, up=True)
        self.down = _Direction(self, up=False)
        self._unreachable: dict[str, float] = {}
        self._flows: list[_LinkFlow] = []
        #: The last round trip measured (a TCP handshake, an echo), in ms, and the
        #: bytes that crossed each way: the dashboard's live RTT and rates.
        self.rtt_ms: int | None = None
        self.bytes_up = 0
        self.bytes_down = 0

    # -- the link --------------------------------------------------------------------

    @property
    def in_outage(self) -> bool:
        return self.clock.now() < self.outage_until

    def retransmission_timeout(self) -> float:
        """What a lost TCP segment costs: TCP resends it after about one RTO (1 s, RFC 6298)."""
        return 1.0 + 2 * self.profile.delay

    def one_way_delay(self) -> float:
        """One draw: the log-normal delay, plus a retransmission now and then."""
        profile = self.profile
        delay = 0.0
        if profile.delay:
            delay = profile.delay * math.exp(profile.delay_spread * self.rng.gauss(0.0, 1.0))
        if profile.retransmission and self.rng.random() < profile.retransmission:
            delay += profile.retransmission_delay
        return delay

    async def _cross(self, direction: _Direction, size: int) -> None:
        await self.clock.sleep_until(direction.release_time(size))

    # -- faults (the control plane) ----------------------------------------------------

    def coverage_loss(self, seconds: float) -> None:
        """Nothing passes for ``seconds``: the module is out of service meanwhile."""
        if not _number(seconds) or seconds <= 0:
            raise ValueError("a coverage loss lasts a positive number of seconds")
        now = self.clock.now()
        if not self.in_outage:
            self._outage_started = now
        self.outage_until = max(self.outage_until, now + seconds)
        log.warning("link: coverage lost for %.1f s", seconds)
        self.conditions.update(in_service=False)
        if self._outage_timer is not None:
            self._outage_timer.cancel()
        self._outage_timer = self.clock.call_at(self.outage_until, self._coverage_back)
        # TCP gives up counting from the start of the outage, however it was extended.
        give_up = self._outage_started + self.profile.tcp_give_up
        if self.outage_until > give_up and self._give_up_timer is None:
            self._give_up_timer = self.clock.call_at(give_up, self._tcp_gives_up)

    def _coverage_back(self) -> None:
        self._outage_timer = None
        log.warning("link: coverage back")
        self.conditions.update(in_service=True)

    def _tcp_gives_up(self) -> None:
        """A TCP stack with data to send into a dead link gives up (lwIP: max retries)."""
        self._give_up_timer = None
        if not self.in_outage:
            return
        for flow in list(self._flows):
            if flow.transport is Transport.TCP and flow.waiting_up:
                flow.break_off("the module's TCP gave up retransmitting: no coverage")

    def describe(self) -> dict[str, object]:
        """The link now, for the control plane's status."""
        p, s = self.profile, self.conditions.signal
        return {
            "profile": p.name,
            "delay": p.delay,
            "uplink_bps": p.uplink_bps,
            "downlink_bps": p.downlink_bps,
            "udp_loss": p.udp_loss,
            "in_service": self.conditions.in_service,
            "coverage_back_in": max(0.0, self.outage_until - self.clock.now()),
            "signal": {"rsrp": s.rsrp, "rsrq": s.rsrq, "sinr": s.sinr, "ecl": s.ecl},
            "unreachable": sorted(name for name in ("dns", "ntp") if self._service_down(name)),
            "rtt_ms": self.rtt_ms,
            "bytes_up": self.bytes_up,
            "bytes_down": self.bytes_down,
        }

    def set_profile(self, profile: LinkProfile) -> None:
        """Another link from now on (a scenario's step): its figures and its signal."""
        self.profile = profile
        self.conditions.update(signal=profile.signal)

    def set_ce(self, level: int) -> None:
        """Move to CE level 0, 1 or 2: that profile's figures and signal."""
        if level not in (0, 1, 2):
            raise ValueError("CE level 0, 1 or 2")
        base = PROFILES[f"ce{level}"]
        self.profile = dataclasses.replace(base, name=f"ce{level}")
        self.conditions.update(signal=base.signal)

    def set_signal(self, rsrp: float, sinr: float) -> None:
        """A new RSRP (dBm) and SINR (dB), whole numbers as the module reports them."""
        if not (_number(rsrp) and _number(sinr) and -156 <= rsrp <= -44 and -20 <= sinr <= 40):
            raise ValueError("RSRP -156..-44 dBm, SINR -20..40 dB")
        signal = dataclasses.replace(self.conditions.signal, rsrp=round(rsrp), sinr=round(sinr))
        self.conditions.update(signal=signal)

    def _direction(self, name: str) -> _Direction:
        if name not in ("up", "down"):
            raise ValueError('direction "up" or "down"')
        return self.up if name == "up" else self.down

    def drop(self, direction: str, count: int) -> None:
        """Drop the next ``count`` packets going ``direction`` (TCP: one read or send)."""
        if count < 1:
            raise ValueError("count >= 1")
        self._direction(direction).drop_next += count

    def delay(self, direction: str, count: int, seconds: float) -> None:
        if count < 1 or not _number(seconds) or seconds < 0:
            raise ValueError("count >= 1 and seconds >= 0")
        self._direction(direction).delay_next.extend([seconds] * count)

    def service_unreachable(self, service: str, seconds: float | None) -> None:
        """DNS or NTP servers do not answer, for ``seconds`` (None: until told again; 0: back)."""
        if service not in ("dns", "ntp"):
            raise ValueError('service "dns" or "ntp"')
        if seconds is not None and (not _number(seconds) or seconds < 0):
            raise ValueError("seconds: a number >= 0, or none (until told again)")
        if seconds == 0:
            self._unreachable.pop(service, None)
            return
        self._unreachable[service] = math.inf if seconds is None else self.clock.now() + seconds

    def _service_down(self, service: str) -> bool:
        return self.clock.now() < self._unreachable.get(service, 0.0)

    # -- Network -----------------------------------------------------------------------

    async def open_flow(
        self,
        transport: Transport,
        address: str,
        port: int,
        *,
        local_port: int,
        family: Family,
        listener: FlowListener,
        timeout: float,
    ) -> Flow:
        flow = _LinkFlow(self, transport, listener)
        if self.outage_until - self.clock.now() > timeout:  # no SYN-ACK before the timeout
            await self.clock.sleep_until(self.clock.now() + timeout)
            raise NetError(Err.TIMEOUT, f"no answer from {address}:{port}: no coverage")
        started = self.clock.now()
        if transport is Transport.TCP:  # the SYN crosses the link before the peer sees it
            await self._cross(self.up, 60)
        flow.inner = await self.inner.open_flow(
            transport, address, port, local_port=local_port, family=family,
            listener=flow, timeout=timeout,
        )  # fmt: skip
        if transport is Transport.TCP:
            await self._cross(self.down, 60)  # and the SYN-ACK comes back
            self.rtt_ms = round((self.clock.now() - started) * 1000)
        self._flows.append(flow)
        return flow

    def forget(self, flow: _LinkFlow) -> None:
        if flow in self._flows:
            self._flows.remove(flow)

    async def resolve(
        self, name: str, family: Family, *, servers: Sequence[str], timeout: float
    ) -> Resolution:
        deadline = self.clock.now() + timeout
        if self._service_down("dns") or self.up.dropped(Transport.UDP):
            await self.clock.sleep_until(deadline)
            raise NetError(Err.TIMEOUT, f"{name}: no DNS answer (link)")
        await self._cross(self.up, 40 + len(name))
        left = max(0.1, deadline - self.clock.now())
        answer = await self.inner.resolve(name, family, servers=servers, timeout=left)
        if self.down.dropped(Transport.UDP):
            await self.clock.sleep_until(deadline)
            raise NetError(Err.TIMEOUT, f"{name}: the DNS answer was lost (link)")
        await self._cross(self.down, 60 + 16 * len(answer.addresses))
        return answer

    def host_resolvers(self, family: Family) -> list[str]:
        return self.inner.host_resolvers(family)

    def pinger(self, address: str) -> Pinger:
        return _LinkPinger(self, self.inner.pinger(address))

    async def ntp_query(self, address: str, port: int, timeout: float) -> dt.datetime:
        deadline = self.clock.now() + timeout
        if self._service_down("ntp") or self.up.dropped(Transport.UDP):
            await self.clock.sleep_until(deadline)
            raise NetError(Err.TIMEOUT, f"no answer from NTP server {address}:{port} (link)")
        await self._cross(self.up, 76)
        when = await self.inner.ntp_query(address, port, max(0.1, deadline - self.clock.now()))
        if self.down.dropped(Transport.UDP):
            await self.clock.sleep_until(deadline)
            raise NetError(Err.TIMEOUT, f"the NTP answer from {address}:{port} was lost (link)")
        answered = self.clock.now()
        await self._cross(self.down, 76)
        # The server's time was read when its answer left the inner network: the time
        # it then spent crossing the link down is part of it (the module's RTC is set on
        # arrival; SNTP's correction of the round trip happened before the link).
        return when + dt.timedelta(seconds=self.clock.now() - answered)


class _LinkPinger:
    def __init__(self, link: LinkNetwork, inner: Pinger) -> None:
        self._link = link
        self._inner = inner

    async def echo(self, sequence: int, size: int, timeout: float) -> Echo | None:
        link = self._link
        start = link.clock.now()
        deadline = start + timeout
        if link.up.dropped(Transport.UDP):  # an echo request is a datagram
            await link.clock.sleep_until(deadline)
            return None
        await link._cross(link.up, size + 28)
        reply = await self._inner.echo(sequence, size, max(0.05, deadline - link.clock.now()))
        if reply is None or link.down.dropped(Transport.UDP):
            await link.clock.sleep_until(deadline)
            return None
        await link._cross(link.down, size + 28)
        if link.clock.now() > deadline:
            return None
        elapsed = link.clock.now() - start
        milliseconds = max(reply.milliseconds, round(elapsed * 1000))
        link.rtt_ms = milliseconds
        return Echo(milliseconds, max(1, reply.ttl - link.profile.core_hops))

    def close(self) -> None:
        self._inner.close()


class _Lane:
    """One direction of one flow: packets in the order sent, each released at its time.

    One timer at a time, for the head of the queue: the event loop does not keep
    the order of timers due at the same moment, and a link must not reorder.
    """

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._queue: deque[tuple[float, Callable[[], None]]] = deque()
        self._timer: TimerHandle | None = None

    def __len__(self) -> int:
        return len(self._queue)

    def push(self, when: float, callback: Callable[[], None]) -> None:
        self._queue.append((when, callback))
        if self._timer is None:
            self._run()

    def _run(self) -> None:
        self._timer = None
        while self._queue and self._queue[0][0] <= self._clock.now():
            _, callback = self._queue.popleft()
            callback()
        if self._queue and self._timer is None:
            self._timer = self._clock.call_at(self._queue[0][0], self._run)

    def cancel(self) -> None:
        self._queue.clear()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


class _LinkFlow(Flow):
    """A flow through the link: both directions queued, delayed, maybe lost."""

    def __init__(self, link: LinkNetwork, transport: Transport, listener: FlowListener) -> None:
        self._link = link
        self.transport = transport
        self._listener = listener
        self.inner: Flow | None = None
        self._up = _Lane(link.clock)
        self._down_lane = _Lane(link.clock)
        self._up_bytes = 0  # sent by the module, not yet across the link
        self._down: deque[bytes | None] = deque()  # arrived across, waiting for a read
        self._down_bytes = 0  # on the way down or waiting
        self._paused = False  # the module stopped reading
        self._inner_paused = False  # the link stopped reading the peer (its bound)
        self._closed = False  # the module closed it, or it ended: nothing more goes down
        self._closing = False  # closed with uplink still crossing: the inner flow waits

    @property
    def waiting_up(self) -> bool:
        return self._up_bytes > 0

    @property
    def local_port(self) -> int:
        assert self.inner is not None
        return self.inner.local_port

    # -- up ------------------------------------------------------------------------

    def send(self, data: bytes) -> bool:
        assert self.inner is not None
        if self.transport is Transport.TCP and (
            self._up_bytes + self.inner.unacked() + len(data) > MAX_TCP_SEND_BACKLOG
        ):
            return False  # the module's send buffer is full: SEND FAIL
        when = self._link.up.release_time(len(data))
        if self._link.up.dropped(self.transport):
            if self.transport is Transport.UDP:
                log.info("link: an uplink datagram of %d bytes was lost", len(data))
                return True
            when += self._link.retransmission_timeout()  # TCP: resent, never lost
        self._up_bytes += len(data)
        self._up.push(when, lambda: self._arrive_up(data))
        return True

    def _arrive_up(self, data: bytes) -> None:
        self._up_bytes -= len(data)
        self._link.bytes_up += len(data)
        if self.inner is None:
            return
        if not self.inner.send(data):
            log.warning("link: the stack behind the link refused %d bytes", len(data))
        if self._closing and not self._up:
            self._close_inner()

    def unacked(self) -> int:
        inner = self.inner.unacked() if self.inner is not None else 0
        return self._up_bytes + inner if self.transport is Transport.TCP else 0

    # -- down ----------------------------------------------------------------------

    def flow_data(self, data: bytes) -> None:
        """From the inner flow: data from the peer, to cross the link down."""
        if self._closed:
            return
        when = self._link.down.release_time(len(data))
        if self._link.down.dropped(self.transport):
            if self.transport is Transport.UDP:
                log.info("link: a downlink datagram of %d bytes was lost", len(data))
                return
            when += self._link.retransmission_timeout()
        if self.transport is Transport.UDP and self._down_bytes + len(data) > DOWNLINK_HIGH_WATER:
            # The radio's queue for this device is full: a datagram is lost, as the
            # network drops it (a UDP sender is not held back by anything).
            log.warning("link: downlink queue full, a datagram of %d bytes dropped", len(data))
            return
        self._down_bytes += len(data)
        if self._down_bytes > DOWNLINK_HIGH_WATER and not self._inner_paused:
            self._inner_paused = True
            if self.inner is not None:
                self.inner.pause_reading()
        self._down_lane.push(when, lambda: self._arrive_down(data))

    def flow_closed(self, reason: str) -> None:
        if self._closed:
            return
        when = self._link.down.release_time(0)
        self._down_lane.push(when, lambda: self._arrive_down(None, reason))

    def _arrive_down(self, data: bytes | None, reason: str = "") -> None:
        if self._closed:
            return
        self._link.bytes_down += len(data or b"")
        self._down.append(data)
        self._deliver(reason)

    def _deliver(self, reason: str = "the peer closed") -> None:
        while self._down and not self._paused and not self._closed:
            item = self._down.popleft()
            if item is None:
                self._closed = True
                self._up.cancel()
                self._link.forget(self)
                self._listener.flow_closed(reason)
                return
            self._down_bytes -= len(item)
            self._listener.flow_data(item)
        if self._inner_paused and self._down_bytes < DOWNLINK_LOW_WATER and not self._paused:
            self._inner_paused = False
            if self.inner is not None:
                self.inner.resume_reading()

    def pause_reading(self) -> None:
        self._paused = True
        if self.inner is not None:
            self.inner.pause_reading()

    def resume_reading(self) -> None:
        self._paused = False
        if self.inner is not None and not self._inner_paused:
            self.inner.resume_reading()
        self._deliver()

    # -- both ----------------------------------------------------------------------

    def break_off(self, reason: str) -> None:
        """The module's stack gave up: the flow ends at once and its owner is told."""
        if self._closed:
            return
        self._up.cancel()
        self._up_bytes = 0
        self.close()
        self._listener.flow_closed(reason)

    def abort(self) -> None:
        """A reset: the peer sees an RST (through the inner flow), nothing more crosses."""
        self._up.cancel()
        self._up_bytes = 0
        inner, self.inner = self.inner, None
        self.close()
        if inner is not None:
            inner.abort()

    def close(self) -> None:
        """Closed by the module: bytes it already sent still cross, then the peer's close
        (§2.3.2: what was answered SEND OK reaches the peer)."""
        self._closed = True
        self._down_lane.cancel()
        self._link.forget(self)
        if self._up:
            self._closing = True
        else:
            self._close_inner()

    def _close_inner(self) -> None:
        self._closing = False
        if self.inner is not None:
            self.inner.close()
