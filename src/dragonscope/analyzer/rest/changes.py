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

Over a long window this is tens of thousands of changes and megabytes of JSON.
Everything that can refuse the request (the times, the filter, the store) is
settled first, so a refusal is still a 4xx or 503 with a body of its own; the
answer is then streamed (chunked), each section encoded and written a slice
of elements at a time, so its first bytes leave as soon as the net changes
are known and the whole text is never held at once. Should anything fail
once the first byte is out, the connection is closed before the chunked
body's end: the client sees an incomplete answer (its JSON does not parse),
never a shorter one that looks whole.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
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
from dragonscope.analyzer.responses import JSON_TYPE, json_error
from dragonscope.analyzer.rest.middleware import CORS_HEADERS
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


log = logging.getLogger("dragonscope.analyzer")
_SECTIONS = ("Added", "Removed", "Changed")
_SLICE = 1024  # elements encoded and written at a time


@dataclass(slots=True)
class Diff:
    """What changed, per section and kind, as elements (encoded only when written)."""

    start: int
    end: int
    sections: dict[str, dict[str, list[Any]]]
    gaps: list[Any]


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
            added.append(after)
        elif before is not None and after is None:
            removed.append(before)
        elif before is not None and after is not None and _differs(before, after):
            changed.append((before, after))
    return {"Added": added, "Removed": removed, "Changed": changed}


async def changes(past: Past, start: int, end: int, gremlin: str | None) -> Diff:
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
    sections = {what: {"Nodes": nodes[what], "Edges": edges[what]} for what in _SECTIONS}
    return Diff(start, end, sections, [gap.to_json() for gap in gaps])


def _json(entry: Any) -> Any:
    if isinstance(entry, tuple):
        return {"Before": entry[0].to_json(), "After": entry[1].to_json()}
    return entry.to_json()


async def _write_answer(write: Callable[[bytes], Any], found: Diff) -> None:
    """The answer's text, ``{"From", "To", "Added", "Removed", "Changed", "Gaps"}``,
    a slice of elements at a time (each write waits while the client is behind)."""
    slicer = Slicer()
    await write(f'{{"From":{found.start},"To":{found.end}'.encode())
    for what in _SECTIONS:
        for i, kind in enumerate(("Nodes", "Edges")):
            entries = found.sections[what][kind]
            await write((f',"{what}":{{' if not i else ",").encode() + f'"{kind}":['.encode())
            for at in range(0, len(entries), _SLICE):
                texts = await json_bytes([_json(e) for e in entries[at : at + _SLICE]], slicer)
                await write((b"," if at else b"") + b"".join(texts)[1:-1])
            await write(b"]" + (b"}" if i else b""))
    await write(b',"Gaps":' + b"".join(await json_bytes(found.gaps, slicer)) + b"}\n")


def mount_changes(router: web.UrlDispatcher, past: Past, guard: Authenticator) -> None:
    async def get_changes(request: web.Request) -> web.StreamResponse:
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
            found = await changes(past, start, end, request.query.get("filter"))
        except (HistoryError, QueryError) as exc:
            return json_error(400, str(exc))
        except StoreUnavailable as exc:
            raise HistoryUnavailable(str(exc)) from None
        response = web.StreamResponse(headers={"Content-Type": JSON_TYPE})
        if "Origin" in request.headers:  # the middleware cannot add them once it is sent
            response.headers.update(CORS_HEADERS)
        if "gzip" in request.headers.get("Accept-Encoding", ""):
            response.enable_compression()
        await response.prepare(request)
        try:
            await _write_answer(response.write, found)
        except ConnectionResetError:
            raise
        except Exception:
            log.exception("GET /api/changes failed while streaming its answer")
            if request.transport is not None:
                request.transport.close()  # before the body's end: the client sees it cut
            return response
        await response.write_eof()
        return response

    router.add_get("/api/changes", get_changes)
