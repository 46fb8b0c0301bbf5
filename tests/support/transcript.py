"""Golden transcripts: files of exact bytes between host, module and peer.

One step per line, ``<directive> <text>``; the text takes Python escapes
(``\\r``, ``\\n``, ``\\x1a``, ``\\x20`` for a trailing space) and ``{name}``
placeholders.  Directives:

``cmd``          the host sends the text and CR; the module must echo exactly that
``host``         the host sends the text as is
``out``          the next bytes from the module are exactly the text
``out-re``       the next bytes match the regular expression (no escapes applied but
                 the regex's own): for times and round trips, which no file can fix
``peer-send``    the loopback peer sends the text on its connection
``peer-expect``  the next bytes the peer received are exactly the text
``peer-echo``    ``on`` or ``off``: the peer echoes what it receives
``peer-fill``    the peer sends that many bytes (a buffer filler)
``read-all``     ``<id> <n>``: AT+QIRD until the buffer is empty; n bytes in all
``quiet``        nothing more from the module for a moment
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from support.links import Link
from support.peers import TcpPeer

GOLDEN = Path(__file__).resolve().parent.parent / "golden"


@dataclass(frozen=True)
class Step:
    directive: str
    text: bytes
    line: int


def load(path: Path, values: dict[str, object]) -> list[Step]:
    steps = []
    for number, raw in enumerate(path.read_text("utf-8").splitlines(), 1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        directive, _, rest = raw.partition(" ")
        text = rest.strip(" ").format(**values)
        if directive == "out-re":
            data = text.encode("latin-1")
        else:
            data = text.encode("latin-1").decode("unicode_escape").encode("latin-1")
        steps.append(Step(directive, data, number))
    return steps


_QIRD = re.compile(rb"\r\n\+QIRD: (\d+)[^\r]*\r\n")


async def run(steps: list[Step], link: Link, peer: TcpPeer) -> None:
    for step in steps:
        try:
            await _run_step(step, link, peer)
        except AssertionError as exc:
            raise AssertionError(f"line {step.line} ({step.directive}): {exc}") from None


async def _run_step(step: Step, link: Link, peer: TcpPeer) -> None:
    kind, text = step.directive, step.text
    if kind == "cmd":
        await link.write(text + b"\r")
        await link.expect(text + b"\r")
    elif kind == "host":
        await link.write(text)
    elif kind == "out":
        await link.expect(text)
    elif kind == "out-re":
        await link.expect_match(re.compile(text))
    elif kind == "peer-send":
        await peer.send(text)
    elif kind == "peer-expect":
        await peer.expect(text)
    elif kind == "peer-echo":
        peer.echo = text == b"on"
    elif kind == "peer-fill":
        await peer.send(bytes(i % 251 for i in range(int(text))))
    elif kind == "read-all":
        connect_id, total = text.split()
        await _read_all(link, int(connect_id), int(total))
    elif kind == "quiet":
        await link.quiet()
    else:
        raise AssertionError(f"unknown directive {kind!r}")


async def _read_all(link: Link, connect_id: int, total: int) -> None:
    got = 0
    while True:
        reply = await link.command(f"AT+QIRD={connect_id},512")
        match = _QIRD.search(reply)
        assert match is not None, reply
        if int(match.group(1)) == 0:
            break
        got += int(match.group(1))
    assert got == total, f"read {got} bytes, expected {total}"
