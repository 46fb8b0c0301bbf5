"""Sans-IO framing of the host's byte stream: command lines, echo and data mode.

Bytes go in with :meth:`Framer.receive_data`; events come out of
:meth:`Framer.next_event`, and the echo of what was consumed comes out of
:meth:`Framer.take_echo`.  Bytes are consumed lazily, one event at a time, so a
setting the caller changes after an event (``ATE0``, entering data mode) applies to
exactly the bytes that follow it — and the result never depends on how the input
was split into chunks.

The reader is picked by state, as h11 does: command mode reads lines
(CLARIFICATIONS §1); after ``> `` a data-mode reader counts bytes or watches for
Ctrl+Z / Esc (§2.3.4, CLARIFICATIONS §14).

Line ends.  Nearly every host ends a command with CR LF, written in one go.  The
one LF right after the CR that ends a line belongs to that line: it is echoed with
the CR, before any response, and a data mode the command starts never takes it as
payload.  When the CR is the last byte received and the host has been ending its
lines with CR LF, the line is *held* (:attr:`Framer.awaiting_line_feed`) until the
next byte arrives or the caller gives up waiting (:meth:`Framer.release_line`) — so
a host that writes byte by byte gets the same output as one that writes whole
lines.  After a wait was given up on, the host is taken to end lines with CR alone
and is not waited for again — until it ends a line with CR LF, or the byte right
after the line it gave up on is an LF after all (a slow CR LF host).  Only those
moments change what is expected, so the events never depend on how the bytes were
split, only (for a host that mixes both line ends, or a very slow one) on the
caller's timer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

CR = 0x0D
LF = 0x0A
BACKSPACE = 0x08
DELETE = 0x7F
CTRL_Z = 0x1A
ESC = 0x1B

#: Longest command line kept, in bytes.  The longest legal line is a hex
#: ``AT+QISEND`` / ``AT+QISENDEX`` with 512 bytes (1024 hex digits) or a text
#: ``AT+QISEND`` with 1024 bytes, plus the command itself.
MAX_LINE = 1536

#: Bytes that edit a line or are dropped from it: the fast path leaves these to the loop.
_EDITING = (LF, BACKSPACE, DELETE)
_EDITING_BYTE = re.compile(b"[%s]" % re.escape(bytes(_EDITING)))

#: Bytes of pending, unconsumed input kept before the framer stops accepting more.
MAX_PENDING_INPUT = 64 * 1024


@dataclass(frozen=True, slots=True)
class CommandLine:
    """A complete command line, without its CR."""

    text: bytes


@dataclass(frozen=True, slots=True)
class LineTooLong:
    """A command line longer than :data:`MAX_LINE` ended; its bytes were dropped."""


@dataclass(frozen=True, slots=True)
class DataEntered:
    """Data mode ended with a payload to send (Ctrl+Z, or the fixed length reached)."""

    payload: bytes


@dataclass(frozen=True, slots=True)
class DataCancelled:
    """Data mode was cancelled with Esc (CLARIFICATIONS §14)."""


@dataclass(frozen=True, slots=True)
class DataTooLong:
    """A variable-length payload grew past its limit; it ended with Ctrl+Z or Esc."""


Event = CommandLine | LineTooLong | DataEntered | DataCancelled | DataTooLong


class Framer:
    """Turns the host's bytes into events; see the module docstring."""

    def __init__(self, *, crlf_host: bool = True) -> None:
        self.echo = True
        self._pending = bytearray()
        self._line = bytearray()
        self._line_overflow = False
        self._echo_out = bytearray()
        # Data mode: None when in command mode.
        self._data: bytearray | None = None
        self._data_fixed: int | None = None
        self._data_max = 0
        self._data_echo = False
        self._data_overflow = False
        # Line ends: see the module docstring.
        #: True while the host ends its lines with CR LF (nearly all do).
        self.crlf_host = crlf_host
        #: A line whose CR was the last byte received, held until its LF comes.
        self._held: CommandLine | LineTooLong | None = None
        #: A held line given up on (release_line): the next event.
        self._released: CommandLine | LineTooLong | None = None
        #: The wait for an LF was given up: if the next byte is an LF after all, the host
        #: does end lines with CR LF (it was only slow) and is waited for again.
        self._late_line_feed_possible = False

    # -- input -------------------------------------------------------------------

    def receive_data(self, data: bytes) -> int:
        """Take bytes from the host; returns how many were accepted.

        Input beyond :data:`MAX_PENDING_INPUT` unconsumed bytes is refused, so the
        caller can apply back-pressure instead of growing without bound.
        """
        room = MAX_PENDING_INPUT - len(self._pending)
        accepted = data[: max(room, 0)]
        self._pending += accepted
        return len(accepted)

    @property
    def in_data_mode(self) -> bool:
        return self._data is not None

    @property
    def has_partial_line(self) -> bool:
        """True while a command line has started but not yet ended (or waits for its LF)."""
        return bool(self._line) or self._line_overflow or self._held is not None

    @property
    def awaiting_line_feed(self) -> bool:
        """A line ended with the last byte received and is held for its LF.

        The caller waits a little for more input, then calls :meth:`release_line`.
        """
        return self._held is not None

    def release_line(self) -> None:
        """Stop waiting for a held line's LF: this host ends its lines with CR alone.

        The held line is the next event.  An LF that comes after it is an ordinary
        byte: a stray LF in command mode, payload in the data mode the line started
        (a host that waited for ``> `` may well send a payload that starts with LF).
        """
        if self._held is not None:
            self._released, self._held = self._held, None
            self.crlf_host = False
            self._late_line_feed_possible = True

    def start_data_mode(self, *, fixed_length: int | None, max_length: int, echo: bool) -> None:
        """Switch to data mode after the module wrote ``> `` (§2.3.4).

        ``fixed_length`` counts input bytes and makes every byte data;  without it,
        Ctrl+Z ends the payload and Esc cancels it.  ``echo`` is
        ``AT+QICFG="echomode"`` (§2.3.12).
        """
        self._data = bytearray()
        self._data_fixed = fixed_length
        self._data_max = max_length
        self._data_echo = echo
        self._data_overflow = False

    # -- output ------------------------------------------------------------------

    def take_echo(self) -> bytes:
        """The echo of the bytes consumed so far, to write before handling events.

        A line held for its LF keeps its echo too: it goes out with the line's answer.
        """
        if self._held is not None:
            return b""
        out = bytes(self._echo_out)
        self._echo_out.clear()
        return out

    def next_event(self) -> Event | None:
        """Consume input up to and including the next event, or all of it."""
        if self._released is not None:
            event, self._released = self._released, None
            return event
        if self._held is not None:
            return self._next_held_event()
        if self._late_line_feed_possible and self._pending:
            self._late_line_feed_possible = False
            if self._pending[0] == LF:
                self.crlf_host = True  # a slow CR LF host: the next line is waited for
        if self._data is not None:
            return self._next_data_event(self._data)
        return self._next_line_event()

    # -- line ends ---------------------------------------------------------------

    def _next_held_event(self) -> Event | None:
        """The byte after a held line's CR has come: an LF is part of that line."""
        assert self._held is not None
        if not self._pending:
            return None
        event, self._held = self._held, None
        if self._pending[0] == LF:
            self._take_line_feed()
        return event

    def _take_line_feed(self) -> None:
        del self._pending[0]
        self.crlf_host = True
        if self.echo:
            self._echo_out.append(LF)

    def _finish_line(self) -> Event | None:
        """The CR ending a line was just consumed (and echoed): the line's event.

        Takes the LF that follows as part of the line end; holds the line when
        the CR was the last byte and an LF is expected.
        """
        event = self._end_line()
        if self._pending:
            if self._pending[0] == LF:
                self._take_line_feed()
            return event
        if event is not None and self.crlf_host:
            self._held = event
            return None
        return event

    # -- readers -----------------------------------------------------------------

    def _next_line_event(self) -> Event | None:
        pending = self._pending
        # Fast path: whole plain lines up to CR (no editing bytes), one slice each. A stray
        # LF at the start of a line is ignored (CLARIFICATIONS §1).
        while not self._line_overflow:
            # (lstrip only when there is an LF to strip: it copies what it keeps.)
            skip = len(pending) - len(pending.lstrip(b"\n")) if pending[:1] == b"\n" else 0
            end = pending.find(b"\r", skip)
            if end < 0:
                break
            body = pending[skip:end]
            if _EDITING_BYTE.search(body) or len(self._line) + len(body) > MAX_LINE:
                break
            if self.echo:
                self._echo_out += pending[: end + 1]
            self._line += body
            del pending[: end + 1]
            line_event = self._finish_line()
            if line_event is not None or self._held is not None:
                return line_event
        i = 0
        while i < len(pending):
            byte = pending[i]
            i += 1
            if self.echo:
                self._echo_out.append(byte)
            if byte == CR:
                del pending[:i]
                i = 0
                event = self._finish_line()
                if event is not None or self._held is not None:
                    return event
            elif byte == LF:
                continue  # CLARIFICATIONS §1: a stray LF inside a line is ignored
            elif byte in (BACKSPACE, DELETE):
                if self._line:
                    del self._line[-1]
            elif len(self._line) < MAX_LINE:
                self._line.append(byte)
            else:
                self._line_overflow = True
        del pending[:i]
        return None

    def _end_line(self) -> CommandLine | LineTooLong | None:
        if self._line_overflow:
            self._line.clear()
            self._line_overflow = False
            return LineTooLong()
        if not self._line.strip():
            self._line.clear()
            return None  # an empty line is ignored, as by every V.250 modem
        text = bytes(self._line)
        self._line.clear()
        return CommandLine(text)

    def _next_data_event(self, data: bytearray) -> Event | None:
        pending = self._pending
        if self._data_fixed is not None:
            take = min(self._data_fixed - len(data), len(pending))
            chunk = pending[:take]
            data += chunk
            if self._data_echo:
                self._echo_out += chunk
            del pending[:take]
            if len(data) < self._data_fixed:
                return None
            return self._leave_data_mode(DataEntered(bytes(data)))
        return self._next_variable_data_event(data, pending)

    def _next_variable_data_event(self, data: bytearray, pending: bytearray) -> Event | None:
        ends = [pos for pos in (pending.find(CTRL_Z), pending.find(ESC)) if pos >= 0]
        end = min(ends) if ends else len(pending)
        chunk = pending[:end]
        room = self._data_max - len(data)
        if len(chunk) > room:
            self._data_overflow = True
        data += chunk[: max(room, 0)]
        if self._data_echo:
            self._echo_out += chunk
        if not ends:
            del pending[:end]
            return None
        terminator = pending[end]
        del pending[: end + 1]
        if terminator == ESC:
            return self._leave_data_mode(DataCancelled())
        if self._data_overflow:
            return self._leave_data_mode(DataTooLong())
        return self._leave_data_mode(DataEntered(bytes(data)))

    def _leave_data_mode(self, event: Event) -> Event:
        self._data = None
        self._data_fixed = None
        return event
