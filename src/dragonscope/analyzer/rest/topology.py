"""``/api/topology``: Gremlin over REST, with the response shapes skydive-client expects.

``GET /api/topology?projection=ui`` is the graph as the web UI draws it, in a third of the
bytes of the whole graph (the UI asks ``/api/node/{id}`` for the rest of an element when it is
opened): each node's ID, Host and Origin when set, and its metadata without most of the raw
NB and Neutron objects (``Dragonflow``, ``Neutron``: only the keys the UI searches and marks
by are kept); each edge as ``[ID, parent, child, metadata]``, where parent and child are
positions in the list of nodes (three UUIDs were most of an edge's text).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence
from typing import Any

from aiohttp import web

from dragonscope.analyzer import auth
from dragonscope.analyzer.auth import Authenticator
from dragonscope.analyzer.chunked import Slicer, graph_bytes
from dragonscope.analyzer.query import QueryBudget, QueryError, compile_query, run_query
from dragonscope.analyzer.responses import JSON_TYPE, pieces_response, read_json, text_error
from dragonscope.analyzer.services import Live
from dragonscope.graph import Edge, Node
from dragonscope.gremlin import AS_BYTES
from dragonscope.skydive import compact_json_bytes, kept_json_bytes

UI_PROJECTION = "ui"
# What the UI reads of the objects a node describes: ids and names (search, pickers, trace), a
# floating IP's address and port (search), a collector status node's staleness (the top bar),
# a port's Neutron id and addresses (search).
UI_KEPT = {
    "Dragonflow": ("ID", "name", "Stale", "StaleSince", "floating_ip_address", "lport"),
    "Neutron": ("PortID", "IPV4", "IPV6"),
}
_CHUNK = 256


def ui_node(node: Node) -> dict[str, Any]:
    """One node as the UI's projection has it."""
    metadata = node.metadata
    trimmed = None
    for key, keep in UI_KEPT.items():
        inner = metadata.get(key)
        if isinstance(inner, dict):
            if trimmed is None:
                trimmed = dict(metadata)
            kept = {k: inner[k] for k in keep if k in inner}
            if kept:
                trimmed[key] = kept
            else:
                del trimmed[key]
    if trimmed is not None:
        metadata = trimmed
    out: dict[str, Any] = {"ID": node.id, "Metadata": metadata}
    if node.host:
        out["Host"] = node.host
    if node.origin:
        out["Origin"] = node.origin
    return out


class UiProjection:
    """The UI's projection of the graph, as pieces of JSON. The text of each element is kept
    while the element is the same object (stored elements are never changed in place), so a
    page opened again costs the encoding of what changed since, not of 100k elements; the
    texts are dropped after ``KEEP_S`` without a request."""

    KEEP_S = 60.0

    def __init__(self) -> None:
        self._nodes: dict[str, tuple[Node, bytes]] = {}
        # An edge's text, and the positions of its ends it was made with (they move only when
        # nodes before them go).
        self._edges: dict[str, tuple[Edge, int, int, bytes]] = {}
        self._forget: asyncio.TimerHandle | None = None

    async def pieces(self, nodes: Sequence[Node], edges: Sequence[Edge]) -> list[bytes]:
        """``{"Nodes": [...], "Edges": [...]}``, built in slices."""
        slicer = Slicer()
        old_nodes, old_edges = self._nodes, self._edges
        new_nodes: dict[str, tuple[Node, bytes]] = {}
        new_edges: dict[str, tuple[Edge, int, int, bytes]] = {}
        at: dict[str, int] = {}
        pieces = [b'{"Nodes":[']
        for start in range(0, len(nodes), _CHUNK):
            texts = []
            for i, node in enumerate(nodes[start : start + _CHUNK], start):
                known = old_nodes.get(node.id)
                if known is None or known[0] is not node:
                    known = (node, kept_json_bytes(ui_node(node)))
                new_nodes[node.id] = known
                at[node.id] = i
                texts.append(known[1])
            pieces.append((b"," if start else b"") + b",".join(texts))
            await slicer.maybe_yield()
        pieces.append(b'],"Edges":[')
        first = True
        for start in range(0, len(edges), _CHUNK):
            texts = []
            for edge in edges[start : start + _CHUNK]:
                if edge.parent not in at or edge.child not in at:
                    continue  # never, in a snapshot taken in one step
                parent, child = at[edge.parent], at[edge.child]
                seen = old_edges.get(edge.id)
                if seen is None or seen[0] is not edge or seen[1] != parent or seen[2] != child:
                    ends = b"%d,%d," % (parent, child)
                    text = (
                        b"["
                        + compact_json_bytes(edge.id)
                        + b","
                        + ends
                        + compact_json_bytes(edge.metadata)
                        + b"]"
                    )
                    seen = (edge, parent, child, text)
                new_edges[edge.id] = seen
                texts.append(seen[3])
            if texts:
                pieces.append((b"" if first else b",") + b",".join(texts))
                first = False
            await slicer.maybe_yield()
        pieces.append(b"]}")
        self._nodes, self._edges = new_nodes, new_edges
        if self._forget is not None:
            self._forget.cancel()
        self._forget = asyncio.get_running_loop().call_later(self.KEEP_S, self._drop)
        return pieces

    def _drop(self) -> None:
        self._nodes, self._edges = {}, {}


def _content_type(request: web.Request) -> str:
    """Skydive echoes the Accept header; we do for JSON and answer JSON otherwise."""
    accept = request.headers.get("Accept", "").split(",")[0].split(";")[0].strip()
    if accept == "application/json":
        return f"{accept}; charset=UTF-8"
    return JSON_TYPE


class TopologyApi:
    """Gremlin queries over the live graph and its history; counts them for /metrics."""

    def __init__(
        self, live: Live, counters: Counter[str], guard: Authenticator, budget: QueryBudget
    ) -> None:
        self.live, self.counters, self.guard = live, counters, guard
        self.budget = budget
        self.ui = UiProjection()

    async def post(self, request: web.Request) -> web.Response:
        self.guard.require(request, auth.READ)
        body = await read_json(request, empty=None)
        if body is None:
            return web.Response(status=204)
        if not isinstance(body, dict):
            return text_error(400, 'request body must be {"GremlinQuery": "..."}')
        query = body.get("GremlinQuery")
        if query is None or query == "":
            return web.Response(status=204)
        if not isinstance(query, str):
            return text_error(400, "GremlinQuery must be a string")
        try:
            compiled = compile_query(query)
            pieces = await run_query(
                compiled,
                self.live.graph,
                self.live.past,
                AS_BYTES,
                self.budget,
                cancelled=lambda: request.transport is None or request.transport.is_closing(),
            )
        except QueryError as exc:
            return text_error(400, str(exc))
        self.counters["queries"] += 1
        return pieces_response([*pieces, b"\n"], _content_type(request))

    async def get(self, request: web.Request) -> web.Response:
        self.guard.require(request, auth.READ)
        projection = request.query.get("projection")
        if projection not in (None, UI_PROJECTION):
            shown = projection[:40]
            return text_error(400, f"projection {shown!r}: the only one is {UI_PROJECTION!r}")
        nodes, edges = self.live.graph.snapshot()
        if projection == UI_PROJECTION:
            pieces = await self.ui.pieces(list(nodes.values()), list(edges.values()))
        else:
            pieces = await graph_bytes(list(nodes.values()), list(edges.values()), empty=b"null")
        return pieces_response([*pieces, b"\n"])

    def mount(self, router: web.UrlDispatcher) -> None:
        router.add_post("/api/topology", self.post)
        router.add_get("/api/topology", self.get)
