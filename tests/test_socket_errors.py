"""Error paths of the socket commands: exact output and the AT+QIGETERROR code.

Module behaviour, on MemoryNetwork + ManualClock (``pytest.mark.memory``): every
wait is module time; ``@BOTH_WORLDS`` tests (a FIN, an RST) run on the real network
too.  What only the real network shows (a port another program holds, the kernel's
buffers) is in test_end_to_end.py.
"""

from __future__ import annotations

import re

import pytest

from bc66sim.net.memory import MemoryNetwork
from support.links import MemoryLink, ModemFactory
from support.memory_peers import MemoryTcpPeer, MemoryUdpPeer
from support.worlds import BOTH_WORLDS

pytestmark = pytest.mark.memory  # module behaviour: the memory network's fixtures

OK = b"\r\nOK\r\n"
ERROR = b"\r\nERROR\r\n"


async def open_tcp(link: MemoryLink, port: int, connect_id: int = 0, mode: int = 0) -> None:
    cmd = f'AT+QIOPEN=1,{connect_id},"TCP","127.0.0.1",{port},0,{mode}'
    assert await link.command(cmd) == cmd.encode() + b"\r" + OK
    await link.expect(f"\r\n+QIOPEN: {connect_id},0\r\n".encode())


async def open_udp(link: MemoryLink, port: int, connect_id: int = 0, mode: int = 0) -> None:
    cmd = f'AT+QIOPEN=1,{connect_id},"UDP","127.0.0.1",{port},0,{mode}'
    assert await link.command(cmd) == cmd.encode() + b"\r" + OK
    await link.expect(f"\r\n+QIOPEN: {connect_id},0\r\n".encode())


LONG_HOST = "h" * 151


@pytest.mark.parametrize(
    "command",
    [
        'AT+QIOPEN=1,5,"TCP","127.0.0.1",80',
        'AT+QIOPEN=1,0,"TCP","127.0.0.1",0',
        'AT+QIOPEN=1,0,"TCP","127.0.0.1",65536',
        'AT+QIOPEN=1,0,"SCTP","127.0.0.1",80',
        'AT+QIOPEN=1,0,"TCP","127.0.0.1",80,0,2',
        'AT+QIOPEN=1,0,"TCP","127.0.0.1",80,0,0,2',
        'AT+QIOPEN=4,0,"TCP","127.0.0.1",80',
        'AT+QIOPEN=0,0,"TCP","127.0.0.1",80',
        f'AT+QIOPEN=1,0,"TCP","{LONG_HOST}",80',
        'AT+QIOPEN=1,0,"TCP","",80',
        'AT+QIOPEN=1,0,"TCP","127.0.0.1"',
        'AT+QIOPEN=1,0,"TCP","127.0.0.1",80,0,0,0,9',
        "AT+QIOPEN=1,x,TCP,127.0.0.1,80",
        'AT+QIOPEN=1,0,"TCP,"127.0.0.1",80',
        "AT+QIRD=0,0",
        "AT+QIRD=0,513",
        "AT+QIRD=0",
        "AT+QISEND=0,1025," + "x" * 1025,
        "AT+QISEND=5,1,x",
        "AT+QISEND=0,1461",
        "AT+QISENDEX=0,513," + "41" * 513,
        "AT+QISENDEX=0,2,41",
        "AT+QISENDEX=0,1,4G",
        "AT+QISENDEX=0,0,",
        'AT+QICFG="dataformat",1',
        'AT+QICFG="dataformat",0,2',
        'AT+QICFG="viewmode",2',
        'AT+QICFG="showlength",1,1',
        'AT+QICFG="echomode",-1',
        'AT+QICFG="nosuch",1',
        "AT+QICFG=1",
        "AT+QISTATE=2,0",
        "AT+QISTATE=1,5",
        "AT+QISTATE=1",
        "AT+QICLOSE=5",
        "AT+QICLOSE",
        "AT+QISWTMD=0",
        "AT+QIOPEN?",
        "AT+QIGETERROR=1",
    ],
)
async def test_invalid_parameters(modem: MemoryLink, command: str) -> None:
    assert await modem.command(command) == command.encode() + b"\r" + ERROR
    assert await modem.last_error() == b"+QIGETERROR: 552,invalid parameters"


@pytest.mark.parametrize(
    "command", ['AT+QIOPEN=2,0,"TCP","127.0.0.1",80', 'AT+QIOPEN=3,1,"UDP","h",1', "AT+QISTATE=0,2"]
)
async def test_other_contexts_not_supported(modem: MemoryLink, command: str) -> None:
    assert await modem.command(command) == command.encode() + b"\r" + ERROR
    assert await modem.last_error() == b"+QIGETERROR: 555,operation not supported"


@pytest.mark.parametrize(
    "command",
    ["AT+QISEND=3,5,hello", "AT+QISEND=3", "AT+QISEND=3,5", "AT+QISEND=3,0", "AT+QISENDEX=3,1,41",
     "AT+QIRD=3,10", "AT+QICLOSE=3", "AT+QISWTMD=3,1"],
)  # fmt: skip
async def test_unknown_socket(modem: MemoryLink, command: str) -> None:
    assert await modem.command(command) == command.encode() + b"\r" + ERROR
    assert await modem.last_error() == b"+QIGETERROR: 572,operation not allowed"


async def test_cme_error_formats(modem: MemoryLink) -> None:
    await modem.command("AT+CMEE=1")
    assert await modem.command("AT+QIRD=3,10") == b"AT+QIRD=3,10\r\r\n+CME ERROR: 572\r\n"
    await modem.command("AT+CMEE=2")
    reply = await modem.command("AT+QIRD=0,999")
    assert reply == b"AT+QIRD=0,999\r\r\n+CME ERROR: invalid parameters\r\n"


async def test_success_resets_last_error(modem: MemoryLink) -> None:
    await modem.command("AT+QIRD=0,999")
    await modem.command('AT+QICFG="echomode"')
    assert await modem.last_error() == b"+QIGETERROR: 0,operation successful"


async def test_text_data_must_match_its_length(modem: MemoryLink, peer: MemoryTcpPeer) -> None:
    await open_tcp(modem, peer.port)
    for command in ("AT+QISEND=0,5,1234", "AT+QISEND=0,5,123456"):
        assert await modem.command(command) == command.encode() + b"\r" + ERROR
        assert await modem.last_error() == b"+QIGETERROR: 552,invalid parameters"
    await modem.command("AT+QISEND=0,2,ok")
    await peer.expect(b"ok")  # nothing of the refused sends reached the peer


async def test_hex_send_format(modem: MemoryLink, peer: MemoryTcpPeer) -> None:
    await open_tcp(modem, peer.port)
    await modem.command('AT+QICFG="dataformat",1,0')
    assert await modem.command("AT+QISEND=0,3,00FF1a") == b"AT+QISEND=0,3,00FF1a\r" + OK
    await modem.expect(b"\r\nSEND OK\r\n")
    await peer.expect(b"\x00\xff\x1a")
    assert await modem.command("AT+QISEND=0,3,00FF1") == b"AT+QISEND=0,3,00FF1\r" + ERROR
    assert await modem.command("AT+QISEND=0,731") == b"AT+QISEND=0,731\r" + ERROR
    await modem.write(b"AT+QISEND=0,2\r")
    await modem.expect(b"AT+QISEND=0,2\r\r\n> ")
    await modem.write(b"abCD")
    await modem.expect(b"abCD\r\nOK\r\n\r\nSEND OK\r\n")
    await peer.expect(b"\xab\xcd")


async def test_data_mode_too_long(modem: MemoryLink, peer: MemoryTcpPeer) -> None:
    await open_tcp(modem, peer.port)
    await modem.command('AT+QICFG="echomode",0')
    await modem.write(b"AT+QISEND=0\r")
    await modem.expect(b"AT+QISEND=0\r\r\n> ")
    await modem.write(b"x" * 1461 + b"\x1a")
    await modem.expect(ERROR)
    assert await modem.last_error() == b"+QIGETERROR: 552,invalid parameters"
    await modem.write(b"AT+QISEND=0\r")
    await modem.expect(b"AT+QISEND=0\r\r\n> ")
    await modem.write(b"y" * 1460 + b"\x1a")  # exactly the limit is fine
    await modem.expect(b"\r\nOK\r\n\r\nSEND OK\r\n")
    assert await peer.wait_received(1460) == b"y" * 1460


async def test_escape_cancels(modem: MemoryLink, peer: MemoryTcpPeer) -> None:
    await open_tcp(modem, peer.port)
    await modem.write(b"AT+QISEND=0\r")
    await modem.expect(b"AT+QISEND=0\r\r\n> ")
    await modem.write(b"abc\x1b")
    await modem.expect(b"abc" + ERROR)
    assert await modem.last_error() == b"+QIGETERROR: 571,cancel send"
    await modem.command("AT+QISEND=0,2,ok")
    await peer.expect(b"ok")  # the cancelled bytes never left


async def test_empty_variable_send(modem: MemoryLink, peer: MemoryTcpPeer) -> None:
    await open_tcp(modem, peer.port)
    await modem.write(b"AT+QISEND=0\r")
    await modem.expect(b"AT+QISEND=0\r\r\n> ")
    await modem.write(b"\x1a")
    await modem.expect(ERROR)
    assert await modem.last_error() == b"+QIGETERROR: 552,invalid parameters"


@BOTH_WORLDS  # the same on the real network
async def test_remote_close(modem: MemoryLink, peer: MemoryTcpPeer) -> None:
    await open_tcp(modem, peer.port)
    await peer.send(b"last words")
    await modem.expect(b'\r\n+QIURC: "recv",0\r\n')
    await peer.close_connection()
    await modem.expect(b'\r\n+QIURC: "closed",0\r\n')
    reply = await modem.command("AT+QISTATE?")
    assert f'+QISTATE: 0,"TCP","127.0.0.1",{peer.port},0,4,1,0'.encode() in reply
    assert await modem.command("AT+QISEND=0,1,x") == b"AT+QISEND=0,1,x\r" + ERROR
    assert await modem.last_error() == b"+QIGETERROR: 567,socket has been closed"
    reply = await modem.command("AT+QIRD=0,512")  # buffered data stays readable
    assert reply == b"AT+QIRD=0,512\r\r\n+QIRD: 10\r\nlast words\r\n" + OK
    assert await modem.command("AT+QICLOSE=0") == b"AT+QICLOSE=0\r" + OK
    await modem.expect(b"\r\nCLOSE OK\r\n")
    assert await modem.command("AT+QISTATE?") == b"AT+QISTATE?\r" + OK


@BOTH_WORLDS  # the same on the real network
async def test_peer_reset(modem: MemoryLink, peer: MemoryTcpPeer) -> None:
    await open_tcp(modem, peer.port, mode=1)
    await peer.reset_connection()
    await modem.expect(b'\r\n+QIURC: "closed",0\r\n')


async def test_connection_refused(modem: MemoryLink) -> None:
    port = 47009  # nothing listens here
    command = f'AT+QIOPEN=1,2,"TCP","127.0.0.1",{port}'
    assert await modem.command(command) == command.encode() + b"\r" + OK
    await modem.expect(b"\r\n+QIOPEN: 2,566\r\n")
    assert await modem.last_error() == b"+QIGETERROR: 566,socket connection failed"
    # §2.3.1 note 3: the failed socket stays until AT+QICLOSE.
    reply = await modem.command("AT+QISTATE=1,2")
    assert f'+QISTATE: 2,"TCP","127.0.0.1",{port},0,0,1,0'.encode() in reply
    again = f'AT+QIOPEN=1,2,"TCP","127.0.0.1",{port}'
    await modem.command(again)
    await modem.expect(b"\r\n+QIOPEN: 2,563\r\n")
    await modem.command("AT+QICLOSE=2")
    await modem.expect(b"\r\nCLOSE OK\r\n")
    assert await modem.command("AT+QISTATE=1,2") == b"AT+QISTATE=1,2\r" + OK


@pytest.fixture
def silent_port(memory_network: MemoryNetwork) -> int:
    """A TCP port that never answers a SYN."""
    memory_network.tcp_silent("127.0.0.1", 47010)
    return 47010


@pytest.fixture
async def impatient_modem(modem_factory: ModemFactory) -> MemoryLink:
    """A module that gives a TCP connection 0.5 s (not 60) before 569."""
    return await modem_factory(open_timeout=0.5)


async def test_connect_timeout(impatient_modem: MemoryLink, silent_port: int) -> None:
    await impatient_modem.command(f'AT+QIOPEN=1,0,"TCP","127.0.0.1",{silent_port}')
    await impatient_modem.expect(b"\r\n+QIOPEN: 0,569\r\n", timeout=5)
    assert await impatient_modem.last_error() == b"+QIGETERROR: 569,operation timeout"


async def test_unknown_domain(modem: MemoryLink, dns_server: str) -> None:
    await modem.command(f'AT+QIDNSCFG=1,"{dns_server}"')
    await modem.command('AT+QIOPEN=1,0,"TCP","nope.bc66.test",80')
    await modem.expect(b"\r\n+QIOPEN: 0,565\r\n")
    assert await modem.last_error() == b"+QIGETERROR: 565,dns parse failed"


async def test_socket_id_in_use(modem: MemoryLink, peer: MemoryTcpPeer) -> None:
    await open_tcp(modem, peer.port)
    command = f'AT+QIOPEN=1,0,"UDP","127.0.0.1",{peer.port}'
    assert await modem.command(command) == command.encode() + b"\r" + OK
    await modem.expect(b"\r\n+QIOPEN: 0,563\r\n")
    assert await modem.last_error() == b"+QIGETERROR: 563,socket identity has been used"
    await modem.command("AT+QISEND=0,5,still")  # the first socket is untouched
    await peer.expect(b"still")


async def test_five_sockets(
    modem: MemoryLink, peer: MemoryTcpPeer, udp_peer: MemoryUdpPeer
) -> None:
    for connect_id in range(5):
        await open_udp(modem, udp_peer.port, connect_id)
    reply = await modem.command("AT+QISTATE?")
    assert reply.count(b"+QISTATE:") == 5
    assert (await modem.command('AT+QIOPEN=1,5,"UDP","127.0.0.1",9')).endswith(ERROR)


async def test_tcp_buffer_full_loses_nothing(modem: MemoryLink, peer: MemoryTcpPeer) -> None:
    await open_tcp(modem, peer.port)
    payload = bytes(range(256)) * 800  # 204800 bytes: far more than 20 nodes
    await peer.send(payload)
    await modem.expect(b'\r\n+QIURC: "recv",0\r\n')
    await modem.expect(b'\r\n+QIURC: "recv",0,"buff full"\r\n')
    received = bytearray()
    while len(received) < len(payload):
        await modem.write(b"AT+QIRD=0,512\r")
        await modem.read_until(b"AT+QIRD=0,512\r\r\n+QIRD: ")
        header = await modem.read_until(b"\r\n")
        count = int(header[:-2])
        if count:
            received += await modem.read_exactly(count)
            await modem.expect(b"\r\n\r\nOK\r\n")
        else:
            await modem.expect(b"\r\nOK\r\n")
            await modem.clock.advance(0.01)
        # URCs may arrive between commands: skip them.
        while modem.buffer.startswith(b"\r\n+QIURC"):
            await modem.read_until(b"\r\n+QIURC")
            await modem.read_until(b"\r\n")
    assert bytes(received) == payload


async def test_udp_beyond_twenty_nodes_is_dropped(
    modem: MemoryLink, udp_peer: MemoryUdpPeer
) -> None:
    await open_udp(modem, udp_peer.port)
    udp_peer.echo = False
    await modem.command("AT+QISEND=0,5,hello")
    await modem.expect(b"\r\nSEND OK\r\n")
    await udp_peer.next_datagram()
    for number in range(25):
        udp_peer.send(b"datagram %02d" % number)
    await modem.expect(b'\r\n+QIURC: "recv",0\r\n')
    await modem.expect(b'\r\n+QIURC: "recv",0,"buff full"\r\n')
    await modem.clock.advance(0.2)
    for number in range(20):  # datagram boundaries survive: one node each
        reply = await modem.command("AT+QIRD=0,512")
        assert reply == b"AT+QIRD=0,512\r\r\n+QIRD: 11\r\ndatagram %02d\r\n\r\nOK\r\n" % number
    assert (await modem.command("AT+QIRD=0,512")).endswith(b"+QIRD: 0\r\n" + OK)
    udp_peer.send(b"after")
    await modem.expect(b'\r\n+QIURC: "recv",0\r\n')


async def test_udp_datagram_larger_than_a_node_is_dropped_whole(
    modem: MemoryLink, udp_peer: MemoryUdpPeer, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 9: a 2000-byte datagram was kept as one node; a node holds 1460 bytes."""
    await open_udp(modem, udp_peer.port)
    udp_peer.echo = False
    await modem.command("AT+QISEND=0,5,hello")
    await modem.expect(b"\r\nSEND OK\r\n")
    await udp_peer.next_datagram()
    udp_peer.send(b"x" * 1461)
    udp_peer.send(b"y" * 1460)  # exactly a node: kept
    await modem.expect(b'\r\n+QIURC: "recv",0\r\n')
    reply = await modem.command("AT+QIRD=0,512")
    assert reply.startswith(b"AT+QIRD=0,512\r\r\n+QIRD: 512\r\nyyy")
    assert "UDP datagram of 1461 bytes dropped: larger than 1460 bytes" in caplog.text


async def test_udp_direct_push_over_1400_is_dropped(
    modem: MemoryLink, udp_peer: MemoryUdpPeer
) -> None:
    await open_udp(modem, udp_peer.port, mode=1)
    udp_peer.echo = False
    await modem.command("AT+QISEND=0,5,hello")
    await modem.expect(b"\r\nSEND OK\r\n")
    await udp_peer.next_datagram()
    udp_peer.send(b"x" * 1390)  # header + data > 1400 bytes: discarded (§2.4 note 5)
    udp_peer.send(b"y" * 1300)
    await modem.expect(b'\r\n+QIURC: "recv",0,1300\r\n' + b"y" * 1300 + b"\r\n")
    await modem.quiet()


async def test_direct_push_splits_tcp_into_1400_byte_urcs(
    modem: MemoryLink, peer: MemoryTcpPeer
) -> None:
    await open_tcp(modem, peer.port, mode=1)
    await modem.command('AT+QICFG="dataformat",0,1')
    await peer.send(b"\xab" * 1000)
    await modem.read_until(b"\r\n+QIURC: ")
    first = await modem.read_until(b"\r\n")
    assert len(b'+QIURC: "recv",0,') + len(first) - 2 + 2 <= 1400 + 2
    count = int(first.split(b",")[-1])
    assert count < 1000
    assert await modem.read_exactly(2 * count) == b"AB" * count


async def test_detach_closes_sockets(modem: MemoryLink, peer: MemoryTcpPeer) -> None:
    await open_tcp(modem, peer.port)
    assert await modem.command("AT+CFUN=0") == b"AT+CFUN=0\r" + OK
    await modem.expect(b'\r\n+QIURC: "closed",0\r\n')
    await peer.wait_closed()
    assert await modem.command("AT+QISEND=0,1,x") == b"AT+QISEND=0,1,x\r" + ERROR
    assert await modem.last_error() == b"+QIGETERROR: 570,pdp context broken down"
    await modem.command('AT+QIOPEN=1,1,"TCP","127.0.0.1",80')
    await modem.expect(b"\r\n+QIOPEN: 1,561\r\n")
    assert await modem.last_error() == b"+QIGETERROR: 561,open pdp context failed"


async def test_send_fail_when_the_stack_is_full(modem: MemoryLink, peer: MemoryTcpPeer) -> None:
    await open_tcp(modem, peer.port)
    peer.pause_reading()  # the peer stops reading: what the module sends stays unacknowledged
    chunk = "z" * 1024
    accepted = 0
    for _ in range(20000):
        reply = await modem.command(f"AT+QISEND=0,1024,{chunk}")
        tail = await modem.read_until(re.compile(rb"\r\nSEND (OK|FAIL)\r\n"))
        assert reply.endswith(OK)
        if b"SEND FAIL" in tail:
            break
        accepted += 1024
    else:
        pytest.fail("the module never answered SEND FAIL")
    assert await modem.last_error() == b"+QIGETERROR: 558,socket write failed"
    reply = await modem.command("AT+QISEND=0,0")
    sent, acked, unacked = map(int, reply.split(b"+QISEND: ")[1].split(b"\r")[0].split(b","))
    assert sent == accepted and acked + unacked == sent and unacked > 0
    peer.resume_reading()  # everything answered SEND OK arrives, nothing more
    assert await peer.wait_received(accepted) == b"z" * accepted


async def test_detach_while_connecting(impatient_modem: MemoryLink, silent_port: int) -> None:
    """The open fails with 570 and the late connection never revives the socket."""
    link = impatient_modem
    await link.command(f'AT+QIOPEN=1,0,"TCP","127.0.0.1",{silent_port}')
    await link.command("AT+CGATT=0")
    await link.expect(b"\r\n+QIOPEN: 0,570\r\n")
    await link.quiet(1.0)  # past the open timeout: no late +QIOPEN, no "closed"
    reply = await link.command("AT+QISTATE=1,0")
    assert f",{silent_port},0,0,1,0".encode() in reply


async def test_close_while_connecting_reports_nothing(modem: MemoryLink, silent_dns: str) -> None:
    await modem.command(f'AT+QIDNSCFG=1,"{silent_dns}"')
    await modem.command('AT+QIOPEN=1,0,"TCP","iot.bc66.test",80')  # the lookup hangs
    assert (await modem.command("AT+QICLOSE=0")).endswith(OK)
    await modem.expect(b"\r\nCLOSE OK\r\n")
    await modem.quiet(0.5)
