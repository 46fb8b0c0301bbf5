"""Devices that report to a backend over NB-IoT, as a Locust load test.

Each Locust user is one sensor: an emulated BC66 behind a ce0 link (bc66sim's
:class:`~bc66sim.locust.BC66User`) and the firmware's behaviour, written with the
host driver.  Every report wakes the module, opens a UDP socket to the collector,
sends a JSON reading, waits for the collector's acknowledgement and closes the
socket; between reports the module goes idle.  Run it against a collector (this
folder's collector.py, or your own backend)::

    python examples/locust_devices/collector.py --port 9000 &
    locust -f examples/locust_devices/locustfile.py --host udp://127.0.0.1:9000

Then open http://127.0.0.1:8089: every AT command, open, send and receive is a
row of the statistics.  Across machines, run one ``--master`` and any number of
``--worker``s; each worker hosts its own users' modules.

Environment: ``SENSOR_NETWORK`` (link profile, default ce0), ``SENSOR_PERIOD``
(seconds between reports, default 10), ``SENSOR_ACK_TIMEOUT`` (default 30 s).
"""

from __future__ import annotations

import json
import os
import random
import urllib.parse

from locust import between, task

from bc66sim.locust import BC66User

PERIOD = float(os.environ.get("SENSOR_PERIOD", "10"))
ACK_TIMEOUT = float(os.environ.get("SENSOR_ACK_TIMEOUT", "30"))


class Sensor(BC66User):
    network = os.environ.get("SENSOR_NETWORK", "ce0")
    wait_time = between(PERIOD * 0.8, PERIOD * 1.2)

    def on_start(self) -> None:
        collector = urllib.parse.urlsplit(self.host or "udp://127.0.0.1:9000")
        if collector.scheme != "udp" or not collector.hostname or not collector.port:
            raise ValueError(f"--host: udp://HOST:PORT of the collector, not {self.host!r}")
        self.collector = (collector.hostname, collector.port)
        self.sequence = 0
        # What the firmware reads once at boot: its signal, for the first report.
        self.modem.command("AT+CSQ")

    @task
    def report(self) -> None:
        self.modem.wake()
        self.sequence += 1
        reading = {"imei": self.imei, "seq": self.sequence, "t": round(random.gauss(21, 2), 1)}
        with self.modem.connect("UDP", *self.collector) as sock:
            sock.send(json.dumps(reading, separators=(",", ":")).encode())
            answer = sock.recv(512, timeout=ACK_TIMEOUT)
        # The backend's answer is a request of its own: a wrong one is a failure.
        try:
            ack = json.loads(answer)
            if ack != {"ack": self.sequence}:
                raise ValueError(f"acknowledged {ack}, not report {self.sequence}")
        except ValueError as exc:
            failure: Exception | None = exc
        else:
            failure = None
        self.environment.events.request.fire(
            request_type="collector", name="ack", response_time=0, response_length=len(answer),
            exception=failure, context={},
        )  # fmt: skip
