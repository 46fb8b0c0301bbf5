"""Fetch a URL through a BC66 with the standard library's http.client.

    python examples/http_get.py PORT URL
    python examples/http_get.py socket://127.0.0.1:5566 http://127.0.0.1:8000/

PORT is any pyserial URL or path: /dev/ttyUSB0, a bc66sim pty, socket://HOST:PORT.
"""

from __future__ import annotations

import http.client
import sys
import urllib.parse

from bc66sim.client import BC66


def main(port: str, url: str) -> int:
    parts = urllib.parse.urlsplit(url)
    host, remote = parts.hostname or "", parts.port or 80
    with BC66.open(port) as modem:
        modem.wait_ready(timeout=60)
        with modem.connect("TCP", host, remote) as sock:
            connection = http.client.HTTPConnection(host, remote)
            connection.sock = sock  # type: ignore[assignment]
            connection.request("GET", parts.path or "/")
            response = connection.getresponse()
            body = response.read()
    print(response.status, response.reason, f"{len(body)} bytes")
    sys.stdout.buffer.write(body[:400] + b"\n")
    return 0 if response.status < 400 else 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
