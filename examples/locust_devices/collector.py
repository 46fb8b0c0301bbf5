"""A loopback collector for the Locust example: acknowledges each JSON report.

    python examples/locust_devices/collector.py --port 9000

Each datagram is a report (``{"imei": …, "seq": n, …}``); the answer is
``{"ack": n}``.  It prints one line per report with ``--verbose``, and how many
reports from how many devices when it stops (Ctrl+C).
"""

from __future__ import annotations

import argparse
import json
import socket


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((args.host, args.port))
    print(f"collector ready on {args.host}:{sock.getsockname()[1]}", flush=True)
    devices: set[str] = set()
    reports = 0
    try:
        while True:
            data, peer = sock.recvfrom(2048)
            try:
                report = json.loads(data)
                imei, sequence = str(report["imei"]), int(report["seq"])
            except (ValueError, KeyError, TypeError):
                print(f"not a report from {peer}: {data[:80]!r}", flush=True)
                continue
            devices.add(imei)
            reports += 1
            sock.sendto(json.dumps({"ack": sequence}).encode(), peer)
            if args.verbose:
                print(f"report {sequence} from {imei}", flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        print(f"{reports} reports from {len(devices)} devices", flush=True)


if __name__ == "__main__":
    main()
