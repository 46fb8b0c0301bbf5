"""The control plane's server: HTTP + JSON and a WebSocket feed, on aiohttp.

Routes (every request needs ``Authorization: Bearer <token>``; ``/events`` and the
dashboard's pages also take ``?token=`` for browsers):

- ``GET /status``: the module (status.py); ``GET /energy``: the energy summary.
- ``POST /faults/<name>`` with a JSON object (faults.py): ``detach``, ``attach``,
  ``reset-peer``, ``override``, ``urc``, ``pin``, and the link's ``coverage-loss``,
  ``ce``, ``signal``, ``drop``, ``delay``, ``service-unreachable``.
- ``DELETE /overrides``: every override removed.
- ``GET /events``: a WebSocket of JSON events (stream.py, watch.py): ``hello``, the
  recent past (watch.py's history), then live: ``uart`` (bytes each way), ``urc``,
  ``power``, ``fault``.
- A fleet serves every module: ``GET /modules`` (one row each), and each route
  above under ``/modules/<n>/`` (the routes without it are module 0's).
- ``GET /dashboard`` (``/`` redirects there) and ``/dashboard/<n>``: the live
  dashboard's pages (dashboard.py); ``/static/…``: its script and style, the only
  thing served without the token (they hold no data).

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
from bc66sim.control import dashboard, faults
from bc66sim.control.client import INFO_FILE
from bc66sim.control.options import ControlSetupError
from bc66sim.control.status import energy, status
from bc66sim.control.stream import EventStream, Subscriber
from bc66sim.control.watch import SERVE_BUDGET, Budget, Watch
from bc66sim.module.energy import DEFAULT_BATTERY_MAH
from bc66sim.module.modem import Modem
from bc66sim.transport.trace import Trace

log = logging.getLogger("bc66sim.control")

#: Request bodies are small JSON objects.
MAX_BODY = 64 * 1024
#: The cookie that carries the token from one dashboard page to the next, named with
#: the port: a browser keeps cookies per host, not per port, and two serves on one
#: machine must neither overwrite nor receive each other's.
TOKEN_COOKIE = "bc66sim-token-{port}"
#: Seconds a disconnected client gets to take its close frame.
CLOSE_TIMEOUT = 5.0
#: Seconds requests still under way get at shutdown.
SHUTDOWN_TIMEOUT = 1.0

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


class ControlPlane:
    """What every control plane has: where it listens, its token and control.json, the
    guard in front of every route, the dashboard's routes that are the same everywhere,
    and its feeds. :class:`ControlServer` serves modules; the sharded fleet's
    (proxy.py) passes requests on to its workers'."""

    def __init__(self, *, host: str, port: int, state_dir: Path | None, token: str | None,
                 battery_mah: float) -> None:  # fmt: skip
        self.host, self.port = host, port
        self.state_dir = state_dir
        self.token = token or secrets.token_urlsafe(32)
        #: The battery the pages and ``/status`` project a life for (``--battery-mah``).
        self.battery_mah = battery_mah
        self.url = ""
        self._runner: web.AppRunner | None = None
        self._sockets: set[web.WebSocketResponse] = set()  # the feeds open now

    @property
    def info_path(self) -> Path | None:
        """Where control.json is meant to be (None: no state dir)."""
        return self.state_dir / INFO_FILE if self.state_dir is not None else None

    @property
    def dashboard_url(self) -> str:
        """The dashboard's address, token included: what a person opens in a browser."""
        return f"{self.url}/dashboard?token={self.token}"

    def describe(self) -> str:
        """Where it is, for the log: the URL, the token and control.json."""
        written = self.info_path is not None and self.info_path.exists()
        return f"{self.url} (token {self.token}" + (f", in {self.info_path})" if written else ")")

    # -- lifecycle -----------------------------------------------------------------------

    def _application(self) -> web.Application:
        return web.Application(middlewares=[self._guard], client_max_size=MAX_BODY)

    async def _listen(self, app: web.Application) -> str:
        """Serve ``app`` (:class:`ControlSetupError` if it cannot) and write control.json."""
        # A request still under way at shutdown gets a second, not aiohttp's minute.
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT)
        await self._runner.setup()
        try:
            await web.TCPSite(self._runner, self.host, self.port).start()
        except OSError as exc:
            await self._runner.cleanup()
            raise ControlSetupError(
                f"--control {self.host}:{self.port}: {exc.strerror or exc}"
            ) from None
        host = f"[{self.host}]" if ":" in self.host else self.host
        self.url = f"http://{host}:{self._runner.addresses[0][1]}"
        self._write_info()
        return self.url

    async def _stop_listening(self, why: bytes) -> None:
        """Remove control.json, close every feed (telling its client ``why``), stop."""
        self.remove_info()  # first: nothing below may keep it
        for ws in list(self._sockets):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(code=WSCloseCode.GOING_AWAY, message=why), 1)
        if self._runner is not None:
            await self._runner.cleanup()

    def _write_info(self) -> None:
        """``control.json`` (mode 0600): how ``bc66sim ctl --state-dir`` finds this process."""
        path = self.info_path
        if path is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            text = json.dumps({"url": self.url, "token": self.token, "pid": os.getpid()})
            temporary = path.with_name(f".{INFO_FILE}.{os.getpid()}")
            with contextlib.suppress(FileNotFoundError):
                temporary.unlink()
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(text + "\n")
            os.replace(temporary, path)  # a reader sees the old file or the whole new one
        except OSError as exc:  # the modules still run; the URL and token are in the log
            log.error("cannot write %s (bc66sim ctl --state-dir will not find this process): "
                      "%s", path, exc)  # fmt: skip

    def remove_info(self) -> None:
        """Remove control.json if it is still ours."""
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
        if request.path.startswith("/static/"):
            return True  # the dashboard's script and style: no data in them
        header = request.headers.get("Authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer" and _browser_route(request):
            # A browser cannot put a header on a page's address or a WebSocket; these
            # GETs change nothing, so the token in their query (or the cookie a page
            # with it set: the links between pages carry none) is no CSRF risk.
            given = request.query.get("token") or request.cookies.get(self._cookie, "")
        elif scheme.lower() != "bearer":
            return False
        return secrets.compare_digest(given.strip().encode(), self.token.encode())

    @property
    def _cookie(self) -> str:
        return TOKEN_COOKIE.format(port=self.url.rsplit(":", 1)[-1])

    def _set_cookie(self, response: web.StreamResponse) -> None:
        """Same-site only, out of scripts' reach: the pages' links work without the token."""
        response.set_cookie(self._cookie, self.token, httponly=True, samesite="Strict",
                            path="/")  # fmt: skip

    @web.middleware
    async def _guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """The origin and the token first, for every route; every error as JSON; no
        exception escapes."""
        origin = request.headers.get("Origin")
        if origin is not None and origin != f"{request.scheme}://{request.host}":
            # A page of another site or port (another local server is the same site):
            # a browser sends the cookie with a WebSocket, so the origin must be ours.
            return _error(403, f"requests from {origin} are not allowed")
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

    @staticmethod
    def _feed_socket() -> web.WebSocketResponse:
        """The server's end of one ``/events`` feed: clients only listen."""
        return web.WebSocketResponse(heartbeat=30.0, compress=False, max_msg_size=4096)

    # -- the routes of the dashboard that are the same everywhere -------------------------

    async def _root(self, request: web.Request) -> web.Response:
        """``/`` redirects to the dashboard (its query, the token, kept)."""
        location = str(request.rel_url.with_path("/dashboard").with_query(request.query))
        return web.Response(status=302, headers={"Location": location})

    async def _static(self, request: web.Request) -> web.StreamResponse:
        return dashboard.static_response(request.match_info["name"])

    def _page(self, page: str) -> web.Response:
        """A dashboard page, with the cookie that lets its links go without the token."""
        response = dashboard.html_response(page)
        self._set_cookie(response)
        return response


class ControlServer(ControlPlane):
    """One module's control plane; :meth:`start`, then :meth:`close`."""

    def __init__(self, modem: Modem, trace: Trace | None = None, *, host: str = "127.0.0.1",
                 port: int = 0, state_dir: Path | None = None,
                 stream: EventStream | None = None, place: str = "",
                 battery_mah: float = DEFAULT_BATTERY_MAH,
                 budget: Budget = SERVE_BUDGET, token: str | None = None,
                 first_index: int = 0, fleet_size: int | None = None) -> None:  # fmt: skip
        """``first_index`` and ``fleet_size``: a worker of a sharded fleet serves modules
        ``first_index`` on of ``fleet_size`` (shards.py), under the fleet's numbers."""
        super().__init__(host=host, port=port, state_dir=state_dir, token=token,
                         battery_mah=battery_mah)  # fmt: skip
        #: The modules it serves: one for serve, each of a fleet's (:meth:`add`).
        self.watches = [Watch(modem, trace, place=place, stream=stream, budget=budget)]
        self.first_index = first_index
        self._fleet_size = fleet_size
        #: Told every fault applied (name, body): a recording (recording/recorder.py).
        self.fault_listeners: list[Callable[[str, dict[str, Any]], None]] = []

    @property
    def modem(self) -> Modem:
        return self.watches[0].modem

    @property
    def stream(self) -> EventStream:
        return self.watches[0].stream

    def add(self, modem: Modem, trace: Trace | None, place: str = "",
            budget: Budget = SERVE_BUDGET) -> None:  # fmt: skip
        """Serve another module (a fleet's): it is ``/modules/<n>/``, n counting from 0;
        ``budget``: its share of the recent past (control/watch.py)."""
        self.watches.append(Watch(modem, trace, place=place, budget=budget))

    @property
    def fleet_size(self) -> int:
        """How many modules the fleet has (more than this serves, in a sharded one)."""
        return self._fleet_size or len(self.watches)

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self) -> str:
        """Listen and write control.json; the URL.  (Each module's feed is hooked to it
        from the start, in :class:`Watch`: a page opened later sees its boot.)"""
        app = self._application()
        for prefix in ("", "/modules/{index}"):
            app.add_routes([
                web.get(prefix + "/status", self._status),
                web.get(prefix + "/energy", self._energy),
                web.post(prefix + "/faults/{name}", self._fault),
                web.delete(prefix + "/overrides", self._clear_overrides),
                web.get(prefix + "/events", self._events),
            ])  # fmt: skip
        app.add_routes([
            web.get("/modules", self._modules),
            web.get("/", self._root),
            web.get("/dashboard", self._dashboard),
            web.get("/dashboard/{index}", self._dashboard),
            web.get("/static/{name}", self._static),
        ])  # fmt: skip
        return await self._listen(app)

    async def close(self) -> None:
        """Close every feed, stop listening, remove control.json (if it is still ours)."""
        for watch in self.watches:
            watch.close()
        await self._stop_listening(b"bc66sim serve stopped")

    # -- requests ------------------------------------------------------------------------

    def _watch(self, request: web.Request) -> Watch:
        """The module a request is about: ``/modules/<n>/…``, or module 0."""
        index = request.match_info.get("index", "0")
        # (isascii: "³" is a digit to str.isdigit, and not to int)
        local = int(index) - self.first_index if index.isascii() and index.isdigit() else -1
        if not 0 <= local < len(self.watches):
            raise faults.FaultError(404, f"no module {index} (there are {self.fleet_size})")
        return self.watches[local]

    async def _status(self, request: web.Request) -> web.Response:
        return web.json_response(status(self._watch(request).modem, self.battery_mah))

    async def _energy(self, request: web.Request) -> web.Response:
        return web.json_response(energy(self._watch(request).modem, self.battery_mah))

    async def _modules(self, request: web.Request) -> web.Response:
        return web.json_response(self._rows())

    def _rows(self) -> list[dict[str, Any]]:
        """``GET /modules``: a row a module, under the fleet's numbers."""
        first = self.first_index
        return [{"index": first + n, **watch.summary()} for n, watch in enumerate(self.watches)]

    async def _fault(self, request: web.Request) -> web.Response:
        watch = self._watch(request)
        name = request.match_info["name"]
        body = await _json_body(request)
        result = await faults.apply(watch.modem, name, body)
        log.info("control: fault %s %s", name, json.dumps(body) if body else "")
        watch.publish({"type": "fault", "name": name, "body": body})
        for listener in self.fault_listeners:
            listener(name, body)
        return web.json_response({"ok": True, "fault": name, **result})

    async def _clear_overrides(self, request: web.Request) -> web.Response:
        watch = self._watch(request)
        cleared = watch.modem.overrides.clear()
        watch.publish({"type": "fault", "name": "clear-overrides", "body": {}})
        return web.json_response({"ok": True, "cleared": cleared})

    async def _events(self, request: web.Request) -> web.WebSocketResponse:
        watch = self._watch(request)
        ws = self._feed_socket()
        await ws.prepare(request)
        # Before any other event (no await in between): once a client has it, it sees all.
        subscriber = watch.stream.subscribe(
            [{"type": "hello", "version": __version__}, *watch.past()]
        )
        self._sockets.add(ws)
        sender = asyncio.create_task(self._send_events(request, ws, subscriber))
        try:
            async for _message in ws:
                pass  # clients only listen; reading here sees their close and pings
        finally:
            sender.cancel()
            watch.stream.unsubscribe(subscriber)
            self._sockets.discard(ws)
        return ws

    # -- the dashboard (dashboard.py) ------------------------------------------------------

    async def _dashboard(self, request: web.Request) -> web.Response:
        if "index" not in request.match_info and self.fleet_size > 1:
            page = dashboard.fleet_page(self._rows(), battery_mah=self.battery_mah,
                                        token=self.token)  # fmt: skip
        else:
            watch = self._watch(request)
            index = self.first_index + self.watches.index(watch)
            page = dashboard.module_page(watch, index, self.fleet_size,
                                         battery_mah=self.battery_mah,
                                         token=self.token)  # fmt: skip
        return self._page(page)

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


def _browser_route(request: web.Request) -> bool:
    """A page or the feed: what a browser opens by address, so with ``?token=``."""
    path = request.path
    return request.method == "GET" and (
        path in ("/", "/events") or path.startswith("/dashboard")
        or (path.startswith("/modules/") and path.endswith("/events"))
    )  # fmt: skip


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
