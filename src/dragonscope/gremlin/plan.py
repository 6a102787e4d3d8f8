"""How a query runs: kinds of values, the run state, the compiler and shared helpers.

A step compiles to an ``Op``: a generator function ``(run, value)`` that yields
now and then (so a long query can give the event loop back) and returns the
step's value. Kinds are checked when the query is compiled, so a query that
chains steps wrongly fails before it touches any graph. Planning is local, as
in Skydive: ``V()`` absorbs a following ``Has``/``HasEither`` (index lookup)
or ``Count()`` (a counter read).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Generator, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from dragonscope.graph import GraphView, Node
from dragonscope.gremlin.errors import GremlinError
from dragonscope.gremlin.predicates import Context, Filter, Matcher, compile_filter, key_of
from dragonscope.gremlin.syntax import Arg, Call, Step

GRAPH, NODES, EDGES, PATHS, VALUES, NUMBER, RAW, GROUPS = (
    "graph", "nodes", "edges", "paths", "values", "number", "raw", "groups"
)  # fmt: skip
KIND_NAMES = {
    GRAPH: "a graph",
    NODES: "nodes",
    EDGES: "edges",
    PATHS: "paths",
    VALUES: "values",
    NUMBER: "a number",
    RAW: "metrics or flows",
    GROUPS: "flow groups",
}
CHUNK = 1024  # elements handled between two chances to yield

Gen = Generator[None, None, Any]
Op = Callable[["Run", Any], Gen]

# The past as a view, or as a generator that yields between slices of rebuilding
# it and returns the view (``History.view_at_steps``/``window_view_steps``).
PastView = GraphView | Generator[None, None, GraphView]
AtFn = Callable[[int], PastView]
WindowFn = Callable[[int, int], PastView]


@dataclass
class Run:
    """The state of one evaluation."""

    root: GraphView
    at: AtFn | None
    window: WindowFn | None
    now_ms: int
    max_elements: int | None = None
    graph: GraphView = field(init=False)
    marks: dict[str, list[Node]] = field(default_factory=dict)
    touched: int = 0

    def __post_init__(self) -> None:
        self.graph = self.root

    def touch(self, count: int) -> None:
        """Count elements a step produced; past ``max_elements`` the query stops
        (each move can multiply the elements: Both().Both()... grows geometrically)."""
        self.touched += count
        if self.max_elements is not None and self.touched > self.max_elements:
            raise GremlinError(
                f"the query touches more than {self.max_elements} elements "
                "(gremlin-max-elements); narrow it with Has() or Limit()"
            )


@dataclass(frozen=True, slots=True)
class Compiled:
    op: Op
    kind: str
    absorbed: int = 0  # how many following steps this op also performed


Handler = Callable[["Compiler", Step, str, Sequence[Step]], Compiled]
StepTable = dict[str, tuple[Handler, tuple[str, ...]]]


class Compiler:
    """Turns steps into ops, checking kinds and parameters.

    ``table`` maps each step name to its handler and the kinds it accepts."""

    def __init__(self, query: str, table: StepTable) -> None:
        self.ctx = Context(query)
        self.table = table
        self.marks: set[str] = set()

    def error(self, message: str, pos: int | None) -> GremlinError:
        return self.ctx.error(message, pos)

    def compile(self, steps: Sequence[Step]) -> tuple[list[Op], str]:
        ops: list[Op] = []
        kind = GRAPH
        i = 0
        while i < len(steps):
            step = steps[i]
            handler, accepted = self.table[step.name]
            if kind not in accepted:
                wants = " or ".join(KIND_NAMES[k] for k in accepted)
                raise self.error(
                    f"Invalid step '{step.name}' on {KIND_NAMES[kind]}: {step.name}() applies to "
                    f"{wants}",
                    step.pos,
                )
            if step.name in ("At", "Context") and i != 0:
                raise self.error(f"{step.name}() must come right after G", step.pos)
            compiled = handler(self, step, kind, steps[i + 1 :])
            ops.append(compiled.op)
            kind = compiled.kind
            i += 1 + compiled.absorbed
        return ops, kind

    # -- parameter helpers ----------------------------------------------------
    def no_args(self, step: Step) -> None:
        if step.args:
            raise self.error(f"{step.name}() takes no parameters", step.pos)

    def one_key(self, step: Step) -> str:
        if len(step.args) != 1:
            raise self.error(f"{step.name}() takes exactly one key", step.pos)
        return key_of(self.ctx, step.args[0], step.name)

    def keys(self, step: Step) -> list[str]:
        return [key_of(self.ctx, a, step.name) for a in step.args]

    def integer(self, step: Step, arg: Arg) -> int:
        value = arg.value
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(f"{step.name}() takes whole numbers, got {value!r}", arg.pos)
        return value

    def filter(
        self, step: Step, args: Sequence[Arg], *, edges: bool, any_of: bool = False
    ) -> Filter:
        return compile_filter(
            self.ctx, args, step=step.name, pos=step.pos, edges=edges, any_of=any_of
        )

    def optional_filter(self, step: Step, *, edges: bool) -> Matcher | None:
        if not step.args:
            return None
        return self.filter(step, step.args, edges=edges).match

    def metadata(self, step: Step, arg: Arg, *, edges: bool) -> Filter:
        value = arg.value
        if not isinstance(value, Call) or value.name != "METADATA":
            raise self.error(f"{step.name}() expects Metadata('key', value, ...)", arg.pos)
        if not value.args:
            raise self.error("Metadata() needs at least a key", arg.pos)
        return compile_filter(self.ctx, value.args, step="Metadata", pos=arg.pos, edges=edges)


# -- generic helpers ----------------------------------------------------------


def filtered(items: list[Any], match: Matcher) -> Gen:
    out: list[Any] = []
    for start in range(0, len(items), CHUNK):
        out.extend(filter(match, items[start : start + CHUNK]))
        yield
    return out


def index_ids(graph: GraphView, flt: Filter, *, edges: bool) -> tuple[Collection[str], bool] | None:
    """IDs that may match ``flt`` according to the graph's index, or None to scan.

    The flag tells whether the IDs are exactly the matches (every term was
    answered by the index); otherwise the caller applies the filter to them."""
    if not flt.lookups or (flt.any_of and len(flt.lookups) < flt.terms):
        return None
    lookup = getattr(graph, "lookup_edges" if edges else "lookup", None)
    hits: list[Collection[str]] = []
    for key, values in flt.lookups:
        ids = _lookup_term(lookup, key, values)
        if ids is None:
            if flt.any_of:
                return None
            continue
        hits.append(ids)
    if not hits:
        return None
    exact = len(hits) == flt.terms
    if flt.any_of:
        union: dict[str, None] = {}
        for ids in hits:
            union.update(dict.fromkeys(ids))
        return union, exact
    hits.sort(key=len)
    if not exact or len(hits) == 1:
        return hits[0], exact
    others = [h if not isinstance(h, tuple) else set(h) for h in hits[1:]]
    return [i for i in hits[0] if all(i in h for h in others)], exact


def fetch(graph: GraphView, ids: Iterable[str], *, edges: bool) -> Gen:
    """The elements of ``ids`` that exist (a generator: yields between slices)."""
    get = graph.edge if edges else graph.node
    out: list[Any] = []
    pending = list(ids)
    for start in range(0, len(pending), CHUNK):
        found = (get(i) for i in pending[start : start + CHUNK])
        out.extend(e for e in found if e is not None)
        yield
    return out


def _lookup_term(
    lookup: Callable[[str, Any], Collection[str] | None] | None,
    key: str,
    values: tuple[Any, ...],
) -> Collection[str] | None:
    if key == "@ID" and all(isinstance(v, str) for v in values):
        return tuple(dict.fromkeys(values))
    if lookup is None:
        return None
    if len(values) == 1:
        return lookup(key, values[0])
    merged: dict[str, None] = {}
    for value in values:
        hit = lookup(key, value)
        if hit is None:
            return None
        merged.update(dict.fromkeys(hit))
    return merged


def hashable(value: Any) -> Any:
    if isinstance(value, list | dict):
        return json.dumps(value, sort_keys=True, default=str)
    return (type(value).__name__, value)


# -- metrics and flows: this analyzer has none --------------------------------------


def empty(c: Compiler, step: Step, kind: str, rest: Sequence[Step]) -> Compiled:
    def op(run: Run, items: Any) -> Gen:
        return []
        yield

    return Compiled(op, RAW)


def step_group(c: Compiler, step: Step, kind: str, rest: Sequence[Step]) -> Compiled:
    """``Group([key])``: flows grouped by a field (``TrackingID`` by default). With no
    flows the groups are none: ``[]``, as Skydive answers an empty flow set."""
    if len(step.args) > 1:
        raise c.error("Group() takes 0 or 1 parameter", step.pos)
    if step.args and not isinstance(step.args[0].value, str):
        raise c.error("Group() takes the name of a flow field", step.args[0].pos)
    return Compiled(empty(c, step, kind, rest).op, GROUPS)


def step_more_than(c: Compiler, step: Step, kind: str, rest: Sequence[Step]) -> Compiled:
    """``MoreThan([n])``: the groups of more than n flows (1 by default); the legacy
    Skydive UI asks ``Group('TrackingID').MoreThan(1)`` for link latencies."""
    if len(step.args) > 1:
        raise c.error("MoreThan() takes 0 or 1 parameter", step.pos)
    if step.args:
        arg = step.args[0]
        value = arg.value
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise c.error("MoreThan() takes a whole number of flows, 0 or more", arg.pos)

    def op(run: Run, groups: Any) -> Gen:
        return groups
        yield

    return Compiled(op, GROUPS)


def raw_passthrough(c: Compiler, step: Step, kind: str, rest: Sequence[Step]) -> Compiled:
    if step.name in ("Count", "Sum"):

        def zero(run: Run, items: Any) -> Gen:
            return 0
            yield

        return Compiled(zero, NUMBER)
    return empty(c, step, kind, rest)
