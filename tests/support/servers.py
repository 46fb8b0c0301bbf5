"""Real network services on loopback for the tests: dnsmasq, chronyd, a silent DNS server.

They come from Debian (``make test`` and ``.ci/run`` install them) and listen on
loopback addresses of their own, so they never meet the host's services.
"""

from __future__ import annotations

import getpass
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import dns.resolver

from support.pki import Pki

#: dnsmasq answers here (port 53: the module's DNS settings take an address only).
DNS_V4 = "127.0.53.1"
DNS_V6 = "::1"
#: A DNS server that takes queries and never answers.
SILENT_DNS = "127.0.53.2"

#: The test zone: name, address, TTL.
ZONE = [
    ("iot.bc66.test", "127.0.0.1", 300),
    ("multi.bc66.test", "127.0.0.11", 120),
    ("multi.bc66.test", "127.0.0.12", 120),
    ("six.bc66.test", "::1", 60),
    ("ntp.bc66.test", "127.0.0.1", 300),
]


def _require(program: str) -> str:
    path = shutil.which(program) or shutil.which(program, path="/usr/sbin:/sbin")
    if path is None:
        raise RuntimeError(f"{program} is not installed: run 'make test' (it installs it)")
    return path


class _Daemon:
    """A server in a child process: started until it answers, stopped with SIGTERM."""

    process: subprocess.Popen[bytes] | None = None

    def _launch(self, argv: list[str], answers: Callable[[], bool]) -> None:
        self.process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while not answers():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                error = self.process.stderr.read().decode() if self.process.stderr else ""
                raise RuntimeError(f"{Path(argv[0]).name} did not start: {error}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(5)


class Dnsmasq(_Daemon):
    """dnsmasq serving :data:`ZONE` and nothing else (no upstream, no /etc/hosts)."""

    def start(self) -> Dnsmasq:
        records = [f"--host-record={name},{address},{ttl}" for name, address, ttl in ZONE]
        self._launch(
            [_require("dnsmasq"), "--keep-in-foreground", "--conf-file=/dev/null", "--port=53",
             f"--listen-address={DNS_V4},{DNS_V6}", "--bind-interfaces", "--no-resolv",
             "--no-hosts", "--local=/bc66.test/", "--log-facility=-", *records],
            _dns_answers,
        )  # fmt: skip
        return self


def _dns_answers() -> bool:
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [DNS_V4]
    resolver.lifetime = 0.5
    try:
        resolver.resolve("iot.bc66.test", "A")
    except dns.exception.DNSException:
        return False
    return True


class SilentDns:
    """A UDP port 53 that takes queries and never answers (a DNS server gone dark)."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

    def start(self) -> SilentDns:
        self.sock.bind((SILENT_DNS, 53))
        return self

    def stop(self) -> None:
        self.sock.close()


class Chrony(_Daemon):
    """chronyd as an NTP server on loopback, serving its own clock; never sets the host's."""

    def __init__(self, workdir: Path, port: int) -> None:
        self.workdir = workdir
        self.port = port

    def start(self) -> Chrony:
        conf = self.workdir / "chrony.conf"
        conf.write_text(
            f"port {self.port}\nbindaddress 127.0.0.1\nallow 127.0.0.1\n"
            "local stratum 5\ncmdport 0\n"
            f"pidfile {self.workdir}/chronyd.pid\ndriftfile {self.workdir}/drift\n"
        )
        # -x: never touch the host's clock; -d: stay in the foreground.
        self._launch(
            [_require("chronyd"), "-x", "-d", "-f", str(conf)], lambda: _ntp_answers(self.port)
        )
        return self


def _ntp_answers(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.settimeout(0.3)
        probe.sendto(b"\x23" + b"\0" * 47, ("127.0.0.1", port))
        try:
            reply, _ = probe.recvfrom(512)
        except OSError:
            return False
        return len(reply) >= 48 and reply[1] != 0  # a stratum: the server is synchronised


def unused_port() -> int:
    """A loopback TCP port nothing listens on (now): for a server to take, or to be
    refused on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Mosquitto(_Daemon):
    """The mosquitto MQTT broker on a loopback port of its own (started again after
    :meth:`stop`, it takes the same port: a broker that went away and came back)."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = 0

    def start(self) -> Mosquitto:
        self.port = self.port or unused_port()
        conf = self.workdir / "mosquitto.conf"
        conf.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\n")
        self._launch([_require("mosquitto"), "-c", str(conf)], lambda: _tcp_answers(self.port))
        return self


class MqttBrokers(_Daemon):
    """One mosquitto with the listeners the MQTT tests need, each on its own loopback
    port: ``plain`` (anonymous), ``auth`` (user ``bc66`` / ``secret`` only), ``tls``
    (server certificate of the test CA) and ``mutual`` (TLS that asks the client for
    a certificate of the test CA)."""

    def __init__(self, workdir: Path, pki: Pki) -> None:
        self.workdir = workdir
        self.pki = pki
        self.ports: dict[str, int] = {}

    def start(self) -> MqttBrokers:
        self.ports = {name: unused_port() for name in ("plain", "auth", "tls", "mutual")}
        passwords = self.workdir / "passwords"
        passwords.write_text("")
        subprocess.run([_require("mosquitto_passwd"), "-b", str(passwords), "bc66", "secret"],
                       check=True, capture_output=True)  # fmt: skip
        passwords.chmod(0o600)
        pki = self.pki
        tls = f"cafile {pki.ca}\ncertfile {pki.server_cert}\nkeyfile {pki.server_key}\n"
        conf = self.workdir / "mosquitto.conf"
        conf.write_text(
            # Run as root, mosquitto would become the "mosquitto" user, who cannot read
            # the test's private directory: stay who we are.
            f"user {getpass.getuser()}\n"
            "per_listener_settings true\n"
            # Every QoS 1 message of the load test queued for a slow subscriber, none
            # dropped (mosquitto drops beyond 1000 by default).
            "max_queued_messages 0\n"
            f"listener {self.ports['plain']} 127.0.0.1\nallow_anonymous true\n"
            f"listener {self.ports['auth']} 127.0.0.1\nallow_anonymous false\n"
            f"password_file {passwords}\n"
            f"listener {self.ports['tls']} 127.0.0.1\nallow_anonymous true\n{tls}"
            f"listener {self.ports['mutual']} 127.0.0.1\nallow_anonymous true\n{tls}"
            "require_certificate true\n"
        )
        self._launch([_require("mosquitto"), "-c", str(conf)],
                     lambda: all(_tcp_answers(port) for port in self.ports.values()))  # fmt: skip
        return self


def _tcp_answers(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.connect(("127.0.0.1", port))
        except OSError:
            return False
        return True
