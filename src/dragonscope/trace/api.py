"""``POST /api/trace`` and ``GET /api/reach`` on the analyzer, over its aggregated graph.

The NB snapshot is rebuilt from the live graph only when the graph changed since the
last request (a listener marks it stale), so repeated traces and matrices share one
index and one security-group cache. Simulation runs in a worker thread to keep the
event loop free.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web

from dragonscope.graph.model import GraphListener
from dragonscope.nb.model import Snapshot
from dragonscope.topology import snapshot_from_graph
from dragonscope.trace.engine import Tracer, parse_apps
from dragonscope.trace.model import TraceError
from dragonscope.trace.reach import matrix
from dragonscope.trace.request import TraceRequest
from dragonscope.trace.whatif import apply_patch

READ = "read"


class _Staleness(GraphListener):
    """Marks the cached tracer stale on any graph mutation."""

    def __init__(self) -> None:
        self.stale = True

    def _touch(self, *_: Any) -> None:
        self.stale = True

    on_node_added = on_node_updated = on_node_deleted = _touch
    on_edge_added = on_edge_updated = on_edge_deleted = _touch


class TraceService:
    """One snapshot and one Tracer per app set, rebuilt lazily after the graph changed;
    reachability matrices are kept until then too."""

    def __init__(self, analyzer: Any) -> None:
        self.analyzer = analyzer
        self.staleness = _Staleness()
        analyzer.graph.add_listener(self.staleness)
        self._tracers: dict[frozenset[str], Tracer] = {}
        self._matrices: dict[tuple[Any, ...], dict[str, Any]] = {}
        self._snapshot: Snapshot | None = None
        self._lock = asyncio.Lock()

    async def _current(self) -> Snapshot:
        # Element lists are copied on the event loop; the analyzer replaces metadata rather
        # than mutating it, so the worker thread reads a consistent set of nodes.
        if self.staleness.stale or self._snapshot is None:
            graph = self.analyzer.graph
            self.staleness.stale = False
            nodes, edges = list(graph.nodes()), list(graph.edges())
            self._snapshot = await asyncio.to_thread(snapshot_from_graph, nodes, edges)
            self._tracers.clear()
            self._matrices.clear()
        return self._snapshot

    async def tracer(
        self, apps: frozenset[str], patch: Any = None, at: int | None = None
    ) -> Tracer:
        """The Tracer for the live graph (or the graph at ``at`` ms), patched if asked.
        Snapshot and index are built in a worker thread: seconds on a 100k-object cloud."""
        if at is not None:
            view = self.analyzer.history.view_at(at)
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

    async def matrix(self, key: tuple[Any, ...], tracer: Tracer, cacheable: bool) -> dict[str, Any]:
        if cacheable and key in self._matrices and not self.staleness.stale:
            return self._matrices[key]
        grid = await asyncio.to_thread(matrix, tracer, *key[:5])
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
    return number * 1000 if number <= 2147483647 else number


def setup(app: web.Application, analyzer: Any) -> None:
    service = TraceService(analyzer)
    _error = analyzer.json_error

    async def post_trace(request: web.Request) -> web.Response:
        analyzer.authorize(request, READ)
        try:
            body = json.loads(await request.read() or b"null")
        except (ValueError, UnicodeDecodeError) as exc:
            return _error(400, f"request body is not valid JSON: {exc}")
        if not isinstance(body, dict):
            return _error(400, "the request must be a JSON object")
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
            return _error(400, str(exc))
        return web.json_response(result)

    async def get_reach(request: web.Request) -> web.Response:
        analyzer.authorize(request, READ)
        q = request.query
        unknown = set(q) - {"tenant", "network", "proto", "dport", "ct", "apps", "at"}
        if unknown:
            return _error(400, f"unknown parameter(s): {', '.join(sorted(unknown))}")
        try:
            dport = int(q["dport"]) if q.get("dport") else 22
        except ValueError:
            return _error(400, f"dport must be an integer, got {q['dport']!r}")
        proto = q.get("proto", "tcp")
        if proto not in ("tcp", "udp", "icmp"):
            return _error(400, f"proto must be tcp, udp or icmp, got {proto!r}")
        try:
            at = _at(q.get("at"))
            apps = parse_apps(q.get("apps"))
            tracer = await service.tracer(apps, at=at)
            ct = q.get("ct") in ("1", "true")
            key = (q.get("tenant"), q.get("network"), proto, dport, ct, apps)
            grid = await service.matrix(key, tracer, cacheable=at is None)
        except (TraceError, ValueError) as exc:
            return _error(400, str(exc))
        return web.json_response(grid)

    app.router.add_post("/api/trace", post_trace)
    app.router.add_get("/api/reach", get_reach)
