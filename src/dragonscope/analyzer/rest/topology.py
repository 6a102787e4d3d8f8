"""``/api/topology``: Gremlin over REST, with the response shapes skydive-client expects."""

from __future__ import annotations

from collections import Counter

from aiohttp import web

from dragonscope.analyzer import auth
from dragonscope.analyzer.auth import Authenticator
from dragonscope.analyzer.chunked import graph_bytes
from dragonscope.analyzer.query import QueryBudget, QueryError, compile_query, run_query
from dragonscope.analyzer.responses import JSON_TYPE, pieces_response, read_json, text_error
from dragonscope.analyzer.services import Live
from dragonscope.gremlin import AS_BYTES


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
        nodes, edges = self.live.graph.snapshot()
        pieces = await graph_bytes(list(nodes.values()), list(edges.values()), empty=b"null")
        return pieces_response([*pieces, b"\n"])

    def mount(self, router: web.UrlDispatcher) -> None:
        router.add_post("/api/topology", self.post)
        router.add_get("/api/topology", self.get)
