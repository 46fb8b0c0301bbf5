"""A socket on the module, as asyncio: :class:`AsyncSocket`.

Buffer access mode (the default) reads with ``AT+QIRD`` only when the program
asks for data, so the module's buffer and TCP flow control hold the peer back:
nothing is lost and nothing grows without bound.  Direct push takes the data the
module pushes.  UDP keeps datagram boundaries (``<remaining_length>`` of §2.3.5).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import TYPE_CHECKING

from bc66sim.client import events
from bc66sim.client.errors import BC66Error, BC66Timeout, SocketClosed
from bc66sim.note.limits import MAX_DATA_MODE_HEX, MAX_DATA_MODE_TEXT, MAX_READ

if TYPE_CHECKING:
    from bc66sim.client.aio import AsyncBC66

log = logging.getLogger(__name__)

#: Read ahead from the module's buffer until this much is waiting here.
READ_AHEAD = 16 * 1024


class AsyncSocket:
    """One of the module's five sockets; made by :meth:`AsyncBC66.connect`."""

    def __init__(self, modem: AsyncBC66, connect_id: int, kind: str, *, push: bool) -> None:
        self.connect_id = connect_id
        self.kind = kind
        self.push = push
        self._modem = modem
        self._stream = bytearray()
        self._datagrams: deque[bytes] = deque()
        self._partial = bytearray()
        self._arrived = asyncio.Event()
        self._data_waiting = False
        self._peer_closed = False
        self._error: BC66Error | None = None
        self._closed = False

    @property
    def max_chunk(self) -> int:
        return MAX_DATA_MODE_HEX if self._modem.hex_send else MAX_DATA_MODE_TEXT

    # -- from the driver --------------------------------------------------------------

    def on_event(
        self, event: events.DataReceived | events.DataWaiting | events.SocketClosed
    ) -> None:
        """A URC about this socket, from the connection."""
        if isinstance(event, events.SocketClosed):
            self._peer_closed = True
        elif isinstance(event, events.DataReceived):
            self._take(event.data, datagram_done=True)
        else:
            self._data_waiting = True  # a buffer-mode notice, or "buff full"
        self._arrived.set()

    def fail(self, error: BC66Error) -> None:
        if self._error is None:
            self._error = error
        self._arrived.set()

    def _take(self, data: bytes, *, datagram_done: bool) -> None:
        if self.kind == "TCP":
            self._stream += data
            return
        self._partial += data
        if datagram_done:
            self._datagrams.append(bytes(self._partial))
            self._partial.clear()

    # -- sending ----------------------------------------------------------------------

    async def send(self, data: bytes, timeout: float | None = None) -> int:
        """Send what fits one ``AT+QISEND``; returns how many bytes were taken."""
        chunk = bytes(data[: self.max_chunk])
        await self._send_chunk(chunk, timeout)
        return len(chunk)

    async def sendall(self, data: bytes, timeout: float | None = None) -> None:
        """Send everything, in chunks the module takes, each after the last ``SEND OK``."""
        view = memoryview(data)
        while view:
            await self._send_chunk(bytes(view[: self.max_chunk]), timeout)
            view = view[self.max_chunk :]

    async def _send_chunk(self, chunk: bytes, timeout: float | None) -> None:
        """One chunk; ``SEND FAIL`` (the module's buffer is full) is retried until ``timeout``."""
        self._check_usable()
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        pause = 0.005
        while not await self._modem.send_chunk(self.connect_id, chunk, timeout):
            if deadline is not None and loop.time() + pause > deadline:
                raise BC66Timeout(f"socket {self.connect_id}: the module kept answering SEND FAIL")
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.2)
            self._check_usable()

    def _check_usable(self) -> None:
        if self._error is not None:
            raise self._error
        if self._closed:
            raise SocketClosed(f"socket {self.connect_id} is closed")

    # -- receiving --------------------------------------------------------------------

    async def recv(self, bufsize: int, timeout: float | None = None) -> bytes:
        """Up to ``bufsize`` bytes (TCP) or one datagram (UDP); ``b""`` once the peer closed."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while True:
            # Cleared before the state is looked at: a URC that comes while AT+QIRD is
            # in flight (after its "+QIRD: 0") sets it again, and is not lost.
            self._arrived.clear()
            data = self._pop(bufsize)
            if data is not None:
                return data
            if self._error is not None:
                raise self._error
            if self._closed:
                raise SocketClosed(f"socket {self.connect_id} is closed")
            waiting = self._data_waiting or self._peer_closed
            if not self.push and waiting and await self._read_module_buffer(bufsize):
                continue
            if self._peer_closed:
                return b""
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                raise BC66Timeout(f"socket {self.connect_id}: nothing received in {timeout} s")
            try:
                await asyncio.wait_for(self._arrived.wait(), remaining)
            except TimeoutError:
                raise BC66Timeout(
                    f"socket {self.connect_id}: nothing received in {timeout} s"
                ) from None

    def _pop(self, bufsize: int) -> bytes | None:
        if self.kind == "UDP":
            return self._datagrams.popleft() if self._datagrams else None
        if not self._stream:
            return None
        data = bytes(self._stream[:bufsize])
        del self._stream[:bufsize]
        return data

    async def _read_module_buffer(self, bufsize: int) -> bool:
        """``AT+QIRD`` until the module's buffer is empty or enough is here; True if any came."""
        self._data_waiting = False
        got = False
        while True:
            infos = await self._modem.exchange(f"AT+QIRD={self.connect_id},{MAX_READ}")
            fields = infos[0].text.split(":", 1)[1].split(",") if infos else ["0"]
            count = int(fields[0])
            if count == 0:
                return got
            remaining = int(fields[1]) if len(fields) > 1 else 0
            self._take(infos[0].payload or b"", datagram_done=remaining == 0)
            got = True
            waiting = len(self._stream) if self.kind == "TCP" else len(self._datagrams)
            if (self.kind == "UDP" and remaining == 0) or waiting >= max(bufsize, READ_AHEAD):
                self._data_waiting = True  # there may be more: read it on the next recv
                return got

    # -- closing ----------------------------------------------------------------------

    async def close(self) -> None:
        """``AT+QICLOSE`` (§2.3.2); safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self._modem.forget(self)
        if self._error is None:
            try:
                await self._modem.exchange(f"AT+QICLOSE={self.connect_id}", trailer=True)
            except BC66Error as exc:
                log.info("socket %d: close: %s", self.connect_id, exc)

    async def __aenter__(self) -> AsyncSocket:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
