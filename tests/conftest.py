"""Shared fixtures: real loopback peers and links to the emulator over every transport."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from support.links import InProcessLink, Link, MemoryLink, ModemFactory, PtyLink, TcpLink
from support.peers import TcpPeer, UdpPeer
from support.servers import DNS_V4, SILENT_DNS, Chrony, Dnsmasq, Mosquitto, SilentDns

pytest_plugins = ["pytester"]

LINKS = {"inprocess": InProcessLink, "pty": PtyLink, "tcp": TcpLink}


@pytest.fixture
async def peer() -> AsyncIterator[TcpPeer]:
    server = await TcpPeer().start()
    yield server
    await server.stop()


@pytest.fixture
async def udp_peer() -> AsyncIterator[UdpPeer]:
    server = await UdpPeer().start()
    yield server
    await server.stop()


async def open_link(kind: str, state_dir: Path) -> Link:
    link = await LINKS[kind](state_dir).start()  # type: ignore[abstract]
    await link.sync()
    return link


async def _factory(kind: type[InProcessLink], state_dir: Path) -> AsyncIterator[ModemFactory]:
    """Attached modules of ``kind`` with ModemConfig overrides, closed after the test."""
    links: list[InProcessLink] = []

    async def make(**config: object) -> InProcessLink:
        link = kind(state_dir, **config)
        links.append(link)
        await link.start()
        await link.sync()
        return link

    yield make
    for link in links:
        await link.close()


@pytest.fixture
async def modem_factory(tmp_path: Path) -> AsyncIterator[ModemFactory]:
    """Attached emulated modules in the test's own loop, on the real network.

    Each keeps its NVRAM in ``tmp_path``; all are closed after the test.
    """
    async for make in _factory(InProcessLink, tmp_path):
        yield make


@pytest.fixture
async def memory_factory(tmp_path: Path) -> AsyncIterator[ModemFactory]:
    """Attached modules on MemoryNetwork + ManualClock: module behaviour in module time.

    Each keeps its NVRAM in ``tmp_path``; all are closed after the test.
    """
    async for make in _factory(MemoryLink, tmp_path):
        yield make


@pytest.fixture
async def memory_modem(memory_factory: ModemFactory) -> MemoryLink:
    """An attached module on MemoryNetwork + ManualClock, default configuration."""
    link = await memory_factory()
    assert isinstance(link, MemoryLink)
    return link


@pytest.fixture
async def modem(modem_factory: ModemFactory) -> InProcessLink:
    """An attached emulated module with the default configuration."""
    return await modem_factory()


@pytest.fixture(params=sorted(LINKS))
async def any_link(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Link]:
    """The same test over the in-process modem, a real pty and a TCP port."""
    link = await open_link(request.param, tmp_path)
    yield link
    await link.close()


@pytest.fixture(scope="session")
def dns_server() -> Iterator[str]:
    """A real DNS server (dnsmasq) for the test zone; its IPv4 address."""
    server = Dnsmasq().start()
    yield DNS_V4
    server.stop()


@pytest.fixture(scope="session")
def silent_dns() -> Iterator[str]:
    server = SilentDns().start()
    yield SILENT_DNS
    server.stop()


@pytest.fixture(scope="session")
def ntp_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """chronyd serving time on 127.0.0.1:123 (the default port of AT+QNTP); its port."""
    server = Chrony(tmp_path_factory.mktemp("chrony"), 123).start()
    yield server.port
    server.stop()


@pytest.fixture(scope="session")
def mqtt_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """mosquitto on loopback; its port."""
    broker = Mosquitto(tmp_path_factory.mktemp("mosquitto")).start()
    yield broker.port
    broker.stop()
