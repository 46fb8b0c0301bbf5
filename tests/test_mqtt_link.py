"""MQTT under NB-IoT's conditions (issue 13 §4): the module on the ``ce0`` link model,
module time 20 times as fast as the wall clock, against mosquitto on loopback.

A coverage loss lapses the keep-alive (``+QMTSTAT: <id>,2``), or fails a publish and
then TCP gives up (``+QMTSTAT: <id>,1``, and the broker publishes the will); a
message for a module in PSM waits in the network until the module's own keep-alive
wakes it.  Times are read from the module's clock, so the assertions hold however
fast the machine is.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest

from bc66sim.clock import ScaledClock
from bc66sim.module.power import PowerState
from bc66sim.net.host import HostNetwork
from bc66sim.net.link import PROFILES, LinkNetwork
from support.links import InProcessLink
from support.mqtt import Watcher
from support.servers import MqttBrokers

SCALE = 20
OK = b"\r\nOK\r\n"


class Module:
    """An in-process module on the link model, and its clock and network."""

    def __init__(self) -> None:
        self.clock = ScaledClock(SCALE)
        self.network = LinkNetwork(HostNetwork(), PROFILES["ce0"], self.clock, seed=1)
        self.link = InProcessLink(network=self.network, clock=self.clock)

    def now(self) -> float:
        return self.clock.now()

    async def ok(self, line: str) -> None:
        await self.link.write(line.encode() + b"\r\n")
        assert await self.link.read_until(OK) == OK, line

    async def urc(self, text: bytes, timeout: float = 15) -> bytes:
        """Everything up to and including the URC ``text`` (wall seconds ``timeout``)."""
        return await self.link.read_until(b"\r\n" + text + b"\r\n", timeout)


@pytest.fixture
async def module() -> AsyncIterator[Module]:
    module = Module()
    await module.link.start()
    await module.link.read_until(re.compile(rb"\+IP: [^\r]*\r\n"), timeout=10)
    await module.link.write(b"ATE0\r\n")
    await module.link.read_until(OK)
    yield module
    await module.link.close()


async def connect(module: Module, port: int, *settings: str) -> None:
    for line in settings:
        await module.ok(line)
    await module.ok(f'AT+QMTOPEN=0,"127.0.0.1",{port}')
    await module.urc(b"+QMTOPEN: 0,0")
    await module.ok('AT+QMTCONN=0,"bc66-link"')
    await module.urc(b"+QMTCONN: 0,0,0")


async def test_the_keepalive_lapses_in_a_coverage_loss(
    module: Module, brokers: MqttBrokers
) -> None:
    """No PINGRESP comes through a dead link: ``+QMTSTAT: 0,2`` one packet timeout
    (10 s) after the PINGREQ, which went a keep-alive (60 s) after the last packet."""
    await connect(module, brokers.ports["plain"], 'AT+QMTCFG="keepalive",0,60')
    connected = module.now()  # the CONNECT went just before
    module.network.coverage_loss(600)
    said = await module.urc(b"+QMTSTAT: 0,2")
    assert said == b"\r\n+QMTSTAT: 0,2\r\n"  # nothing else on the way
    assert 60 + 10 - 5 <= module.now() - connected <= 60 + 10 + 1
    assert module.link.modem.mqtt.clients[0].phase.name == "CLOSED"


async def test_a_publish_into_a_coverage_loss_fails_then_tcp_gives_up(
    module: Module, brokers: MqttBrokers
) -> None:
    """A QoS 1 publish is resent 3 times, 10 s apart, then reported failed
    (``+QMTPUB: 0,1,2``); the TCP connection, with data it cannot deliver, gives up
    120 s into the loss (``+QMTSTAT: 0,1``) and the broker publishes the will."""
    watcher = Watcher(brokers.ports["plain"], "bc66/link-will")
    try:
        await connect(module, brokers.ports["plain"], "AT+CEREG=1",
                      'AT+QMTCFG="keepalive",0,600',
                      'AT+QMTCFG="will",0,1,1,0,"bc66/link-will","lost"')  # fmt: skip
        module.network.coverage_loss(300)
        lost = module.now()
        await module.urc(b"+CEREG: 2")
        await module.ok('AT+QMTPUB=0,1,1,0,"bc66/data","21.5"')
        await module.urc(b"+QMTPUB: 0,1,2")
        assert 40 - 1 <= module.now() - lost <= 40 + 2  # (3 retries + 1) x 10 s
        await module.urc(b"+QMTSTAT: 0,1")
        assert 120 - 1 <= module.now() - lost <= 120 + 2  # the profile's tcp_give_up
        assert [m.payload for m in await watcher.until(1)] == [b"lost"]
        # Out of coverage a new connection cannot be made ...
        await module.ok(f'AT+QMTOPEN=0,"127.0.0.1",{brokers.ports["plain"]}')
        await module.urc(b"+QMTOPEN: 0,-1")
        assert module.now() - lost < 300
        # ... and once it is back (+CEREG: 1), it can.
        await module.urc(b"+CEREG: 1", timeout=300 / SCALE + 5)
        assert 300 - 1 <= module.now() - lost <= 300 + 2
        await connect(module, brokers.ports["plain"])
    finally:
        watcher.close()


async def test_a_message_for_a_module_in_psm_waits_for_its_keepalive(
    module: Module, brokers: MqttBrokers
) -> None:
    """The broker's PUBLISH reaches an unreachable module (PSM) only when it is
    reachable again: here, when its keep-alive PINGREQ wakes the radio.  The
    connection survives PSM: no ``+QMTSTAT``."""
    watcher = Watcher(brokers.ports["plain"])
    try:
        await connect(module, brokers.ports["plain"], "AT+QNBIOTEVENT=1,1",
                      'AT+CPSMS=1,,,"00000001","00000101"',  # T3324 10 s
                      'AT+QMTCFG="keepalive",0,120')  # fmt: skip
        await module.ok('AT+QMTSUB=0,1,"bc66/cmd",1')
        await module.urc(b"+QMTSUB: 0,1,0,1")
        subscribed = module.now()
        await module.urc(b'+QNBIOTEVENT: "ENTER PSM"', timeout=60 / SCALE + 5)
        assert module.link.modem.power.state is PowerState.PSM
        watcher.client.publish("bc66/cmd", b"reboot at noon", qos=1)
        woke = await module.urc(b'+QNBIOTEVENT: "EXIT PSM"', timeout=150 / SCALE + 5)
        assert woke == b'\r\n+QNBIOTEVENT: "EXIT PSM"\r\n'  # nothing came before it
        assert 120 - 1 <= module.now() - subscribed <= 120 + 2  # the PINGREQ woke it
        message = await module.urc(b'+QMTRECV: 0,1,"bc66/cmd","reboot at noon"')
        assert not re.search(rb"\+QMTSTAT", message)
    finally:
        watcher.close()
