"""The analyzer's composition root: builds the graph, its listeners and the routes.

Protocol logic lives in the endpoint and resource modules; this module only
wires them together and owns the server's lifecycle.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from aiohttp import WSCloseCode, web

from dragonscope.analyzer import alerts, rules
from dragonscope.analyzer.auth import Authenticator, Forbidden, Principal, Unauthenticated
from dragonscope.analyzer.connections import Pool
from dragonscope.analyzer.endpoints import publisher as publisher_endpoint
from dragonscope.analyzer.endpoints import subscriber as subscriber_endpoint
from dragonscope.analyzer.gc_policy import GcPolicy
from dragonscope.analyzer.keys import ANALYZER
from dragonscope.analyzer.reactor import Reactor
from dragonscope.analyzer.rejections import RejectionLog
from dragonscope.analyzer.responses import body_size, json_error, text_error
from dragonscope.analyzer.rest import changes, login, openapi, status
from dragonscope.analyzer.rest import elements as rest_elements
from dragonscope.analyzer.rest import topology as rest_topology
from dragonscope.analyzer.rest import trace as rest_trace
from dragonscope.analyzer.settings import AnalyzerSettings
from dragonscope.analyzer.subscribers import SubscriberHub
from dragonscope.analyzer.users import load_users
from dragonscope.graph import Graph, GraphStore, History, Indexer

log = logging.getLogger("dragonscope.analyzer")

STATIC_DIR = Path(__file__).parent / "static"
PRUNE_EVERY_S = 30.0
COMPRESS_OVER = 4096  # bytes; large graphs shrink ~10x in gzip


RouteSetup = Callable[[web.Application, "Analyzer"], None]
"""Adds routes to the analyzer's app: how an embedding program mounts its own endpoints."""


class AnalyzerError(RuntimeError):
    """The analyzer cannot start; the text is one line for the operator."""


class Analyzer:
    """A Skydive-compatible analyzer, embeddable in any asyncio program.

    >>> async with Analyzer(AnalyzerSettings(port=0)) as analyzer:
    ...     print(analyzer.url)
    """

    def __init__(
        self, settings: AnalyzerSettings | None = None, routes: Sequence[RouteSetup] = ()
    ) -> None:
        self.settings = settings or AnalyzerSettings()
        try:
            self.settings.check()
        except ValueError as exc:
            raise AnalyzerError(str(exc)) from None
        users = load_users(self.settings.users_file) if self.settings.users_file else None
        self.auth = Authenticator(users, self.settings.token_ttl)
        self.graph = Graph()
        Indexer.attach(self.graph)
        self.store = GraphStore(self.graph)
        self.history = History(
            self.graph, self.settings.history_retention, self.settings.history_max_changes
        )
        self.hub = SubscriberHub(self.graph)
        self.rejections = RejectionLog(self.settings.rejections_kept)
        self.publishers = Pool()
        self.subscriber_pool = Pool()
        self.counters: Counter[str] = Counter()
        self.sockets: set[web.WebSocketResponse] = set()  # open WebSockets, closed on stop
        self.rules = rules.RuleBook(self)
        self.alerts = alerts.AlertManager(self)
        self.reactor = Reactor(self.graph, self._react, self._has_reactions)
        self.started_at = time.monotonic()
        self.port = self.settings.port
        self._runner: web.AppRunner | None = None
        self._pruner: asyncio.Task[None] | None = None
        self._gc_task: asyncio.Task[None] | None = None
        self.gc_policy = GcPolicy(lambda: self.hub.version) if self.settings.gc_freeze else None
        self.app = create_app(self, routes)

    def reload_users(self) -> int:
        """Re-read the users file (SIGHUP); a bad file keeps the current users.
        Returns the number of users."""
        if self.settings.users_file is None or self.auth.users is None:
            return 0
        self.auth.users = load_users(self.settings.users_file)
        self.auth.forget_basic()
        log.info("users file reloaded: %d users", len(self.auth.users))
        return len(self.auth.users)

    # -- what plug-in routes use -------------------------------------------------
    @property
    def api_origin(self) -> str:
        return f"api.{self.settings.host_id}"

    @property
    def url(self) -> str:
        scheme = "https" if self.settings.tls_cert else "http"
        host = self.settings.host
        if ":" in host:
            host = f"[{host}]"
        return f"{scheme}://{host}:{self.port}"

    def authorize(self, request: web.Request, action: str) -> Principal:
        """Apply auth and roles to a request: 401 without valid credentials, 405 for a
        role that may not (Skydive's REST answer). ``action`` is auth.READ/PUBLISH/WRITE."""
        try:
            return self.auth.authorize(request, action)
        except Unauthenticated as exc:
            raise web.HTTPUnauthorized(text=f"{exc}\n", content_type="text/plain") from None
        except Forbidden as exc:
            raise web.HTTPMethodNotAllowed(
                request.method, [], text=f"{exc}\n", content_type="text/plain"
            ) from None

    json_error = staticmethod(json_error)
    text_error = staticmethod(text_error)

    # -- reactions to graph changes ------------------------------------------------
    def _has_reactions(self) -> bool:
        return bool(self.alerts.alerts or self.rules.node_rules or self.rules.edge_rules)

    async def _react(self) -> None:
        await self.rules.apply_all()
        await self.alerts.evaluate()

    # -- lifecycle -----------------------------------------------------------------
    async def start(self) -> None:
        ssl_context = None
        if self.settings.tls_cert and self.settings.tls_key:
            ssl_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            try:
                ssl_context.load_cert_chain(self.settings.tls_cert, self.settings.tls_key)
            except (OSError, ssl.SSLError) as exc:
                raise AnalyzerError(f"cannot load TLS certificate/key: {exc}") from None
        self._runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(
            self._runner, self.settings.host, self.settings.port, ssl_context=ssl_context
        )
        try:
            await site.start()
        except OSError as exc:
            await self._runner.cleanup()
            self._runner = None
            where = f"{self.settings.host}:{self.settings.port}"
            raise AnalyzerError(f"cannot listen on {where}: {exc.strerror or exc}") from None
        sockets = site._server.sockets if site._server else []  # type: ignore[union-attr]
        if sockets:
            self.port = sockets[0].getsockname()[1]
        self.reactor.start()
        if self.gc_policy is not None:
            self._gc_task = asyncio.get_running_loop().create_task(self.gc_policy.run())
        self._pruner = asyncio.get_running_loop().create_task(self._prune_forever())
        log.info(
            "analyzer listening on %s (auth %s)",
            self.url,
            "users-file" if self.auth.enabled else "none",
        )

    async def _prune_forever(self) -> None:
        while True:
            await asyncio.sleep(PRUNE_EVERY_S)
            self.history.prune()

    async def stop(self) -> None:
        for task in (self._gc_task, self._pruner):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await self.reactor.stop()
        await self.alerts.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Analyzer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()


CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Headers": "X-Requested-With, Content-Type, Authorization, X-Auth-Token",
    "Access-Control-Allow-Methods": "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS",
}


@web.middleware
async def _cors(request: web.Request, handler: Any) -> web.StreamResponse:
    """Skydive's CORS answer for cross-origin API calls. The wildcard never carries
    cookies (browsers refuse credentials with ``*``), so it exposes nothing that an
    anonymous caller could not already read."""
    if "Origin" not in request.headers or not request.path.startswith("/api"):
        return await handler(request)
    if request.method == "OPTIONS":
        return web.Response(status=200, headers=CORS_HEADERS)
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        exc.headers.update(CORS_HEADERS)
        raise
    if not response.prepared:
        response.headers.update(CORS_HEADERS)
    return response


@web.middleware
async def _errors(request: web.Request, handler: Any) -> web.StreamResponse:
    """No traceback ever reaches a client: unexpected errors are logged and answered 500.
    Large responses are gzip-compressed for clients that accept it, as Skydive does."""
    try:
        response = await handler(request)
    except web.HTTPException:
        raise
    except (asyncio.CancelledError, ConnectionResetError):
        raise
    except Exception:
        log.exception("%s %s failed", request.method, request.path)
        return text_error(500, "internal error; the analyzer log has the details")
    if (
        isinstance(response, web.Response)
        and body_size(response) > COMPRESS_OVER
        and "gzip" in request.headers.get("Accept-Encoding", "")
    ):
        response.enable_compression()
    return response


async def _index(request: web.Request) -> web.StreamResponse:
    index = STATIC_DIR / "index.html"
    if not index.is_file():
        return text_error(404, "the web UI is not installed")
    return web.FileResponse(index, headers={"Cache-Control": "no-cache"})


async def _close_sockets(app: web.Application) -> None:
    """Say goodbye (1001 going away) instead of leaving peers to time out."""
    sockets = list(app[ANALYZER].sockets)
    await asyncio.gather(
        *(ws.close(code=WSCloseCode.GOING_AWAY, message=b"analyzer stopping") for ws in sockets),
        return_exceptions=True,
    )


def create_app(analyzer: Analyzer, routes: Sequence[RouteSetup] = ()) -> web.Application:
    app = web.Application(middlewares=[_cors, _errors], client_max_size=64 * 2**20)
    app[ANALYZER] = analyzer
    app.on_shutdown.append(_close_sockets)
    app.router.add_get("/ws/publisher", publisher_endpoint.handle)
    app.router.add_get("/ws/subscriber", subscriber_endpoint.handle)
    rest_topology.setup(app)
    rest_elements.setup(app)
    rules.setup(app)
    alerts.setup(app)
    login.setup(app)
    status.setup(app)
    openapi.setup(app)
    app.router.add_get("/api/changes", changes.get_changes)
    app.router.add_get("/", _index)
    if STATIC_DIR.is_dir():
        app.router.add_static("/static/", STATIC_DIR, follow_symlinks=False)
    rest_trace.setup(app, analyzer)
    for setup in routes:
        setup(app, analyzer)
    return app
