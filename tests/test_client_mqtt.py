"""The driver's MQTT client (client/mqtt.py) against ``bc66sim serve`` and mosquitto on
loopback: what a Python user of a real BC66's MQTT would write."""

from __future__ import annotations

import asyncio
import queue
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bc66sim.client import (
    BC66,
    AsyncBC66,
    Message,
    MqttError,
    MqttRefused,
    Tls,
    Will,
)
from bc66sim.client.mqtt import topic_matches
from support.links import ServeProcess
from support.mqtt import Watcher
from support.pki import Pki
from support.servers import Mosquitto, MqttBrokers, unused_port

EVERY_BYTE = bytes(range(256))  # CR, LF, quotes, Ctrl+Z and Esc among them


@pytest.fixture
async def emulator(tmp_path: Path) -> AsyncIterator[ServeProcess]:
    server = ServeProcess("--tcp", "127.0.0.1:0", "--attach-delay", "0.1",
                          "--state-dir", str(tmp_path))  # fmt: skip
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def modem(emulator: ServeProcess) -> AsyncIterator[AsyncBC66]:
    modem = await AsyncBC66.open(f"socket://{emulator.where}")
    await modem.wait_ready(10)
    yield modem
    await modem.close()


class Inbox:
    """Messages a callback got, awaited in order."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[Message] = asyncio.Queue()

    def __call__(self, message: Message) -> None:
        self.queue.put_nowait(message)

    async def next(self, timeout: float = 10) -> Message:
        return await asyncio.wait_for(self.queue.get(), timeout)


async def test_publish_and_subscribe_at_every_qos_with_any_bytes(
    modem: AsyncBC66, brokers: MqttBrokers
) -> None:
    watcher = Watcher(brokers.ports["plain"], "drv/#", qos=2)
    inbox, markers = Inbox(), Inbox()
    try:
        async with await modem.mqtt("127.0.0.1", brokers.ports["plain"], "drv-1") as mqtt:
            assert await mqtt.subscribe("drv/in/+", 2, inbox) == 2
            await mqtt.subscribe("drv/marker", 1, markers)
            for qos in (0, 1, 2):
                await mqtt.publish(f"drv/out/{qos}", EVERY_BYTE, qos=qos)
            await mqtt.publish("drv/out/empty", b"", qos=1)
            received = await watcher.until(4)
            assert sorted((m.topic, m.qos, m.payload) for m in received) == [
                ("drv/out/0", 0, EVERY_BYTE),
                ("drv/out/1", 1, EVERY_BYTE),
                ("drv/out/2", 2, EVERY_BYTE),
                ("drv/out/empty", 1, b""),
            ]
            for qos in (0, 1, 2):
                watcher.client.publish(f"drv/in/{qos}", EVERY_BYTE[::-1], qos=qos)
                message = await inbox.next()
                assert (message.topic, message.payload) == (f"drv/in/{qos}", EVERY_BYTE[::-1])
                assert (message.msg_id == 0) == (qos == 0)
            await mqtt.unsubscribe("drv/in/+")
            watcher.client.publish("drv/in/late", b"after unsubscribing", qos=1)
            watcher.client.publish("drv/marker", b"marker", qos=1)  # comes after it
            assert (await markers.next()).payload == b"marker"
            assert inbox.queue.empty()
    finally:
        watcher.close()


async def test_messages_go_to_the_matching_subscription_or_on_message(
    modem: AsyncBC66, brokers: MqttBrokers
) -> None:
    rooms, rest = Inbox(), Inbox()
    mqtt = await modem.mqtt("127.0.0.1", brokers.ports["plain"], "drv-2", on_message=rest)
    await mqtt.subscribe("house/+/temp", 1, rooms)
    await mqtt.subscribe("house/#", 0)  # no callback of its own
    await mqtt.publish("house/kitchen/temp", "21.5", qos=1)
    await mqtt.publish("house/door", "open", qos=1)
    got = {(await rooms.next()).payload}
    others = {(await rest.next()).payload}
    assert got == {b"21.5"}
    assert others == {b"open"}
    await mqtt.disconnect()
    with pytest.raises(MqttError):
        await mqtt.publish("house/door", "closed")


async def test_tls_with_a_client_certificate(
    modem: AsyncBC66, brokers: MqttBrokers, pki: Pki
) -> None:
    tls = Tls(pki.ca.read_bytes(), pki.client_cert.read_bytes(), pki.client_key.read_bytes())
    inbox = Inbox()
    async with await modem.mqtt("127.0.0.1", brokers.ports["mutual"], "drv-tls", tls=tls) as mqtt:
        await mqtt.subscribe("drv/tls", 1, inbox)
        await mqtt.publish("drv/tls", EVERY_BYTE, qos=1)
        assert (await inbox.next()).payload == EVERY_BYTE
    assert '+QSSLCFG: 1,0,"seclevel",2' in await modem.command('AT+QSSLCFG=1,0,"seclevel"')


async def test_a_certificate_of_another_ca_fails_the_open(
    modem: AsyncBC66, brokers: MqttBrokers, pki: Pki
) -> None:
    with pytest.raises(MqttError, match="failed to open") as failure:
        await modem.mqtt(
            "127.0.0.1", brokers.ports["tls"], "drv", tls=Tls(pki.other_ca.read_bytes())
        )
    assert failure.value.code == -1


async def test_refusals_carry_the_module_s_code(modem: AsyncBC66, brokers: MqttBrokers) -> None:
    with pytest.raises(MqttRefused, match="not authorized") as refused:
        await modem.mqtt("127.0.0.1", brokers.ports["auth"], "drv", username="bc66", password="no")
    assert refused.value.code == 5
    with pytest.raises(MqttError, match="failed to open") as failed:
        await modem.mqtt("127.0.0.1", unused_port(), "drv")
    assert failed.value.code == -1
    # Every refusal left the module's client closed: the next connection takes client 0.
    mqtt = await modem.mqtt("127.0.0.1", brokers.ports["auth"], "drv", username="bc66",
                            password="secret")  # fmt: skip
    assert mqtt.index == 0
    with pytest.raises(ValueError):
        await mqtt.publish('a"b', "quote in a topic")
    with pytest.raises(ValueError):
        await mqtt.publish("a/+", "a wildcard")
    with pytest.raises(ValueError):
        await mqtt.publish("a", b"x" * 1025)
    await mqtt.disconnect()


async def test_reconnects_and_subscribes_again_after_the_broker_comes_back(
    modem: AsyncBC66, tmp_path: Path
) -> None:
    broker = Mosquitto(tmp_path).start()
    statuses: list[int] = []
    inbox = Inbox()
    try:
        mqtt = await modem.mqtt("127.0.0.1", broker.port, "drv-back", on_status=statuses.append)
        await mqtt.subscribe("back/cmd", 1, inbox)
        broker.stop()
        await until(lambda: statuses == [1])
        assert not mqtt.connected
        broker.start()  # the same port
        publishing = asyncio.create_task(mqtt.publish("back/cmd", "while away", qos=1))
        await until(lambda: mqtt.connected, timeout=20)
        await publishing  # it waited for the connection
        assert (await inbox.next()).payload == b"while away"  # subscribed again
        assert mqtt.connections == 2
        await mqtt.disconnect()
    finally:
        broker.stop()


async def test_reconnects_after_the_module_rebooted(modem: AsyncBC66, brokers: MqttBrokers) -> None:
    inbox = Inbox()
    mqtt = await modem.mqtt("127.0.0.1", brokers.ports["plain"], "drv-reboot")
    await mqtt.subscribe("drv/reboot", 1, inbox)
    await modem.command("AT+QRST=1")
    await until(lambda: mqtt.connections == 2, timeout=30)
    await mqtt.publish("drv/reboot", "again", qos=1)
    assert (await inbox.next()).payload == b"again"
    await mqtt.disconnect()


async def test_the_will_on_a_lost_connection(modem: AsyncBC66, brokers: MqttBrokers) -> None:
    watcher = Watcher(brokers.ports["plain"], "drv/will")
    will = Will("drv/will", "gone", qos=1)
    try:
        await modem.mqtt("127.0.0.1", brokers.ports["plain"], "drv-will", will=will,
                         reconnect=False)  # fmt: skip
        await modem.command("AT+CFUN=0")  # the radio goes: no DISCONNECT
        assert [m.payload for m in await watcher.until(1)] == [b"gone"]
    finally:
        watcher.close()


def test_the_blocking_client(emulator: ServeProcess, brokers: MqttBrokers) -> None:
    got: queue.Queue[Message] = queue.Queue()
    with BC66.open(f"socket://{emulator.where}") as modem:
        modem.wait_ready(10)
        with modem.mqtt("127.0.0.1", brokers.ports["plain"], "drv-sync") as mqtt:
            assert mqtt.subscribe("drv/sync", 1, got.put) == 1
            mqtt.publish("drv/sync", b"\r\nOK\r\n", qos=1)
            assert got.get(timeout=10).payload == b"\r\nOK\r\n"


@pytest.mark.parametrize(
    ("topic_filter", "topic", "matches"),
    [
        ("a/b", "a/b", True),
        ("a/+", "a/b", True),
        ("a/+", "a/b/c", False),
        ("a/#", "a", True),
        ("a/#", "a/b/c", True),
        ("+/+", "/x", True),
        ("#", "$SYS/x", False),
        ("+/x", "$SYS/x", False),
        ("$SYS/#", "$SYS/x", True),
        ("a/b", "a/c", False),
    ],
)
def test_topic_filters(topic_filter: str, topic: str, matches: bool) -> None:
    """MQTT 3.1.1 §4.7."""
    assert topic_matches(topic_filter, topic) is matches


async def until(condition: object, timeout: float = 10) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():  # type: ignore[operator]
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)


def test_the_readme_example(
    emulator: ServeProcess, brokers: MqttBrokers, capsys: pytest.CaptureFixture[str]
) -> None:
    """The README's MQTT snippet, run as written (the port and broker made local)."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    code = readme.split("MQTT goes through the module's own client", 1)[1]
    code = code.split("```python\n", 1)[1].split("```", 1)[0]
    code = code.replace("socket://127.0.0.1:5566", f"socket://{emulator.where}")
    code = code.replace(", 1883,", f", {brokers.ports['plain']},")
    watcher = Watcher(brokers.ports["plain"], "sensor-1/temp")
    try:
        exec(compile(code, "README.md", "exec"), {})
        assert [m.payload for m in asyncio.run(watcher.until(1))] == [b"21.5"]
    finally:
        watcher.close()
