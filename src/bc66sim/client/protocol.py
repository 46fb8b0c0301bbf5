"""Sans-IO parsing of what a BC66 says: responses, prompts and URCs, binary-safe.

The parser knows which command is pending (:class:`Pending`), so it can tell an
information line of that command from a URC that happens to arrive meanwhile,
and it reads payloads (``+QIRD``, direct-push ``"recv"``) by byte count: every
byte value survives, CR and LF included.  It assumes the settings the driver
makes: echo off and ``AT+QICFG="showlength",1``; view mode and receive format are
given to it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

#: A line (without its payload) longer than this is garbage: it is dropped.
MAX_LINE = 4096

TRAILERS = ("SEND OK", "SEND FAIL", "CLOSE OK")


@dataclass(frozen=True)
class Pending:
    """The command whose answer is awaited, and what belongs to that answer."""

    command: str
    #: Information lines starting with this belong to the response ("+CGATT:").
    prefix: str | None = None
    #: Lines without a "+" prefix belong to the response (ATI, AT+CGMI, AT+CIMI).
    plain_lines: bool = False
    #: The module will write "> " (AT+QISEND data mode).
    prompt: bool = False


@dataclass(frozen=True)
class Info:
    text: str
    #: AT+QIRD's data, decoded from hex when the receive format is hex.
    payload: bytes | None = None


@dataclass(frozen=True)
class Final:
    ok: bool
    #: The number of "+CME ERROR: <n>", when the module gave one.
    code: int | None = None


@dataclass(frozen=True)
class Prompt:
    pass


@dataclass(frozen=True)
class Trailer:
    text: str


@dataclass(frozen=True)
class Urc:
    text: str
    #: The data of a direct-push "recv" URC.
    payload: bytes | None = None


Event = Info | Final | Prompt | Trailer | Urc


class _Skip:
    """What the parser's readers return for bytes that make no event (an echo)."""


_SKIP = _Skip()

_QIRD = re.compile(rb"\+QIRD: (\d+)(?:,(\d+))?([,\r])")
_RECV = re.compile(rb'\+QIURC: "recv",(\d)(?=[,\r])')
_CME = re.compile(r"\+CME ERROR: (\d+)")


@dataclass
class ResponseParser:
    """Feed bytes, take events; see the module docstring."""

    view_mode: int = 0
    recv_hex: bool = False
    #: Whether a socket is in direct push mode: its "recv" URCs carry data.
    is_push: Callable[[int], bool] = lambda connect_id: False
    pending: Pending | None = None
    _buffer: bytearray = field(default_factory=bytearray)

    def feed(self, data: bytes) -> list[Event]:
        self._buffer += data
        events: list[Event] = []
        while (event := self._next()) is not None:
            if not isinstance(event, _Skip):
                events.append(event)
        return events

    def _next(self) -> Event | _Skip | None:
        buf = self._buffer
        start = 0
        while start < len(buf) and buf[start] in b"\r\n":
            start += 1
        del buf[:start]
        if not buf:
            return None
        if buf.startswith(b"> ") and self.pending is not None and self.pending.prompt:
            del buf[:2]
            return Prompt()
        if buf.startswith(b"+QIRD: "):
            return self._qird()
        if buf.startswith(b'+QIURC: "recv",'):
            return self._recv()
        return self._line()

    def _line(self) -> Event | _Skip | None:
        buf = self._buffer
        end = buf.find(b"\r\n")
        if end < 0:
            if len(buf) > MAX_LINE:
                buf.clear()  # no line is this long: noise
            return None
        text = buf[:end].decode("latin-1")
        del buf[: end + 2]
        return self._classify(text.strip("\r"))

    def _classify(self, text: str) -> Event | _Skip | None:
        if text == "OK":
            return Final(ok=True)
        if text == "ERROR":
            return Final(ok=False)
        if match := _CME.fullmatch(text):
            return Final(ok=False, code=int(match.group(1)))
        if text in TRAILERS:
            return Trailer(text)
        if text[:2].upper() == "AT":
            return _SKIP  # an echo (before ATE0 took effect)
        pending = self.pending
        if pending is not None:
            if pending.prefix is not None and text.startswith(pending.prefix):
                return Info(text)
            if pending.plain_lines and not text.startswith("+") and text != "RDY":
                return Info(text)
        return Urc(text)

    def _data_size(self, count: int) -> int:
        return 2 * count if self.recv_hex else count

    def _data(self, raw: bytes) -> bytes:
        return bytes.fromhex(raw.decode("latin-1")) if self.recv_hex else raw

    def _qird(self) -> Event | _Skip | None:
        """``+QIRD: <n>,<remaining>`` then the data: after CR LF (view 0) or a comma (view 1)."""
        buf = self._buffer
        match = _QIRD.match(buf)
        if match is None:
            return self._line() if len(buf) > 32 else None  # too short to tell yet
        count = int(match.group(1))
        header = buf[: match.end() - 1].decode("latin-1")
        if count == 0:
            return self._line()
        start = match.end() + (1 if match.group(3) == b"\r" else 0)
        end = start + self._data_size(count)
        if len(buf) < end + 2:
            return None
        payload = self._data(bytes(buf[start:end]))
        del buf[: end + 2]
        return Info(header, payload)

    def _recv(self) -> Event | _Skip | None:
        """``+QIURC: "recv",<id>[,<n>]``; in direct push the data follows (§2.4.2)."""
        buf = self._buffer
        match = _RECV.match(buf)
        if match is None:
            return self._line() if len(buf) > 32 else None
        connect_id = int(match.group(1))
        if not self.is_push(connect_id) or buf[match.end() : match.end() + 2] == b',"':
            return self._line()  # a buffer-mode notice, or "buff full": no data follows
        header = re.compile(rb",(\d+)(\r\n|,)").match(buf, match.end())
        if header is None:
            return self._line() if len(buf) > match.end() + 16 else None
        count = int(header.group(1))
        start = header.end()
        end = start + self._data_size(count)
        if len(buf) < end + 2:
            return None
        text = buf[: header.start(2)].decode("latin-1")
        payload = self._data(bytes(buf[start:end]))
        del buf[: end + 2]
        return Urc(text, payload)
