"""Send UDP datagrams through a BC66 and print what comes back.

python examples/udp_echo.py PORT HOST UDP_PORT [MESSAGE...]
"""

from __future__ import annotations

import sys

from bc66sim.client import BC66, BC66Timeout


def main(port: str, host: str, udp_port: str, *messages: str) -> int:
    with BC66.open(port) as modem:
        modem.wait_ready(timeout=60)
        with modem.connect("UDP", host, int(udp_port)) as sock:
            for message in messages or ("hello from a BC66",):
                sock.sendall(message.encode())
                try:
                    print("reply:", sock.recv(1500, timeout=5).decode(errors="replace"))
                except BC66Timeout:
                    print("no reply within 5 s")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
