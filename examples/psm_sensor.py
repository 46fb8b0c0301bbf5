"""A sensor that reports at every T3412 and sleeps in between (PSM and deep sleep).

Run the emulator with module time sped up, then this host program:

    bc66sim serve --tcp 127.0.0.1:5566 --time-scale 60
    python examples/psm_sensor.py 127.0.0.1:5566 --reports 3

It asks for PSM (T3412 10 min, T3324 10 s), opens a UDP socket to a collector it
runs itself on loopback, sends a reading, and releases the sleep lock.  The module
goes to deep sleep; at each T3412 expiry it wakes for its tracking area update
(``+QATWAKEUP``), and the sensor sends its next reading while it is connected.
Plain sockets and the AT commands of the manuals: a real BC66 on a serial line
takes the same bytes.  Stop the emulator with Ctrl+C to see what it cost.
"""

from __future__ import annotations

import argparse
import socket
import time


class Uart:
    """The TCP UART of ``bc66sim serve --tcp``: lines out, bytes in."""

    def __init__(self, address: str) -> None:
        host, port = address.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)))
        self.seen = b""

    def until(self, marker: bytes, timeout: float) -> bytes:
        deadline = time.monotonic() + timeout
        while marker not in self.seen:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                raise SystemExit(f"no {marker!r} within {timeout} s: {self.seen!r}") from None
            if not data:
                raise SystemExit("the module's UART closed")
            self.seen += data
        end = self.seen.index(marker) + len(marker)
        got, self.seen = self.seen[:end], self.seen[end:]
        return got

    def command(self, line: str, timeout: float = 5) -> bytes:
        self.sock.sendall(line.encode() + b"\r\n")
        answer = self.until(b"\r\n", timeout)
        while not answer.endswith((b"OK\r\n", b"ERROR\r\n")):
            answer += self.until(b"\r\n", timeout)
        if not answer.endswith(b"OK\r\n"):
            raise SystemExit(f"{line}: {answer!r}")
        return answer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("uart", help="HOST:PORT of bc66sim serve --tcp")
    parser.add_argument("--reports", type=int, default=3)
    parser.add_argument("--wait", type=float, default=120, help="wall seconds per report")
    args = parser.parse_args()

    collector = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    collector.bind(("127.0.0.1", 0))
    collector.settimeout(10)
    uart = Uart(args.uart)
    uart.sock.sendall(b"AT\r\n")  # the module may be asleep: this only wakes it
    time.sleep(0.5)
    uart.seen = b""
    for line in ("ATE0", "AT+QNBIOTEVENT=1,1", 'AT+QCFG="dsevent",1', "AT+QATWAKEUP=1",
                 'AT+CPSMS=1,,,"00000001","00000101"', "AT+QSCLK=1"):  # fmt: skip
        uart.command(line)
    port = collector.getsockname()[1]
    uart.command(f'AT+QIOPEN=1,0,"UDP","127.0.0.1",{port},0,1')
    uart.until(b"+QIOPEN: 0,0\r\n", 70)
    started = time.monotonic()
    for number in range(1, args.reports + 1):
        reading = f"reading {number}: 21.{number} C"
        uart.command(f"AT+QISEND=0,{len(reading)},{reading}")
        data, _ = collector.recvfrom(100)
        print(f"{time.monotonic() - started:6.1f} s  collector got {data.decode()!r}")
        uart.command("AT+QRELLOCK")  # sleep as soon as PSM allows
        if number == args.reports:
            break
        uart.until(b'"ENTER DEEPSLEEP"\r\n', args.wait)
        print(f"{time.monotonic() - started:6.1f} s  module in deep sleep")
        uart.until(b"+QATWAKEUP\r\n", args.wait)  # T3412: the module wakes for its TAU
        print(f"{time.monotonic() - started:6.1f} s  module woke for its TAU")
    uart.command("AT+QICLOSE=0")


if __name__ == "__main__":
    main()
