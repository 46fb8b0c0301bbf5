"""TLS sockets of the SSL note (``AT+QSSLOPEN``/``QSSLSEND``/``QSSLCLOSE``) against a
real TLS echo server on loopback, with the test CA's certificates checked by OpenSSL."""

from __future__ import annotations

import asyncio
import contextlib
import re
import ssl
from collections.abc import AsyncIterator

import pytest

from support.links import InProcessLink
from support.pki import Pki
from support.servers import unused_port
from test_mqtt import CTRL_Z, ERROR, OK, after_prompt, answer, ok_then, upload


class TlsEcho:
    """A TLS server on loopback that echoes; ``mutual`` asks for a client certificate."""

    def __init__(self, pki: Pki, *, mutual: bool = False) -> None:
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.context.load_cert_chain(pki.server_cert, pki.server_key)
        if mutual:
            self.context.load_verify_locations(pki.ca)
            self.context.verify_mode = ssl.CERT_REQUIRED
        self.port = 0
        self.writers: list[asyncio.StreamWriter] = []

    async def start(self) -> TlsEcho:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.context)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.append(writer)
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, ssl.SSLError, asyncio.CancelledError):
            pass  # the client went, or the test ended
        finally:
            writer.close()

    async def stop(self) -> None:
        for writer in self.writers:
            writer.close()
        self.server.close()


async def send(link: InProcessLink, command: str, data: bytes) -> None:
    """Data mode up to Ctrl+Z; the module echoes the data (as AT+QISEND's, "echomode")."""
    await after_prompt(link, command, data)
    await link.expect(data)


@pytest.fixture
async def echo(pki: Pki) -> AsyncIterator[TlsEcho]:
    server = await TlsEcho(pki).start()
    yield server
    await server.stop()


async def test_open_send_receive_close(modem: InProcessLink, echo: TlsEcho, pki: Pki) -> None:
    """The server's certificate checked against the CA; what is sent comes back as
    ``+QSSLURC: "recv"``, every byte of it."""
    assert await answer(modem, 'AT+QSSLCFG=1,2,"seclevel",1') == OK
    await upload(modem, "1,2", "cacert", pki.ca.read_bytes())
    await ok_then(modem, f'AT+QSSLOPEN=1,2,"127.0.0.1",{echo.port},0', b"+QSSLOPEN: 1,2,0")
    await send(modem, "AT+QSSLSEND=1,2", b"hello, TLS")
    assert await modem.urcs(3) == [
        b"OK",
        b"+QSSLSEND: 1,2,0",
        b'+QSSLURC: "recv",1,2,10,"hello, TLS"',
    ]
    # The fixed-length form takes any bytes, Ctrl+Z among them.
    await modem.write(b"AT+QSSLSEND=1,2,4\r")
    await modem.expect(b"AT+QSSLSEND=1,2,4\r\r\n> ")
    await modem.write(b"a\x1ab\r")
    await modem.expect(b"a\x1ab\r")
    assert await modem.urcs(2) == [b"OK", b"+QSSLSEND: 1,2,0"]
    assert await modem.read_exactly(len(b'\r\n+QSSLURC: "recv",1,2,4,"a\x1ab\r"\r\n')) == (
        b'\r\n+QSSLURC: "recv",1,2,4,"a\x1ab\r"\r\n'
    )
    await ok_then(modem, "AT+QSSLCLOSE=1,2", b"+QSSLCLOSE: 1,2,0")
    assert await answer(modem, "AT+QSSLSEND=1,2") == ERROR  # closed


async def test_hex_both_ways(modem: InProcessLink, echo: TlsEcho) -> None:
    assert await answer(modem, 'AT+QSSLCFG=1,0,"dataformat",1,1') == OK
    await ok_then(modem, f'AT+QSSLOPEN=1,0,"127.0.0.1",{echo.port}', b"+QSSLOPEN: 1,0,0")
    await send(modem, "AT+QSSLSEND=1,0", b"00FF0D0A22")
    assert await modem.urcs(3) == [
        b"OK",
        b"+QSSLSEND: 1,0,0",
        b'+QSSLURC: "recv",1,0,5,"00FF0D0A22"',
    ]
    await ok_then(modem, "AT+QSSLCLOSE=1,0", b"+QSSLCLOSE: 1,0,0")


async def test_a_certificate_of_another_ca_is_refused(
    modem: InProcessLink, echo: TlsEcho, pki: Pki
) -> None:
    assert await answer(modem, 'AT+QSSLCFG=1,0,"seclevel",1') == OK
    await upload(modem, "1,0", "cacert", pki.other_ca.read_bytes())
    await ok_then(modem, f'AT+QSSLOPEN=1,0,"127.0.0.1",{echo.port}', b"+QSSLOPEN: 1,0,3")
    # The pair is free again, and with seclevel 1 but no CA it cannot check anything.
    assert await answer(modem, 'AT+QSSLCFG=1,1,"seclevel",1') == OK
    await ok_then(modem, f'AT+QSSLOPEN=1,1,"127.0.0.1",{echo.port}', b"+QSSLOPEN: 1,1,3")


async def test_client_certificates(modem: InProcessLink, pki: Pki) -> None:
    server = await TlsEcho(pki, mutual=True).start()
    try:
        await ok_then(modem, f'AT+QSSLOPEN=1,0,"127.0.0.1",{server.port}', b"+QSSLOPEN: 1,0,2")
        assert await answer(modem, 'AT+QSSLCFG=1,0,"seclevel",2') == OK
        await upload(modem, "1,0", "cacert", pki.ca.read_bytes())
        await ok_then(modem, f'AT+QSSLOPEN=1,0,"127.0.0.1",{server.port}', b"+QSSLOPEN: 1,0,4")
        await upload(modem, "1,0", "clientcert", pki.client_cert.read_bytes())
        await upload(modem, "1,0", "clientkey", pki.client_key.read_bytes())
        await ok_then(modem, f'AT+QSSLOPEN=1,0,"127.0.0.1",{server.port}', b"+QSSLOPEN: 1,0,0")
        await send(modem, "AT+QSSLSEND=1,0", b"mutual")
        assert (await modem.urcs(3))[2] == b'+QSSLURC: "recv",1,0,6,"mutual"'
    finally:
        await server.stop()


async def test_the_server_closes(modem: InProcessLink, echo: TlsEcho) -> None:
    await ok_then(modem, f'AT+QSSLOPEN=1,0,"127.0.0.1",{echo.port}', b"+QSSLOPEN: 1,0,0")
    await send(modem, "AT+QSSLSEND=1,0", b"ping")  # the server has the connection
    assert (await modem.urcs(3))[2] == b'+QSSLURC: "recv",1,0,4,"ping"'
    await echo.stop()
    assert await modem.urcs(1) == [b'+QSSLURC: "closed",1,0']
    await ok_then(modem, "AT+QSSLCLOSE=1,0", b"+QSSLCLOSE: 1,0,6")  # nothing to close


async def test_errors(modem: InProcessLink, echo: TlsEcho) -> None:
    await ok_then(modem, f'AT+QSSLOPEN=1,0,"127.0.0.1",{unused_port()}', b"+QSSLOPEN: 1,0,2")
    for bad in (
        f'AT+QSSLOPEN=4,0,"127.0.0.1",{echo.port}',  # contextID 0-3
        f'AT+QSSLOPEN=1,6,"127.0.0.1",{echo.port}',  # connectID 0-5
        'AT+QSSLOPEN=1,0,"127.0.0.1",0',
        f'AT+QSSLOPEN=1,0,"127.0.0.1",{echo.port},1',  # transparent mode: not on BC66
        'AT+QSSLOPEN=1,0,"",443',
        "AT+QSSLSEND=1,0",  # not open
        "AT+QSSLSEND=1,0,1461",
    ):
        assert await answer(modem, bad) == ERROR, bad
    await ok_then(modem, f'AT+QSSLOPEN=1,0,"127.0.0.1",{echo.port}', b"+QSSLOPEN: 1,0,0")
    await ok_then(modem, f'AT+QSSLOPEN=1,0,"127.0.0.1",{echo.port}', b"+QSSLOPEN: 1,0,6")
    assert await answer(modem, "AT+QSSLSEND=1,0,1461") == ERROR
    await modem.write(b"AT+QSSLSEND=1,0\r")
    await modem.expect(b"AT+QSSLSEND=1,0\r\r\n> ")
    await modem.write(b"never sent\x1b")  # Esc cancels
    await modem.expect(b"never sent")
    assert await modem.urcs(1) == [b"ERROR"]  # as AT+QISEND's cancel
    await send(modem, "AT+QSSLSEND=1,0", b"sent")
    assert (await modem.urcs(3))[2] == b'+QSSLURC: "recv",1,0,4,"sent"'  # only this
    await ok_then(modem, "AT+QSSLCLOSE=1,0", b"+QSSLCLOSE: 1,0,0")


async def test_a_host_in_data_mode_holds_the_server_back(modem: InProcessLink, pki: Pki) -> None:
    """While the host types data, the module's URC queue fills; at its bound the
    module stops reading the server (TCP's window closes) instead of queueing more,
    and afterwards every byte arrives, in order."""
    talk = b"".join(b"%07d;" % n for n in range(40_000))  # 320,000 bytes, no CR or LF

    async def talker(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(talk)
        await writer.drain()
        with contextlib.suppress(asyncio.CancelledError, ConnectionError):
            await reader.read()  # until the module closes
        writer.close()

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(pki.server_cert, pki.server_key)
    server = await asyncio.start_server(talker, "127.0.0.1", 0, ssl=context)
    port = server.sockets[0].getsockname()[1]
    try:
        await modem.write(f'AT+QSSLOPEN=1,0,"127.0.0.1",{port}\r'.encode())
        await modem.read_until(b"+QSSLOPEN: 1,0,0\r\n")
        await modem.write(b"AT+QSSLSEND=1,0\r")  # data mode: URCs wait meanwhile
        await modem.read_until(b"\r\n> ")
        sock = modem.modem.mqtt.ssl_sockets.sockets[1, 0]
        deadline = asyncio.get_running_loop().time() + 10
        while not sock.reception.paused:
            assert asyncio.get_running_loop().time() < deadline, "the module kept reading"
            await asyncio.sleep(0.01)
        assert modem.modem.output_blocked
        await modem.write(b"x" + CTRL_Z)
        await modem.expect(b"x" + OK)
        got = bytearray()
        # The held URCs come first, +QSSLSEND among them at its place in the queue.
        pattern = re.compile(
            rb'\r\n(?:\+QSSLURC: "recv",1,0,(\d+),"([^\r]*)"|\+QSSLSEND: 1,0,0)\r\n'
        )
        while len(got) < len(talk):
            match = pattern.fullmatch(await modem.expect_match(pattern, timeout=10))
            assert match is not None
            length, data = match.groups()
            if data is not None:
                assert int(length) == len(data)
                got += data
        assert got == talk
    finally:
        server.close()
