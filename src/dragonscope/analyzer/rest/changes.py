"""``GET /api/changes?from=T1&to=T2[&filter=gremlin]``: what changed between two times.

The answer is ``{"From", "To", "Added": {"Nodes", "Edges"}, "Removed": {...},
"Changed": {...}}``: what exists at T2 but not at T1 (``Added``), the reverse
(``Removed``), and what exists at both with a different ``Metadata``, ``Host``
or ends (``Changed``, each entry ``{"Before", "After"}``). An element
created and deleted inside the window is not listed. With ``filter`` (a
Gremlin query returning a graph) only elements in its result at T1 or at T2
are listed. Times before the history began count from the earliest state known.
Older than the analyzer's memory, the answer comes from the durable store, and
``Gaps`` lists the periods inside the window the history does not know.

Over a long window this is tens of thousands of changes and megabytes of JSON:
the net changes, the filter, the sections and the text are all computed in
slices that give the event loop turns in between.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from dragonscope.analyzer import auth
from dragonscope.analyzer.auth import Authenticator
from dragonscope.analyzer.chunked import Slicer, json_bytes
from dragonscope.analyzer.past import Past
from dragonscope.analyzer.query import (
    HistoryUnavailable,
    QueryError,
    compile_query,
    graph_ids_async,
)
from dragonscope.analyzer.responses import json_error, pieces_response
from dragonscope.graph import Edge, HistoryError, Node, now_ms, parse_time
from dragonscope.history import StoreUnavailable


def _differs(before: Node, after: Node) -> bool:
    if before.metadata != after.metadata or before.host != after.host:
        return True
    return (
        isinstance(before, Edge)
        and isinstance(after, Edge)
        and ((before.parent, before.child) != (after.parent, after.child))
    )


async def _section(
    net: dict[str, Any], keep: set[str] | None, slicer: Slicer
) -> dict[str, list[Any]]:
    added: list[Any] = []
    removed: list[Any] = []
    changed: list[Any] = []
    for count, (element_id, (before, after)) in enumerate(net.items()):
        if not count % 256:
            await slicer.maybe_yield()
        if keep is not None and element_id not in keep:
            continue
        if before is None and after is not None:
            added.append(after.to_json())
        elif before is not None and after is None:
            removed.append(before.to_json())
        elif before is not None and after is not None and _differs(before, after):
            changed.append({"Before": before.to_json(), "After": after.to_json()})
    return {"Added": added, "Removed": removed, "Changed": changed}


async def diff(past: Past, start: int, end: int, gremlin: str | None) -> dict[str, Any]:
    compiled = compile_query(gremlin) if gremlin else None
    if compiled is not None and not compiled.returns_graph:
        raise QueryError("the filter must return a graph: end it with .SubGraph() or use G")
    slicer = Slicer()
    nodes_net, edges_net, gaps = await past.changes_between(start, end)
    keep_nodes = keep_edges = None
    if compiled is not None:
        keep_nodes, keep_edges = set(), set()
        for at in (start, end):
            view = await past.view_at(at)
            node_ids, edge_ids = await graph_ids_async(compiled, view, past)
            keep_nodes |= node_ids
            keep_edges |= edge_ids
    nodes = await _section(nodes_net, keep_nodes, slicer)
    edges = await _section(edges_net, keep_edges, slicer)
    out: dict[str, Any] = {"From": start, "To": end}
    for what in ("Added", "Removed", "Changed"):
        out[what] = {"Nodes": nodes[what], "Edges": edges[what]}
    out["Gaps"] = [gap.to_json() for gap in gaps]
    return out


def mount_changes(router: web.UrlDispatcher, past: Past, guard: Authenticator) -> None:
    async def get_changes(request: web.Request) -> web.Response:
        guard.require(request, auth.READ)
        now = now_ms()
        try:
            start = parse_time(request.query["from"], now) if "from" in request.query else None
            end = parse_time(request.query.get("to", "now"), now)
        except ValueError as exc:
            return json_error(400, str(exc))
        if start is None:
            return json_error(400, "the from parameter is required (e.g. from=-5m)")
        if start > end:
            return json_error(400, f"from ({start}) is after to ({end})")
        try:
            answer = await diff(past, start, end, request.query.get("filter"))
        except (HistoryError, QueryError) as exc:
            return json_error(400, str(exc))
        except StoreUnavailable as exc:
            raise HistoryUnavailable(str(exc)) from None
        return pieces_response([*(await json_bytes(answer)), b"\n"])

    router.add_get("/api/changes", get_changes)
