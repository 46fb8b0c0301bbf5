"""A race that published firmware has: the reply that lands right after SEND OK.

Much host code sends with ``AT+QISEND``, waits for ``SEND OK``, then "lets the modem
settle" and clears its receive buffer before it waits for the server's reply. On
a link with a second of latency the reply comes after the clearing and all is
well; when the reply is fast — a quiet cell at night, or an emulator on loopback —
it lands before the clearing and is thrown away, and the device waits forever.

    bc66sim serve --tcp 127.0.0.1:5566                          # ce0: the bug hides
    python examples/reply_after_send_ok.py 127.0.0.1:5566 HOST PORT
    bc66sim serve --tcp 127.0.0.1:5566 --scenario quiet-cell    # the bug shows
    python examples/reply_after_send_ok.py 127.0.0.1:5566 HOST PORT            # fails
    python examples/reply_after_send_ok.py 127.0.0.1:5566 HOST PORT --fixed    # passes

HOST PORT is a UDP echo server.  ``--fixed`` keeps every byte after ``SEND OK`` and
looks there for the reply first: the way to wait that works on any link.
"""

from __future__ import annotations

import argparse
import socket
import sys
import time


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("uart", help="HOST:PORT of bc66sim serve --tcp")
    parser.add_argument("host")
    parser.add_argument("port", type=int)
    parser.add_argument("--fixed", action="store_true", help="wait for the reply correctly")
    args = parser.parse_args()

    uart_host, uart_port = args.uart.rsplit(":", 1)
    uart = socket.create_connection((uart_host, int(uart_port)), timeout=10)
    seen = b""

    def until(marker: bytes, timeout: float) -> bytes:
        nonlocal seen
        deadline = time.monotonic() + timeout
        while marker not in seen:
            uart.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                data = uart.recv(4096)
            except TimeoutError:
                raise SystemExit(f"no {marker!r} within {timeout} s") from None
            seen += data
        end = seen.index(marker) + len(marker)
        got, seen = seen[:end], seen[end:]
        return got

    def command(line: str) -> bytes:
        uart.sendall(line.encode() + b"\r\n")
        return until(b"OK\r\n", 70)

    uart.sendall(b"ATE0\r\n")
    time.sleep(0.3)
    seen = b""
    command(f'AT+QIOPEN=1,0,"UDP","{args.host}",{args.port},0,1')
    until(b"+QIOPEN: 0,0\r\n", 70)
    command("AT+QISEND=0,4,ping")
    until(b"SEND OK\r\n", 10)
    if not args.fixed:
        time.sleep(0.2)  # "let the modem settle"...
        uart.settimeout(0.01)
        try:  # ...and clear the receive buffer: a fast reply goes with it
            while uart.recv(4096):
                pass
        except TimeoutError:
            pass
        seen = b""
    try:
        until(b'+QIURC: "recv",0,4\r\nping\r\n', 5)
    except SystemExit:
        print("the reply was lost: it came before the buffer was cleared")
        return 1
    print("reply received")
    return 0


if __name__ == "__main__":
    sys.exit(main())
