"""The host driver against the emulator, over a real pty and TCP, with real servers."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import http.client
import http.server
import os
import re
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import paho.mqtt.client as paho
import pytest

from bc66sim.client import (
    BC66,
    AsyncBC66,
    BC66Timeout,
    CommandError,
    ConnectionLost,
    ModuleRebooted,
    NetworkLost,
    SocketClosed,
)
from support.links import ServeProcess
from support.peers import TcpPeer, UdpPeer
from support.servers import unused_port


@pytest.fixture(params=["tcp", "pty"])
async def emulator(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ServeProcess]:
    """``bc66sim serve`` in a child process; ``.url`` is what the driver opens."""
    if request.param == "tcp":
        server = ServeProcess("--tcp", "127.0.0.1:0", "--attach-delay", "0.1",
                              "--state-dir", str(tmp_path))  # fmt: skip
        await server.start()
        server.url = f"socket://{server.where}"  # type: ignore[attr-defined]
    else:
        path = tmp_path / "ttyBC66"
        server = ServeProcess("--pty", str(path), "--attach-delay", "0.1",
                              "--state-dir", str(tmp_path))  # fmt: skip
        await server.start()
        server.url = str(path)  # type: ignore[attr-defined]
    yield server
    await server.stop()


@pytest.fixture
async def echo_peer() -> AsyncIterator[TcpPeer]:
    peer = await TcpPeer(echo=True).start()
    yield peer
    await peer.stop()


async def open_modem(emulator: ServeProcess, **options: object) -> AsyncBC66:
    modem = await AsyncBC66.open(emulator.url, **options)  # type: ignore[attr-defined]
    await modem.wait_ready(10)
    return modem


async def echo_through(modem: AsyncBC66, port: int, payload: bytes, *, push: bool) -> bytes:
    sock = await modem.connect("TCP", "127.0.0.1", port, push=push)
    sender = asyncio.create_task(sock.sendall(payload, timeout=30))
    got = bytearray()
    while len(got) < len(payload):
        got += await sock.recv(65536, timeout=15)
    await sender
    await sock.close()
    return bytes(got)


@pytest.mark.parametrize(
    ("push", "hex_send", "hex_recv", "view_mode"),
    [
        (False, False, False, 0),
        (True, False, False, 0),
        (False, True, True, 1),
        (True, True, True, 1),
        (False, False, True, 1),
        (True, True, False, 0),
    ],
)
async def test_tcp_echo_of_a_mebibyte(
    emulator: ServeProcess,
    echo_peer: TcpPeer,
    push: bool,
    hex_send: bool,
    hex_recv: bool,
    view_mode: int,
) -> None:
    """Every byte value 0-255 survives, in text and hex, both view modes, both access modes."""
    modem = await open_modem(emulator, hex_send=hex_send, hex_recv=hex_recv, view_mode=view_mode)
    payload = os.urandom(1024 * 1024 if not (hex_send or hex_recv) else 256 * 1024)
    got = await echo_through(modem, echo_peer.port, payload, push=push)
    assert hashlib.sha256(got).digest() == hashlib.sha256(payload).digest()
    await modem.close()


@pytest.mark.parametrize("push", [False, True])
async def test_udp_keeps_datagram_boundaries(emulator: ServeProcess, push: bool) -> None:
    peer = await UdpPeer(echo=True).start()
    modem = await open_modem(emulator)
    try:
        sock = await modem.connect("UDP", "127.0.0.1", peer.port, push=push)
        sizes = [1, 100, 512, 513, 1000] if not push else [1, 100, 512, 513, 1300]
        for size in sizes:
            datagram = os.urandom(size)
            await sock.sendall(datagram)
            assert await sock.recv(4096, timeout=5) == datagram
        await sock.close()
    finally:
        await modem.close()
        await peer.stop()


async def test_five_sockets_at_once(emulator: ServeProcess, echo_peer: TcpPeer) -> None:
    modem = await open_modem(emulator)
    socks = [await modem.connect("TCP", "127.0.0.1", echo_peer.port) for _ in range(5)]
    with pytest.raises(Exception, match="all five sockets are in use"):
        await modem.connect("TCP", "127.0.0.1", echo_peer.port)
    for index, sock in enumerate(socks):
        await sock.sendall(b"socket %d" % index)
    for index, sock in enumerate(socks):
        assert await sock.recv(100, timeout=5) == b"socket %d" % index
        await sock.close()
    await modem.close()


async def test_errors_carry_the_module_code(emulator: ServeProcess) -> None:
    modem = await open_modem(emulator)
    with pytest.raises(CommandError) as caught:
        await modem.command("AT+QIRD=3,10")
    assert caught.value.code == 572
    with pytest.raises(CommandError) as caught:
        await modem.command("AT+CFUN=9")
    assert caught.value.code == 50
    closed_port = unused_port()
    with pytest.raises(CommandError) as caught:
        await modem.connect("TCP", "127.0.0.1", closed_port)
    assert caught.value.code == 566
    assert await modem.command("AT+QISTATE?") == []  # the failed socket was closed
    await modem.close()


async def test_recv_timeout_raises(emulator: ServeProcess, echo_peer: TcpPeer) -> None:
    modem = await open_modem(emulator)
    sock = await modem.connect("TCP", "127.0.0.1", echo_peer.port)
    with pytest.raises(BC66Timeout):
        await sock.recv(10, timeout=0.3)
    await sock.sendall(b"still fine")
    assert await sock.recv(100, timeout=5) == b"still fine"
    await modem.close()


async def test_peer_reset_mid_transfer(emulator: ServeProcess) -> None:
    peer = await TcpPeer().start()
    modem = await open_modem(emulator)
    sock = await modem.connect("TCP", "127.0.0.1", peer.port)
    await peer.send(b"partial")
    await peer.reset_connection()
    assert await sock.recv(100, timeout=5) == b"partial"  # what came first is kept
    assert await sock.recv(100, timeout=5) == b""  # then end of stream
    with pytest.raises(SocketClosed) as caught:
        await sock.sendall(b"more", timeout=5)
    assert caught.value.code == 567
    await modem.close()
    await peer.stop()


async def test_emulator_killed_mid_transfer(emulator: ServeProcess, echo_peer: TcpPeer) -> None:
    modem = await open_modem(emulator)
    sock = await modem.connect("TCP", "127.0.0.1", echo_peer.port)
    assert emulator.process is not None
    receiver = asyncio.create_task(sock.recv(10, timeout=30))
    await asyncio.sleep(0.2)
    emulator.process.kill()
    started = asyncio.get_running_loop().time()
    with pytest.raises(ConnectionLost):
        await receiver
    assert asyncio.get_running_loop().time() - started < 10
    with pytest.raises(ConnectionLost):
        await modem.command("AT", timeout=1)
    await modem.close()


async def test_module_reboot_is_reported(emulator: ServeProcess, echo_peer: TcpPeer) -> None:
    modem = await open_modem(emulator)
    sock = await modem.connect("TCP", "127.0.0.1", echo_peer.port)
    receiver = asyncio.create_task(sock.recv(10, timeout=30))
    await asyncio.sleep(0.1)
    with contextlib.suppress(ModuleRebooted):
        await modem.command("AT+QRST=1")
    with pytest.raises(ModuleRebooted):
        await receiver
    await modem.wait_ready(10)  # the driver set the module up again
    again = await modem.connect("TCP", "127.0.0.1", echo_peer.port)
    await again.sendall(b"after reboot")
    assert await again.recv(100, timeout=5) == b"after reboot"
    await modem.close()


async def test_detach_is_reported(emulator: ServeProcess, echo_peer: TcpPeer) -> None:
    modem = await open_modem(emulator)
    sock = await modem.connect("TCP", "127.0.0.1", echo_peer.port)
    receiver = asyncio.create_task(sock.recv(10, timeout=30))
    await asyncio.sleep(0.1)
    await modem.command("AT+CGATT=0")
    with pytest.raises(NetworkLost):
        await receiver
    assert not modem.attached
    await modem.close()


async def test_network_services(emulator: ServeProcess, dns_server: str, ntp_server: int) -> None:
    modem = await open_modem(emulator)
    await modem.command(f'AT+QIDNSCFG=1,"{dns_server}"')
    assert sorted(await modem.resolve("multi.bc66.test")) == ["127.0.0.11", "127.0.0.12"]
    with pytest.raises(CommandError) as caught:
        await modem.resolve("nope.bc66.test")
    assert caught.value.code == 565
    # What was done, where, and what the code means (issue 16 §4).
    # ... and how long the module tried: a refusal is quick, a silent server is not.
    assert re.fullmatch(
        rf"DNS lookup of nope\.bc66\.test via {re.escape(dns_server)} failed after \d+\.\d s"
        r" \(error 565: dns parse failed\)",
        str(caught.value),
    ), str(caught.value)
    result = await modem.ping("iot.bc66.test", count=2, timeout=2)
    assert (result.sent, result.received, result.lost) == (2, 2, 0)
    assert all(reply is not None and reply.ttl == 64 for reply in result.replies)
    when = await modem.ntp_time("ntp.bc66.test")
    assert abs((when - __import__("datetime").datetime.now(when.tzinfo)).total_seconds()) < 5
    await modem.close()


class _Files(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def http_server(tmp_path: Path) -> Iterator[tuple[int, bytes]]:
    """A real HTTP server (http.server) on loopback serving one random file."""
    body = os.urandom(200_000)
    (tmp_path / "blob.bin").write_bytes(body)
    handler = lambda *a: _Files(*a, directory=str(tmp_path))  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], body
    server.shutdown()
    server.server_close()


def test_http_client_over_a_bc66_socket(
    emulator: ServeProcess, http_server: tuple[int, bytes]
) -> None:
    port, body = http_server
    with BC66.open(emulator.url) as modem:  # type: ignore[attr-defined]
        modem.wait_ready(timeout=10)
        with modem.connect("TCP", "127.0.0.1", port) as sock:
            connection = http.client.HTTPConnection("127.0.0.1", port)
            connection.sock = sock  # type: ignore[assignment]
            connection.request("GET", "/blob.bin")
            response = connection.getresponse()
            assert response.status == 200
            assert response.read() == body


def test_mqtt_through_a_bc66_socket(emulator: ServeProcess, mqtt_broker: int) -> None:
    """paho-mqtt, a maintained MQTT library, over the driver's socket to mosquitto."""
    with BC66.open(emulator.url) as modem:  # type: ignore[attr-defined]
        modem.wait_ready(timeout=10)
        sock = modem.connect("TCP", "127.0.0.1", mqtt_broker)
        sock.settimeout(0.05)

        class OverBC66(paho.Client):
            def _create_socket_connection(self) -> object:
                return _NonBlocking(sock)

        received: list[bytes] = []
        client = OverBC66(paho.CallbackAPIVersion.VERSION2, client_id="bc66sim-test")
        client.on_message = lambda c, u, message: received.append(message.payload)
        client.connect("127.0.0.1", mqtt_broker, keepalive=30)
        payload = bytes(range(256)) * 4

        def pump(until: object, seconds: float = 10) -> None:
            deadline = __import__("time").monotonic() + seconds
            while not until():  # type: ignore[operator]
                assert __import__("time").monotonic() < deadline, "MQTT exchange timed out"
                client.loop_write()
                client.loop_read()
                client.loop_misc()

        pump(client.is_connected)
        client.subscribe("bc66sim/test", qos=1)
        client.publish("bc66sim/test", payload, qos=1)
        pump(lambda: received)
        assert received == [payload]
        client.disconnect()
        client.loop_write()
        sock.close()


class _NonBlocking:
    """The driver socket as paho's non-blocking SocketLike: no data is BlockingIOError."""

    def __init__(self, sock: object) -> None:
        self._sock = sock

    def recv(self, size: int) -> bytes:
        try:
            return self._sock.recv(size)  # type: ignore[attr-defined, no-any-return]
        except BC66Timeout:
            raise BlockingIOError from None

    def send(self, data: bytes) -> int:
        return self._sock.send(data)  # type: ignore[attr-defined, no-any-return]

    def close(self) -> None:
        pass

    def fileno(self) -> int:
        return -1

    def setblocking(self, flag: bool) -> None:
        pass


async def test_a_cancelled_send_leaves_no_half_exchange(tmp_path: Path, peer: TcpPeer) -> None:
    """Found by a code review: cancelling a send after the prompt sent the next commands
    to the peer as data.  An exchange with the module now always runs to its end.

    At 9600 baud a 1460-byte chunk takes 1.5 s on the line: the cancel lands inside it.
    """
    server = await ServeProcess("--tcp", "127.0.0.1:0", "--baud", "9600", "--attach-delay",
                                "0", "--state-dir", str(tmp_path)).start()  # fmt: skip
    try:
        modem = await AsyncBC66.open(f"socket://{server.where}", timeout=10)
        await modem.wait_ready(10)
        sock = await modem.connect("TCP", "127.0.0.1", peer.port)
        sending = asyncio.create_task(sock.sendall(b"x" * 3000, timeout=30))
        await asyncio.sleep(0.5)
        sending.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sending
        assert "+CGATT: 1" in await modem.command("AT+CGATT?", timeout=10)
        await asyncio.sleep(0.2)
        assert b"AT" not in peer.received and set(peer.received) <= {ord("x")}
        await modem.close()
    finally:
        await server.stop()
