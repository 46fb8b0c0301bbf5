"""The MQTT and SSL commands end to end: the emulated module against mosquitto on
loopback (a plain, a password, a TLS and a mutual-TLS listener; tests/support).

The transcripts follow the examples chapter of the MQTT application note (the
sibling BC660K note's, docs/research/mqtt.md: the BC66 note's own text was not at
hand), with the broker on loopback in place of the cloud hosts and the test CA's
certificates in place of the cloud's.  Where the broker decides an order (a message
a client subscribed to itself may come before or after its own PUBACK), the test
takes the URCs as a set.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import paho.mqtt.client as paho
import pytest

from support.links import InProcessLink
from support.servers import MqttBrokers

OK = b"\r\nOK\r\n"
ERROR = b"\r\nERROR\r\n"
CTRL_Z = b"\x1a"


async def answer(link: InProcessLink, command: str) -> bytes:
    """The command's answer without its echo."""
    reply = await link.command(command)
    assert reply.startswith(command.encode() + b"\r"), reply
    return reply[len(command) + 1 :]


async def ok_then(link: InProcessLink, command: str, *urcs: bytes) -> None:
    """``command`` answers OK, and these URCs follow, in this order."""
    assert await answer(link, command) == OK, command
    assert await link.urcs(len(urcs)) == list(urcs)


async def opened(link: InProcessLink, port: int, client: int = 0) -> None:
    await ok_then(link, f'AT+QMTOPEN={client},"127.0.0.1",{port}', b"+QMTOPEN: %d,0" % client)


async def connected(link: InProcessLink, port: int, name: str, client: int = 0) -> None:
    await opened(link, port, client)
    await ok_then(link, f'AT+QMTCONN={client},"{name}"', b"+QMTCONN: %d,0,0" % client)


class Watcher:
    """A paho client on the broker: what it receives, counted, and what it publishes."""

    def __init__(self, port: int, *topics: str, qos: int = 1) -> None:
        self.messages: list[paho.MQTTMessage] = []
        self.ready = threading.Event()
        self._lock = threading.Lock()
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2)
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *args: self.ready.set()
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        if topics:
            self.client.subscribe([(topic, qos) for topic in topics])
        else:
            self.ready.set()
        assert self.ready.wait(5)

    def _on_message(self, client: paho.Client, userdata: object, msg: paho.MQTTMessage) -> None:
        with self._lock:
            self.messages.append(msg)

    async def until(self, count: int, timeout: float = 10) -> list[paho.MQTTMessage]:
        deadline = asyncio.get_running_loop().time() + timeout
        while len(self.messages) < count:
            assert asyncio.get_running_loop().time() < deadline, self.messages
            await asyncio.sleep(0.02)
        return self.messages

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@pytest.fixture
def watch(brokers: MqttBrokers) -> Iterator[type[Watcher]]:
    made: list[Watcher] = []

    def make(*topics: str, qos: int = 1) -> Watcher:
        watcher = Watcher(brokers.ports["plain"], *topics, qos=qos)
        made.append(watcher)
        return watcher

    yield make  # type: ignore[misc]
    for watcher in made:
        watcher.close()


# -- the examples chapter --------------------------------------------------------------------


async def test_example_without_ssl(modem: InProcessLink, brokers: MqttBrokers, watch) -> None:
    """The note's example of MQTT without SSL, step by step."""
    port = brokers.ports["plain"]
    watcher = watch("example/update")
    assert await answer(modem, "AT+QSCLK=0") == OK
    await ok_then(modem, f'AT+QMTOPEN=0,"127.0.0.1",{port}', b"+QMTOPEN: 0,0")
    assert await answer(modem, "AT+QMTOPEN?") == (b'\r\n+QMTOPEN: 0,"127.0.0.1",%d\r\n' % port + OK)
    assert await answer(modem, "AT+QMTCONN=?") == (
        b"\r\n+QMTCONN: (0-5),<clientID>,<username>,<password>\r\n" + OK
    )
    await ok_then(modem, 'AT+QMTCONN=0,"clientExample"', b"+QMTCONN: 0,0,0")
    assert await answer(modem, "AT+QMTSUB=?") == (
        b"\r\n+QMTSUB: (0-5),(1-65535),<topic>,(0-2),<topic>,(0-2),...\r\n" + OK
    )
    await ok_then(modem, 'AT+QMTSUB=0,1,"example/get",1', b"+QMTSUB: 0,1,0,1")
    await ok_then(modem, 'AT+QMTSUB=0,1,"example/update",1', b"+QMTSUB: 0,1,0,1")
    # The cloud publishes to the topic the module subscribed to.
    watcher.client.publish("example/get", "This is the payload related to topic", qos=1)
    (received,) = await modem.urcs(1)
    assert re.fullmatch(
        rb'\+QMTRECV: 0,\d+,"example/get","This is the payload related to topic"', received
    ), received
    await ok_then(modem, 'AT+QMTUNS=0,2,"example/get"', b"+QMTUNS: 0,2,0")
    # Data mode: the prompt, the message, Ctrl+Z.
    await modem.write(b'AT+QMTPUB=0,0,0,0,"example/update"\r')
    await modem.expect(b'AT+QMTPUB=0,0,0,0,"example/update"\r\r\n> ')
    await modem.write(b"This is test data, hello MQTT." + CTRL_Z)
    await modem.expect(b"This is test data, hello MQTT." + OK)
    assert set(await modem.urcs(2)) == {
        b"+QMTPUB: 0,0,0",
        b'+QMTRECV: 0,0,"example/update","This is test data, hello MQTT."',
    }
    (message,) = await watcher.until(1)
    assert message.payload == b"This is test data, hello MQTT." and message.qos == 0
    await ok_then(modem, "AT+QMTDISC=0", b"+QMTDISC: 0,0")
    assert await answer(modem, "AT+QMTCONN?") == OK  # nothing open any more
    assert await answer(modem, "AT+QSCLK=1") == OK


import re  # noqa: E402  (kept near its first use above)
