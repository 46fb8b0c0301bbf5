"""The emulator driven the way published host programs drive a BC66 (issue 8).

CR LF line ends, a command and its payload in one write, byte-at-a-time writes,
quoted integers, and parsing of the long ``+CEREG`` forms — over the in-process
modem, a real pty and the TCP transport.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

from support.links import FINAL, Link, ServeProcess
from support.peers import TcpPeer

OK = b"\r\nOK\r\n"


async def command_crlf(link: Link, line: str) -> bytes:
    """What a typical host does: the command and CR LF in one write."""
    await link.write(line.encode() + b"\r\n")
    return await link.read_until(FINAL)


async def open_tcp(link: Link, port: int, connect_id: int = 0) -> None:
    reply = await command_crlf(link, f'AT+QIOPEN=1,{connect_id},"TCP","127.0.0.1",{port},0,0')
    assert reply.endswith(OK)
    await link.expect(f"\r\n+QIOPEN: {connect_id},0\r\n".encode())


async def test_echo_of_cr_lf_comes_before_the_answer(any_link: Link) -> None:
    """``at+cgmm\\r\\n`` is echoed whole, then answered; nothing trails the OK."""
    await any_link.write(b"at+cgmm\r\n")
    await any_link.expect(b"at+cgmm\r\n\r\nQuectel_BC66\r\n\r\nOK\r\n")
    await any_link.write(b"AT\r\n")
    await any_link.expect(b"AT\r\n\r\nOK\r\n")  # no stray LF left from the line before
    await any_link.quiet(0.1)


async def test_fixed_length_payload_in_the_same_write(any_link: Link, peer: TcpPeer) -> None:
    """``AT+QISEND=0,5\\r\\nhello`` in one write sends ``hello``, not ``\\nhell``."""
    await any_link.write(b"ATE0\r\n")
    await any_link.read_until(FINAL)
    await open_tcp(any_link, peer.port)
    await any_link.write(b"AT+QISEND=0,5\r\nhello")
    reply = await any_link.read_until(b"SEND OK\r\n")
    assert reply == b"\r\n> hello\r\nOK\r\n\r\nSEND OK\r\n"  # echomode 1 echoes the data
    await peer.expect(b"hello")
    assert await command_crlf(any_link, "AT") == OK  # no byte of the payload was left over


async def test_variable_length_payload_in_the_same_write(any_link: Link) -> None:
    """An HTTP request after ``AT+QISEND=0\\r\\n`` reaches a real server intact."""
    with http_server() as (port, paths):
        await any_link.write(b"ATE0\r\n")
        await any_link.read_until(FINAL)
        await open_tcp(any_link, port)
        request = b"GET /hello HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n"
        await any_link.write(b"AT+QISEND=0\r\n" + request + b"\x1a")
        await any_link.read_until(b"SEND OK\r\n")
        await any_link.expect(b'\r\n+QIURC: "recv",0\r\n', timeout=5)
        reply = await command_crlf(any_link, "AT+QIRD=0,512")
    assert b"HTTP/1.0 200" in reply
    assert paths == ["/hello"]


async def test_byte_at_a_time_equals_one_write(any_link: Link, peer: TcpPeer) -> None:
    """A host writing one byte per call gets exactly what a host writing lines gets."""
    await open_tcp(any_link, peer.port)
    expected = b"ATI\r\n\r\nQuectel_Ltd\r\n\r\nQuectel_BC66\r\n\r\nRevision: BC66NBR01A10\r\n"
    for byte in b"ATI\r\n":
        await any_link.write(bytes([byte]))
    await any_link.expect(expected + OK)
    for byte in b"AT+QISEND=0,5\r\nhello":
        await any_link.write(bytes([byte]))
    await any_link.expect(b"AT+QISEND=0,5\r\n\r\n> hello\r\nOK\r\n\r\nSEND OK\r\n")
    await peer.expect(b"hello")
    for byte in b"AT+QISEND=0\r\nworld\x1a":
        await any_link.write(bytes([byte]))
    await any_link.expect(b"AT+QISEND=0\r\n\r\n> world\r\nOK\r\n\r\nSEND OK\r\n")
    await peer.expect(b"world")


async def test_quoted_integers(any_link: Link, peer: TcpPeer) -> None:
    """Real host code quotes numbers: ``AT+QIOPEN=1,0,"TCP","api.host","80",0,1``."""
    reply = await command_crlf(
        any_link, f'AT+QIOPEN="1","0","TCP","127.0.0.1","{peer.port}","0","0"'
    )
    assert reply.endswith(OK)
    await any_link.expect(b"\r\n+QIOPEN: 0,0\r\n")
    assert (await command_crlf(any_link, 'AT+CEREG="2"')).endswith(OK)
    assert b'+CEREG: 2,1,"1A2B"' in await command_crlf(any_link, "AT+CEREG?")
    assert (await command_crlf(any_link, 'AT+QISEND="0","2","hi"')).endswith(OK)
    await peer.expect(b"hi")


def cereg_fields(reply: bytes) -> list[str]:
    """The fields of the ``+CEREG:`` line, as a host program splits them."""
    line = next(text for text in reply.split(b"\r\n") if text.startswith(b"+CEREG:"))
    return line.decode()[len("+CEREG: ") :].split(",")


async def test_long_cereg_forms_carry_the_granted_psm_timers(any_link: Link) -> None:
    """A program sets PSM, asks ``AT+CEREG=5`` and indexes the 9th field (Periodic-TAU)."""
    await command_crlf(any_link, "ATE0")
    assert await command_crlf(any_link, 'AT+CPSMS=1,,,"00100011","00100010"') == OK
    assert await command_crlf(any_link, "AT+CEREG=5") == OK
    fields = cereg_fields(await command_crlf(any_link, "AT+CEREG?"))
    assert fields == ["5", "1", '"1A2B"', '"0C3D4E5F"', "9", "0", "0", '"00100010"', '"00100011"']
    assert int(fields[8].strip('"')[:3], 2) == 0b001  # T3412 unit: hours
    assert await command_crlf(any_link, "AT+CEREG=4") == OK
    fields = cereg_fields(await command_crlf(any_link, "AT+CEREG?"))
    assert fields == ["4", "1", '"1A2B"', '"0C3D4E5F"', "9", "", "", '"00100010"', '"00100011"']
    # A new request is granted and reported with <n> 4 and 5 (the URC drops <n>).
    assert await command_crlf(any_link, 'AT+CPSMS=1,,,"01000001","00000101"') == OK
    await any_link.expect(b'\r\n+CEREG: 1,"1A2B","0C3D4E5F",9,,,"00000101","01000001"\r\n')
    # Detached: no location, no timers; attached again: the timers are back.
    await command_crlf(any_link, "AT+CEREG=5")
    assert await command_crlf(any_link, "AT+CFUN=0") == OK
    await any_link.expect(b"\r\n+CEREG: 0,,,,0,0\r\n")
    assert cereg_fields(await command_crlf(any_link, "AT+CEREG?")) == [
        "5", "0", "", "", "", "0", "0"
    ]  # fmt: skip
    assert await command_crlf(any_link, "AT+CFUN=1") == OK
    await any_link.expect(
        b'\r\n+CEREG: 1,"1A2B","0C3D4E5F",9,0,0,"00000101","01000001"\r\n', timeout=5
    )


@contextlib.contextmanager
def http_server() -> Iterator[tuple[int, list[str]]]:
    """Python's http.server on loopback, in a thread; its port and the paths it served.

    It rejects a request line that starts with a stray LF: issue 8 was seen so.
    """
    paths: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            paths.append(self.path)
            body = b"hello from http.server"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1], paths
    finally:
        server.shutdown()
        server.server_close()


async def test_a_new_tcp_host_is_not_taken_for_the_last_one(tmp_path: Path, peer: TcpPeer) -> None:
    """Host 1 ends lines with CR alone; host 2, a new connection, writes CR LF byte by byte."""
    server = await ServeProcess("--tcp", "127.0.0.1:0", "--attach-delay", "0",
                                "--state-dir", str(tmp_path)).start()  # fmt: skip
    try:
        host, port = server.where.rsplit(":", 1)
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(b"AT\r")
        await asyncio.wait_for(reader.readuntil(b"OK\r\n"), 5)  # after the LF wait gave up
        writer.close()
        await asyncio.sleep(0.1)
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(f'ATE0\r\nAT+QIOPEN=1,0,"TCP","127.0.0.1",{peer.port}\r\n'.encode())
        await asyncio.wait_for(reader.readuntil(b"+QIOPEN: 0,0\r\n"), 5)
        for byte in b"AT+QISEND=0,5\r\nhello":
            writer.write(bytes([byte]))
            await writer.drain()
        await asyncio.wait_for(reader.readuntil(b"SEND OK\r\n"), 5)
        await peer.expect(b"hello")
        writer.close()
    finally:
        await server.stop()


async def test_a_paced_line_keeps_the_lf_with_its_line(tmp_path: Path, peer: TcpPeer) -> None:
    """At --baud 9600 the pacer hands bytes on 64 at a time, 67 ms apart: a CR at the end
    of a piece and its LF in the next still make one line end."""
    server = await ServeProcess("--tcp", "127.0.0.1:0", "--baud", "9600", "--attach-delay", "0",
                                "--state-dir", str(tmp_path)).start()  # fmt: skip
    try:
        host, port = server.where.rsplit(":", 1)
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(f'ATE0\r\nAT+QIOPEN=1,0,"TCP","127.0.0.1",{peer.port}\r\n'.encode())
        await asyncio.wait_for(reader.readuntil(b"+QIOPEN: 0,0\r\n"), 10)
        line = b"AT+QISEND=0,63".ljust(63) + b"\r"  # the CR is the 64th byte: a piece's end
        payload = bytes(range(48, 48 + 62)) + b"!"
        writer.write(line + b"\n" + payload)
        await asyncio.wait_for(reader.readuntil(b"SEND OK\r\n"), 10)
        await peer.expect(payload)
        writer.write(b"AT\r\n")
        assert (
            await asyncio.wait_for(
                reader.readuntil(
                    b"\r\n",
                ),
                5,
            )
            == b"\r\n"
        )
        assert await asyncio.wait_for(reader.readuntil(b"\r\n"), 5) == b"OK\r\n"
        writer.close()
    finally:
        await server.stop()
