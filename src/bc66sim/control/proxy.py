"""The control plane of a sharded fleet (``fleet N --workers W``): one address, one token.

Each worker serves its own modules' control plane on a loopback port of its own
(server.py, with the fleet's numbers: module n is ``/modules/<n>/`` in whichever
worker holds it, and its page says "module n" of the whole fleet). This process
listens where ``--control`` says, checks the token as a worker would, and passes
each request to the worker that holds the module; a feed (``/events``) is passed
on message by message. It keeps no module state of its own, only which worker
holds which range: ``GET /modules`` and the fleet's page gather every worker's rows.

So ``bc66sim ctl``, the dashboard and the HTTP API see one fleet, whatever the number
of workers. The workers take the same token, so a request passed on is the one the
client made; their ports are on loopback, and the token is needed there too.

It runs on an event loop of its own, in a thread of the parent process
(:class:`ControlThread`): the parent's main thread watches the workers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import WSCloseCode, WSMsgType, web

from bc66sim.control import dashboard, faults
from bc66sim.control.options import ControlSetupError
from bc66sim.control.server import CLOSE_TIMEOUT, ControlPlane
from bc66sim.module.energy import DEFAULT_BATTERY_MAH

log = logging.getLogger("bc66sim.control")

#: Seconds a worker gets to answer a request passed on (a fault may wait on the module).
FORWARD_TIMEOUT = 30.0
#: Headers of a worker's answer that go back to the client (the cookie is set here:
#: its name carries this port, not the worker's).
_PASSED_BACK = (
    "Content-Type",
    "Content-Security-Policy",
    "Referrer-Policy",
    "X-Content-Type-Options",
    "Cache-Control",
    "WWW-Authenticate",
    "Location",
)


@dataclass(frozen=True)
class ShardPlane:
    """One worker's control plane: modules ``first`` to ``first + count - 1``, at ``url``."""

    first: int
    count: int
    url: str


class ShardedControl(ControlPlane):
    """The fleet's control plane in front of its workers'; :meth:`start`, then :meth:`close`."""

    def __init__(self, shards: list[ShardPlane], token: str, *, host: str = "127.0.0.1",
                 port: int = 0, state_dir: Path | None = None,
                 battery_mah: float = DEFAULT_BATTERY_MAH) -> None:  # fmt: skip
        super().__init__(host=host, port=port, state_dir=state_dir, token=token,
                         battery_mah=battery_mah)  # fmt: skip
        self.shards = sorted(shards, key=lambda shard: shard.first)
        self._session: aiohttp.ClientSession | None = None

    @property
    def size(self) -> int:
        return sum(shard.count for shard in self.shards)

    async def start(self) -> str:
        """Listen and write control.json; the URL."""
        self._session = aiohttp.ClientSession(
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=aiohttp.ClientTimeout(total=FORWARD_TIMEOUT),
            # No cap on connections to the workers: each open feed holds one for as
            # long as it is open, and requests must never queue behind feeds.
            connector=aiohttp.TCPConnector(limit=0),
        )
        app = self._application()
        app.add_routes([
            web.get("/", self._root),
            web.get("/modules", self._modules),
            web.get("/dashboard", self._fleet_page),
            web.get("/static/{name}", self._static),
            web.route("*", "/modules/{index}/{rest:.*}", self._pass_on),
            web.get("/dashboard/{index}", self._pass_on),
            # Without a module number: module 0's, as on any serve.
            web.route("*", "/{rest:status|energy|faults/.*|overrides|events}", self._pass_on),
        ])  # fmt: skip
        try:
            return await self._listen(app)
        except ControlSetupError:
            await self._session.close()
            raise

    async def close(self) -> None:
        """Close every feed, stop listening, remove control.json (if it is still ours)."""
        await self._stop_listening(b"bc66sim fleet stopped")
        if self._session is not None:
            await self._session.close()

    # -- requests ----------------------------------------------------------------------------

    def _holder(self, request: web.Request) -> ShardPlane:
        """The worker that holds the module a request is about (module 0 without a number)."""
        index = request.match_info.get("index", "0")
        if index.isascii() and index.isdigit():
            for shard in self.shards:
                if shard.first <= int(index) < shard.first + shard.count:
                    return shard
        raise faults.FaultError(404, f"no module {index} (there are {self.size})")

    async def _rows(self) -> list[dict[str, Any]]:
        assert self._session is not None
        rows: list[dict[str, Any]] = []
        for shard in self.shards:
            try:
                async with self._session.get(shard.url + "/modules") as answer:
                    answer.raise_for_status()
                    rows.extend(await answer.json())
            except (aiohttp.ClientError, TimeoutError) as exc:
                raise _unanswered(shard, exc) from None
        return rows

    async def _modules(self, request: web.Request) -> web.Response:
        return web.json_response(await self._rows())

    async def _fleet_page(self, request: web.Request) -> web.StreamResponse:
        if self.size == 1:  # a fleet of one shows its module's page, as serve does
            return await self._pass_on(request)
        return self._page(dashboard.fleet_page(await self._rows(), battery_mah=self.battery_mah,
                                               token=self.token))  # fmt: skip

    async def _pass_on(self, request: web.Request) -> web.StreamResponse:
        """The request, as it came, to the worker that holds its module; its answer back."""
        shard = self._holder(request)
        if request.path.endswith("/events") and request.method == "GET":
            return await self._pass_on_feed(request, shard)
        assert self._session is not None
        body = await request.read()
        headers = {"Content-Type": request.content_type} if body else {}
        url = shard.url + str(request.rel_url)
        try:
            async with self._session.request(
                request.method, url, data=body or None, headers=headers
            ) as answer:
                payload = await answer.read()
                passed = {name: answer.headers[name] for name in _PASSED_BACK
                          if name in answer.headers}  # fmt: skip
                status = answer.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise _unanswered(shard, exc) from None
        response = web.Response(body=payload, status=status, headers=passed)
        if request.path.startswith("/dashboard") and status == 200:
            self._set_cookie(response)
        return response

    async def _pass_on_feed(self, request: web.Request, shard: ShardPlane) -> web.StreamResponse:
        """A module's ``/events`` WebSocket: the worker's, message by message."""
        assert self._session is not None
        try:
            upstream = await self._session.ws_connect(shard.url + request.path, heartbeat=30.0)
        except aiohttp.WSServerHandshakeError as exc:
            raise faults.FaultError(exc.status, exc.message) from None
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise _unanswered(shard, exc) from None
        ws = self._feed_socket()
        try:
            await ws.prepare(request)
            self._sockets.add(ws)
            relay = asyncio.create_task(_relay(upstream, ws))
            try:
                async for _message in ws:
                    pass  # clients only listen; reading here sees their close and pings
            finally:
                relay.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await relay
        finally:
            self._sockets.discard(ws)
            await upstream.close()
        return ws


def _unanswered(shard: ShardPlane, exc: BaseException) -> faults.FaultError:
    why = "no answer in time" if isinstance(exc, TimeoutError) else str(exc) or repr(exc)
    last = shard.first + shard.count - 1
    return faults.FaultError(502, f"the worker of modules {shard.first}-{last}: {why}")


async def _relay(upstream: aiohttp.ClientWebSocketResponse, ws: web.WebSocketResponse) -> None:
    """The worker's events to the client; when the worker's feed ends, the client's does,
    with the worker's code and reason."""
    try:
        while (message := await upstream.receive()).type is WSMsgType.TEXT:
            await ws.send_str(message.data)
    except ConnectionError:
        return  # the client went away
    code = upstream.close_code or WSCloseCode.GOING_AWAY
    reason = message.extra if message.type is WSMsgType.CLOSE else None
    text = str(reason or upstream.exception() or "the worker ended the feed")
    with contextlib.suppress(TimeoutError, ConnectionError):
        await asyncio.wait_for(ws.close(code=code, message=text.encode()[:120]), CLOSE_TIMEOUT)


class ControlThread:
    """:class:`ShardedControl` on an event loop in a thread of its own."""

    def __init__(self, control: ShardedControl) -> None:
        self.control = control
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever,
                                        name="bc66sim-control", daemon=True)  # fmt: skip

    def start(self, timeout: float = 30.0) -> str:
        """Listen (raises :class:`ControlSetupError`); the URL."""
        self._thread.start()
        try:
            return str(self._call(self.control.start(), timeout))
        except BaseException:
            self._end()
            raise

    def stop(self, timeout: float = 10.0) -> None:
        """Close the control plane and end the thread."""
        try:
            self._call(self.control.close(), timeout)
        except Exception as exc:
            log.warning("the control plane did not close cleanly: %r", exc)
            self.control.remove_info()
        finally:
            self._end()

    def _call(self, work: Any, timeout: float) -> Any:
        return asyncio.run_coroutine_threadsafe(work, self._loop).result(timeout)

    def _end(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        if not self._thread.is_alive():
            self._loop.close()
