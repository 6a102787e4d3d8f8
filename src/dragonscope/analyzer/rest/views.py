"""``/api/views``: the predefined views (``gremlin.SAVED_QUERIES``), listed and run.

The web UI builds its view picker from the list, and shows of its graph what
``/api/views/<name>?<param>=...[&at=ms]`` answers: ``{"Nodes": [IDs], "Edges": [IDs]}``,
so a view means the same in the UI as in ``dragonscope query --saved``.
"""

from __future__ import annotations

from aiohttp import web

from dragonscope.analyzer import auth
from dragonscope.analyzer.auth import Authenticator
from dragonscope.analyzer.query import (
    VIEW,
    HistoryUnavailable,
    QueryBudget,
    QueryError,
    compile_query,
    graph_ids_async,
)
from dragonscope.analyzer.responses import json_error, json_response
from dragonscope.analyzer.services import Live
from dragonscope.graph import GraphView, HistoryError, epoch_ms
from dragonscope.gremlin import SAVED_QUERIES, GremlinError, expand
from dragonscope.history import StoreUnavailable


def mount_views(
    router: web.UrlDispatcher, live: Live, guard: Authenticator, budget: QueryBudget
) -> None:
    """Views run under the Gremlin budget; one stops when its client leaves."""
    catalogue = [q.to_json() for q in SAVED_QUERIES.values()]

    async def list_views(request: web.Request) -> web.Response:
        guard.require(request, auth.READ)
        return json_response(catalogue)

    async def run_view(request: web.Request) -> web.Response:
        guard.require(request, auth.READ)
        name = request.match_info["name"]
        if name not in SAVED_QUERIES:
            return json_error(404, f"no view named {name!r}; see /api/views")
        params = {k: v for k, v in request.query.items() if k != "at"}
        try:
            at = epoch_ms(int(request.query["at"])) if "at" in request.query else None
        except ValueError:
            return json_error(
                400, f"at must be a time in ms (or s) since epoch, got {request.query['at']!r}"
            )
        try:
            compiled = compile_query(expand(name, params))
            view: GraphView = live.graph
            if at is not None:
                view = await live.past.view_at(at)
            nodes, edges = await graph_ids_async(
                compiled,
                view,
                live.past,
                budget,
                VIEW,
                cancelled=lambda: request.transport is None or request.transport.is_closing(),
            )
        except (GremlinError, QueryError, HistoryError) as exc:
            return json_error(400, str(exc))
        except StoreUnavailable as exc:
            raise HistoryUnavailable(str(exc)) from None
        return json_response({"Nodes": sorted(nodes), "Edges": sorted(edges)})

    router.add_get("/api/views", list_views)
    router.add_get("/api/views/{name}", run_view)
