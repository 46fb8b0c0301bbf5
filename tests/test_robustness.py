"""Random bytes never crash the engine, and it still answers AT with OK afterwards.

Module behaviour, on MemoryNetwork + ManualClock: no sockets, and the event loop runs
what the noise started by ``clock.advance(0)``.
"""

from __future__ import annotations

import asyncio

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bc66sim.clock import ManualClock
from bc66sim.module.modem import Modem, ModemConfig
from bc66sim.net.memory import MemoryNetwork

ALPHABET = st.sampled_from(
    [b"AT", b"+QISEND=0", b"+QIOPEN=1,0,\"UDP\",\"127.0.0.1\",9", b"+QIRD=0,512", b"+QICFG=",
     b"\"viewmode\"", b",", b"=", b"?", b"\r", b"\n", b"\x1a", b"\x1b", b"\x08", b"\"", b";",
     b"+QICLOSE=0", b"+QISTATE?", b"E0", b"+CMEE=2", b"+QISENDEX=0,1,41", b"+QRST=1", b"\x00",
     b"\xff", b"+QIGETERROR", b"=?", b"99999999999999999999", b"+QPOWD"]
)  # fmt: skip


def fresh_modem() -> tuple[Modem, ManualClock, bytearray]:
    out = bytearray()
    clock = ManualClock()
    modem = Modem(MemoryNetwork(clock), config=ModemConfig(attach_delay=0), clock=clock)
    modem.attach_output(out.extend)
    modem.power_on()
    return modem, clock, out


async def still_answers(modem: Modem, clock: ManualClock, out: bytearray) -> None:
    """Leave whatever state the noise left and ask AT.

    Esc ends variable-length data mode; CRs fill a fixed length (at most 1460 hex
    digits) and are empty lines in command mode.
    """
    if not modem.powered:
        modem.power_on()
    modem.receive_data(b"\x1b" + b"\r" * 1461)
    await clock.advance(0)
    out.clear()
    modem.receive_data(b"ATE1\rAT\r\n")
    assert b"AT\r\n\r\nOK\r\n" in out, bytes(out)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(ALPHABET, st.binary(max_size=20)), max_size=60))
def test_noise_never_crashes(pieces: list[bytes]) -> None:
    async def run() -> None:
        modem, clock, out = fresh_modem()
        for piece in pieces:
            modem.receive_data(piece)
            await clock.advance(0)
        await still_answers(modem, clock, out)
        await modem.close()

    asyncio.run(run())


@settings(max_examples=100, deadline=None)
@given(st.binary(min_size=1, max_size=5000))
def test_random_bytes_never_crash(data: bytes) -> None:
    async def run() -> None:
        modem, clock, out = fresh_modem()
        modem.receive_data(data)
        await still_answers(modem, clock, out)
        await modem.close()

    asyncio.run(run())
