"""The analyzer's composition root: builds the graph, its listeners and the routes.

Protocol logic lives in the endpoint and resource modules; this module only
wires them together and owns the server's lifecycle.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections import Counter
from collections.abc import Callable, Sequence
from types import TracebackType

from aiohttp import WSCloseCode, web

from dragonscope.analyzer.alerts import AlertManager
from dragonscope.analyzer.auth import Authenticator, Principal
from dragonscope.analyzer.chassis_calls import ChassisCalls
from dragonscope.analyzer.chunked import SharedGraphJson
from dragonscope.analyzer.endpoints import PublisherEndpoint, SubscriberEndpoint
from dragonscope.analyzer.endpoints.handshake import Connection, Pool
from dragonscope.analyzer.gc_policy import GcPolicy
from dragonscope.analyzer.monitor import Monitor
from dragonscope.analyzer.origins import RequestPolicy
from dragonscope.analyzer.past import Past
from dragonscope.analyzer.query import QueryBudget
from dragonscope.analyzer.reactor import Reactor
from dragonscope.analyzer.rejections import RejectionLog
from dragonscope.analyzer.responses import BODY_BYTES, JSON_DEPTH
from dragonscope.analyzer.rest import (
    LoginApi,
    StatusApi,
    TopologyApi,
    cors,
    errors,
    mount_alerts,
    mount_changes,
    mount_elements,
    mount_openapi,
    mount_problems,
    mount_projects,
    mount_real_trace,
    mount_rules,
    mount_skydive_compat,
    mount_skydive_ui,
    mount_trace,
    mount_ui,
    mount_views,
    project_source,
    request_guard,
)
from dragonscope.analyzer.rules import RuleBook
from dragonscope.analyzer.services import Live, Sockets
from dragonscope.analyzer.settings import AnalyzerSettings, skydive_ui_root
from dragonscope.analyzer.subscribers import Subscriber, SubscriberHub
from dragonscope.analyzer.users import load_users
from dragonscope.config import ConfigError
from dragonscope.graph import Graph, GraphStore, History, Indexer
from dragonscope.history import DurableHistory, Recorder, RecorderSettings, open_store
from dragonscope.tasks import cancel_and_wait

log = logging.getLogger("dragonscope.analyzer")

PRUNE_EVERY_S = 30.0

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
        try:
            self.projects = project_source(self.settings)
        except ConfigError as exc:
            raise AnalyzerError(str(exc)) from None
        users = load_users(self.settings.users_file) if self.settings.users_file else None
        self.auth = Authenticator(users, self.settings.token_ttl, limits=self.settings.login_limits)
        self.policy = RequestPolicy(self.settings)
        self.graph = Graph()
        Indexer.attach(self.graph)
        self.store = GraphStore(self.graph)
        self.recorder = self._recorder()
        memory = self.settings.history_retention
        if self.recorder is not None:
            memory = min(memory, self.settings.history_memory)
        self.history = History(
            self.graph,
            memory,
            self.settings.history_max_changes,
            on_change=None if self.recorder is None else self.recorder.push,
        )
        durable = (
            None
            if self.recorder is None
            else DurableHistory(self.recorder.store, freeze=self.settings.gc_freeze)
        )
        self.past = Past(self.history, durable, self.recorder)
        self.live = Live(self.graph, self.store, self.history, self.past)
        self.hub = SubscriberHub(self.graph, self.settings.sync_encodings)
        self.query_budget = QueryBudget(
            self.settings.gremlin_max_elements, self.settings.gremlin_timeout
        )
        self.graph_json = SharedGraphJson(
            self.graph, lambda: self.hub.version, self.settings.sync_encodings
        )
        self.rejections = RejectionLog(
            self.settings.rejections_kept,
            self.settings.rejections_bytes,
            self.settings.rejection_sample_chars,
            self.settings.log_lines_per_minute,
        )
        self.publishers: Pool[Connection] = Pool()
        self.subscriber_pool: Pool[tuple[Connection, Subscriber]] = Pool()
        self.counters: Counter[str] = Counter()
        self.sockets: Sockets = set()
        self.chassis_calls = ChassisCalls()  # chassis collectors that answer real traces
        self.rules = RuleBook(self.live, f"analyzer.{self.settings.host_id}", self.query_budget)
        self.alerts = AlertManager(self.live, self.hub, self.counters, self.query_budget)
        self.reactor = Reactor(self.graph, self._react, self._has_reactions)
        self.monitor = Monitor(
            self.live,
            self.hub,
            self.publishers,
            self.subscriber_pool,
            self.rejections,
            self.counters,
            self.auth,
            self.settings.limits(),
            self.query_budget.exceeded,
        )
        self.port = self.settings.port
        self._runner: web.AppRunner | None = None
        self._pruner: asyncio.Task[None] | None = None
        self._gc_task: asyncio.Task[None] | None = None
        self.gc_policy = GcPolicy(lambda: self.hub.version) if self.settings.gc_freeze else None
        self.app = self._create_app(routes)

    def _recorder(self) -> Recorder | None:
        if self.settings.history is None:
            return None
        retention = self.settings.history_retention
        settings = RecorderSettings(
            retention_ms=int(retention * 1000) if retention else None,
            max_bytes=self.settings.history_max_size,
        )
        return Recorder(open_store(self.settings.history), self.graph, settings)

    def reload_users(self) -> int:
        """Re-read the users file (SIGHUP); a bad file keeps the current users.
        Returns the number of users."""
        if self.settings.users_file is None or self.auth.users is None:
            return 0
        self.auth.replace_users(load_users(self.settings.users_file))
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
        """Apply auth and roles to a request (for plug-in routes): 401 without valid
        credentials, 405 for a role that may not. ``action`` is auth.READ/PUBLISH/WRITE."""
        return self.auth.require(request, action)

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
        server = site._server
        sockets = server.sockets if isinstance(server, asyncio.Server) else ()
        if sockets:
            self.port = sockets[0].getsockname()[1]
        self.reactor.start()
        if self.recorder is not None:
            await self.recorder.start()
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
            await cancel_and_wait(task)
        await self.reactor.stop()
        await self.hub.close()
        await self.alerts.close()
        await self.auth.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self.recorder is not None:
            await self.recorder.stop()

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

    # -- composition ----------------------------------------------------------------
    def _create_app(self, routes: Sequence[RouteSetup]) -> web.Application:
        middlewares = [cors, errors, request_guard(self.policy), self.auth.basic_auth]
        app = web.Application(middlewares=middlewares, client_max_size=self.settings.max_body_bytes)
        app[JSON_DEPTH] = self.settings.max_json_depth
        app[BODY_BYTES] = self.settings.max_body_bytes
        app.on_shutdown.append(self._close_sockets)
        router, guard, settings = app.router, self.auth, self.settings
        PublisherEndpoint(
            guard,
            settings,
            self.store,
            self.rejections,
            self.publishers,
            self.counters,
            self.sockets,
            self.chassis_calls,
            self.graph_json,
            None if self.recorder is None else self.recorder.room,
        ).mount(router)
        SubscriberEndpoint(
            guard,
            settings,
            self.live,
            self.hub,
            self.subscriber_pool,
            self.sockets,
            self.counters,
            self.query_budget,
        ).mount(router)
        TopologyApi(self.live, self.counters, guard, self.query_budget).mount(router)
        mount_elements(router, self.live, self.api_origin, guard, settings)
        mount_rules(router, self.rules, guard)
        mount_alerts(router, self.alerts, self.reactor, guard)
        LoginApi(guard, settings, self.policy).mount(router)
        StatusApi(self.monitor, settings.host_id, guard).mount(router)
        mount_openapi(router)
        mount_changes(router, self.past, guard)
        mount_ui(router)
        mount_views(router, self.live, guard, self.query_budget)
        traces = mount_trace(router, self.live, guard, self.projects)
        mount_real_trace(router, traces, self.chassis_calls, guard)
        mount_problems(router, traces, guard)
        mount_projects(router, self.projects, guard)
        mount_skydive_compat(router, guard)
        if settings.skydive_ui is not None:
            root = skydive_ui_root(settings.skydive_ui)
            if root is not None:  # checked by settings.check()
                mount_skydive_ui(router, root)
        for setup in routes:
            setup(app, self)
        return app

    async def _close_sockets(self, app: web.Application) -> None:
        """Say goodbye (1001 going away) instead of leaving peers to time out."""
        await asyncio.gather(
            *(
                ws.close(code=WSCloseCode.GOING_AWAY, message=b"analyzer stopping")
                for ws in list(self.sockets)
            ),
            return_exceptions=True,
        )
