"""The analyzer's door to the Gremlin engine: compile a query, run it, read a graph result.

Queries run on the live graph; ``At``/``Context`` reach the past through the
history, rebuilt step by step. REST queries and subscriber filters run
cooperatively (the engine yields to the event loop every few milliseconds),
so a heavy query never stalls publishers. Engine and history errors become
:class:`QueryError`, the user's mistake (HTTP 400).
"""

from __future__ import annotations

from typing import TypeVar

from dragonscope.graph import GraphView, History, HistoryError
from dragonscope.gremlin import AS_VIEW, CompiledQuery, Form, GremlinError, RunOptions
from dragonscope.gremlin import compile_query as _compile

T = TypeVar("T")


class QueryError(ValueError):
    """A query the user got wrong; the text is the engine's message (HTTP 400)."""


def compile_query(query: str) -> CompiledQuery:
    try:
        return _compile(query)
    except GremlinError as exc:
        raise QueryError(str(exc)) from None


def _options(history: History | None) -> RunOptions:
    if history is None:
        return RunOptions()
    return RunOptions(at=history.view_at_steps, window=history.window_view_steps)


async def run_query(
    compiled: CompiledQuery, view: GraphView, history: History | None, form: Form[T]
) -> T:
    """The query's result in ``form`` (``AS_JSON``: Skydive's shape; ``AS_BYTES``: its
    compact JSON text in UTF-8 pieces); the query runs in slices."""
    try:
        return await compiled.run_async(view, _options(history), form=form)
    except (GremlinError, HistoryError) as exc:
        raise QueryError(str(exc)) from None


async def graph_ids_async(
    compiled: CompiledQuery, view: GraphView, history: History | None
) -> tuple[set[str], set[str]]:
    """IDs of the nodes and edges of a query that must return a graph; it runs in slices."""
    if not compiled.returns_graph:
        raise QueryError("the filter must return a graph: end it with .SubGraph() or use G")
    result = await run_query(compiled, view, history, AS_VIEW)
    return {n.id for n in result.nodes()}, {e.id for e in result.edges()}
