"""The analyzer's door to the Gremlin engine: run a query, read a graph result.

Queries run on the live graph; ``At``/``Context`` reach the past through the
history, rebuilt step by step. REST queries and subscriber filters run
cooperatively (the engine yields to the event loop every few milliseconds),
so a heavy query never stalls publishers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dragonscope.graph import GraphView, HistoryError

if TYPE_CHECKING:
    from dragonscope.graph import History


class QueryError(ValueError):
    """A query the user got wrong; the text is the engine's message (HTTP 400)."""


def _engine() -> Any:
    import dragonscope.gremlin as gremlin

    return gremlin


def compile_query(query: str) -> Any:
    gremlin = _engine()
    try:
        return gremlin.compile_query(query)
    except gremlin.GremlinError as exc:
        raise QueryError(str(exc)) from None


def _time(history: History | None) -> dict[str, Any]:
    if history is None:
        return {}
    return {"at": history.view_at_steps, "window": history.window_view_steps}


async def run_compiled_async(compiled: Any, view: GraphView, history: History | None) -> Any:
    """The query's JSON-able result (Skydive's shape); the query runs in slices."""
    gremlin = _engine()
    try:
        return await compiled.run_async(view, **_time(history))
    except (gremlin.GremlinError, HistoryError) as exc:
        raise QueryError(str(exc)) from None


async def run_query_json_async(query: str, view: GraphView, history: History | None) -> list[bytes]:
    """The result as pieces of compact JSON (UTF-8), computed and encoded in slices."""
    compiled = compile_query(query)
    gremlin = _engine()
    try:
        return await compiled.run_json_pieces_async(view, **_time(history))
    except (gremlin.GremlinError, HistoryError) as exc:
        raise QueryError(str(exc)) from None


def _check_graph(compiled: Any) -> None:
    if not compiled.returns_graph:
        raise QueryError("the filter must return a graph: end it with .SubGraph() or use G")


def _ids(result: Any) -> tuple[set[str], set[str]]:
    return {n.id for n in result.nodes()}, {e.id for e in result.edges()}


async def graph_ids_async(
    compiled: Any, view: GraphView, history: History | None
) -> tuple[set[str], set[str]]:
    """IDs of the nodes and edges of a query that must return a graph; it runs in slices."""
    _check_graph(compiled)
    gremlin = _engine()
    try:
        return _ids(await compiled.evaluate_async(view, **_time(history)))
    except (gremlin.GremlinError, HistoryError) as exc:
        raise QueryError(str(exc)) from None
