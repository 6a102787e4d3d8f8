"""The analyzer's door to the Gremlin engine: compile a query, run it, read a graph result.

Queries run on the live graph; ``At``/``Context`` reach the past through
``Past``: rebuilt step by step from memory, or fetched from the durable store
(the run then starts again with that view at hand). REST queries and subscriber
filters run cooperatively (the engine yields to the event loop every few
milliseconds), so a heavy query never stalls publishers; every run has a budget
(elements and seconds, ``QueryBudget``), the same wherever a client's query
runs (REST, subscriber filters, views, rules, alerts), and a REST query stops
when its client leaves. Engine and history errors become :class:`QueryError`, the user's mistake
(HTTP 400).
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from aiohttp import web

from dragonscope.analyzer.chunked import PACER
from dragonscope.analyzer.past import NeedPast, Past, PastKey
from dragonscope.graph import GraphView, HistoryError, now_ms
from dragonscope.gremlin import AS_VIEW, CompiledQuery, Form, GremlinError, RunOptions
from dragonscope.gremlin import compile_query as _compile
from dragonscope.history import StoreUnavailable

T = TypeVar("T")


class QueryError(ValueError):
    """A query the user got wrong; the text is the engine's message (HTTP 400)."""


class HistoryUnavailable(web.HTTPServiceUnavailable):
    """The past asked for is in a database that cannot be reached now (HTTP 503)."""

    def __init__(self, reason: str) -> None:
        super().__init__(
            text=json.dumps({"error": f"history unavailable: {reason}"}),
            content_type="application/json",
        )


def compile_query(query: str) -> CompiledQuery:
    try:
        return _compile(query)
    except GremlinError as exc:
        raise QueryError(str(exc)) from None


# Where queries from clients run, as /metrics labels them; every one runs under
# the same QueryBudget.
REST = "rest"
FILTER = "subscriber-filter"
VIEW = "view"
RULE = "rule"
ALERT = "alert"
# The engine names the budget a run exceeded in its message.
BUDGET_BOUNDS = ("gremlin-max-elements", "gremlin-timeout")


@dataclass(frozen=True, slots=True)
class QueryBudget:
    """What one query may cost (AnalyzerSettings gremlin_max_elements, gremlin_timeout);
    ``exceeded`` counts the runs stopped by it, by where they ran."""

    max_elements: int = 200_000
    seconds: float = 10.0
    exceeded: Counter[str] = field(default_factory=Counter, compare=False)


DEFAULT_BUDGET = QueryBudget()


def over_budget(error: Exception) -> bool:
    """Whether a query error is a budget's (rather than the query's own mistake)."""
    return any(f"({bound})" in str(error) for bound in BUDGET_BOUNDS)


async def run_query(
    compiled: CompiledQuery,
    view: GraphView,
    past: Past | None,
    form: Form[T],
    budget: QueryBudget = DEFAULT_BUDGET,
    cancelled: Callable[[], bool] | None = None,
    where: str = REST,
) -> T:
    """The query's result in ``form`` (``AS_JSON``: Skydive's shape; ``AS_BYTES``: its
    compact JSON text in UTF-8 pieces); the query runs in slices, within ``budget``,
    until ``cancelled()`` says its client left. A run the budget stops is counted
    under ``where``; its QueryError names the bound."""
    fetched: dict[PastKey, GraphView] = {}
    now = now_ms()  # "-1h" means the same in every run of this query
    pace = functools.partial(PACER.share, object())  # this run's share of the loop
    while True:
        options = RunOptions() if past is None else past.run_options(fetched, now)
        options = dataclasses.replace(
            options,
            max_elements=budget.max_elements,
            seconds=budget.seconds,
            cancelled=cancelled,
            pace=pace,
        )
        try:
            return await compiled.run_async(view, options, form=form)
        except NeedPast as need:
            assert past is not None
            try:
                fetched[need.key] = await past.fetch(need.key)
            except HistoryError as exc:
                raise QueryError(str(exc)) from None
            except StoreUnavailable as exc:
                raise HistoryUnavailable(str(exc)) from None
        except (GremlinError, HistoryError) as exc:
            if over_budget(exc):
                budget.exceeded[where] += 1
            raise QueryError(str(exc)) from None


async def graph_ids_async(
    compiled: CompiledQuery,
    view: GraphView,
    past: Past | None,
    budget: QueryBudget = DEFAULT_BUDGET,
    where: str = REST,
    cancelled: Callable[[], bool] | None = None,
) -> tuple[set[str], set[str]]:
    """IDs of the nodes and edges of a query that must return a graph; it runs in slices."""
    if not compiled.returns_graph:
        raise QueryError("the filter must return a graph: end it with .SubGraph() or use G")
    result = await run_query(compiled, view, past, AS_VIEW, budget, cancelled, where)
    return {n.id for n in result.nodes()}, {e.id for e in result.edges()}
