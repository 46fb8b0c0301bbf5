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
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from support.links import InProcessLink, ModemFactory
from support.mqtt import Watcher
from support.pki import Pki
from support.servers import Mosquitto, MqttBrokers, unused_port

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


#: Makes a Watcher on the plain listener, subscribed to the topics given.
Watch = Callable[..., Watcher]


@pytest.fixture
def watch(brokers: MqttBrokers) -> Iterator[Watch]:
    made: list[Watcher] = []

    def make(*topics: str, qos: int = 1) -> Watcher:
        watcher = Watcher(brokers.ports["plain"], *topics, qos=qos)
        made.append(watcher)
        return watcher

    yield make
    for watcher in made:
        watcher.close()


# -- the examples chapter --------------------------------------------------------------------


async def test_example_without_ssl(
    modem: InProcessLink, brokers: MqttBrokers, watch: Watch
) -> None:
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
    await after_prompt(modem, 'AT+QMTPUB=0,0,0,0,"example/update"',
                       b"This is test data, hello MQTT.")  # fmt: skip
    await modem.expect(b"This is test data, hello MQTT." + OK)
    assert set(await modem.urcs(2)) == {
        b"+QMTPUB: 0,0,0",
        b'+QMTRECV: 0,0,"example/update","This is test data, hello MQTT."',
    }
    (message,) = await watcher.until(1)
    assert message.payload == b"This is test data, hello MQTT." and message.qos == 0
    # QoS 0 with a msgID of the host's (published drivers send one): reported back.
    assert await answer(modem, 'AT+QMTPUB=0,5,0,0,"example/update","five"') == OK
    assert set(await modem.urcs(2)) == {b"+QMTPUB: 0,5,0",
                                        b'+QMTRECV: 0,0,"example/update","five"'}  # fmt: skip
    assert await answer(modem, 'AT+QMTPUB=0,0,1,0,"example/update","no id"') == ERROR
    await ok_then(modem, "AT+QMTDISC=0", b"+QMTDISC: 0,0")
    assert await answer(modem, "AT+QMTCONN?") == OK  # nothing open any more
    assert await answer(modem, "AT+QSCLK=1") == OK


async def after_prompt(link: InProcessLink, command: str, data: bytes) -> None:
    """``command``, its ``> `` prompt, then ``data`` and Ctrl+Z (the answer is unread)."""
    await link.write(command.encode() + b"\r")
    await link.expect(command.encode() + b"\r\r\n> ")
    await link.write(data + CTRL_Z)


async def upload(link: InProcessLink, context: str, kind: str, pem: bytes) -> None:
    """``AT+QSSLCFG=<ctx>,<conn>,"<kind>"``, the PEM after the prompt, Ctrl+Z."""
    await after_prompt(link, f'AT+QSSLCFG={context},"{kind}"', pem)
    await link.expect(b'\r\n+QSSLCFG: %s,"%s",%d\r\n' % (context.encode(), kind.encode(),
                                                             len(pem)) + OK)  # fmt: skip


async def test_example_with_ssl(
    modem: InProcessLink, brokers: MqttBrokers, pki: Pki, watch: Watch
) -> None:
    """The note's example with SSL: the CA, the client's certificate and key, a mutual
    TLS broker; the certificates are the test CA's, checked by OpenSSL for real."""
    watcher = watch("devices/bc66/messages/events/")
    assert await answer(modem, "AT+QSCLK=0") == OK
    assert await answer(modem, 'AT+QSSLCFG=0,0,"seclevel",2') == OK
    await upload(modem, "0,0", "cacert", pki.ca.read_bytes())
    await upload(modem, "0,0", "clientcert", pki.client_cert.read_bytes())
    await upload(modem, "0,0", "clientkey", pki.client_key.read_bytes())
    assert await answer(modem, 'AT+QMTCFG="ssl",3,1,0,0') == OK
    assert await answer(modem, 'AT+QMTCFG="version",3,1') == OK
    port = brokers.ports["mutual"]
    await ok_then(modem, f'AT+QMTOPEN=3,"127.0.0.1",{port}', b"+QMTOPEN: 3,0")
    await ok_then(modem, 'AT+QMTCONN=3,"bc66-x509"', b"+QMTCONN: 3,0,0")
    await ok_then(modem, 'AT+QMTSUB=3,1,"devices/bc66/messages/devicebound/#",1',
                  b"+QMTSUB: 3,1,0,1")  # fmt: skip
    watcher.client.publish("devices/bc66/messages/devicebound/x", "hi quectel", qos=1)
    (received,) = await modem.urcs(1)
    assert re.fullmatch(
        rb'\+QMTRECV: 3,\d+,"devices/bc66/messages/devicebound/x","hi quectel"', received
    ), received
    await ok_then(modem, 'AT+QMTPUB=3,0,0,0,"devices/bc66/messages/events/","{a:1}"',
                  b"+QMTPUB: 3,0,0")  # fmt: skip
    await after_prompt(modem, 'AT+QMTPUB=3,0,0,0,"devices/bc66/messages/events/"',
                       b"hello iot hub")  # fmt: skip
    await modem.expect(b"hello iot hub" + OK + b"\r\n+QMTPUB: 3,0,0\r\n")
    messages = await watcher.until(2)
    assert [m.payload for m in messages] == [b"{a:1}", b"hello iot hub"]
    await ok_then(modem, "AT+QMTDISC=3", b"+QMTDISC: 3,0")


async def test_server_only_tls_and_the_settings_shown(
    modem: InProcessLink, brokers: MqttBrokers, pki: Pki
) -> None:
    assert await answer(modem, 'AT+QSSLCFG=1,2,"seclevel",1') == OK
    await upload(modem, "1,2", "cacert", pki.ca.read_bytes())
    size = len(pki.ca.read_bytes())
    assert await answer(modem, "AT+QSSLCFG=1,2") == (
        b'\r\n+QSSLCFG: 1,2,"seclevel",1\r\n\r\n+QSSLCFG: 1,2,"dataformat",0,0\r\n'
        b'\r\n+QSSLCFG: 1,2,"timeout",90\r\n\r\n+QSSLCFG: 1,2,"debug",0\r\n'
        b'\r\n+QSSLCFG: 1,2,"cacert",%d\r\n\r\n+QSSLCFG: 1,2,"clientcert",0\r\n'
        b'\r\n+QSSLCFG: 1,2,"clientkey",0\r\n' % size + OK
    )
    assert await answer(modem, 'AT+QMTCFG="ssl",0,1,1,2') == OK
    assert await answer(modem, 'AT+QMTCFG="ssl",0') == b'\r\n+QMTCFG: "ssl",1,1,2\r\n' + OK
    await connected(modem, brokers.ports["tls"], "bc66-tls")
    await ok_then(modem, "AT+QMTDISC=0", b"+QMTDISC: 0,0")


async def test_certificate_mismatch_fails_the_open(
    modem: InProcessLink, brokers: MqttBrokers, pki: Pki
) -> None:
    """A broker whose certificate the given CA did not sign: the handshake fails."""
    assert await answer(modem, 'AT+QSSLCFG=0,0,"seclevel",1') == OK
    await upload(modem, "0,0", "cacert", pki.other_ca.read_bytes())
    assert await answer(modem, 'AT+QMTCFG="ssl",0,1,0,0') == OK
    await ok_then(modem, f'AT+QMTOPEN=0,"127.0.0.1",{brokers.ports["tls"]}', b"+QMTOPEN: 0,-1")
    # A TLS client without a certificate, where the broker asks for one: refused too.
    await upload(modem, "0,0", "cacert", pki.ca.read_bytes())
    await ok_then(modem, f'AT+QMTOPEN=0,"127.0.0.1",{brokers.ports["mutual"]}',
                  b"+QMTOPEN: 0,-1")  # fmt: skip
    # Plain MQTT spoken to a TLS listener is no MQTT at all.
    assert await answer(modem, 'AT+QMTCFG="ssl",0,0') == OK
    await opened(modem, brokers.ports["tls"])
    await ok_then(modem, 'AT+QMTCONN=0,"bc66"')
    assert await modem.urcs(1) == [b"+QMTSTAT: 0,1"]


# -- error paths ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        'AT+QMTCFG="keepalive",0,3601',
        'AT+QMTCFG="keepalive",6,60',
        'AT+QMTCFG="nope",0',
        'AT+QMTCFG="timeout",0,0,3,0',
        'AT+QMTCFG="timeout",0,10,3',
        'AT+QMTCFG="version",0,2',
        'AT+QMTCFG="will",0,1,0,0',
        'AT+QMTCFG="ssl",0,1,0',
        'AT+QMTCFG="dataformat",0,1',
        'AT+QMTOPEN=6,"127.0.0.1",1883',
        'AT+QMTOPEN=0,"127.0.0.1",0',
        'AT+QMTOPEN=0,"",1883',
        "AT+QMTOPEN=0",
        'AT+QMTCONN=0,"nobody"',  # nothing open
        'AT+QMTSUB=0,1,"a",1',  # not connected
        'AT+QMTPUB=0,0,0,0,"a","b"',
        'AT+QSSLCFG=4,0,"seclevel",1',
        'AT+QSSLCFG=0,0,"seclevel",3',
        'AT+QSSLCFG=0,0,"sni",1',
    ],
)
async def test_bad_parameters_and_wrong_states_answer_error(
    modem: InProcessLink, command: str
) -> None:
    assert await answer(modem, command) == ERROR


async def test_settings_are_shown_as_set(modem: InProcessLink) -> None:
    shown = {
        'AT+QMTCFG="keepalive",0': b'+QMTCFG: "keepalive",120',
        'AT+QMTCFG="timeout",0': b'+QMTCFG: "timeout",10,3,0',
        'AT+QMTCFG="version",0': b'+QMTCFG: "version",1',
        'AT+QMTCFG="session",0': b'+QMTCFG: "session",1',
        'AT+QMTCFG="will",0': b'+QMTCFG: "will",0',
        'AT+QMTCFG="ssl",0': b'+QMTCFG: "ssl",0',
        'AT+QMTCFG="dataformat",0': b'+QMTCFG: "dataformat",0,0',
    }
    for command, line in shown.items():
        assert await answer(modem, command) == b"\r\n" + line + b"\r\n" + OK
    assert await answer(modem, 'AT+QMTCFG="will",2,1,1,1,"bc66/will","gone"') == OK
    assert await answer(modem, 'AT+QMTCFG="will",2') == (
        b'\r\n+QMTCFG: "will",1,1,1,"bc66/will","gone"\r\n' + OK
    )
    assert await answer(modem, 'AT+QMTCFG="aliauth",1') == OK  # nothing set: nothing shown


async def test_outcomes_reported_by_urc(
    modem_factory: ModemFactory, brokers: MqttBrokers, dns_server: str
) -> None:
    modem = await modem_factory()
    await ok_then(modem, "AT+QMTCLOSE=0", b"+QMTCLOSE: 0,-1")  # nothing to close
    await ok_then(modem, "AT+QMTDISC=0", b"+QMTDISC: 0,-1")  # nothing connected
    port = brokers.ports["plain"]
    await opened(modem, port)
    await ok_then(modem, f'AT+QMTOPEN=0,"127.0.0.1",{port}', b"+QMTOPEN: 0,2")  # occupied
    await ok_then(modem, "AT+QMTCLOSE=0", b"+QMTCLOSE: 0,0")
    await ok_then(modem, f'AT+QMTOPEN=1,"127.0.0.1",{unused_port()}', b"+QMTOPEN: 1,-1")
    assert await answer(modem, f'AT+QIDNSCFG=1,"{dns_server}"') == OK
    await ok_then(modem, f'AT+QMTOPEN=1,"nope.bc66.test",{port}', b"+QMTOPEN: 1,4")
    # Not attached: the PDP context cannot be activated.
    assert await answer(modem, "AT+CGATT=0") == OK
    await ok_then(modem, f'AT+QMTOPEN=2,"127.0.0.1",{port}', b"+QMTOPEN: 2,3")


async def test_credentials(modem: InProcessLink, brokers: MqttBrokers) -> None:
    """The broker refuses bad credentials (CONNACK 5) and then closes the connection."""
    port = brokers.ports["auth"]
    await opened(modem, port)
    await ok_then(modem, 'AT+QMTCONN=0,"bc66","bc66","wrong"', b"+QMTCONN: 0,0,5",
                  b"+QMTSTAT: 0,1")  # fmt: skip
    await opened(modem, port)
    await ok_then(modem, 'AT+QMTCONN=0,"bc66"', b"+QMTCONN: 0,0,5", b"+QMTSTAT: 0,1")
    await opened(modem, port)
    await ok_then(modem, 'AT+QMTCONN=0,"bc66","bc66","secret"', b"+QMTCONN: 0,0,0")
    assert await answer(modem, "AT+QMTCONN?") == b"\r\n+QMTCONN: 0,3\r\n" + OK
    await ok_then(modem, "AT+QMTDISC=0", b"+QMTDISC: 0,0")


# -- QoS, retained messages, the will, the keep-alive -------------------------------------------


async def test_qos_2_both_ways(modem: InProcessLink, brokers: MqttBrokers, watch: Watch) -> None:
    watcher = watch("bc66/q2/up", qos=2)
    await connected(modem, brokers.ports["plain"], "bc66-q2")
    await ok_then(modem, 'AT+QMTSUB=0,7,"bc66/q2/down",2,"bc66/q2/other",1',
                  b"+QMTSUB: 0,7,0,2,1")  # fmt: skip
    await ok_then(modem, 'AT+QMTPUB=0,5,2,0,"bc66/q2/up","exactly once"', b"+QMTPUB: 0,5,0")
    (message,) = await watcher.until(1)
    assert (message.payload, message.qos) == (b"exactly once", 2)
    watcher.client.publish("bc66/q2/down", "to the module", qos=2)
    (received,) = await modem.urcs(1)
    assert re.fullmatch(rb'\+QMTRECV: 0,\d+,"bc66/q2/down","to the module"', received)
    await modem.quiet(0.3)  # once, and only once
    await ok_then(modem, 'AT+QMTUNS=0,8,"bc66/q2/down","bc66/q2/other"', b"+QMTUNS: 0,8,0")


async def test_retained_message_reaches_a_later_subscriber(
    modem: InProcessLink, brokers: MqttBrokers, watch: Watch
) -> None:
    await connected(modem, brokers.ports["plain"], "bc66-retain")
    await ok_then(modem, 'AT+QMTPUB=0,1,1,1,"bc66/retained","last value"', b"+QMTPUB: 0,1,0")
    watcher = watch("bc66/retained")
    (message,) = await watcher.until(1)
    assert (message.payload, message.retain) == (b"last value", True)
    await ok_then(modem, 'AT+QMTPUB=0,2,1,1,"bc66/retained",""', b"+QMTPUB: 0,2,0")


async def test_the_will_is_published_when_the_network_goes(
    modem: InProcessLink, brokers: MqttBrokers, watch: Watch
) -> None:
    watcher = watch("bc66/will")
    assert await answer(modem, 'AT+QMTCFG="will",0,1,1,0,"bc66/will","bc66 is gone"') == OK
    await connected(modem, brokers.ports["plain"], "bc66-will")
    assert await answer(modem, "AT+CGATT=0") == OK  # the connection breaks: no DISCONNECT
    # 7: the link is not alive (1 would be the broker's own close)
    assert b"+QMTSTAT: 0,7" in await modem.read_until(b"+QMTSTAT: 0,7\r\n")
    (message,) = await watcher.until(1)
    assert message.payload == b"bc66 is gone"


async def test_a_disconnect_publishes_no_will(
    modem: InProcessLink, brokers: MqttBrokers, watch: Watch
) -> None:
    watcher = watch("bc66/will2")
    assert await answer(modem, 'AT+QMTCFG="will",0,1,1,0,"bc66/will2","gone"') == OK
    await connected(modem, brokers.ports["plain"], "bc66-will2")
    await ok_then(modem, "AT+QMTDISC=0", b"+QMTDISC: 0,0")
    await asyncio.sleep(0.3)
    # A marker after the disconnect: the watcher hears the topic (so the silence
    # before it means something), and no will came ahead of it.
    watcher.client.publish("bc66/will2", "marker", qos=1)
    assert [m.payload for m in await watcher.until(1)] == [b"marker"]


async def test_a_silent_broker_lapses_the_keepalive(modem: InProcessLink) -> None:
    """A broker that accepts the session and then stops answering (a hung server):
    the PINGREQ goes unanswered for <pkt_timeout> and the client closes."""

    async def hung_broker(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1024)  # CONNECT
        writer.write(b"\x20\x02\x00\x00")  # CONNACK, accepted
        await reader.read(1024)  # the PINGREQ, never answered
        await asyncio.sleep(10)

    server = await asyncio.start_server(hung_broker, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        assert await answer(modem, 'AT+QMTCFG="keepalive",0,1') == OK
        assert await answer(modem, 'AT+QMTCFG="timeout",0,1,3,0') == OK
        await connected(modem, port, "bc66-hung")
        assert await modem.urcs(1, timeout=5) == [b"+QMTSTAT: 0,2"]
        assert await answer(modem, "AT+QMTCONN?") == OK
    finally:
        server.close()


# -- ten thousand messages each way --------------------------------------------------------------

LOAD = 10_000


async def test_a_host_in_data_mode_holds_the_broker_back(
    modem: InProcessLink, brokers: MqttBrokers, watch: Watch
) -> None:
    """While the host types a message, the module's URC queue fills; at its bound the
    module stops reading the broker instead of queueing more, and afterwards every
    message arrives, in order."""
    await connected(modem, brokers.ports["plain"], "bc66-held")
    await ok_then(modem, 'AT+QMTSUB=0,1,"bc66/flood",0', b"+QMTSUB: 0,1,0,0")
    await modem.write(b'AT+QMTPUB=0,0,0,0,"bc66/typing"\r')  # data mode: URCs wait
    await modem.read_until(b"\r\n> ")
    publisher = watch()
    count, body = 200, b"z" * 1000  # 200 KB: beyond the 64 KiB of URCs the module keeps
    for number in range(count):
        publisher.client.publish("bc66/flood", b"%03d" % number + body, qos=0)
    client = modem.modem.mqtt.clients[0]
    deadline = asyncio.get_running_loop().time() + 10
    while not (client.reception is not None and client.reception.paused):
        assert asyncio.get_running_loop().time() < deadline, "the module kept reading"
        await asyncio.sleep(0.01)
    assert modem.modem.output_blocked
    await modem.write(b"x" + CTRL_Z)
    received = re.compile(rb'\r\n\+QMTRECV: 0,0,"bc66/flood","(\d{3})z{1000}"\r\n')
    numbers: list[int] = []
    while len(numbers) < count:
        got = await modem.read_until(received, timeout=10)
        numbers += [int(n) for n in received.findall(got)]
    assert numbers == list(range(count))


async def test_ten_thousand_qos1_messages_each_way(
    modem: InProcessLink, brokers: MqttBrokers, watch: Watch
) -> None:
    """None lost, and none duplicated beyond what QoS 1 allows: counted at the broker
    (a subscriber) and at the host (the +QMTPUB and +QMTRECV URCs)."""
    watcher = watch("bc66/load/up")
    await connected(modem, brokers.ports["plain"], "bc66-load")
    await ok_then(modem, 'AT+QMTSUB=0,1,"bc66/load/down",1', b"+QMTSUB: 0,1,0,1")
    # Up: each publish answered OK, then acknowledged by the broker (+QMTPUB ...,0).
    # The host keeps up to 16 in flight, as a program that pipelines would (the
    # module takes 32 and answers ERROR beyond: it pushes back, it drops nothing).
    acked: set[int] = set()
    urcs = re.compile(rb"\r\n\+QMTPUB: 0,(\d+),0\r\n")
    for number in range(LOAD):
        while number - len(acked) >= 16:
            said = await modem.read_until(urcs)
            acked.update(int(m) for m in urcs.findall(said))
        mid = number + 1
        await modem.write(b'AT+QMTPUB=0,%d,1,0,"bc66/load/up","%d"\r' % (mid, number))
        said = await modem.read_until(OK)
        acked.update(int(m) for m in urcs.findall(said))
    while len(acked) < LOAD:
        said = await modem.read_until(urcs)
        acked.update(int(m) for m in urcs.findall(said))
    assert acked == set(range(1, LOAD + 1))
    messages = await watcher.until(LOAD, timeout=60)
    assert {int(m.payload) for m in messages} == set(range(LOAD))
    # Down: the broker's QoS 1 messages, each shown once (a resend may repeat one).
    publisher = watch()
    for number in range(LOAD):
        publisher.client.publish("bc66/load/down", str(number), qos=1)
    seen: list[int] = []
    received = re.compile(rb'\r\n\+QMTRECV: 0,\d+,"bc66/load/down","(\d+)"\r\n')
    while len(set(seen)) < LOAD:
        got = await modem.read_until(received, timeout=30)
        seen += [int(n) for n in received.findall(got)]
    assert set(seen) == set(range(LOAD))
    assert len(seen) - LOAD <= 10, "QoS 1 repeats only what was resent"


async def test_the_readme_transcript(
    modem: InProcessLink, brokers: MqttBrokers, watch: Watch
) -> None:
    """README "MQTT and TLS": the transcript as printed, the broker's port aside; the
    line with the broker's message is played by a publisher on the broker."""
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    block = readme.split("## MQTT and TLS", 1)[1].split("```", 2)[1].strip().splitlines()
    publisher = watch()
    port = str(brokers.ports["plain"]).encode()
    lines = iter(block)
    for text in lines:
        if text.startswith("AT"):
            command = text.replace(",1883", f",{port.decode()}")
            said = await answer(modem, command)
            assert said == b"\r\n" + next(lines).encode() + b"\r\n", (command, said)
        elif text.startswith("+QMTRECV"):
            topic, payload = re.findall(r'"([^"]*)"', text)
            publisher.client.publish(topic, payload, qos=1)
            (got,) = await modem.urcs(1)
            assert re.fullmatch(re.sub(r"0,\d+,", r"0,\\d+,", re.escape(text)).encode(), got)
        else:
            assert await modem.urcs(1) == [text.encode()]


async def test_broker_gone(modem: InProcessLink, tmp_path: Path) -> None:
    """The broker stops mid-session: its close reaches the module as ``+QMTSTAT: 0,1``."""
    broker = Mosquitto(tmp_path).start()
    try:
        await connected(modem, broker.port, "bc66-orphan")
    finally:
        broker.stop()
    assert await modem.urcs(1) == [b"+QMTSTAT: 0,1"]
    assert await answer(modem, "AT+QMTOPEN?") == OK
    await ok_then(modem, f'AT+QMTOPEN=0,"127.0.0.1",{broker.port}', b"+QMTOPEN: 0,-1")
