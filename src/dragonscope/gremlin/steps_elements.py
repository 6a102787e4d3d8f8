"""Steps that select elements: V, E, the time context and the Has family."""

from __future__ import annotations

from collections.abc import Generator, Sequence
from typing import Any

from dragonscope.graph import MISSING, GraphView, getter
from dragonscope.gremlin.plan import (
    EDGES,
    GRAPH,
    NODES,
    NUMBER,
    RAW,
    Compiled,
    Compiler,
    Gen,
    PastView,
    Run,
    fetch,
    filtered,
    index_ids,
    raw_passthrough,
)
from dragonscope.gremlin.predicates import Filter
from dragonscope.gremlin.syntax import Step
from dragonscope.gremlin.timectx import at_ms, window_ms

# -- graph steps --------------------------------------------------------------


def step_time(c: Compiler, step: Step, kind: str, rest: Sequence[Step]) -> Compiled:
    if not 1 <= len(step.args) <= 2:
        raise c.error(f"{step.name}() takes a time and an optional duration", step.pos)
    at_arg = step.args[0]
    win_arg = step.args[1] if len(step.args) == 2 else None
    at_ms(c.ctx, at_arg, 0, step.name)  # check the form now; the value depends on the run
    if win_arg is not None:
        window_ms(c.ctx, win_arg, 0, step.name)

    def op(run: Run, graph: GraphView) -> Gen:
        when = at_ms(c.ctx, at_arg, run.now_ms, step.name)
        if win_arg is None:
            if run.at is None:
                raise c.error(
                    f"{step.name}() needs the analyzer's history: Backend does not support history",
                    step.pos,
                )
            run.graph = yield from _view(run.at(when))
        else:
            length = window_ms(c.ctx, win_arg, when, step.name)
            if run.window is None:
                raise c.error(
                    f"{step.name}() with a duration needs the analyzer's history of time windows:"
                    " Backend does not support history",
                    step.pos,
                )
            run.graph = yield from _view(run.window(when - length, when))
        return run.graph

    return Compiled(op, GRAPH)


def _view(made: PastView) -> Gen:
    """``at``/``window`` may build the past step by step: a generator that yields
    between steps and returns the view; run it here so a long rebuild yields too."""
    if isinstance(made, Generator):
        return (yield from made)
    return made


def step_v(c: Compiler, step: Step, kind: str, rest: Sequence[Step]) -> Compiled:
    return _elements(c, step, rest, edges=False)


def step_e(c: Compiler, step: Step, kind: str, rest: Sequence[Step]) -> Compiled:
    return _elements(c, step, rest, edges=True)


def _elements(c: Compiler, step: Step, rest: Sequence[Step], *, edges: bool) -> Compiled:
    out_kind = EDGES if edges else NODES
    what = "Edge" if edges else "Node"
    args = step.args
    if len(args) == 1:
        element_id = args[0].value
        if not isinstance(element_id, str):
            raise c.error(f"{step.name}() takes an ID as a quoted string", args[0].pos)

        def by_id(run: Run, graph: GraphView) -> Gen:
            element = graph.edge(element_id) if edges else graph.node(element_id)
            if element is None:
                raise c.error(f"{what} '{element_id}' does not exist", args[0].pos)
            return [element]
            yield

        return Compiled(by_id, out_kind)
    filters: list[Filter] = []
    if args:
        filters.append(c.filter(step, args, edges=edges))
    absorbed = 0
    nxt = rest[0] if rest else None
    if not args and nxt is not None and nxt.name == "Count" and not nxt.args:

        def count(run: Run, graph: GraphView) -> Gen:
            return graph.edge_count() if edges else graph.node_count()
            yield

        return Compiled(count, NUMBER, absorbed=1)
    if not args and nxt is not None and nxt.name in ("Has", "HasEither") and nxt.args:
        filters.append(c.filter(nxt, nxt.args, edges=edges, any_of=nxt.name == "HasEither"))
        absorbed = 1
    counted = filters and _is_count(rest[absorbed:])
    if counted:
        absorbed += 1

    def scan(run: Run, graph: GraphView) -> Gen:
        if not filters:
            return list(graph.edges() if edges else graph.nodes())
        flt = filters[0]
        indexed = index_ids(graph, flt, edges=edges)
        if indexed is None:
            items = list(graph.edges() if edges else graph.nodes())
        else:
            ids, exact = indexed
            if exact and counted and all(key != "@ID" for key, _ in flt.lookups):
                return len(ids)
            items = yield from fetch(graph, ids, edges=edges)
            if exact:
                return len(items) if counted else items
        found = yield from filtered(items, flt.match)
        return len(found) if counted else found

    return Compiled(scan, NUMBER if counted else out_kind, absorbed)


def _is_count(rest: Sequence[Step]) -> bool:
    return bool(rest) and rest[0].name == "Count" and not rest[0].args


# -- filters --------------------------------------------------------------------


def step_has(c: Compiler, step: Step, kind: str, rest: Sequence[Step]) -> Compiled:
    if kind == RAW:
        return raw_passthrough(c, step, kind, rest)
    if not step.args:
        raise c.error(f"{step.name}() needs at least a key", step.pos)
    flt = c.filter(step, step.args, edges=kind == EDGES, any_of=step.name == "HasEither")

    def op(run: Run, items: list[Any]) -> Gen:
        return (yield from filtered(items, flt.match))

    return Compiled(op, kind)


def step_has_key(c: Compiler, step: Step, kind: str, rest: Sequence[Step]) -> Compiled:
    if kind == RAW:
        return raw_passthrough(c, step, kind, rest)
    get = getter(c.one_key(step))
    want = step.name == "HasKey"

    def op(run: Run, items: list[Any]) -> Gen:
        return (yield from filtered(items, lambda e: (get(e) is not MISSING) is want))

    return Compiled(op, kind)
