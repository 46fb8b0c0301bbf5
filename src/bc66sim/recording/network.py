"""The module's network, recorded: a :class:`~bc66sim.net.base.Network` that passes
everything to the one inside it and tells a :class:`Recorder` what crossed.

It sits between the module and the link model (``Modem -> RecordingNetwork ->
LinkNetwork -> HostNetwork``), so what it sees is the module's side of the radio:
a send is recorded when the module hands it to its stack, a receive when the
link delivers it to the module.  Anything else asked of it (the link's faults,
``describe`` for the control plane) goes to the network inside.
"""

from __future__ import annotations

import datetime as dt
import itertools
import time
from collections.abc import Callable, Sequence
from typing import Any

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
    Transport,
)
from bc66sim.note.errors import Err
from bc66sim.recording import packets
from bc66sim.recording.recorder import Recorder

#: The ports the module's stack gives its DNS and NTP queries (any will do for a capture).
_FIRST_QUERY_PORT = 49152


class RecordingNetwork:
    """``inner`` with every flow, query and echo recorded; ``address`` is the module's
    IPv4 address now (``+IP:``)."""

    def __init__(self, inner: Network, recorder: Recorder, address: Callable[[], str]) -> None:
        self.inner = inner
        #: The same conditions as the link's: the module reports them, faults change them.
        self.conditions: LinkConditions = inner.conditions
        self.recorder = recorder
        self.module_address = address
        self._flows = itertools.count()
        self._queries = itertools.count()
        inner.conditions.subscribe(lambda: recorder.link(inner.conditions))

    def __getattr__(self, name: str) -> Any:
        # The link model's faults and describe() (control/faults.py looks them up by name).
        return getattr(self.inner, name)

    async def open_flow(self, transport: Transport, address: str, port: int, *,
                        local_port: int, family: Family, listener: FlowListener,
                        timeout: float) -> Flow:  # fmt: skip
        number = next(self._flows)
        tcp = transport is Transport.TCP
        started = time.time()
        tap = _Listener(self.recorder, listener)
        self.recorder.hold()  # the SYN's port is known once the flow is open
        try:
            try:
                flow = await self.inner.open_flow(transport, address, port,
                                                  local_port=local_port, family=family,
                                                  listener=tap, timeout=timeout)  # fmt: skip
            except NetError as exc:
                shape = packets.FlowPackets(tcp, self.module_address(), local_port or 0, address,
                                            port, seed=number)  # fmt: skip
                if tcp:
                    self.recorder.packets(lambda: [shape.syn()], inbound=False, when=started)
                    if exc.code is Err.SOCKET_CONNECT_FAILED:  # the peer's RST
                        self.recorder.packets(lambda: [shape.refused()], inbound=True)
                self.recorder.event("net", f"net: flow {number} {transport.value} to "
                                    f"{address}:{port} failed: {exc.code.name} {exc.detail}",
                                    event="open-failed", flow=number, proto=transport.value,
                                    remote=f"{address}:{port}", code=int(exc.code),
                                    detail=exc.detail)  # fmt: skip
                raise
            shape = packets.FlowPackets(tcp, self.module_address(), flow.local_port, address, port,
                                        seed=number)  # fmt: skip
            handshake = self.recorder.build(shape.handshake) if tcp else []
            if handshake:
                syn, syn_ack, ack = handshake
                self.recorder.packets(lambda: [syn], inbound=False, when=started)
                self.recorder.packets(lambda: [syn_ack], inbound=True)
                self.recorder.packets(lambda: [ack], inbound=False)
            tap.start(number, shape)
        finally:
            self.recorder.release()
        return _Flow(flow, tap)

    async def resolve(self, name: str, family: Family, *, servers: Sequence[str],
                      timeout: float) -> Resolution:  # fmt: skip
        server = (list(servers) or self.inner.host_resolvers(family) or ["0.0.0.0"])[0]
        ident = next(self._queries)
        port = _FIRST_QUERY_PORT + ident % 16384
        module, v6 = self.module_address(), family is Family.IPV6
        self.recorder.packets(
            lambda: [packets.dns_query(module, port, server, ident % 65536, name, v6)],
            inbound=False,
        )
        try:
            answer = await self.inner.resolve(name, family, servers=servers, timeout=timeout)
        except NetError as exc:
            self.recorder.event(
                "net",
                f"net: DNS {name} via {server}: {exc.code.name}",
                event="dns",
                name=name,
                server=server,
                code=int(exc.code),
            )
            raise
        self.recorder.packets(lambda: [packets.dns_answer(module, port, server, ident % 65536,
                                                          name, v6, answer.addresses,
                                                          answer.ttl)],
                              inbound=True)  # fmt: skip
        self.recorder.event("net", f"net: DNS {name} via {server}: {', '.join(answer.addresses)}",
                            event="dns", name=name, server=server,
                            addresses=list(answer.addresses), ttl=answer.ttl)  # fmt: skip
        return answer

    def host_resolvers(self, family: Family) -> list[str]:
        return self.inner.host_resolvers(family)

    def pinger(self, address: str) -> Pinger:
        return _Pinger(self, self.inner.pinger(address), address, next(self._queries) % 65536)

    async def ntp_query(self, address: str, port: int, timeout: float) -> dt.datetime:
        sent = time.time()
        local = _FIRST_QUERY_PORT + next(self._queries) % 16384
        module = self.module_address()
        self.recorder.packets(lambda: [packets.ntp_request(module, local, address, port, sent)],
                              inbound=False)  # fmt: skip
        try:
            when = await self.inner.ntp_query(address, port, timeout)
        except NetError as exc:
            self.recorder.event(
                "net",
                f"net: NTP {address}:{port}: {exc.code.name}",
                event="ntp",
                server=f"{address}:{port}",
                code=int(exc.code),
            )
            raise
        self.recorder.packets(
            lambda: [packets.ntp_answer(module, local, address, port, sent, when)], inbound=True
        )
        self.recorder.event(
            "net",
            f"net: NTP {address}:{port}: {when.isoformat()}",
            event="ntp",
            server=f"{address}:{port}",
            time=when.isoformat(),
        )
        return when


class _Listener:
    """Between a flow and its owner: records what arrives, then hands it on."""

    def __init__(self, recorder: Recorder, owner: FlowListener) -> None:
        self.recorder = recorder
        self.owner = owner
        self.number = -1
        self.shape: packets.FlowPackets | None = None
        #: Each side's end (a FIN or RST) recorded: a TCP connection closes one way at a time.
        self.peer_ended = False
        self.module_ended = False
        #: What arrived before the open was complete (a server that speaks first).
        self._early: list[bytes | str] = []

    def start(self, number: int, shape: packets.FlowPackets) -> None:
        """The flow is open: say so, then what already arrived."""
        self.number, self.shape = number, shape
        self.say("open")
        early, self._early = self._early, []
        for item in early:
            if isinstance(item, bytes):
                self._record_data(item)
            else:
                self._record_close(item)

    def say(self, event: str, size: int | None = None) -> None:
        shape = self.shape
        assert shape is not None
        proto = "TCP" if shape.tcp else "UDP"
        local, remote = f"{shape.module}:{shape.module_port}", f"{shape.peer}:{shape.peer_port}"
        fields: dict[str, Any] = {"bytes": size} if size is not None else {}
        self.recorder.event("net", f"net: flow {self.number} {proto} {local} -> {remote}: "
                            f"{event}" + (f" {size} bytes" if size is not None else ""),
                            event=event, flow=self.number, proto=proto, local=local,
                            remote=remote, **fields)  # fmt: skip

    def flow_data(self, data: bytes) -> None:
        # Recorded first: the packet comes before the URC that the module says of it.
        if self.shape is None:
            self._early.append(data)
        else:
            self._record_data(data)
        self.owner.flow_data(data)

    def flow_closed(self, reason: str) -> None:
        if self.shape is None:
            self._early.append(reason)
        else:
            self._record_close(reason)
        self.owner.flow_closed(reason)

    def _record_data(self, data: bytes) -> None:
        shape = self.shape
        assert shape is not None
        self.recorder.packets(lambda: shape.data(False, data), inbound=True)
        self.say("receive", len(data))

    def _record_close(self, reason: str) -> None:
        shape = self.shape
        assert shape is not None
        if self.peer_ended:
            return
        self.peer_ended = True
        if shape.tcp:
            reset = "reset" in reason.lower()
            self.recorder.packets(lambda: [shape.reset(False) if reset else shape.fin(False)],
                                  inbound=True)  # fmt: skip
        self.say("peer-closed")


class _Flow(Flow):
    """A flow whose sends and closes are recorded."""

    def __init__(self, inner: Flow, tap: _Listener) -> None:
        self.inner = inner
        self.tap = tap

    @property
    def local_port(self) -> int:
        return self.inner.local_port

    def send(self, data: bytes) -> bool:
        accepted = self.inner.send(data)
        shape = self.tap.shape
        if accepted and shape is not None:
            self.tap.recorder.packets(lambda: shape.data(True, data), inbound=False)
            self.tap.say("send", len(data))
        return accepted

    def unacked(self) -> int:
        return self.inner.unacked()

    def pause_reading(self) -> None:
        self.inner.pause_reading()

    def resume_reading(self) -> None:
        self.inner.resume_reading()

    def close(self) -> None:
        self._end("close", reset=False)
        self.inner.close()

    def abort(self) -> None:
        self._end("reset", reset=True)
        self.inner.abort()

    def _end(self, event: str, *, reset: bool) -> None:
        tap, shape = self.tap, self.tap.shape
        if tap.module_ended or shape is None:
            return
        tap.module_ended = True
        if shape.tcp:
            tap.recorder.packets(lambda: [shape.reset(True) if reset else shape.fin(True)],
                                 inbound=False)  # fmt: skip
        tap.say(event)


class _Pinger:
    def __init__(self, network: RecordingNetwork, inner: Pinger, peer: str, ident: int) -> None:
        self._network = network
        self._inner = inner
        self._peer = peer
        self._ident = ident

    async def echo(self, sequence: int, size: int, timeout: float) -> Echo | None:
        recorder, module = self._network.recorder, self._network.module_address()
        peer, ident = self._peer, self._ident
        recorder.packets(lambda: [packets.echo(module, peer, ident, sequence, size, True)],
                         inbound=False)  # fmt: skip
        reply = await self._inner.echo(sequence, size, timeout)
        if reply is not None:
            recorder.packets(lambda: [packets.echo(module, peer, ident, sequence, size, False)],
                             inbound=True)  # fmt: skip
        recorder.event("net", f"net: echo {sequence} to {peer}: " + (
            f"{reply.milliseconds} ms" if reply else "no reply"), event="ping", peer=peer,
            sequence=sequence, bytes=size,
            ms=reply.milliseconds if reply else None)  # fmt: skip
        return reply

    def close(self) -> None:
        self._inner.close()
