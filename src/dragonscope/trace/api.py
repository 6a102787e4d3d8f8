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

from dragonscope.graph.model import Edge, GraphListener, Node
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
    def __init__(self, analyzer: Any) -> None:
        self.analyzer = analyzer
        self.staleness = _Staleness()
        analyzer.graph.add_listener(self.staleness)
        self._tracers: dict[frozenset[str], Tracer] = {}
        self._snapshot: dict | None = None

    def snapshot(self) -> dict:
        if self.staleness.stale or self._snapshot is None:
            graph = self.analyzer.graph
            nodes: list[Node] = list(graph.nodes())
            edges: list[Edge] = list(graph.edges())
            self._snapshot = snapshot_from_graph(nodes, edges)
            self._tracers.clear()
            self.staleness.stale = False
        return self._snapshot

    def tracer(self, apps: frozenset[str], patch: Any = None) -> Tracer:
        snapshot = self.snapshot()
        if patch is not None:
            return Tracer(apply_patch(snapshot, patch), apps)
        if apps not in self._tracers:
            self._tracers[apps] = Tracer(snapshot, apps)
        return self._tracers[apps]


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
        try:
            if apps_spec is not None and not isinstance(apps_spec, str):
                raise TraceError('apps must be a string like "+chassis_snat"')
            apps = parse_apps(apps_spec)
            trace_request = TraceRequest.from_json(body)
            tracer = service.tracer(apps, patch)
            result = await asyncio.to_thread(lambda: tracer.trace(trace_request).to_json())
        except (TraceError, ValueError) as exc:
            return _error(400, str(exc))
        return web.json_response(result)

    async def get_reach(request: web.Request) -> web.Response:
        analyzer.authorize(request, READ)
        q = request.query
        unknown = set(q) - {"tenant", "network", "proto", "dport", "ct", "apps"}
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
            tracer = service.tracer(parse_apps(q.get("apps")))
            grid = await asyncio.to_thread(
                matrix,
                tracer,
                q.get("tenant"),
                q.get("network"),
                proto,
                dport,
                q.get("ct") in ("1", "true"),
            )
        except (TraceError, ValueError) as exc:
            return _error(400, str(exc))
        return web.json_response(grid)

    app.router.add_post("/api/trace", post_trace)
    app.router.add_get("/api/reach", get_reach)
