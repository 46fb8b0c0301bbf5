"""A test certificate authority made with the openssl command: the CA the emulated
module is told to trust, a server certificate for 127.0.0.1 signed by it, a client
certificate, and a second CA that signed nothing the broker shows (a mismatch)."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    other_ca: Path


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def _ca(directory: Path, name: str) -> None:
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
             "-subj", f"/CN={name}", "-keyout", f"{name}.key", "-out", f"{name}.crt",
             cwd=directory)  # fmt: skip


def _signed(directory: Path, name: str, extension: str) -> None:
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}",
             "-keyout", f"{name}.key", "-out", f"{name}.csr", cwd=directory)  # fmt: skip
    (directory / f"{name}.ext").write_text(extension)
    _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
             "-CAcreateserial", "-days", "2", "-extfile", f"{name}.ext",
             "-out", f"{name}.crt", cwd=directory)  # fmt: skip


def make_pki(directory: Path) -> Pki:
    _ca(directory, "ca")
    _ca(directory, "other")
    _signed(directory, "server", "subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    _signed(directory, "client", "extendedKeyUsage=clientAuth\n")
    return Pki(
        ca=directory / "ca.crt",
        server_cert=directory / "server.crt",
        server_key=directory / "server.key",
        client_cert=directory / "client.crt",
        client_key=directory / "client.key",
        other_ca=directory / "other.crt",
    )
