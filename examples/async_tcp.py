"""The asyncio API: an echo round trip through a BC66.

python examples/async_tcp.py PORT HOST TCP_PORT
"""

from __future__ import annotations

import asyncio
import sys

from bc66sim.client import AsyncBC66


async def main(port: str, host: str, tcp_port: str) -> int:
    async with await AsyncBC66.open(port) as modem:
        await modem.wait_ready(timeout=60)
        async with await modem.connect("TCP", host, int(tcp_port)) as sock:
            await sock.sendall(b"ping over NB-IoT\n")
            print("reply:", await sock.recv(1024, timeout=10))
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(*sys.argv[1:4])))
