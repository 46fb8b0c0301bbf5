"""Choosing a transport by URL: ``bc66sim serve --uart URL``.

Each transport is one module whose header states its URL (as pyserial's URL
handlers do); the options ``--pty``, ``--tcp``, ``--serial`` and ``--stdio`` are
shorthands for these URLs:

==========================  ===================================================
``pty:PATH``                a pseudo-terminal linked at PATH (``pty.py``);
                            ``pty:`` alone links it at the default path
``tcp://HOST:PORT``         one TCP connection is the UART (``tcp.py``);
                            ``[::1]:PORT`` for IPv6, port 0 for any free one
``serial:DEVICE``           a real serial port (``serial.py``); ``--baud`` sets
                            its rate (default 115200)
``stdio:``                  standard input and output (``stdio.py``)
==========================  ===================================================

``//`` after the colon is optional (``pty:///tmp/ttyBC66`` is ``pty:/tmp/ttyBC66``).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

from bc66sim.transport.base import Port, PortError
from bc66sim.transport.pty import DEFAULT_PTY_LINK, PtyPort
from bc66sim.transport.serial import SerialPort
from bc66sim.transport.stdio import StdioPort
from bc66sim.transport.tcp import TcpPort, parse_address

SCHEMES = ("pty", "tcp", "serial", "stdio")
#: What a host program can open, for the "ready on" line.
#: The interpreter bc66sim runs in has pyserial: the hint works as printed.
_MINITERM = f" — try: {sys.executable} -m serial.tools.miniterm {{where}} 115200"


class UrlError(PortError):
    """A URL that names no transport, or a transport with a bad address."""


@dataclass(frozen=True)
class PortChoice:
    """The port a URL names, and what the CLI says of it."""

    port: Port
    #: ``pty``, ``tcp``, ``serial`` or ``stdio``.
    scheme: str
    #: The address a TCP port listens on (for the no-authentication warning).
    listen_host: str | None = None
    #: Appended to the "ready on WHERE" line (``{where}`` is filled in).
    hint: str = ""


def port_for_url(url: str, baud: int | None = None) -> PortChoice:
    """The transport ``url`` names; :class:`UrlError` with a clear message otherwise."""
    scheme, colon, rest = url.partition(":")
    scheme = scheme.lower()
    if not colon or scheme not in SCHEMES:
        raise UrlError(
            f"{url!r}: a UART URL starts with one of {', '.join(s + ':' for s in SCHEMES)}"
        )
    rest = rest.removeprefix("//")
    if scheme == "tcp":
        try:
            host, number = parse_address(rest)
        except ValueError as exc:
            raise UrlError(f"{url!r}: {exc}") from exc
        hint = " (tcp)" + _MINITERM.replace("{where}", "socket://{where}")
        return PortChoice(TcpPort(host, number, baud), scheme, host, hint)
    if scheme == "serial":
        if not rest:
            raise UrlError(f"{url!r}: which device? (serial:/dev/ttyUSB0)")
        return PortChoice(SerialPort(rest, baud or 115200), scheme, hint=" (serial)")
    if scheme == "stdio":
        if rest:
            raise UrlError(f"{url!r}: stdio: takes no address")
        return PortChoice(StdioPort(), scheme, hint=" (stdio)")
    link = Path(rest) if rest else DEFAULT_PTY_LINK
    return PortChoice(PtyPort(link, baud), scheme, hint=" (pty)" + _MINITERM)


def add_uart_options(parser: argparse.ArgumentParser) -> None:
    """``--pty``, ``--tcp``, ``--serial``, ``--stdio`` and ``--uart``: where the UART is."""
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--pty",
        metavar="PATH",
        type=Path,
        help=f"a pseudo-terminal linked at PATH (the default, at {DEFAULT_PTY_LINK})",
    )
    where.add_argument("--tcp", metavar="HOST:PORT", help="one TCP connection is the UART")
    where.add_argument("--serial", metavar="DEVICE", help="a real serial port (pyserial)")
    where.add_argument("--stdio", action="store_true", help="standard input and output")
    where.add_argument(
        "--uart",
        metavar="URL",
        help="the UART by URL: pty:PATH, tcp://HOST:PORT, serial:DEVICE or stdio: "
        "(the options above are shorthands for these)",
    )


def uart_url(args: argparse.Namespace) -> str:
    """The URL :func:`add_uart_options`' options mean; :class:`UrlError` if it is bad."""
    if args.uart:
        return str(args.uart)
    if args.tcp:
        try:
            parse_address(args.tcp)
        except ValueError as exc:
            raise UrlError(f"--tcp: {exc}") from exc
        return f"tcp://{args.tcp}"
    if args.serial:
        return f"serial:{args.serial}"
    if args.stdio:
        return "stdio:"
    return f"pty:{args.pty or ''}"
