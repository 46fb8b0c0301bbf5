"""A paho MQTT client beside the module: the broker's other side, for the MQTT tests."""

from __future__ import annotations

import asyncio
import threading

import paho.mqtt.client as paho


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
