"""DNS, ping and NTP through a BC66.

python examples/network_services.py PORT NAME [DNS_SERVER]
"""

from __future__ import annotations

import sys

from bc66sim.client import BC66


def main(port: str, name: str, dns_server: str | None = None) -> int:
    with BC66.open(port) as modem:
        modem.wait_ready(timeout=60)
        if dns_server:
            modem.command(f'AT+QIDNSCFG=1,"{dns_server}"')
        print("addresses:", modem.resolve(name))
        result = modem.ping(name, count=3)
        print(f"ping: {result.received}/{result.sent} replies, avg {result.avg_ms} ms")
        print("module signal:", modem.command("AT+CSQ"))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
