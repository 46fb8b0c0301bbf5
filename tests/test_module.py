"""The module around the stack: boot, attach, identity, reboot, NVRAM, URC ordering.

Module behaviour, on MemoryNetwork + ManualClock (``pytest.mark.memory``): every
wait is module time; ``@BOTH_WORLDS`` tests run on the real network too.  The real
network's own side (real IPv6, a real local port) is in test_end_to_end.py.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bc66sim.net.memory import MemoryNetwork
from support.links import MemoryLink, ModemFactory
from support.memory_peers import MemoryTcpPeer, MemoryUdpPeer
from support.worlds import BOTH_WORLDS

pytestmark = pytest.mark.memory  # module behaviour: the memory network's fixtures

OK = b"\r\nOK\r\n"


async def test_boot_then_attach(tmp_path: Path) -> None:
    link = MemoryLink(tmp_path, attach_delay=0.3)
    await link.start()
    await link.expect(b"\r\nRDY\r\n")
    assert await link.command("AT+CGATT?") == b"AT+CGATT?\r\r\n+CGATT: 0\r\n" + OK
    assert await link.command("AT+CEREG?") == b"AT+CEREG?\r\r\n+CEREG: 0,2\r\n" + OK
    assert await link.command("AT+CSQ") == b"AT+CSQ\r\r\n+CSQ: 99,99\r\n" + OK
    await link.command('AT+QIOPEN=1,0,"UDP","127.0.0.1",9')
    await link.expect(b"\r\n+QIOPEN: 0,561\r\n")
    await link.expect(b"\r\n+IP: 10.20.30.40\r\n", timeout=3)
    assert await link.command("AT+CGATT?") == b"AT+CGATT?\r\r\n+CGATT: 1\r\n" + OK
    assert await link.command("AT+CGPADDR") == b"AT+CGPADDR\r\r\n+CGPADDR: 1,10.20.30.40\r\n" + OK
    await link.close()


@pytest.mark.parametrize(
    ("command", "answer"),
    [
        ("AT", b""),
        ("ATI", b"\r\nQuectel_Ltd\r\n\r\nQuectel_BC66\r\n\r\nRevision: BC66NBR01A10\r\n"),
        ("AT+CGMI", b"\r\nQuectel_Ltd\r\n"),
        ("AT+CGMM", b"\r\nQuectel_BC66\r\n"),
        ("AT+CGMR", b"\r\nRevision: BC66NBR01A10\r\n"),
        ("AT+CGSN=1", b"\r\n+CGSN: 866818039921448\r\n"),
        ("AT+CIMI", b"\r\n001010123456789\r\n"),
        ("AT+CPIN?", b"\r\n+CPIN: READY\r\n"),
        ("AT+CFUN?", b"\r\n+CFUN: 1\r\n"),
        ("AT+CMEE?", b"\r\n+CMEE: 0\r\n"),
        ("AT+CEREG?", b"\r\n+CEREG: 0,1\r\n"),
        # A good cell (net/base.py Signal): RSRP -86 dBm, RSRQ -9 dB, RSSI -75 dBm.
        ("AT+CSQ", b"\r\n+CSQ: 19,0\r\n"),
        ("AT+CESQ", b"\r\n+CESQ: 99,99,255,255,22,55\r\n"),
        ("AT+CSCON?", b"\r\n+CSCON: 0,1\r\n"),
        ("AT+COPS?", b'\r\n+COPS: 0,2,"00101",9\r\n'),
        ("AT+CGACT?", b"\r\n+CGACT: 1,1\r\n"),
        ("AT+QSCLK?", b"\r\n+QSCLK: 1\r\n"),
        ("AT+CBC", b"\r\n+CBC: 0,0,3300\r\n"),
        ("AT+QENG=0", b'\r\n+QENG: 0,88,0,182,"0C3D4E5F",-86,-9,-75,15,1,"1A2B",0,23,2\r\n'),
        ("AT+QISTATE=?", b""),
        ("AT+QIGETERROR=?", b""),
        ("AT+QISWTMD?", b""),
        (
            "AT+QIOPEN=?",
            b'\r\n+QIOPEN: (1-3),(0-4),"TCP/UDP","<IP_address>/<domain_name>",'
            b"<remote_port>,<local_port>,(0,1),(0,1)\r\n",
        ),
        ("AT+QICLOSE=?", b"\r\n+QICLOSE: (0-4)\r\n"),
        ("AT+QISEND=?", b"\r\n+QISEND: (0-4),(0-1024),<data>\r\n"),
        ("AT+QISENDEX=?", b"\r\n+QISENDEX: (0-4),(1-512),<hex_string>\r\n"),
        ("AT+QIRD=?", b"\r\n+QIRD: (0-4),(1-512)\r\n"),
        ("AT+QISWTMD=?", b"\r\n+QISWTMD: (0-4),(0,1)\r\n"),
        (
            "AT+QICFG=?",
            b'\r\n+QICFG: "dataformat",(0,1),(0,1)\r\n\r\n+QICFG: "viewmode",(0,1)\r\n'
            b'\r\n+QICFG: "showlength",(0,1)\r\n\r\n+QICFG: "echomode",(0,1)\r\n',
        ),
        ('AT+QICFG="dataformat"', b'\r\n+QICFG: "dataformat",0,0\r\n'),
        ('AT+QICFG="viewmode"', b'\r\n+QICFG: "viewmode",0\r\n'),
        ('AT+QICFG="showlength"', b'\r\n+QICFG: "showlength",0\r\n'),
        ('AT+QICFG="echomode"', b'\r\n+QICFG: "echomode",1\r\n'),
        ("AT+QIGETERROR", b"\r\n+QIGETERROR: 0,operation successful\r\n"),
        ("at+cgmi", b"\r\nQuectel_Ltd\r\n"),
        ("AT+CMEE=1;+CGMI", b"\r\nQuectel_Ltd\r\n"),
    ],
)
async def test_answers(modem: MemoryLink, command: str, answer: bytes) -> None:
    assert await modem.command(command) == command.encode() + b"\r" + answer + OK


@pytest.mark.parametrize(
    "command", ["AT+NOSUCH", "ATX9", "AT+CFUN=7", "AT+CMEE=3", "AT+CEREG=6", "hello", "AT+CGATT"]
)
async def test_errors(modem: MemoryLink, command: str) -> None:
    assert await modem.command(command) == command.encode() + b"\r\r\nERROR\r\n"


async def test_cme_errors_of_3gpp_commands(modem: MemoryLink) -> None:
    await modem.command("AT+CMEE=1")
    assert (await modem.command("AT+CFUN=9")).endswith(b"\r\n+CME ERROR: 50\r\n")
    await modem.command("AT+CFUN=0")
    assert (await modem.command("AT+CPIN?")).endswith(b"\r\n+CME ERROR: 13\r\n")


async def test_echo_off_and_on(modem: MemoryLink) -> None:
    assert await modem.command("ATE0") == b"ATE0\r" + OK
    assert await modem.command("AT") == OK
    assert await modem.command("ATE1") == OK
    assert await modem.command("AT") == b"AT\r" + OK


async def test_cereg_urcs_follow_detach_and_attach(modem: MemoryLink) -> None:
    await modem.command("AT+CEREG=2")
    reply = await modem.command("AT+CEREG?")
    assert reply == b'AT+CEREG?\r\r\n+CEREG: 2,1,"1A2B","0C3D4E5F",9\r\n' + OK
    assert await modem.command("AT+CGATT=0") == b"AT+CGATT=0\r" + OK
    await modem.expect(b"\r\n+CEREG: 0\r\n")
    assert await modem.command("AT+CGATT=1") == b"AT+CGATT=1\r" + OK
    await modem.expect(b'\r\n+CEREG: 1,"1A2B","0C3D4E5F",9\r\n', timeout=3)
    await modem.expect(b"\r\n+IP: 10.20.30.40\r\n")
    await modem.command("AT+CFUN=0")
    await modem.expect(b"\r\n+CEREG: 0\r\n")
    await modem.command("AT+CFUN=1")
    await modem.expect(b'\r\n+CEREG: 1,"1A2B","0C3D4E5F",9\r\n', timeout=3)


async def test_reboot(modem: MemoryLink, peer: MemoryTcpPeer) -> None:
    await modem.command(f'AT+QIOPEN=1,0,"TCP","127.0.0.1",{peer.port}')
    await modem.expect(b"\r\n+QIOPEN: 0,0\r\n")
    await modem.command('AT+QICFG="viewmode",1')
    await modem.command('AT+QICFG="echomode",0')
    await modem.command("ATE0")
    assert await modem.command("AT+QRST=1") == OK
    await modem.expect(b"\r\nRDY\r\n")
    await peer.wait_closed()  # the peer saw the connection end
    await modem.expect(b"\r\n+IP: 10.20.30.40\r\n", timeout=3)
    assert await modem.command("AT+QISTATE?") == b"AT+QISTATE?\r" + OK  # echo is back on
    assert (await modem.command('AT+QICFG="viewmode"')).endswith(b'"viewmode",1\r\n' + OK)
    assert (await modem.command('AT+QICFG="echomode"')).endswith(b'"echomode",1\r\n' + OK)


async def test_power_down_is_silent(modem: MemoryLink) -> None:
    assert await modem.command("AT+QPOWD=1") == b"AT+QPOWD=1\r" + OK
    await modem.write(b"AT\r")
    await modem.quiet()


async def test_nvram_survives_a_restart(tmp_path: Path) -> None:
    first = MemoryLink(tmp_path)
    await first.start()
    await first.sync()
    for command in ('AT+QICFG="dataformat",1,1', 'AT+QICFG="viewmode",1',
                    'AT+QICFG="showlength",1', 'AT+QICFG="echomode",0'):  # fmt: skip
        await first.command(command)
    await first.close()
    saved = json.loads((tmp_path / "nvram.json").read_text())
    tcpip = {name: saved[name] for name in ("send_hex", "recv_hex", "view_mode", "show_length")}
    assert tcpip == {"send_hex": 1, "recv_hex": 1, "view_mode": 1, "show_length": 1}
    assert "echo_mode" not in saved
    second = MemoryLink(tmp_path)
    await second.start()
    await second.sync()
    assert (await second.command('AT+QICFG="dataformat"')).endswith(b",1,1\r\n" + OK)
    assert (await second.command('AT+QICFG="viewmode"')).endswith(b",1\r\n" + OK)
    assert (await second.command('AT+QICFG="showlength"')).endswith(b",1\r\n" + OK)
    assert (await second.command('AT+QICFG="echomode"')).endswith(b",1\r\n" + OK)  # not saved
    await second.close()
    assert not list(tmp_path.glob(".nvram-*"))  # no temporary file left behind


async def test_unreadable_state_file_gives_defaults(
    tmp_path: Path, modem_factory: ModemFactory
) -> None:
    (tmp_path / "nvram.json").write_text("{not json")
    link = await modem_factory()
    assert (await link.command('AT+QICFG="viewmode"')).endswith(b",0\r\n" + OK)


async def test_urc_waits_for_a_partly_typed_line(modem: MemoryLink, peer: MemoryTcpPeer) -> None:
    await modem.command(f'AT+QIOPEN=1,0,"TCP","127.0.0.1",{peer.port}')
    await modem.expect(b"\r\n+QIOPEN: 0,0\r\n")
    await modem.write(b"AT+QIS")
    await peer.send(b"data")
    await modem.clock.advance(0.1)
    await modem.expect(b"AT+QIS")  # the echo, and no URC inside the line
    assert modem.buffer == b""
    await modem.write(b"TATE?\r")
    await modem.expect(b"TATE?\r\r\n+QISTATE: ")
    await modem.read_until(b"\r\n\r\nOK\r\n")
    await modem.expect(b'\r\n+QIURC: "recv",0\r\n')


async def test_urc_waits_for_data_mode(modem: MemoryLink, peer: MemoryTcpPeer) -> None:
    await modem.command(f'AT+QIOPEN=1,0,"TCP","127.0.0.1",{peer.port},0,1')
    await modem.expect(b"\r\n+QIOPEN: 0,0\r\n")
    await modem.write(b"AT+QISEND=0\r")
    await modem.expect(b"AT+QISEND=0\r\r\n> ")
    await peer.send(b"pushed")
    await modem.write(b"abc")
    await modem.clock.advance(0.1)
    await modem.expect(b"abc")
    assert modem.buffer == b""  # held while the host is in data mode
    await modem.write(b"\x1a")
    await modem.expect(b'\r\nOK\r\n\r\nSEND OK\r\n\r\n+QIURC: "recv",0,6\r\npushed\r\n')


async def test_switch_to_direct_push_pushes_the_buffer(
    modem: MemoryLink, peer: MemoryTcpPeer
) -> None:
    await modem.command(f'AT+QIOPEN=1,0,"TCP","127.0.0.1",{peer.port}')
    await modem.expect(b"\r\n+QIOPEN: 0,0\r\n")
    await peer.send(b"buffered")
    await modem.expect(b'\r\n+QIURC: "recv",0\r\n')
    assert await modem.command("AT+QISWTMD=0,1") == b"AT+QISWTMD=0,1\r" + OK
    await modem.expect(b'\r\n+QIURC: "recv",0,8\r\nbuffered\r\n')
    await peer.send(b"live")
    await modem.expect(b'\r\n+QIURC: "recv",0,4\r\nlive\r\n')
    assert (await modem.command("AT+QIRD=0,10")).endswith(b"\r\nERROR\r\n")
    reply = await modem.command("AT+QISTATE=1,0")
    assert f",{peer.port},0,2,1,1\r\n".encode() in reply


async def test_hex_receive_format(modem: MemoryLink, peer: MemoryTcpPeer) -> None:
    await modem.command('AT+QICFG="dataformat",0,1')
    await modem.command(f'AT+QIOPEN=1,0,"TCP","127.0.0.1",{peer.port}')
    await modem.expect(b"\r\n+QIOPEN: 0,0\r\n")
    await peer.send(b"\x00\r\n\xff")
    await modem.expect(b'\r\n+QIURC: "recv",0\r\n')
    reply = await modem.command("AT+QIRD=0,512")
    assert reply == b"AT+QIRD=0,512\r\r\n+QIRD: 4\r\n000D0AFF\r\n\r\nOK\r\n"


async def test_udp_exchange_and_send_query(modem: MemoryLink, udp_peer: MemoryUdpPeer) -> None:
    await modem.command(f'AT+QIOPEN=1,1,"UDP","127.0.0.1",{udp_peer.port},0,1')
    await modem.expect(b"\r\n+QIOPEN: 1,0\r\n")
    reply = await modem.command("AT+QISTATE=1,1")
    assert f'+QISTATE: 1,"UDP","127.0.0.1",{udp_peer.port},0,2,1,1'.encode() in reply
    await modem.command("AT+QISENDEX=1,3,414243")
    await modem.expect(b"\r\nSEND OK\r\n")
    assert await udp_peer.next_datagram() == b"ABC"
    await modem.expect(b'\r\n+QIURC: "recv",1,3\r\nABC\r\n')  # the peer's echo
    reply = await modem.command("AT+QISEND=1,0")
    assert reply == b"AT+QISEND=1,0\r\r\n+QISEND: 3,0,0\r\n" + OK


@BOTH_WORLDS  # the same on the real network
async def test_tcp_send_query_counts_acknowledged_bytes(
    modem: MemoryLink, peer: MemoryTcpPeer
) -> None:
    await modem.command(f'AT+QIOPEN=1,0,"TCP","127.0.0.1",{peer.port}')
    await modem.expect(b"\r\n+QIOPEN: 0,0\r\n")
    await modem.command("AT+QISEND=0,10,0123456789")
    await peer.expect(b"0123456789")
    reply = await modem.command("AT+QISEND=0,0")
    assert re.search(rb"\+QISEND: 10,10,0\r\n", reply), reply


@BOTH_WORLDS
async def test_json_in_double_quotes_is_sent_as_written(
    modem: MemoryLink, peer: MemoryTcpPeer
) -> None:
    """Note §2.3.4 note 3: data with special characters such as JSON goes in double
    quotes; the quotes inside are the data's, and commas in it are no separators."""
    await modem.command(f'AT+QIOPEN=1,0,"TCP","127.0.0.1",{peer.port}')
    await modem.expect(b"\r\n+QIOPEN: 0,0\r\n")
    reply = await modem.command('AT+QISEND=0,17,"{"t":21.5,"h":40}"')
    assert reply.endswith(b"\r\nOK\r\n"), reply
    await modem.expect(b"\r\nSEND OK\r\n")
    await peer.expect(b'{"t":21.5,"h":40}')
    for wrong in ('AT+QISEND=0,16,"{"t":21.5,"h":40}"', 'AT+QISEND=0,17,{"t":21.5,"h":40}'):
        assert (await modem.command(wrong)).endswith(b"\r\nERROR\r\n"), wrong


@BOTH_WORLDS
async def test_a_udp_local_port_is_one_sockets(modem: MemoryLink, udp_peer: MemoryUdpPeer) -> None:
    """A second UDP socket on the first's local port is refused (574), as on a host."""
    for connect_id, outcome in ((0, 0), (1, 574)):
        await modem.command(f'AT+QIOPEN=1,{connect_id},"UDP","127.0.0.1",{udp_peer.port},41234,1')
        await modem.expect(f"\r\n+QIOPEN: {connect_id},{outcome}\r\n".encode())
    assert await modem.last_error() == b"+QIGETERROR: 574,port busy"


async def test_local_port_is_used(modem: MemoryLink, peer: MemoryTcpPeer) -> None:
    local = 40123
    await modem.command(f'AT+QIOPEN=1,0,"TCP","127.0.0.1",{peer.port},{local},0')
    await modem.expect(b"\r\n+QIOPEN: 0,0\r\n")
    assert await peer.module_port() == local
    reply = await modem.command("AT+QISTATE=1,0")
    assert f",{peer.port},{local},2,1,0".encode() in reply


async def test_ipv6(modem: MemoryLink, memory_network: MemoryNetwork) -> None:
    peer = await MemoryTcpPeer(memory_network, host="::1").start()
    try:
        await modem.command(f'AT+QIOPEN=1,0,"TCP","::1",{peer.port},0,0,1')
        await modem.expect(b"\r\n+QIOPEN: 0,0\r\n")
        await modem.command("AT+QISEND=0,4,six!")
        await peer.expect(b"six!")
        # an IPv6 literal on an IPv4 socket is refused
        await modem.command(f'AT+QIOPEN=1,1,"TCP","::1",{peer.port},0,0,0')
        await modem.expect(b"\r\n+QIOPEN: 1,552\r\n")
    finally:
        await peer.stop()


async def test_cclk_set_and_read(modem: MemoryLink) -> None:
    assert await modem.command('AT+CCLK="30/01/02,03:04:05+08"') == (
        b'AT+CCLK="30/01/02,03:04:05+08"\r' + OK
    )
    reply = await modem.command("AT+CCLK?")
    assert re.fullmatch(
        rb'AT\+CCLK\?\r\r\n\+CCLK: "30/01/02,03:04:0[5-7]\+08"\r\n\r\nOK\r\n', reply
    )
    reply = await modem.command("AT+QCCLK?")
    assert b'+QCCLK: "30/01/02,03:04:' in reply
    assert (await modem.command('AT+CCLK="30/13/02,03:04:05+08"')).endswith(b"ERROR\r\n")
