"""Every example of note Chapter 4 in scope, byte for byte, over every transport."""

from __future__ import annotations

from pathlib import Path

import pytest

from support import transcript
from support.links import Link
from support.peers import TcpPeer, UdpPeer

TRANSCRIPTS = sorted(transcript.GOLDEN.glob("*.txt"))


@pytest.mark.parametrize("path", TRANSCRIPTS, ids=[p.stem for p in TRANSCRIPTS])
async def test_golden_transcript(
    path: Path, any_link: Link, peer: TcpPeer, udp_peer: UdpPeer, dns_server: str, ntp_server: int
) -> None:
    values = {"host": "127.0.0.1", "port": peer.port, "udp_port": udp_peer.port, "dns": dns_server}
    await transcript.run(transcript.load(path, values), any_link, peer)
