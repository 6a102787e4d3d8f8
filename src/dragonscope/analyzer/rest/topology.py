"""``/api/topology``: Gremlin over REST, with the response shapes skydive-client expects.

``GET /api/topology?projection=ui`` is the graph as the web UI draws it: each element's ID
(and Parent and Child), Host and Origin when set, and its metadata without the raw NB object
(``Dragonflow``), of which only the keys the UI searches and marks by are kept. At 5k nodes it
is half the bytes of the whole graph; the UI asks ``/api/node/{id}`` for the rest of an element
when it is opened.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from aiohttp import web

from dragonscope.analyzer import auth
from dragonscope.analyzer.auth import Authenticator
from dragonscope.analyzer.chunked import Slicer, graph_bytes, json_bytes
from dragonscope.analyzer.query import QueryBudget, QueryError, compile_query, run_query
from dragonscope.analyzer.responses import JSON_TYPE, pieces_response, read_json, text_error
from dragonscope.analyzer.services import Live
from dragonscope.graph import Edge, Node
from dragonscope.gremlin import AS_BYTES

UI_PROJECTION = "ui"
# What the UI reads of the NB object: ids and names (search, pickers, trace), a floating IP's
# address and port (search), a collector status node's staleness (the top bar).
UI_DRAGONFLOW_KEYS = ("ID", "name", "Stale", "StaleSince", "floating_ip_address", "lport")
_CHUNK = 256


def ui_element(element: Node) -> dict[str, Any]:
    """One node or edge as the UI's projection has it."""
    metadata = element.metadata
    nb = metadata.get("Dragonflow")
    if isinstance(nb, dict):
        metadata = {k: v for k, v in metadata.items() if k != "Dragonflow"}
        kept = {k: nb[k] for k in UI_DRAGONFLOW_KEYS if k in nb}
        if kept:
            metadata["Dragonflow"] = kept
    out: dict[str, Any] = {"ID": element.id, "Metadata": metadata}
    if element.host:
        out["Host"] = element.host
    if element.origin:
        out["Origin"] = element.origin
    if isinstance(element, Edge):
        out["Parent"], out["Child"] = element.parent, element.child
    return out


async def ui_graph_bytes(nodes: Sequence[Node], edges: Sequence[Edge]) -> list[bytes]:
    """``{"Nodes": [...], "Edges": [...]}`` of the UI's projection, built and encoded in slices."""
    slicer = Slicer()
    graph: dict[str, list[dict[str, Any]]] = {"Nodes": [], "Edges": []}
    for key, elements in (("Nodes", nodes), ("Edges", edges)):
        out = graph[key]
        for start in range(0, len(elements), _CHUNK):
            out.extend(ui_element(e) for e in elements[start : start + _CHUNK])
            await slicer.maybe_yield()
    return await json_bytes(graph, slicer)


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
            pieces = await ui_graph_bytes(list(nodes.values()), list(edges.values()))
        else:
            pieces = await graph_bytes(list(nodes.values()), list(edges.values()), empty=b"null")
        return pieces_response([*pieces, b"\n"])

    def mount(self, router: web.UrlDispatcher) -> None:
        router.add_post("/api/topology", self.post)
        router.add_get("/api/topology", self.get)
