"""Shared fixtures: links to the emulator over every transport, and the world behind it.

``modem``, ``modem_factory``, ``peer``, ``udp_peer``, ``dns_server``, ``silent_dns``
and ``ntp_server`` live in one of two worlds (the ``world`` fixture):

- ``memory``: MemoryNetwork + ManualClock, no sockets, no sleeps — module behaviour;
  a test file says so with ``pytestmark = pytest.mark.memory``;
- ``host``: HostNetwork, real sockets and real servers on loopback — end to end.

A behaviour both must show alike is written once and run in both:
``@BOTH_WORLDS`` (tests/support/worlds.py).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bc66sim.clock import ManualClock
from bc66sim.net.memory import MemoryNetwork
from support.links import InProcessLink, Link, MemoryLink, ModemFactory, PtyLink, TcpLink
from support.memory_peers import MemoryTcpPeer, MemoryUdpPeer, manual_clock
from support.peers import TcpPeer, UdpPeer
from support.pki import Pki, make_pki
from support.servers import (
    DNS_V4,
    DNS_V6,
    SILENT_DNS,
    ZONE,
    Chrony,
    Dnsmasq,
    Mosquitto,
    MqttBrokers,
    SilentDns,
)

pytest_plugins = ["pytester"]

LINKS = {"inprocess": InProcessLink, "pty": PtyLink, "tcp": TcpLink}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "memory: the file's module tests run on MemoryNetwork + ManualClock"
    )


@pytest.fixture
def world(request: pytest.FixtureRequest) -> str:
    """``memory`` or ``host``: a test's parameter, else its file's ``memory`` mark."""
    if hasattr(request, "param"):
        return str(request.param)
    return "memory" if request.node.get_closest_marker("memory") else "host"


def _in(world: str, request: pytest.FixtureRequest, name: str) -> Any:
    """The fixture ``<world>_<name>``: where the world-neutral fixtures come from."""
    return request.getfixturevalue(f"{world}_{name}")


@pytest.fixture
def modem_factory(world: str, request: pytest.FixtureRequest) -> ModemFactory:
    """Attached modules of the test's world, with ModemConfig overrides."""
    factory: ModemFactory = _in(world, request, "factory")
    return factory


@pytest.fixture
def peer(world: str, request: pytest.FixtureRequest) -> TcpPeer | MemoryTcpPeer:
    """A TCP server of the test's world (the same API in both)."""
    return _in(world, request, "peer")


@pytest.fixture
def udp_peer(world: str, request: pytest.FixtureRequest) -> UdpPeer | MemoryUdpPeer:
    """A UDP echo server of the test's world."""
    return _in(world, request, "udp_peer")


@pytest.fixture
def dns_server(world: str, request: pytest.FixtureRequest) -> str:
    """A DNS server for the test zone in the test's world; its IPv4 address."""
    return str(_in(world, request, "dns_server"))


@pytest.fixture
def silent_dns(world: str, request: pytest.FixtureRequest) -> str:
    """A DNS server that never answers, in the test's world; its address."""
    return str(_in(world, request, "silent_dns"))


@pytest.fixture
def ntp_server(world: str, request: pytest.FixtureRequest) -> int:
    """An NTP server on 127.0.0.1 in the test's world; its port."""
    return int(_in(world, request, "ntp_server"))


@pytest.fixture
async def host_peer() -> AsyncIterator[TcpPeer]:
    server = await TcpPeer().start()
    yield server
    await server.stop()


@pytest.fixture
async def host_udp_peer() -> AsyncIterator[UdpPeer]:
    server = await UdpPeer().start()
    yield server
    await server.stop()


async def open_link(kind: str, state_dir: Path) -> Link:
    link = await LINKS[kind](state_dir).start()  # type: ignore[abstract]
    await link.sync()
    return link


async def _factory(
    kind: Callable[..., InProcessLink], state_dir: Path
) -> AsyncIterator[ModemFactory]:
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
async def host_factory(tmp_path: Path) -> AsyncIterator[ModemFactory]:
    """Attached emulated modules in the test's own loop, on the real network.

    Each keeps its NVRAM in ``tmp_path``; all are closed after the test.
    """
    async for make in _factory(InProcessLink, tmp_path):
        yield make


@pytest.fixture
def memory_network() -> MemoryNetwork:
    """The test's in-memory world on its own ManualClock: its modules and peers are on it."""
    return MemoryNetwork(ManualClock())


@pytest.fixture
async def memory_factory(
    tmp_path: Path, memory_network: MemoryNetwork
) -> AsyncIterator[ModemFactory]:
    """Attached modules on MemoryNetwork + ManualClock: module behaviour in module time.

    All are on the test's ``memory_network``; each keeps its NVRAM in ``tmp_path``;
    all are closed after the test.
    """

    def on_network(state_dir: Path, **config: object) -> MemoryLink:
        return MemoryLink(state_dir, network=memory_network, **config)

    async for make in _factory(on_network, tmp_path):
        yield make


@pytest.fixture
async def memory_modem(memory_factory: ModemFactory) -> MemoryLink:
    """An attached module on MemoryNetwork + ManualClock, default configuration."""
    link = await memory_factory()
    assert isinstance(link, MemoryLink)
    return link


@pytest.fixture
def memory_peer(memory_network: MemoryNetwork) -> MemoryTcpPeer:
    """A TCP server at 127.0.0.1:47001 of the memory network (the API of ``peer``)."""
    return MemoryTcpPeer(memory_network)


@pytest.fixture
def memory_udp_peer(memory_network: MemoryNetwork) -> MemoryUdpPeer:
    """A UDP echo server at 127.0.0.1:47002 of the memory network (the API of ``udp_peer``)."""
    return MemoryUdpPeer(memory_network)


@pytest.fixture
def memory_dns_server(memory_network: MemoryNetwork) -> str:
    """The test zone served at the ``dns_server`` addresses (IPv4 and IPv6) of the
    memory network, as dnsmasq serves it; its IPv4 address.  Other servers never answer."""
    memory_network.dns_servers |= {DNS_V4, DNS_V6}
    for name, address, ttl in ZONE:
        addresses, _ = memory_network.zone.setdefault(name, ([], ttl))
        addresses.append(address)
    return DNS_V4


@pytest.fixture
def memory_silent_dns() -> str:
    return SILENT_DNS  # on the memory network, a server not set up never answers


@pytest.fixture
def memory_ntp_server(memory_network: MemoryNetwork) -> int:
    """An NTP server on 127.0.0.1:123 (the default port of AT+QNTP) serving the host's
    time on the memory network; its port."""
    offset = dt.datetime.now(dt.UTC) - manual_clock(memory_network).utc()
    memory_network.ntp_servers[("127.0.0.1", 123)] = offset
    return 123


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
def host_dns_server() -> Iterator[str]:
    """A real DNS server (dnsmasq) for the test zone; its IPv4 address."""
    server = Dnsmasq().start()
    yield DNS_V4
    server.stop()


@pytest.fixture(scope="session")
def host_silent_dns() -> Iterator[str]:
    server = SilentDns().start()
    yield SILENT_DNS
    server.stop()


@pytest.fixture(scope="session")
def host_ntp_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """chronyd serving time on 127.0.0.1:123 (the default port of AT+QNTP); its port."""
    server = Chrony(tmp_path_factory.mktemp("chrony"), 123).start()
    yield server.port
    server.stop()


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """A test CA, a server certificate for 127.0.0.1, a client certificate, another CA."""
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="session")
def brokers(tmp_path_factory: pytest.TempPathFactory, pki: Pki) -> Iterator[MqttBrokers]:
    """mosquitto with a plain, a password, a TLS and a mutual-TLS listener on loopback."""
    broker = MqttBrokers(tmp_path_factory.mktemp("brokers"), pki).start()
    yield broker
    broker.stop()


@pytest.fixture(scope="session")
def mqtt_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """mosquitto on loopback; its port."""
    broker = Mosquitto(tmp_path_factory.mktemp("mosquitto")).start()
    yield broker.port
    broker.stop()
