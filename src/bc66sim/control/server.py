"""The control plane's server: HTTP + JSON and a WebSocket feed, on aiohttp.

Routes (every request needs ``Authorization: Bearer <token>``; ``/events`` also
takes ``?token=`` for browsers):

- ``GET /status``: the module (status.py); ``GET /energy``: the energy summary.
- ``POST /faults/<name>`` with a JSON object (faults.py): ``detach``, ``attach``,
  ``reset-peer``, ``override``, ``urc``, ``pin``, and the link's ``coverage-loss``,
  ``ce``, ``signal``, ``drop``, ``delay``, ``service-unreachable``.
- ``DELETE /overrides``: every override removed.
- ``GET /events``: a WebSocket of JSON events (stream.py): ``hello``, ``uart``
  (bytes each way), ``urc``, ``power``, ``fault``.

Errors are JSON too: ``{"error": "..."}`` with 400 (bad input), 401 (token), 404,
405, 409 (the module's state refuses it); a bug is a 500 and a log line, and the
server goes on.  ``serve`` writes ``{"url", "token", "pid"}`` to
``<state-dir>/control.json`` (created with mode 0600) and removes it at exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import WSCloseCode, web

from bc66sim import __version__
from bc66sim.control import faults
from bc66sim.control.client import INFO_FILE
from bc66sim.control.options import ControlSetupError
from bc66sim.control.status import energy, status
from bc66sim.control.stream import EventStream, Subscriber
from bc66sim.module.modem import Modem
from bc66sim.transport.trace import Trace

log = logging.getLogger("bc66sim.control")

#: Request bodies are small JSON objects.
MAX_BODY = 64 * 1024
#: Seconds a disconnected client gets to take its close frame.
CLOSE_TIMEOUT = 5.0

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


class ControlServer:
    """One module's control plane; :meth:`start`, then :meth:`close`."""

    def __init__(self, modem: Modem, trace: Trace | None = None, *, host: str = "127.0.0.1",
                 port: int = 0, state_dir: Path | None = None,
                 stream: EventStream | None = None) -> None:  # fmt: skip
        self.modem = modem
        self.trace = trace
        self.host, self.port = host, port
        self.state_dir = state_dir
        self.stream = stream or EventStream()
        self.token = secrets.token_urlsafe(32)
        self.url = ""
        self._runner: web.AppRunner | None = None
        self._sockets: set[web.WebSocketResponse] = set()
        self._unsubscribe: Callable[[], None] | None = None

    @property
    def info_path(self) -> Path | None:
        """Where control.json is meant to be (None: no state dir)."""
        return self.state_dir / INFO_FILE if self.state_dir is not None else None

    def describe(self) -> str:
        """Where it is, for the serve's log: the URL, the token and control.json."""
        written = self.info_path is not None and self.info_path.exists()
        return f"{self.url} (token {self.token}" + (f", in {self.info_path})" if written else ")")

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self) -> str:
        """Listen, hook the feed to the module and the trace, write control.json; the URL."""
        app = web.Application(middlewares=[self._guard], client_max_size=MAX_BODY)
        app.add_routes([
            web.get("/status", self._status),
            web.get("/energy", self._energy),
            web.post("/faults/{name}", self._fault),
            web.delete("/overrides", self._clear_overrides),
            web.get("/events", self._events),
        ])  # fmt: skip
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        try:
            await web.TCPSite(self._runner, self.host, self.port).start()
        except OSError as exc:
            await self._runner.cleanup()
            raise ControlSetupError(
                f"--control {self.host}:{self.port}: {exc.strerror or exc}"
            ) from None
        port = self._runner.addresses[0][1]
        host = f"[{self.host}]" if ":" in self.host else self.host
        self.url = f"http://{host}:{port}"
        self._unsubscribe = self.modem.events.subscribe(self.stream.module)
        if self.trace is not None:
            self.trace.listeners.append(self.stream.uart)
        try:
            self._write_info()
        except OSError as exc:  # the module still runs; the URL and token are in the log
            log.error("cannot write %s (bc66sim ctl --state-dir will not find this serve): %s",
                      self.info_path, exc)  # fmt: skip
        return self.url

    async def close(self) -> None:
        """Close every feed, stop listening, remove control.json (if it is still ours)."""
        if self._unsubscribe is not None:
            self._unsubscribe()
        if self.trace is not None and self.stream.uart in self.trace.listeners:
            self.trace.listeners.remove(self.stream.uart)
        for ws in list(self._sockets):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(code=WSCloseCode.GOING_AWAY,
                                                message=b"bc66sim serve stopped"), 1)  # fmt: skip
        if self._runner is not None:
            await self._runner.cleanup()
        self._remove_info()

    def _write_info(self) -> None:
        path = self.info_path
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        text = json.dumps({"url": self.url, "token": self.token, "pid": os.getpid()})
        temporary = path.with_name(f".{INFO_FILE}.{os.getpid()}")
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(text + "\n")
        os.replace(temporary, path)  # a reader sees the old file or the whole new one

    def _remove_info(self) -> None:
        path = self.info_path
        if path is None:
            return
        try:
            ours = json.loads(path.read_text()).get("token") == self.token
        except (OSError, ValueError, AttributeError):
            return
        if ours:  # another serve on this state dir may have written its own since
            path.unlink(missing_ok=True)

    # -- requests ------------------------------------------------------------------------

    def _authorised(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer" and request.path == "/events":
            given = request.query.get("token", "")
        elif scheme.lower() != "bearer":
            return False
        return secrets.compare_digest(given.strip().encode(), self.token.encode())

    @web.middleware
    async def _guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """The token first, for every route; every error as JSON; no exception escapes."""
        if not self._authorised(request):
            response = _error(401, "missing or wrong token (Authorization: Bearer <token>, "
                                   "from control.json in the state directory)")  # fmt: skip
            response.headers["WWW-Authenticate"] = "Bearer"
            return response
        try:
            return await handler(request)
        except faults.FaultError as exc:
            return _error(exc.status, exc.message)
        except web.HTTPException as exc:
            return _error(exc.status, exc.reason)
        except Exception:
            log.exception("control request %s %s failed", request.method, request.path)
            return _error(500, "internal error (see the serve's log)")

    async def _status(self, request: web.Request) -> web.Response:
        return web.json_response(status(self.modem))

    async def _energy(self, request: web.Request) -> web.Response:
        return web.json_response(energy(self.modem))

    async def _fault(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        body = await _json_body(request)
        result = await faults.apply(self.modem, name, body)
        log.info("control: fault %s %s", name, json.dumps(body) if body else "")
        self.stream.publish({"type": "fault", "name": name, "body": body})
        return web.json_response({"ok": True, "fault": name, **result})

    async def _clear_overrides(self, request: web.Request) -> web.Response:
        cleared = self.modem.overrides.clear()
        self.stream.publish({"type": "fault", "name": "clear-overrides", "body": {}})
        return web.json_response({"ok": True, "cleared": cleared})

    async def _events(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=30.0, compress=False, max_msg_size=4096)
        await ws.prepare(request)
        subscriber = self.stream.subscribe()
        # Before any other event (no await in between): once a client has it, it sees all.
        subscriber.offer(json.dumps({"type": "hello", "version": __version__}))
        self._sockets.add(ws)
        sender = asyncio.create_task(self._send_events(request, ws, subscriber))
        try:
            async for _message in ws:
                pass  # clients only listen; reading here sees their close and pings
        finally:
            sender.cancel()
            self.stream.unsubscribe(subscriber)
            self._sockets.discard(ws)
        return ws

    async def _send_events(
        self, request: web.Request, ws: web.WebSocketResponse, subscriber: Subscriber
    ) -> None:
        try:
            while (text := await subscriber.next()) is not None:
                await ws.send_str(text)
        except ConnectionError:
            return  # the client went away
        log.warning("control: an event client was disconnected: %s", subscriber.reason)
        try:
            await asyncio.wait_for(ws.close(code=WSCloseCode.POLICY_VIOLATION,
                                            message=subscriber.reason.encode()),
                                   CLOSE_TIMEOUT)  # fmt: skip
        except (TimeoutError, ConnectionError):
            if request.transport is not None:
                request.transport.abort()  # it does not even read its close


async def _json_body(request: web.Request) -> dict[str, Any]:
    """The request's JSON object; no body is ``{}``; anything else a clear 400."""
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise faults.FaultError(400, f"the body is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise faults.FaultError(400, "the body must be a JSON object")
    return body
