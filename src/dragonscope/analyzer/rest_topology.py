"""``/api/topology``: Gremlin over REST, with the response shapes skydive-client expects."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from aiohttp import web

from dragonscope.analyzer import auth
from dragonscope.analyzer.keys import ANALYZER
from dragonscope.analyzer.query import QueryError, run_query_json_async
from dragonscope.analyzer.responses import JSON_TYPE, json_response, text_error

if TYPE_CHECKING:
    from dragonscope.analyzer.app import Analyzer


def _content_type(request: web.Request) -> str:
    """Skydive echoes the Accept header; we do for JSON and answer JSON otherwise."""
    accept = request.headers.get("Accept", "").split(",")[0].split(";")[0].strip()
    if accept == "application/json":
        return f"{accept}; charset=UTF-8"
    return JSON_TYPE


async def post_topology(request: web.Request) -> web.Response:
    analyzer: Analyzer = request.app[ANALYZER]
    analyzer.authorize(request, auth.READ)
    raw = await request.read()
    if not raw.strip():
        return web.Response(status=204)
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        return text_error(400, f"request body is not valid JSON: {exc}")
    if not isinstance(body, dict):
        return text_error(400, 'request body must be {"GremlinQuery": "..."}')
    query = body.get("GremlinQuery")
    if query is None or query == "":
        return web.Response(status=204)
    if not isinstance(query, str):
        return text_error(400, "GremlinQuery must be a string")
    try:
        body = await run_query_json_async(query, analyzer.graph, analyzer.history)
    except QueryError as exc:
        return text_error(400, str(exc))
    analyzer.counters["queries"] += 1
    return web.Response(body=body, headers={"Content-Type": _content_type(request)})


async def get_topology(request: web.Request) -> web.Response:
    analyzer: Analyzer = request.app[ANALYZER]
    analyzer.authorize(request, auth.READ)
    graph = analyzer.graph.to_json()
    return json_response({"Nodes": graph["Nodes"] or None, "Edges": graph["Edges"] or None})


def setup(app: web.Application) -> None:
    app.router.add_post("/api/topology", post_topology)
    app.router.add_get("/api/topology", get_topology)
