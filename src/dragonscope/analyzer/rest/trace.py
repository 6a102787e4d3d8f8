"""``POST /api/trace`` and ``GET /api/reach`` on the analyzer, over its aggregated graph.

A graph listener mirrors the NB objects behind the live graph; the index is rebuilt
only when the graph changed since the last request, so repeated traces and matrices
share one index and one security-group cache. Index building and simulation run in a
worker thread to keep the event loop free.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from aiohttp import web

from dragonscope.analyzer.auth import READ, Authenticator
from dragonscope.analyzer.responses import BodyError, json_error, read_json
from dragonscope.analyzer.services import Live
from dragonscope.graph import Edge, Graph, GraphListener, Json, Node, epoch_ms
from dragonscope.nb import ProjectNames, Snapshot
from dragonscope.topology import snapshot_from_graph
from dragonscope.trace import (
    IGNORED_TABLES,
    TraceError,
    Tracer,
    TraceRequest,
    apply_patch,
    matrix,
    parse_apps,
)


class _NbMirror(GraphListener):
    """The NB objects behind the live graph. Mutations only note which elements changed
    (cheap on the analyzer's hot path); ``sync`` converts just those, so a rebuild after a
    change costs an index build, not a conversion of the whole graph."""

    MAX_PENDING = 20_000  # beyond this, one full conversion is cheaper than many small ones

    def __init__(self) -> None:
        self.objects: Snapshot = {}
        self.full = True  # a full conversion is due
        self.stale = True
        self._pending: dict[
            str, tuple[Node | None, bool]
        ] = {}  # element id -> (old version, is edge)

    def _note(self, element: Node, old: Node | None, edge: bool) -> None:
        self.stale = True
        if self.full:
            return
        if len(self._pending) >= self.MAX_PENDING:
            self.full = True
            self._pending.clear()
            return
        self._pending.setdefault(element.id, (old, edge))

    def on_node_added(self, node: Node) -> None:
        self._note(node, None, False)

    def on_node_updated(self, node: Node, old: Node) -> None:
        self._note(node, old, False)

    def on_node_deleted(self, node: Node) -> None:
        self._note(node, node, False)

    def on_edge_added(self, edge: Edge) -> None:
        self._note(edge, None, True)

    def on_edge_updated(self, edge: Edge, old: Edge) -> None:
        self._note(edge, old, True)

    def on_edge_deleted(self, edge: Edge) -> None:
        self._note(edge, edge, True)

    async def sync(self, graph: Graph) -> tuple[Snapshot, set[str] | None]:
        """Bring ``objects`` up to date with ``graph``. Returns a copy safe to index in a
        worker thread while the graph keeps changing, and the tables whose objects changed
        (None after a full conversion)."""
        if self.full:
            self.full, self.stale = False, False
            self._pending.clear()
            nodes, edges = list(graph.nodes()), list(graph.edges())
            self.objects = await asyncio.to_thread(snapshot_from_graph, nodes, edges)
            return dict(self.objects), None
        pending, self._pending = self._pending, {}
        self.stale = False
        tables: set[str] = set()
        for element_id, (old, edge) in pending.items():
            before = _objects(old) if old is not None else {}
            current = graph.edge(element_id) if edge else graph.node(element_id)
            after = _objects(current) if current is not None else {}
            for key in before.keys() - after.keys():
                self.objects.pop(key, None)
                tables.add(key[0])
            for key, obj in after.items():
                if self.objects.get(key) != obj:
                    self.objects[key] = obj
                    tables.add(key[0])
        return dict(self.objects), tables


def _objects(element: Node) -> Snapshot:
    if isinstance(element, Edge):
        return snapshot_from_graph([], [element])
    return snapshot_from_graph([element])


class TraceService:
    """One snapshot and one Tracer per app set, rebuilt lazily after the graph changed;
    reachability matrices are kept until then too."""

    def __init__(self, live: Live) -> None:
        self.live = live
        self.mirror = _NbMirror()
        live.graph.add_listener(self.mirror)
        self._tracers: dict[frozenset[str], Tracer] = {}
        self._matrices: dict[tuple[Any, ...], dict[str, Any]] = {}
        self._snapshot: Snapshot | None = None
        self._lock = asyncio.Lock()

    async def _current(self) -> Snapshot:
        if self.mirror.stale or self._snapshot is None:
            self._snapshot, tables = await self.mirror.sync(self.live.graph)
            if tables is not None and tables <= IGNORED_TABLES:
                # Heartbeats and the like: the indexes stay valid; only notes read them.
                for tracer in self._tracers.values():
                    tracer.index.refresh(self._snapshot)
            else:
                self._tracers.clear()
                self._matrices.clear()
        return self._snapshot

    async def snapshot(self) -> Snapshot:
        """The NB objects behind the live graph, rebuilt only after it changed."""
        async with self._lock:
            return await self._current()

    async def tracer(
        self, apps: frozenset[str], patch: Json = None, at: int | None = None
    ) -> Tracer:
        """The Tracer for the live graph (or the graph at ``at`` ms), patched if asked.
        Snapshot and index are built in a worker thread: seconds on a 100k-object cloud."""
        if at is not None:
            view = await self.live.past.view_at(at)
            nodes, edges = list(view.nodes()), list(view.edges())
            snapshot = await asyncio.to_thread(snapshot_from_graph, nodes, edges)
        else:
            async with self._lock:
                snapshot = await self._current()
                if patch is None:
                    if apps not in self._tracers:
                        self._tracers[apps] = await asyncio.to_thread(Tracer, snapshot, apps)
                    return self._tracers[apps]
        if patch is not None:
            snapshot = apply_patch(snapshot, patch)
        return await asyncio.to_thread(Tracer, snapshot, apps)

    async def matrix(
        self, key: tuple[Any, ...], tracer: Tracer, cacheable: bool, projects: ProjectNames
    ) -> dict[str, Any]:
        if cacheable and key in self._matrices and not self.mirror.stale:
            return self._matrices[key]
        tenant, network, proto, dport, ct = key[:5]
        grid = await asyncio.to_thread(
            lambda: matrix(tracer, tenant, network, proto, dport, ct, projects=projects)
        )
        if cacheable:
            self._matrices[key] = grid
        return grid


def _at(value: Any) -> int | None:
    """``at``: milliseconds since epoch (seconds accepted, as Skydive does, up to 2^31-1)."""
    if value is None or value == "":
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise TraceError(f"at must be a time in ms (or s) since epoch, got {value!r}") from None
    if isinstance(value, bool) or number < 0:
        raise TraceError(f"at must be a time in ms (or s) since epoch, got {value!r}")
    return epoch_ms(number)


def mount_trace(
    router: web.UrlDispatcher,
    live: Live,
    guard: Authenticator,
    projects: Callable[[], ProjectNames] = ProjectNames,
) -> TraceService:
    """Mount ``/api/trace`` and ``/api/reach``; the service also serves the NB snapshot."""
    service = TraceService(live)

    async def post_trace(request: web.Request) -> web.Response:
        guard.require(request, READ)
        try:
            body = await read_json(request, empty=None)
        except BodyError as exc:
            return json_error(exc.status, str(exc))
        if not isinstance(body, dict):
            return json_error(400, "the request must be a JSON object")
        body = dict(body)
        patch, apps_spec = body.pop("patch", None), body.pop("apps", None)
        at_value = body.pop("at", None)
        try:
            if apps_spec is not None and not isinstance(apps_spec, str):
                raise TraceError('apps must be a string like "+chassis_snat"')
            apps = parse_apps(apps_spec)
            trace_request = TraceRequest.from_json(body)
            tracer = await service.tracer(apps, patch, _at(at_value))
            result = await asyncio.to_thread(lambda: tracer.trace(trace_request).to_json())
        except (TraceError, ValueError) as exc:
            return json_error(400, str(exc))
        return web.json_response(result)

    async def get_reach(request: web.Request) -> web.Response:
        guard.require(request, READ)
        q = request.query
        unknown = set(q) - {"tenant", "network", "proto", "dport", "ct", "apps", "at"}
        if unknown:
            return json_error(400, f"unknown parameter(s): {', '.join(sorted(unknown))}")
        try:
            dport = int(q["dport"]) if q.get("dport") else 22
        except ValueError:
            return json_error(400, f"dport must be an integer, got {q['dport']!r}")
        proto = q.get("proto", "tcp")
        if proto not in ("tcp", "udp", "icmp"):
            return json_error(400, f"proto must be tcp, udp or icmp, got {proto!r}")
        try:
            at = _at(q.get("at"))
            apps = parse_apps(q.get("apps"))
            tracer = await service.tracer(apps, at=at)
            ct = q.get("ct") in ("1", "true")
            key = (q.get("tenant"), q.get("network"), proto, dport, ct, apps)
            grid = await service.matrix(key, tracer, at is None, projects())
        except (TraceError, ValueError) as exc:
            return json_error(400, str(exc))
        return web.json_response(grid)

    router.add_post("/api/trace", post_trace)
    router.add_get("/api/reach", get_reach)
    return service
