"""TLS on a module connection: the SSL contexts of ``AT+QSSLCFG`` and the record layer.

The handshake and the records run in the module, over its network flow, through
Python's ``ssl`` module on memory BIOs: the bytes on the (shaped) link are real TLS
records, a broker sees a real TLS client, and the certificate checks are OpenSSL's
against the CA certificate the host gave (``AT+QSSLCFG=...,"cacert"``).

``<seclevel>``: 0 checks nothing, 1 checks the server's certificate against the CA
(and its name against the host the client opened), 2 also presents the client
certificate and key.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import ssl
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field

from bc66sim.clock import Clock
from bc66sim.net.base import Flow

log = logging.getLogger(__name__)

#: ``<contextID>`` and ``<connectID>`` of ``AT+QSSLCFG``: each pair has its settings.
SSL_CONTEXT_IDS = range(4)
SSL_CONNECT_IDS = range(6)
#: The largest certificate or key the module takes (PEM bytes).


class TlsError(Exception):
    """The handshake failed; ``verify`` says whether the peer's certificate was refused."""

    def __init__(self, message: str, *, verify: bool = False) -> None:
        super().__init__(message)
        self.verify = verify


@dataclass
class SslConfig:
    """The settings of one ``<contextID>,<connectID>`` pair (``AT+QSSLCFG``)."""

    seclevel: int = 0
    cacert: bytes = b""
    clientcert: bytes = b""
    clientkey: bytes = b""
    #: Seconds the handshake may take (``"timeout"``).
    timeout: int = 90
    #: 0 text, 1 hex: how ``AT+QSSLSEND`` data is typed.
    dataformat: tuple[int, int] = (0, 0)
    debug: int = 0


@dataclass
class SslSettings:
    pairs: dict[tuple[int, int], SslConfig] = field(default_factory=dict)

    def get(self, context_id: int, connect_id: int) -> SslConfig:
        return self.pairs.setdefault((context_id, connect_id), SslConfig())

    def context(self, context_id: int, connect_id: int) -> ssl.SSLContext:
        """An OpenSSL context for the pair; raises :class:`TlsError` when its
        certificates do not load."""
        config = self.get(context_id, connect_id)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        # The BC66's TLS stack speaks up to TLS 1.2 (its SSL note's versions end
        # there).  It also shows: a server that refuses the client's certificate
        # does it during a TLS 1.2 handshake, so the open fails, as on the module.
        context.maximum_version = ssl.TLSVersion.TLSv1_2
        if config.seclevel == 0:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        else:
            if not config.cacert:
                raise TlsError("no CA certificate for the server's check", verify=True)
            try:
                context.load_verify_locations(cadata=config.cacert.decode("latin-1"))
            except (ssl.SSLError, ValueError) as exc:
                raise TlsError(f"the CA certificate does not load: {exc}", verify=True) from exc
        if config.seclevel == 2:
            _load_client_pair(context, config)
        return context


def _load_client_pair(context: ssl.SSLContext, config: SslConfig) -> None:
    """OpenSSL reads a certificate chain from files only: a private temporary file."""
    if not config.clientcert or not config.clientkey:
        raise TlsError("seclevel 2 needs the client certificate and key")
    descriptor, path = tempfile.mkstemp(prefix="bc66sim-tls-")
    try:
        with os.fdopen(descriptor, "wb") as pair:
            pair.write(config.clientcert + b"\n" + config.clientkey)
        context.load_cert_chain(path)
    except (ssl.SSLError, ValueError) as exc:
        raise TlsError(f"the client certificate or key does not load: {exc}") from exc
    finally:
        os.unlink(path)


class TlsFlow:
    """TLS records over a module :class:`Flow`; the client reads and writes plaintext."""

    def __init__(
        self,
        flow: Flow,
        context: ssl.SSLContext,
        host: str,
        uplink: Callable[[int], None],
    ) -> None:
        self._flow = flow
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        name = host if context.check_hostname else None
        self._tls = context.wrap_bio(self._incoming, self._outgoing, server_hostname=name)
        self._uplink = uplink
        self.handshaking = True
        #: The server closed the session (close_notify).
        self.ended = False
        self._done: asyncio.Future[None] | None = None

    # -- the handshake -------------------------------------------------------------------

    async def handshake(self, clock: Clock, timeout: float) -> None:
        self._done = asyncio.get_running_loop().create_future()
        timer = clock.call_later(timeout, lambda: self._fail(TlsError("handshake timed out")))
        try:
            self._step()
            await self._done
        finally:
            timer.cancel()
            self.handshaking = False

    def handshake_data(self, data: bytes) -> None:
        self._incoming.write(data)
        self._step()

    def handshake_closed(self) -> None:
        self._fail(TlsError("the server closed the connection during the handshake"))

    def _step(self) -> None:
        try:
            self._tls.do_handshake()
        except ssl.SSLWantReadError:
            self._flush()
            return
        except ssl.SSLCertVerificationError as exc:
            self._flush()
            self._fail(TlsError(f"certificate refused: {exc.verify_message}", verify=True))
            return
        except ssl.SSLError as exc:
            self._flush()
            self._fail(TlsError(f"handshake failed: {exc.reason or exc}"))
            return
        self._flush()
        if self._done is not None and not self._done.done():
            log.info("TLS: %s, %s", self._tls.version(), (self._tls.cipher() or ("?",))[0])
            self._done.set_result(None)

    def _fail(self, error: TlsError) -> None:
        if self._done is not None and not self._done.done():
            self._done.set_exception(error)

    # -- records ---------------------------------------------------------------------------

    def send(self, data: bytes) -> bool:
        self._tls.write(data)
        return self._flush()

    def decrypt(self, data: bytes) -> bytes | None:
        """The plaintext ``data`` completes; None when the TLS session broke.  A
        server's close_notify ends it cleanly: what came before it is returned, and
        :attr:`ended` is set (the caller closes after using it)."""
        self._incoming.write(data)
        plain = bytearray()
        while True:
            try:
                chunk = self._tls.read(16384)
            except ssl.SSLWantReadError:
                break
            except (ssl.SSLZeroReturnError, ssl.SSLError) as exc:
                log.info("TLS: session ended: %s", exc)
                return None
            if not chunk:  # close_notify: OpenSSL reads b"" once it came
                log.info("TLS: the server closed the session (close_notify)")
                self.ended = True
                break
            plain += chunk
        self._flush()  # a key update or a session ticket's answer
        return bytes(plain)

    def _flush(self) -> bool:
        records = self._outgoing.read()
        if not records:
            return True
        self._uplink(len(records))
        return self._flow.send(records)

    # -- the flow's ------------------------------------------------------------------------

    def pause_reading(self) -> None:
        self._flow.pause_reading()

    def resume_reading(self) -> None:
        self._flow.resume_reading()

    def close(self) -> None:
        with contextlib.suppress(ssl.SSLError):
            self._tls.unwrap()  # close_notify
        self._flush()
        self._flow.close()

    def abort(self) -> None:
        self._flow.abort()
