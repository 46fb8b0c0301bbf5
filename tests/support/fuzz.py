"""The standing fuzz target: mutated real command lines, in command and data mode.

A host's line may hold any byte.  Whatever a mutation makes of a real command
line, the only allowed outcomes are a final result code (``OK``, ``ERROR``,
``+CME ERROR: …``, a data prompt) or nothing (an empty line), and the module
answers ``AT`` with ``OK`` afterwards.  A handler that raised — which the module
answers with 550 / ``+CME ERROR: 100`` and logs — counts as a crash found.

``tests/test_fuzz.py`` runs it under hypothesis; ``make bench`` runs it longer
(``bench/run.py fuzz``) and reports lines tried and crashes found.
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass, field

from bc66sim.module.modem import TABLE, Modem, ModemConfig
from bc66sim.net.host import HostNetwork

#: Real command lines, as host programs and the manuals write them.
SEEDS = [
    b'AT+QIOPEN=1,1,"UDP","127.0.0.1",9,0,0', b'AT+QIOPEN=1,2,"TCP","127.0.0.1",1,0,1',
    b"AT+QISEND=0,5,hello", b"AT+QISEND=0,4", b"AT+QISEND=0", b"AT+QISENDEX=0,2,4142",
    b"AT+QIRD=0,512", b"AT+QICLOSE=0", b"AT+QISTATE=1,0", b"AT+QISTATE?", b"AT+QISWTMD=0,1",
    b'AT+QICFG="dataformat",1,1', b'AT+QICFG="viewmode",1', b'AT+QICFG="echomode",0',
    b'AT+QIDNSCFG=1,"127.0.0.1"', b'AT+QIDNSGIP=1,"localhost"', b'AT+QPING=1,"127.0.0.1",1,1',
    b"AT+QIGETERROR", b"AT+CEREG=5", b"AT+CEREG?", b'AT+CPSMS=1,,,"00100011","00100010"',
    b'AT+CEDRXS=1,5,"0101"', b"AT+QBAND=2,8,20", b"AT+QBANDSL=1,2,8,20", b"AT+QCCID",
    b'AT+QCFG="dsevent",1', b"AT+QNBIOTEVENT=1,1", b"AT+QATWAKEUP=1", b"AT+QLOCKF=1,3538,2",
    b'AT+QGACT=1,1,"apn"', b'AT+CCLK="26/11/25,12:00:00+04"', b"AT+CGSN=1", b"ATE0",
    b"AT+CMEE=2", b"ATI", b"AT+CGPADDR=1", b'AT+CGDCONT=1,"IP","apn"', b"AT+QENG=0",
    b'AT+QCGDEFCONT="IP","apn"', b"AT+CSCON=1", b"AT+IPR=9600", b"AT&W", b"ATZ",
    # Data mode on the UDP socket every run opens first (PREAMBLE).
    b"AT+QISEND=1\r\nhello\x1a", b"AT+QISEND=1,3\r\nabc", b"AT+QISEND=1,2\r\n41G2",
    b"AT+QISEND=1\r\nab\x1bAT", b"AT+QISEND=1,0", b"AT+QISENDEX=1,3,00FF1A",
]  # fmt: skip
#: Sent before the fuzzed lines: a UDP socket (id 1) for the data-mode seeds.
PREAMBLE = b'AT+QIOPEN=1,1,"UDP","127.0.0.1",9,0,0\r\n'
#: Replacements that break parsers: digits that are not ASCII, huge numbers, quotes.
TRICKS = [b"\xb2", b"\xb3", b"\xb9", b"99999999999999999999", b"-1", b'"', b",", b";",
          b"=?", b"?", b"\x00", b"\xff", b"\x1a", b"\x1b", b"\x08", b" ", b"\n", b"AT"]  # fmt: skip


def extra_seeds() -> list[bytes]:
    """Every command of the table in each form, with a plausible parameter."""
    lines = []
    for spec in TABLE:
        name = spec.at_name.encode()
        lines += [name, name + b"?", name + b"=?", name + b"=1", name + b'="1",0']
    return lines


def mutate(line: bytes, rng: random.Random) -> bytes:
    """One to four byte-level or grammar-aware mutations of ``line``."""
    data = bytearray(line)
    for _ in range(rng.randint(1, 4)):
        at = rng.randint(0, len(data))
        kind = rng.randrange(5)
        if kind == 0 and data:  # replace a byte with any byte
            data[min(at, len(data) - 1)] = rng.randrange(256)
        elif kind == 1:  # insert any byte
            data[at:at] = bytes([rng.randrange(256)])
        elif kind == 2 and data:  # delete a run
            del data[at : at + rng.randint(1, 4)]
        elif kind == 3:  # a trick at a random place
            data[at:at] = rng.choice(TRICKS)
        else:  # a parameter replaced by a trick
            comma = data.find(b",", at)
            if comma >= 0:
                data[comma + 1 : comma + 1] = rng.choice(TRICKS)
    return bytes(data)


class _Crashes(logging.Handler):
    """Counts what the module logs with a traceback: a handler that raised."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info:
            self.records.append(record)


@dataclass
class FuzzResult:
    lines: int = 0
    crashes: list[str] = field(default_factory=list)
    unanswered: list[bytes] = field(default_factory=list)


async def fuzz_lines(lines: list[bytes], result: FuzzResult) -> None:
    """Feed each line (with CR LF) to one module; check every outcome."""
    out = bytearray()
    modem = Modem(HostNetwork(), config=ModemConfig(attach_delay=0, open_timeout=1.0))
    modem.attach_output(out.extend)
    crashes = _Crashes()
    logger = logging.getLogger("bc66sim")
    logger.addHandler(crashes)
    try:
        modem.power_on()
        await asyncio.sleep(0.01)  # attached
        modem.receive_data(PREAMBLE)
        await asyncio.sleep(0.01)
        for line in lines:
            out.clear()
            modem.receive_data(line + b"\r\n")
            result.lines += 1
            await asyncio.sleep(0)
            if not modem.powered:  # AT+QPOWD in a mutation: a restart brings it back
                modem.power_on()
                await asyncio.sleep(0.01)
            elif modem._framer.in_data_mode:
                modem.receive_data(b"\x1b")  # cancel a variable-length prompt
                modem.receive_data(b"\r" * 1460)  # or fill a fixed-length one
            out.clear()
            modem.receive_data(b"AT\r\n")
            await asyncio.sleep(0)
            if b"OK\r\n" not in out and modem.powered:
                result.unanswered.append(line)
        for record in crashes.records:
            result.crashes.append(f"{record.getMessage()}: {record.exc_info!r}")
    finally:
        logger.removeHandler(crashes)
        await modem.close()
