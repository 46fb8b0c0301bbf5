"""The recording's pcapng file: the module's IP traffic, its AT lines and its state
events, in one file that Wireshark opens as it is.

Three interfaces (Interface Description Blocks), so that one window shows all of a
session in order and a display filter picks one kind:

- ``radio`` (link type 101, raw IP): the module's IP packets (packets.py);
- ``uart`` (link type 252, Wireshark's "exported PDU"): each chunk of bytes that
  crossed the UART, handed to Wireshark's own ``at`` dissector, so the packet list
  reads "Rcvd AT Command: AT+QIOPEN=…" (the module received it) and "Sent AT
  Command: …" (the module sent it);
- ``events`` (link type 252, the ``syslog`` dissector): power, link, network and
  fault events as a syslog line ("LOCAL0.INFO: bc66sim: power: idle -> connected
  …"; faults are warnings), the same text as the packet's comment.

The direction of each packet is its ``epb_flags`` (inbound: towards the module).

Blocks are written in time order.  Some are only complete later (a TCP SYN's
local port is known when the connection is up): :meth:`PcapFile.hold` keeps what
comes meanwhile and :meth:`PcapFile.release` writes it, sorted, once nothing is
pending; at most :data:`MAX_HELD` blocks wait, then they are written anyway.

Why python-pcapng: the file format through a public API — named interfaces,
per-packet comments and flags — and a reader for the tests; the packets themselves
are built by scapy (packets.py).
"""

from __future__ import annotations

import heapq
import itertools
import struct
from typing import IO, Any

import pcapng
from pcapng import blocks

#: LINKTYPE_RAW: the packet starts with its IPv4 or IPv6 header.
LINKTYPE_RAW = 101
#: LINKTYPE_WIRESHARK_UPPER_PDU: tags naming a dissector, then that protocol's bytes.
LINKTYPE_UPPER_PDU = 252
#: The exported-PDU tag that names the dissector (EXP_PDU_TAG_DISSECTOR_NAME).
_TAG_DISSECTOR_NAME = 12
#: Blocks that may wait for a pending one before they are written regardless.
MAX_HELD = 10_000

RADIO, UART, EVENTS = 0, 1, 2
INBOUND, OUTBOUND = 1, 2


def upper_pdu(dissector: str, payload: bytes) -> bytes:
    """``payload`` for Wireshark's dissector ``dissector`` (its exported-PDU header)."""
    name = dissector.encode("ascii")
    return struct.pack(">HH", _TAG_DISSECTOR_NAME, len(name)) + name + b"\0\0\0\0" + payload


#: Syslog priorities, facility LOCAL0: informational, and warning (RFC 5424 §6.2.1).
_INFO, _WARNING = 16 * 8 + 6, 16 * 8 + 4


def event_pdu(text: str, *, warning: bool = False) -> bytes:
    """An event line for Wireshark's syslog dissector."""
    priority = _WARNING if warning else _INFO
    return upper_pdu("syslog", f"<{priority}>bc66sim: {text}".encode())


class PcapFile:
    """Writes blocks to an open binary stream; :meth:`close` flushes what is held."""

    def __init__(self, stream: IO[bytes], *, application: str) -> None:
        self._stream = stream
        self._shb = blocks.SectionHeader(options={"shb_userappl": application})
        interfaces = (
            (LINKTYPE_RAW, "radio", "the module's IP packets, as its radio sends and gets them"),
            (LINKTYPE_UPPER_PDU, "uart", "the AT bytes between the host and the module"),
            (LINKTYPE_UPPER_PDU, "events", "the module's power, link, socket and fault events"),
        )
        for link_type, name, description in interfaces:
            self._shb.new_member(blocks.InterfaceDescription, link_type=link_type,
                                 snaplen=0, options={"if_name": name,
                                                     "if_description": description})  # fmt: skip
        self._writer = pcapng.FileWriter(stream, self._shb)
        self._pending = 0
        self._held: list[tuple[float, int, Any]] = []
        self._order = itertools.count()

    def packet(self, interface: int, data: bytes, when: float, *, direction: int | None = None,
               comment: str | None = None) -> None:  # fmt: skip
        """One Enhanced Packet Block at ``when`` (seconds since the epoch)."""
        options: dict[str, Any] = {}
        if comment:
            options["opt_comment"] = comment
        if direction is not None:
            options["epb_flags"] = direction
        micros = round(when * 1_000_000)
        block = self._shb.new_member(
            blocks.EnhancedPacket, interface_id=interface, timestamp_high=micros >> 32,
            timestamp_low=micros & 0xFFFFFFFF, packet_data=data, packet_len=len(data),
            options=options,
        )  # fmt: skip
        if self._pending or self._held:
            heapq.heappush(self._held, (when, next(self._order), block))
            if len(self._held) > MAX_HELD:
                self._write_held()
        else:
            self._writer.write_block(block)

    def hold(self) -> None:
        """Something pending will be written with an earlier time: keep the rest back."""
        self._pending += 1

    def release(self) -> None:
        """What was pending is written: once nothing is, write the rest in time order."""
        self._pending = max(0, self._pending - 1)
        if not self._pending:
            self._write_held()

    def _write_held(self) -> None:
        while self._held:
            self._writer.write_block(heapq.heappop(self._held)[2])

    def flush(self) -> None:
        self._stream.flush()

    def close(self) -> None:
        self._pending = 0
        self._write_held()
        self._stream.close()
