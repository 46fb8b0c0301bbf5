"""Sans-IO parsing of what a BC66 says: responses, prompts and URCs, binary-safe.

The parser knows which command is pending (:class:`Pending`, set by the
:class:`~bc66sim.client.connection.Connection` that owns it), so it can tell an
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

from bc66sim.note.limits import MAX_READ, MAX_URC, NODE_SIZE

#: A line (without its payload) longer than this is garbage: it is dropped.
MAX_LINE = 4096
#: ... except a ``+QMTRECV`` line, which carries an MQTT message (up to 64 KiB,
#: in hex digits): its topic, the message and its fields.
MAX_MQTT_MESSAGE = 64 * 1024
MAX_QMTRECV_LINE = 2 * MAX_MQTT_MESSAGE + 1024

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


@dataclass(frozen=True)
class Garbled:
    """Bytes that cannot be what a BC66 says; the parser skipped past them."""

    reason: str


Event = Info | Final | Prompt | Trailer | Urc | Garbled


class _Skip:
    """What the parser's readers return for bytes that make no event (an echo)."""


_SKIP = _Skip()

#: ``+QIRD`` headers: view mode 0 ends the header with CR LF, view mode 1 with a comma
#: (and, as showlength is 1, always carries ``<remaining>``).
_QIRD_HEADER = (
    re.compile(rb"\+QIRD: ([^,\r\n]*)(?:,([^,\r\n]*))?\r\n"),
    re.compile(rb"\+QIRD: ([^,\r\n]*),([^,\r\n]*),"),
)
_QIRD_EMPTY = re.compile(rb"\+QIRD: 0(?:,0)?\r\n")
_RECV = re.compile(rb'\+QIURC: "recv",(\d)(?=[,\r])')
_COUNT = re.compile(rb"[0-9]{1,5}")
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

    def reset(self) -> None:
        """Forget what is half read (after a timeout): the next line is read afresh."""
        self._buffer.clear()

    def receive_data(self, data: bytes) -> None:
        """Take bytes; nothing is parsed until :meth:`next_event` asks."""
        self._buffer += data

    def next_event(self) -> Event | None:
        """The next event, or None until more bytes come.

        Lazy, one event at a time: a ``pending`` changed after an event applies to
        exactly the bytes that follow it, however the input was split.
        """
        while (event := self._next()) is not None:
            if not isinstance(event, _Skip):
                return event
        return None

    def feed(self, data: bytes) -> list[Event]:
        """Take bytes and return every event they complete."""
        self.receive_data(data)
        events: list[Event] = []
        while (event := self.next_event()) is not None:
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
            if len(buf) > (MAX_QMTRECV_LINE if buf.startswith(b"+QMTRECV:") else MAX_LINE):
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

    def _data(self, raw: bytes) -> bytes | None:
        """The payload; None when hex data is not hex (a protocol error)."""
        if not self.recv_hex:
            return raw
        try:
            return bytes.fromhex(raw.decode("latin-1"))
        except ValueError:
            return None

    def _garbled(self, reason: str) -> Garbled:
        """Skip the rest of the current line: the next line is read afresh (resync)."""
        buf = self._buffer
        end = buf.find(b"\r\n")
        del buf[: end + 2 if end >= 0 else len(buf)]
        return Garbled(reason)

    def _qird(self) -> Event | _Skip | None:
        """``+QIRD: <n>[,<remaining>]`` then the data: after CR LF (view 0) or a comma (view 1).

        A count or remainder that is not a number within the module's limits, or a
        header of the other view mode, is a protocol error, not a byte count.
        """
        buf = self._buffer
        if _QIRD_EMPTY.match(buf):
            return self._line()
        match = _QIRD_HEADER[1 if self.view_mode else 0].match(buf)
        if match is None:
            if len(buf) > 32 or b"\r\n" in buf[:32]:
                return self._garbled(f"not a +QIRD header: {bytes(buf[:40])!r}")
            return None  # too short to tell yet
        count_text, remaining_text = match.groups()
        header = buf[: match.end()].decode("latin-1").rstrip("\r\n,")
        if not _COUNT.fullmatch(count_text) or (
            remaining_text is not None and not _COUNT.fullmatch(remaining_text)
        ):
            return self._garbled(f"{header!r}: not a byte count")
        count = int(count_text)
        # A read is at most 512 bytes (§2.3.5), a node at most 1460 (CLARIFICATIONS §16).
        if count > MAX_READ or (remaining_text is not None and int(remaining_text) > NODE_SIZE):
            return self._garbled(f"{header!r}: beyond the module's limits")
        if count == 0:
            return self._line()
        start = match.end()
        end = start + self._data_size(count)
        if len(buf) < end + 2:
            return None
        if buf[end : end + 2] != b"\r\n":
            del buf[:start]  # the count was wrong: read on from the data, line by line
            return Garbled(f"{header!r}: the data is not {count} bytes")
        payload = self._data(bytes(buf[start:end]))
        del buf[: end + 2]
        if payload is None:
            return Garbled(f"{header!r}: the data is not hex")
        return Info(header, payload)

    def _recv(self) -> Event | _Skip | None:
        """``+QIURC: "recv",<id>[,<n>]``; in direct push the data follows (§2.4.2)."""
        buf = self._buffer
        match = _RECV.match(buf)
        if match is None:  # not a recv URC after all, once its line has ended
            return self._line() if len(buf) > 32 or b"\r\n" in buf[:32] else None
        connect_id = int(match.group(1))
        if not self.is_push(connect_id) or buf[match.end() : match.end() + 2] == b',"':
            return self._line()  # a buffer-mode notice, or "buff full": no data follows
        header = re.compile(rb",(\d+)(\r\n|,)").match(buf, match.end())
        if header is None:
            ended = b"\r\n" in buf[match.end() : match.end() + 16]
            return self._line() if ended or len(buf) > match.end() + 16 else None
        count = int(header.group(1))
        text = buf[: header.start(2)].decode("latin-1")
        if count > MAX_URC:  # a URC is at most 1400 bytes (§2.4 note 4)
            return self._garbled(f"{text!r}: beyond the module's limits")
        start = header.end()
        end = start + self._data_size(count)
        if len(buf) < end + 2:
            return None
        if buf[end : end + 2] != b"\r\n":
            del buf[:start]
            return Garbled(f"{text!r}: the data is not {count} bytes")
        payload = self._data(bytes(buf[start:end]))
        del buf[: end + 2]
        if payload is None:
            return Garbled(f"{text!r}: the data is not hex")
        return Urc(text, payload)


def int_fields(text: str) -> list[int]:
    """The integer fields of a line after its ``+NAME:`` (quoted strings skipped)."""
    body = text.split(":", 1)[1] if ":" in text else text
    return [int(part) for part in body.split(",") if _is_integer(part.strip())]


def _is_integer(text: str) -> bool:
    digits = text[1:] if text.startswith("-") else text
    return digits.isascii() and digits.isdigit()
