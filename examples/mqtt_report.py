"""Report readings over the BC66's own MQTT client and obey a command topic.

python examples/mqtt_report.py PORT BROKER_HOST BROKER_PORT [READINGS]

Publishes READINGS (default 3) values to ``bc66/<IMEI>/temp`` at QoS 1, each
acknowledged by the broker, and prints any message on ``bc66/<IMEI>/cmd``.  The
module's client reconnects by itself if the broker goes away meanwhile.
"""

from __future__ import annotations

import random
import sys
import time

from bc66sim.client import BC66, Message, Will


def main(port: str, host: str, broker_port: str, readings: str = "3") -> int:
    with BC66.open(port) as modem:
        modem.wait_ready(timeout=60)
        imei = modem.command("AT+CGSN=1")[0].split(":", 1)[1].strip().strip('"')
        will = Will(f"bc66/{imei}/status", "offline", qos=1, retain=True)
        with modem.mqtt(host, int(broker_port), f"bc66-{imei}", will=will) as mqtt:
            mqtt.publish(f"bc66/{imei}/status", "online", qos=1, retain=True)

            def obey(message: Message) -> None:
                print(f"command on {message.topic}: {message.payload.decode(errors='replace')}")

            mqtt.subscribe(f"bc66/{imei}/cmd", 1, obey)
            for _ in range(int(readings)):
                value = f"{random.uniform(18.0, 24.0):.1f}"
                mqtt.publish(f"bc66/{imei}/temp", value, qos=1)
                print(f"published bc66/{imei}/temp = {value}")
                time.sleep(0.2)
            mqtt.publish(f"bc66/{imei}/status", "offline", qos=1, retain=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
