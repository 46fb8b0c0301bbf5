"""The module's general commands of the AT Commands Manual (issue 8 §3, §4).

For each: the test, read and write forms, the error paths, and values that stay
consistent with each other after ``AT+CFUN=0/1`` and ``AT+QRST=1``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bc66sim.docs import NOT_ON_BC66, render_commands
from bc66sim.module.identity import MODELS, luhn_valid, numbered_imei, numbered_imsi
from bc66sim.module.modem import TABLE
from support.links import InProcessLink, MemoryLink, ModemFactory, ServeProcess

OK = b"\r\nOK\r\n"
ROOT = Path(__file__).resolve().parents[1]


async def answer(modem: InProcessLink, line: str) -> list[str]:
    """The information lines of a command that must succeed (echo off)."""
    reply = await modem.command(line)
    assert reply.endswith(OK), f"{line}: {reply!r}"
    return [text.decode() for text in reply[: -len(OK)].split(b"\r\n") if text]


async def error(modem: InProcessLink, line: str) -> bytes:
    """The final result of a command that must fail (``+CME ERROR: <n>`` after CMEE=1)."""
    reply = await modem.command(line)
    match = re.search(rb"\r\n(ERROR|\+CME ERROR: \d+)\r\n$", reply)
    assert match is not None, f"{line} did not fail: {reply!r}"
    return match.group(1)


@pytest.fixture
async def quiet_modem(memory_modem: InProcessLink) -> InProcessLink:
    """An attached module with echo off and numeric errors, as drivers set it up.

    These tests need no real peer: the module runs on MemoryNetwork and a ManualClock.
    """
    modem = memory_modem
    await modem.command("ATE0")
    await modem.command("AT+CMEE=1")
    return modem


async def reboot(modem: InProcessLink) -> None:
    assert await modem.command("AT+QRST=1") == OK
    await modem.expect(b"\r\nRDY\r\n")
    await modem.expect(b"\r\n+IP: 10.20.30.40\r\n", timeout=3)
    await modem.command("ATE0")
    await modem.command("AT+CMEE=1")


async def cfun_cycle(modem: InProcessLink) -> None:
    await answer(modem, "AT+CFUN=0")
    await answer(modem, "AT+CFUN=1")
    await modem.read_until(b"+IP: 10.20.30.40\r\n", timeout=3)


# -- identity ------------------------------------------------------------------------------


async def test_identity_is_consistent_and_survives_cfun_and_reboot(
    quiet_modem: InProcessLink,
) -> None:
    modem = quiet_modem

    async def identity() -> dict[str, str]:
        return {
            "imsi": (await answer(modem, "AT+CIMI"))[0],
            "iccid": (await answer(modem, "AT+QCCID"))[0].removeprefix("+QCCID: "),
            "imei": (await answer(modem, "AT+CGSN=1"))[0].removeprefix("+CGSN: "),
            "imeisv": (await answer(modem, "AT+CGSN=2"))[0].removeprefix("+CGSN: "),
            "svn": (await answer(modem, "AT+CGSN=3"))[0].removeprefix("+CGSN: "),
            "sn": (await answer(modem, "AT+CGSN"))[0],
            "ip": (await answer(modem, "AT+QIPADDR"))[0].removeprefix("+QIPADDR: "),
            "cgpaddr": (await answer(modem, "AT+CGPADDR?"))[0],
        }

    first = await identity()
    assert first["imsi"] == "001010123456789"
    iccid = first["iccid"]
    assert len(iccid) == 20 and iccid.startswith("89") and luhn_valid(iccid)
    assert iccid[2:7] == first["imsi"][:5]  # the IMSI's home network: MCC 001, MNC 01
    assert first["imsi"][5:] in iccid  # and its subscriber number
    assert len(first["imei"]) == 15 and luhn_valid(first["imei"])
    assert first["imeisv"] == first["imei"][:14] + first["svn"] and len(first["svn"]) == 2
    assert first["sn"] == first["imei"]
    assert first["cgpaddr"] == f"+CGPADDR: 1,{first['ip']}"
    await cfun_cycle(modem)
    assert await identity() == first
    await reboot(modem)
    assert await identity() == first


async def test_sim_commands_fail_with_the_sim_off(quiet_modem: InProcessLink) -> None:
    await answer(quiet_modem, "AT+CFUN=0")
    for line in ("AT+QCCID", "AT+CIMI", "AT+CPIN?"):
        assert await error(quiet_modem, line) == b"+CME ERROR: 13"
    assert await answer(quiet_modem, "AT+CGSN=1")  # the IMEI is the module's, not the SIM's
    await answer(quiet_modem, "AT+CFUN=1")
    assert (await answer(quiet_modem, "AT+CPIN?")) == ["+CPIN: READY"]
    assert await error(quiet_modem, 'AT+CPIN="1234"') == b"+CME ERROR: 3"  # no PIN asked


async def test_cgsn_forms(quiet_modem: InProcessLink) -> None:
    assert await answer(quiet_modem, "AT+CGSN=?") == ["+CGSN: (0-3)"]
    assert await answer(quiet_modem, "AT+CGSN=0") == await answer(quiet_modem, "AT+CGSN")
    for line in ("AT+CGSN=4", "AT+CGSN=1,1", "AT+CGSN?"):
        await error(quiet_modem, line)


async def test_qipaddr_follows_the_attach(quiet_modem: InProcessLink) -> None:
    assert await answer(quiet_modem, "AT+QIPADDR") == [
        "+QIPADDR: 10.20.30.40",
        "+QIPADDR: 127.0.0.1",
    ]
    assert await answer(quiet_modem, "AT+QIPADDR=?") == []
    await answer(quiet_modem, "AT+CGATT=0")
    assert await answer(quiet_modem, "AT+QIPADDR") == ["+QIPADDR: 127.0.0.1"]
    assert await answer(quiet_modem, "AT+CGPADDR?") == []
    assert await answer(quiet_modem, "AT+CGPADDR=1") == []
    await error(quiet_modem, "AT+QIPADDR?")


async def test_firmware_versions(quiet_modem: InProcessLink) -> None:
    assert await answer(quiet_modem, "AT+CGMR") == ["Revision: BC66NBR01A10"]
    assert await answer(quiet_modem, "AT+QGMR") == ["BC66NBR01A10_01.002.01.002"]
    assert await answer(quiet_modem, "AT+QGMR=?") == []


# -- models ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(MODELS))
async def test_models(memory_factory: ModemFactory, name: str) -> None:
    model = MODELS[name]
    modem = await memory_factory(model=name)
    await modem.command("ATE0")
    assert await answer(modem, "ATI") == [
        "Quectel_Ltd",
        model.model_id,
        f"Revision: {model.revision}",
    ]
    assert await answer(modem, "AT+CGMM") == [model.model_id]
    assert await answer(modem, "AT+CGMR") == [f"Revision: {model.revision}"]
    bands = ",".join(str(band) for band in model.bands)
    assert await answer(modem, "AT+QBAND=?") == [f"+QBAND: (0-{len(model.bands)}),({bands})"]
    default = ",".join(str(band) for band in model.default_bands)
    assert await answer(modem, "AT+QBAND?") == [f"+QBAND: {default}"]
    foreign = next(band for band in (8, 20, 3, 71, 26) if band not in model.bands)
    await error(modem, f"AT+QBAND=1,{foreign}")
    await answer(modem, f"AT+QBAND=2,{model.bands[1]},{model.bands[0]}")
    assert await answer(modem, "AT+QBAND?") == [f"+QBAND: {model.bands[1]},{model.bands[0]}"]
    await answer(modem, "AT+QBAND=0")
    assert await answer(modem, "AT+QBAND?") == [f"+QBAND: {bands}"]
    await error(modem, "AT+QBAND=2,2")  # two bands announced, one given


async def test_serve_with_the_na_model_over_a_pty(tmp_path: Path) -> None:
    server = ServeProcess("--pty", str(tmp_path / "tty"), "--model", "BC66-NA",
                          "--attach-delay", "0", "--state-dir", str(tmp_path))  # fmt: skip
    await server.start()
    try:
        import serial

        port = serial.Serial(str(tmp_path / "tty"), 115200, timeout=5)
        port.write(b"ATE0\r\nATI\r\n")
        reply = port.read_until(b"BC66NADAR01A01\r\n\r\nOK\r\n")
        assert reply.endswith(b"Quectel_BC66NA\r\n\r\nRevision: BC66NADAR01A01\r\n\r\nOK\r\n")
        port.close()
    finally:
        await server.stop()


async def test_unknown_model_is_a_clear_cli_error(tmp_path: Path) -> None:
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "bc66sim", "serve", "--model", "BC95", "--stdio"],
        capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert result.returncode == 2
    assert "invalid choice: 'BC95'" in result.stderr


def test_fleet_modules_are_devices_of_their_own() -> None:
    assert numbered_imei("866818039921448", 0) == "866818039921448"
    second = numbered_imei("866818039921448", 1)
    assert second.startswith("86681803992145") and luhn_valid(second)
    assert numbered_imsi("001010123456789", 2) == "001010123456791"


# -- event reports and power-saving settings ---------------------------------------------


@pytest.mark.parametrize(
    ("command", "test", "read_default", "write", "read_after", "bad"),
    [
        ("+QNBIOTEVENT", "+QNBIOTEVENT: (0,1),(1)", "+QNBIOTEVENT: 0,1", "1,1",
         "+QNBIOTEVENT: 1,1", ("2,1", "1,2", "1,1,1", "")),
        ("+QATWAKEUP", "+QATWAKEUP: (0,1)", "+QATWAKEUP: 0", "1", "+QATWAKEUP: 1",
         ("2", "1,1", "")),
        ("+QEMMTIMER", "+QEMMTIMER: (0,1)", "+QEMMTIMER: 0", "1", "+QEMMTIMER: 1", ("3", "")),
        ("+QSPCHSC", "+QSPCHSC: (0,1)", "+QSPCHSC: 1", "0", "+QSPCHSC: 0", ("2", "")),
        ("+QNBIOTRAI", "+QNBIOTRAI: (0-2)", "+QNBIOTRAI: 0", "2", "+QNBIOTRAI: 2", ("3", "")),
        ("+QSCLK", "+QSCLK: (0-2)", "+QSCLK: 1", "0", "+QSCLK: 0", ("3", "")),
        ("+CTZR", "+CTZR: (0-2)", "+CTZR: 0", "2", "+CTZR: 2", ("3",)),
        ("+CGEREP", "+CGEREP: (0,1)", "+CGEREP: 0", "1", "+CGEREP: 1", ("2", "")),
        ("+CCIOTOPT", "+CCIOTOPT: (0,1,3),(0-3),(0-2)", "+CCIOTOPT: 0,3,1", "1,1,0",
         "+CCIOTOPT: 1,1,0", ("2", "1,4", "1,1,3")),
        ("+CIPCA", "+CIPCA: (3),(0,1)", "+CIPCA: 3,0", "3,1", "+CIPCA: 3,1", ("2,1", "3,2")),
        ("+IPR", "+IPR: (0,4800,9600,14400,19200,28800,33600,38400,57600,115200,230400,"
         "460800,921600)", "+IPR: 115200", "9600", "+IPR: 9600", ("1234", "")),
    ],
)  # fmt: skip
async def test_settings_commands(
    quiet_modem: InProcessLink,
    command: str,
    test: str,
    read_default: str,
    write: str,
    read_after: str,
    bad: tuple[str, ...],
) -> None:
    assert await answer(quiet_modem, f"AT{command}=?") == [test]
    assert await answer(quiet_modem, f"AT{command}?") == [read_default]
    assert await answer(quiet_modem, f"AT{command}={write}") == []
    assert await answer(quiet_modem, f"AT{command}?") == [read_after]
    for value in bad:
        assert await error(quiet_modem, f"AT{command}={value}") == b"+CME ERROR: 50"
    assert await answer(quiet_modem, f"AT{command}?") == [read_after]


async def test_nvram_settings_survive_cfun_reboot_and_restart(tmp_path: Path) -> None:
    first = MemoryLink(tmp_path)
    await first.start()
    await first.sync()
    await first.command("ATE0")
    for line in ("AT+QNBIOTEVENT=1,1", "AT+QATWAKEUP=1", "AT+QEMMTIMER=1", "AT+QSPCHSC=0",
                 'AT+QCFG="dsevent",1', 'AT+QCFG="atlocktime",5', "AT+QBANDSL=1,2,8,20",
                 'AT+QCGDEFCONT="IPV4V6","iot.example"', "AT+QBAND=2,20,8",
                 'AT+CPSMS=1,,,"00100011","00100010"',
                 'AT+QEDRXCFG=1,5,"0101","0011"'):  # fmt: skip
        assert await first.command(line) == OK, line
    kept = {
        "AT+QNBIOTEVENT?": "+QNBIOTEVENT: 1,1",
        "AT+QATWAKEUP?": "+QATWAKEUP: 1",
        "AT+QEMMTIMER?": "+QEMMTIMER: 1",
        "AT+QSPCHSC?": "+QSPCHSC: 0",
        'AT+QCFG="dsevent"': '+QCFG: "dsevent",1',
        'AT+QCFG="atlocktime"': '+QCFG: "atlocktime",5',
        "AT+QBANDSL?": "+QBANDSL: 1,2,8,20",
        "AT+QCGDEFCONT?": '+QCGDEFCONT: "IPV4V6","iot.example"',
        "AT+QBAND?": "+QBAND: 20,8",
        "AT+CPSMS?": '+CPSMS: 1,,,"00100011","00100010"',
        "AT+CEDRXS?": '+CEDRXS: 5,"0101"',
        "AT+QEDRXCFG?": '+QEDRXCFG: 5,"0101","0011"',
    }

    async def check(link: InProcessLink) -> None:
        for line, expected in kept.items():
            assert await answer(link, line) == [expected], line

    await check(first)
    await cfun_cycle(first)
    await check(first)
    await reboot(first)
    await check(first)
    # The default PDN applies from the boot on: context 1 now has its APN.
    assert (await answer(first, "AT+CGDCONT?"))[0].startswith('+CGDCONT: 1,"IPV4V6","iot.example"')
    await first.close()
    second = MemoryLink(tmp_path)
    await second.start()
    await second.sync()
    await second.command("ATE0")
    await check(second)
    await second.close()


async def test_qcfg(quiet_modem: InProcessLink) -> None:
    test = await answer(quiet_modem, "AT+QCFG=?")
    assert '+QCFG: "dsevent",(0,1)' in test and '+QCFG: "initlocktime",(1-30)' in test
    assert await answer(quiet_modem, 'AT+QCFG="epco"') == ['+QCFG: "epco",1']
    assert await answer(quiet_modem, 'AT+QCFG="DSEVENT"') == ['+QCFG: "dsevent",0']
    await answer(quiet_modem, 'AT+QCFG="dsevent",1')
    read = await answer(quiet_modem, "AT+QCFG?")
    assert '+QCFG: "dsevent",1' in read and len(read) == len(test)
    for line in ('AT+QCFG="oosat",1', 'AT+QCFG="dsevent",2', 'AT+QCFG="initlocktime",0',
                 "AT+QCFG", 'AT+QCFG="dsevent",1,1'):  # fmt: skip
        await error(quiet_modem, line)


async def test_qbandsl_and_the_serving_cell(quiet_modem: InProcessLink) -> None:
    assert await answer(quiet_modem, "AT+QBANDSL?") == ["+QBANDSL: 0"]
    await answer(quiet_modem, "AT+QBANDSL=1,3,8,5,20")
    assert await answer(quiet_modem, "AT+QBANDSL?") == ["+QBANDSL: 1,3,8,5,20"]
    engineering = (await answer(quiet_modem, "AT+QENG=0"))[0].split(",")
    assert (engineering[1], engineering[9]) == ("3538", "8")  # EARFCN in band 8, band 8
    for line in ("AT+QBANDSL=1,2,8", "AT+QBANDSL=1,1,99", "AT+QBANDSL=1,5,1,2,3,4,5",
                 "AT+QBANDSL=1,2,8,8", "AT+QBANDSL=0,1", "AT+QBANDSL=2"):  # fmt: skip
        await error(quiet_modem, line)
    await answer(quiet_modem, "AT+QBANDSL=0")
    assert await answer(quiet_modem, "AT+QBANDSL?") == ["+QBANDSL: 0"]


async def test_commands_that_need_the_radio_off(quiet_modem: InProcessLink) -> None:
    """``AT+QCSEARFCN`` and ``AT+QLOCKF`` run at ``AT+CFUN=0`` only, as on the module."""
    assert await error(quiet_modem, "AT+QCSEARFCN") == b"+CME ERROR: 3"
    assert await error(quiet_modem, "AT+QLOCKF=1,3538,2") == b"+CME ERROR: 3"
    await answer(quiet_modem, "AT+CFUN=0")
    assert await answer(quiet_modem, "AT+QCSEARFCN") == []
    assert await answer(quiet_modem, "AT+QLOCKF=1,3538,2,101") == []
    assert await answer(quiet_modem, "AT+QLOCKF?") == ["+QLOCKF: 1,3538,2,101"]
    for line in ("AT+QLOCKF=1,3538", "AT+QLOCKF=1,3538,22", "AT+QLOCKF=2", "AT+QCSEARFCN=1"):
        await error(quiet_modem, line)
    assert await answer(quiet_modem, "AT+QLOCKF=0") == []
    assert await answer(quiet_modem, "AT+QLOCKF?") == ["+QLOCKF: 0"]
    assert await answer(quiet_modem, "AT+QRELLOCK") == []


async def test_qgact_sets_the_context(quiet_modem: InProcessLink) -> None:
    assert await answer(quiet_modem, 'AT+QGACT=1,1,"iot.example"') == []
    assert (await answer(quiet_modem, "AT+CGDCONT?"))[0].startswith(
        '+CGDCONT: 1,"IP","iot.example"'
    )
    assert await answer(quiet_modem, 'AT+QGACT=1,3,"v6.example","user","secret"') == []
    assert (await answer(quiet_modem, "AT+CGDCONT?"))[0].startswith('+CGDCONT: 1,"IPV4V6"')
    assert await error(quiet_modem, "AT+QGACT=0,1") == b"+CME ERROR: 3"  # the default bearer
    for line in ('AT+QGACT=1,5,"x"', "AT+QGACT=1,1", 'AT+QGACT=2,1,"x"', 'AT+QGACT=1,1,"x","u"'):
        assert await error(quiet_modem, line) == b"+CME ERROR: 50"
    await answer(quiet_modem, "AT+CGATT=0")
    assert await error(quiet_modem, 'AT+QGACT=1,1,"x"') == b"+CME ERROR: 30"


async def test_cgdcont_read_has_the_modules_layout(quiet_modem: InProcessLink) -> None:
    assert await answer(quiet_modem, "AT+CGDCONT?") == [
        '+CGDCONT: 1,"IP","","10.20.30.40",0,0,0,,,,,,0,,0'
    ]


async def test_profile_saved_by_at_w(quiet_modem: InProcessLink) -> None:
    """``AT&W`` saves echo, CMEE and the CEREG mode; a boot and ``ATZ`` restore them."""
    await answer(quiet_modem, "AT+CEREG=2")
    await answer(quiet_modem, "AT&W")
    await answer(quiet_modem, "ATE1")
    await answer(quiet_modem, "AT+CMEE=0")
    assert await quiet_modem.command("ATZ") == b"ATZ\r" + OK  # echo was on until ATZ ran
    assert await quiet_modem.command("AT+CMEE?") == b"\r\n+CMEE: 1\r\n" + OK
    assert await quiet_modem.command("AT+QRST=1") == OK
    await quiet_modem.expect(b"\r\nRDY\r\n")
    await quiet_modem.expect(b'\r\n+CEREG: 1,"1A2B","0C3D4E5F",9\r\n', timeout=3)
    await quiet_modem.expect(b"\r\n+IP: 10.20.30.40\r\n")
    assert await quiet_modem.command("AT+CEREG?") == b'\r\n+CEREG: 2,1,"1A2B","0C3D4E5F",9\r\n' + OK
    await answer(quiet_modem, "AT&F")
    assert await quiet_modem.command("AT") == b"AT\r" + OK


# -- the table as a whole ------------------------------------------------------------------


async def test_every_test_form_is_answered(quiet_modem: InProcessLink) -> None:
    for spec in TABLE:
        if spec.extended:
            await answer(quiet_modem, f"{spec.at_name}=?")


async def test_clac_lists_the_table(quiet_modem: InProcessLink) -> None:
    listed = await answer(quiet_modem, "AT+CLAC")
    assert listed == [spec.at_name for spec in TABLE]
    assert {"AT+QCCID", "AT+QIOPEN", "AT+QNBIOTEVENT", "ATE"} <= set(listed)


@pytest.mark.parametrize("name", [name for name, _ in NOT_ON_BC66])
async def test_commands_of_other_modules_answer_error(
    quiet_modem: InProcessLink, name: str
) -> None:
    for form in ("=?", "?", "=1", ""):
        assert await quiet_modem.command(name + form) == b"\r\nERROR\r\n"


def test_commands_doc_is_generated_from_the_table() -> None:
    """docs/COMMANDS.md is current: run ``make docs`` after changing a command."""
    assert (ROOT / "docs" / "COMMANDS.md").read_text() == render_commands()
    for spec in TABLE:
        assert spec.section, f"{spec.at_name} has no manual section"


async def test_bands_stay_consistent_across_commands_and_models(
    memory_factory: ModemFactory,
) -> None:
    """Preferred bands are searched bands; a state file of the other model loses nothing
    but searches only bands this radio has (found by an adversarial review)."""
    bc66 = await memory_factory()
    await bc66.command("ATE0")
    await answer(bc66, "AT+QBAND=2,3,20")
    await error(bc66, "AT+QBANDSL=1,1,8")  # 8 is not searched
    await answer(bc66, "AT+QBANDSL=1,1,20")
    assert (await answer(bc66, "AT+QENG=0"))[0].split(",")[9] == "20"
    await bc66.close()
    na = await memory_factory(model="BC66-NA")  # the same state directory
    await na.command("ATE0")
    default = ",".join(str(band) for band in MODELS["BC66-NA"].default_bands)
    assert await answer(na, "AT+QBAND?") == [f"+QBAND: {default}"]
    assert await answer(na, "AT+QBANDSL?") == ["+QBANDSL: 0"]
    band = int((await answer(na, "AT+QENG=0"))[0].split(",")[9])
    assert band in MODELS["BC66-NA"].bands


async def test_cgerep_reports_packet_domain_events(quiet_modem: InProcessLink) -> None:
    await answer(quiet_modem, "AT+CGEREP=1")
    await answer(quiet_modem, "AT+CGATT=0")
    await quiet_modem.expect(b"\r\n+CGEV: ME DETACH\r\n")
    await answer(quiet_modem, "AT+CGATT=1")
    await quiet_modem.expect(b"\r\n+CGEV: ME PDN ACT 1\r\n", timeout=3)
    await quiet_modem.expect(b"\r\n+IP: 10.20.30.40\r\n")


async def test_cpinr_counts_the_retries(quiet_modem: InProcessLink) -> None:
    assert await answer(quiet_modem, "AT+CPINR") == [
        '+CPINR: "SIM PIN",3,3', '+CPINR: "SIM PUK",10,10',
        '+CPINR: "SIM PIN2",3,3', '+CPINR: "SIM PUK2",10,10',
    ]  # fmt: skip
    assert await answer(quiet_modem, 'AT+CPINR="SIM PU?"') == ['+CPINR: "SIM PUK",10,10']
    assert await answer(quiet_modem, 'AT+CPINR="*2"') == [
        '+CPINR: "SIM PIN2",3,3',
        '+CPINR: "SIM PUK2",10,10',
    ]
    await answer(quiet_modem, "AT+CFUN=0")
    assert await error(quiet_modem, "AT+CPINR") == b"+CME ERROR: 13"


async def test_a_setting_that_cannot_be_saved_is_not_answered_ok(tmp_path: Path) -> None:
    """Found by an adversarial review: OK was answered for settings not saved."""
    (tmp_path / "nvram.json").mkdir()  # the state file cannot be written
    modem = MemoryLink(tmp_path)
    await modem.start()
    await modem.sync()
    await modem.command("ATE0;+CMEE=1")
    assert (await modem.command('AT+QICFG="viewmode",1')).endswith(b"+CME ERROR: 550\r\n")
    assert (await modem.command("AT+QBAND=1,8")).endswith(b"+CME ERROR: 100\r\n")
    assert (await modem.command("AT&W")).endswith(b"+CME ERROR: 100\r\n")
    assert (await modem.command("AT+CEREG=1")).endswith(OK)  # volatile: nothing to save
    await modem.close()
