"""Each step of the dialect: what it accepts, what it yields, how it runs.

A step compiles to an ``Op``: a generator function ``(run, value)`` that yields
now and then (so a long query can give the event loop back) and returns the
step's value. Kinds are checked when the query is compiled, so a query that
chains steps wrongly fails before it touches any graph. Planning is local, as
in Skydive: ``V()`` absorbs a following ``Has``/``HasEither`` (index lookup)
or ``Count()`` (a counter read).
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable, Collection, Generator, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from dragonscope.graph.model import Edge, GraphView, Node
from dragonscope.gremlin.errors import GremlinError
from dragonscope.gremlin.fields import MISSING, PSEUDO_KEYS, flat_keys, getter, to_int
from dragonscope.gremlin.predicates import Context, Filter, Matcher, compile_filter, key_of
from dragonscope.gremlin.subgraph import SubGraphView
from dragonscope.gremlin.syntax import Arg, Call, Step, Word
from dragonscope.gremlin.timectx import at_ms, window_ms

GRAPH, NODES, EDGES, PATHS, VALUES, NUMBER, RAW = (
    "graph", "nodes", "edges", "paths", "values", "number", "raw"
)  # fmt: skip
KIND_NAMES = {
    GRAPH: "a graph",
    NODES: "nodes",
    EDGES: "edges",
    PATHS: "paths",
    VALUES: "values",
    NUMBER: "a number",
    RAW: "metrics or flows",
}
CHUNK = 2048  # elements handled between two chances to yield

Gen = Generator[None, None, Any]
Op = Callable[["Run", Any], Gen]


@dataclass
class Run:
    """The state of one evaluation."""

    root: GraphView
    at: Callable[[int], GraphView] | None
    window: Callable[[int, int], GraphView] | None
    now_ms: int
    graph: GraphView = field(init=False)
    marks: dict[str, list[Node]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.graph = self.root


@dataclass(frozen=True, slots=True)
class Compiled:
    op: Op
    kind: str
    absorbed: int = 0  # how many following steps this op also performed


class Compiler:
    """Turns steps into ops, checking kinds and parameters."""

    def __init__(self, query: str) -> None:
        self.ctx = Context(query)
        self.marks: set[str] = set()

    def error(self, message: str, pos: int | None) -> GremlinError:
        return self.ctx.error(message, pos)

    def compile(self, steps: Sequence[Step]) -> tuple[list[Op], str]:
        ops: list[Op] = []
        kind = GRAPH
        i = 0
        while i < len(steps):
            step = steps[i]
            handler = _HANDLERS[step.name]
            accepted = _ACCEPTS[step.name]
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


def _filtered(items: list[Any], match: Matcher) -> Gen:
    out: list[Any] = []
    for start in range(0, len(items), CHUNK):
        out.extend(filter(match, items[start : start + CHUNK]))
        yield
    return out


def _index_ids(
    graph: GraphView, flt: Filter, *, edges: bool
) -> tuple[Collection[str], bool] | None:
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


def _fetch(graph: GraphView, ids: Iterable[str], *, edges: bool) -> list[Any]:
    get = graph.edge if edges else graph.node
    found = (get(i) for i in ids)
    return [e for e in found if e is not None]


def _lookup_term(
    lookup: Callable[[str, Any], Collection[str] | None] | None,
    key: str,
    values: tuple[Any, ...],
) -> Collection[str] | None:
    if key == "@ID" and all(isinstance(v, str) for v in values):
        return values
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


def _hashable(value: Any) -> Any:
    if isinstance(value, list | dict):
        return json.dumps(value, sort_keys=True, default=str)
    return (type(value).__name__, value)


# -- graph steps --------------------------------------------------------------


def _time(c: Compiler, step: Step, kind: str, rest: Sequence[Step]) -> Compiled:
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
            run.graph = run.at(when)
        else:
            length = window_ms(c.ctx, win_arg, when, step.name)
            if run.window is None:
                raise c.error(
                    f"{step.name}() with a duration needs the analyzer's history of time windows:"
                    " Backend does not support history",
                    step.pos,
                )
            run.graph = run.window(when - length, when)
        return run.graph
        yield

    return Compiled(op, GRAPH)


def _vertices(c: Compiler, step: Step, kind: str, rest: Sequence[Step]) -> Compiled:
    return _elements(c, step, rest, edges=False)


def _edges(c: Compiler, step: Step, kind: str, rest: Sequence[Step]) -> Compiled:
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
        indexed = _index_ids(graph, flt, edges=edges)
        if indexed is None:
            items = list(graph.edges() if edges else graph.nodes())
        else:
            ids, exact = indexed
            if exact and counted and all(key != "@ID" for key, _ in flt.lookups):
                return len(ids)
            items = _fetch(graph, ids, edges=edges)
            if exact:
                return len(items) if counted else items
        found = yield from _filtered(items, flt.match)
        return len(found) if counted else found

    return Compiled(scan, NUMBER if counted else out_kind, absorbed)


def _is_count(rest: Sequence[Step]) -> bool:
    return bool(rest) and rest[0].name == "Count" and not rest[0].args


# -- filters --------------------------------------------------------------------


def _has(c: Compiler, step: Step, kind: str, rest: Sequence[Step]) -> Compiled:
    if kind == RAW:
        return _raw_passthrough(c, step, kind, rest)
    if not step.args:
        raise c.error(f"{step.name}() needs at least a key", step.pos)
    flt = c.filter(step, step.args, edges=kind == EDGES, any_of=step.name == "HasEither")

    def op(run: Run, items: list[Any]) -> Gen:
        return (yield from _filtered(items, flt.match))

    return Compiled(op, kind)


def _has_key(c: Compiler, step: Step, kind: str, rest: Sequence[Step]) -> Compiled:
    if kind == RAW:
        return _raw_passthrough(c, step, kind, rest)
    get = getter(c.one_key(step))
    want = step.name == "HasKey"

    def op(run: Run, items: list[Any]) -> Gen:
        return (yield from _filtered(items, lambda e: (get(e) is not MISSING) is want))

    return Compiled(op, kind)


# -- moves ------------------------------------------------------------------------


def _neighbours(c: Compiler, step: Step, kind: str, rest: Sequence[Step]) -> Compiled:
    """Out/In/Both: other ends of edges, one entry per edge and input node."""
    match = c.optional_filter(step, edges=False)
    direction = step.name

    def op(run: Run, nodes: list[Node]) -> Gen:
        graph = run.graph
        out: list[Node] = []
        for i, node in enumerate(nodes):
            for other in _adjacent(graph, node.id, direction):
                if match is None or match(other):
                    out.append(other)
            if not i % 256:
                yield
        return out

    return Compiled(op, NODES)


def _adjacent(graph: GraphView, node_id: str, direction: str) -> Iterable[Node]:
    if direction in ("Out", "Both"):
        for edge in graph.out_edges(node_id):
            child = graph.node(edge.child)
            if child is not None:
                yield child
    if direction in ("In", "Both"):
        for edge in graph.in_edges(node_id):
            if direction == "Both" and edge.parent == edge.child:
                continue  # a self-loop was already listed once
            parent = graph.node(edge.parent)
            if parent is not None:
                yield parent


def _incident(graph: GraphView, node_id: str, direction: str) -> Iterable[Edge]:
    if direction in ("OutE", "BothE"):
        yield from graph.out_edges(node_id)
    if direction in ("InE", "BothE"):
        for edge in graph.in_edges(node_id):
            if direction == "InE" or edge.parent != edge.child:
                yield edge


def _edges_of(c: Compiler, step: Step, kind: str, rest: Sequence[Step]) -> Compiled:
    match = c.optional_filter(step, edges=True)
    direction = step.name

    def op(run: Run, nodes: list[Node]) -> Gen:
        graph = run.graph
        out: list[Edge] = []
        for i, node in enumerate(nodes):
            for edge in _incident(graph, node.id, direction):
                if match is None or match(edge):
                    out.append(edge)
            if not i % 256:
                yield
        return out

    return Compiled(op, EDGES)


def _ends(c: Compiler, step: Step, kind: str, rest: Sequence[Step]) -> Compiled:
    """OutV = the child, InV = the parent (Skydive's directions), BothV = parent then child."""
    match = c.optional_filter(step, edges=False)
    ends = {"OutV": ("child",), "InV": ("parent",), "BothV": ("parent", "child")}[step.name]

    def op(run: Run, edges: list[Edge]) -> Gen:
        graph = run.graph
        out: list[Node] = []
        for i, edge in enumerate(edges):
            for end in ends:
                node = graph.node(getattr(edge, end))
                if node is not None and (match is None or match(node)):
                    out.append(node)
            if not i % 1024:
                yield
        return out

    return Compiled(op, NODES)


# -- shaping ------------------------------------------------------------------------


def _dedup(c: Compiler, step: Step, kind: str, rest: Sequence[Step]) -> Compiled:
    if kind == RAW:
        return _raw_passthrough(c, step, kind, rest)
    keys = c.keys(step)
    getters = [getter(k) for k in keys]

    def op(run: Run, items: Any) -> Gen:
        if kind == VALUES:
            if items is None:
                return None
            seen_values: dict[Any, Any] = {}
            for value in items:
                seen_values.setdefault(_hashable(value), value)
            return list(seen_values.values())
        elements = [n for path in items for n in path] if kind == PATHS else items
        out: list[Any] = []
        seen: set[Any] = set()
        for i, element in enumerate(elements):
            if getters:
                values = [g(element) for g in getters]
                if all(v is MISSING for v in values):
                    out.append(element)
                    continue
                mark: Any = tuple(None if v is MISSING else _hashable(v) for v in values)
            else:
                mark = element.id
            if mark not in seen:
                seen.add(mark)
                out.append(element)
            if not i % CHUNK:
                yield
        return out

    return Compiled(op, NODES if kind == PATHS else kind)


def _count(c: Compiler, step: Step, kind: str, rest: Sequence[Step]) -> Compiled:
    c.no_args(step)

    def op(run: Run, items: list[Any]) -> Gen:
        return len(items)
        yield

    return Compiled(op, NUMBER)


def _range(c: Compiler, step: Step, kind: str, rest: Sequence[Step]) -> Compiled:
    if step.name == "Limit":
        if len(step.args) != 1:
            raise c.error("Limit() takes one number", step.pos)
        low, high = 0, c.integer(step, step.args[0])
    else:
        if len(step.args) != 2:
            raise c.error("Range() takes two numbers: from and to", step.pos)
        low, high = (c.integer(step, a) for a in step.args)
    if low < 0 or high < low:
        raise c.error(f"{step.name}() needs 0 <= from <= to, got {low}, {high}", step.pos)

    def op(run: Run, items: list[Any]) -> Gen:
        return items[low:high]
        yield

    return Compiled(op, kind)


def _sort(c: Compiler, step: Step, kind: str, rest: Sequence[Step]) -> Compiled:
    args = list(step.args)
    descending = False
    if args and isinstance(args[0].value, Word):
        word = args.pop(0).value
        assert isinstance(word, Word)
        if word.name not in ("ASC", "DESC"):
            raise c.error(f"Sort() takes ASC or DESC, got {word.name}", step.pos)
        descending = word.name == "DESC"
    if len(args) > 1:
        raise c.error("Sort() takes an optional ASC/DESC and one key", step.pos)
    key = key_of(c.ctx, args[0], "Sort") if args else "CreatedAt"
    get = getter(key)

    def sort_key(node: Node) -> tuple[int, Any]:
        value = get(node)
        if value is MISSING:
            return (0, 0)
        number = to_int(value)
        if number is not None:
            return (0, number)
        return (1, value if isinstance(value, str) else json.dumps(value, default=str))

    def op(run: Run, nodes: list[Node]) -> Gen:
        return sorted(nodes, key=sort_key, reverse=descending)
        yield

    return Compiled(op, NODES)


# -- values --------------------------------------------------------------------------


def _values(c: Compiler, step: Step, kind: str, rest: Sequence[Step]) -> Compiled:
    get = getter(c.one_key(step))

    def op(run: Run, nodes: list[Node]) -> Gen:
        out = []
        for node in nodes:
            value = get(node)
            if value is MISSING or (isinstance(value, list | dict) and not value):
                continue
            out.append(value)
        return out or None
        yield

    return Compiled(op, VALUES)


def _value_map(c: Compiler, step: Step, kind: str, rest: Sequence[Step]) -> Compiled:
    keys = c.keys(step)
    if not keys:
        raise c.error("ValueMap() needs at least one key", step.pos)
    getters = [(k, getter(k)) for k in keys]

    def op(run: Run, nodes: list[Node]) -> Gen:
        out = []
        for node in nodes:
            row = {}
            for key, get in getters:
                value = get(node)
                if value is not MISSING:
                    row[key] = value
            if row:
                out.append(row)
        return out or None
        yield

    return Compiled(op, VALUES)


def _keys(c: Compiler, step: Step, kind: str, rest: Sequence[Step]) -> Compiled:
    c.no_args(step)

    def op(run: Run, nodes: list[Node]) -> Gen:
        seen: dict[str, None] = {}
        for i, node in enumerate(nodes):
            seen.update(dict.fromkeys(flat_keys(node.metadata)))
            if not i % CHUNK:
                yield
        if not nodes:
            return None
        seen.update(dict.fromkeys(PSEUDO_KEYS))
        return list(seen)

    return Compiled(op, VALUES)


def _sum(c: Compiler, step: Step, kind: str, rest: Sequence[Step]) -> Compiled:
    if kind == RAW:
        return _raw_passthrough(c, step, kind, rest)
    key = c.one_key(step)
    get = getter(key)

    def op(run: Run, nodes: list[Node]) -> Gen:
        total = 0
        for node in nodes:
            value = get(node)
            if value is MISSING:
                continue
            number = to_int(value)
            if number is None:
                raise c.error(
                    f"Sum(): '{key}' of node {node.id} is not a number: {value!r}", step.pos
                )
            total += number
        return total
        yield

    return Compiled(op, NUMBER)


# -- marks ---------------------------------------------------------------------------


def _as(c: Compiler, step: Step, kind: str, rest: Sequence[Step]) -> Compiled:
    if len(step.args) != 1 or not isinstance(step.args[0].value, str):
        raise c.error("As() takes one name as a quoted string", step.pos)
    name = step.args[0].value
    c.marks.add(name)

    def op(run: Run, nodes: list[Node]) -> Gen:
        run.marks[name] = nodes
        return nodes
        yield

    return Compiled(op, NODES)


def _select(c: Compiler, step: Step, kind: str, rest: Sequence[Step]) -> Compiled:
    if not step.args:
        raise c.error("Select() needs at least one name given to As()", step.pos)
    names = []
    for arg in step.args:
        if not isinstance(arg.value, str):
            raise c.error("Select() takes names as quoted strings", arg.pos)
        if arg.value not in c.marks:
            raise c.error(f"Select(): no As('{arg.value}') before this step", arg.pos)
        names.append(arg.value)

    def op(run: Run, nodes: list[Node]) -> Gen:
        return [n for name in names for n in run.marks[name]]
        yield

    return Compiled(op, NODES)


# -- paths and subgraphs ------------------------------------------------------------


def _shortest_path(c: Compiler, step: Step, kind: str, rest: Sequence[Step]) -> Compiled:
    if not 1 <= len(step.args) <= 2:
        raise c.error(
            "ShortestPathTo() takes Metadata(...) for the target and an optional"
            " Metadata(...) for the edges",
            step.pos,
        )
    target = c.metadata(step, step.args[0], edges=False)
    edge_match = c.metadata(step, step.args[1], edges=True).match if len(step.args) == 2 else None

    def op(run: Run, nodes: list[Node]) -> Gen:
        graph = run.graph
        indexed = _index_ids(graph, target, edges=False)
        target_ids = None
        if indexed is not None:
            candidates = _fetch(graph, indexed[0], edges=False)
            target_ids = {n.id for n in candidates if indexed[1] or target.match(n)}
        paths = []
        for node in nodes:
            path = shortest_path(graph, node, target.match, edge_match, target_ids)
            if path:
                paths.append(path)
            yield
        return paths

    return Compiled(op, PATHS)


def shortest_path(
    graph: GraphView,
    source: Node,
    is_target: Matcher,
    edge_match: Matcher | None,
    target_ids: set[str] | None = None,
) -> list[Node]:
    """Fewest-hops path from ``source`` to a matching node, edges taken both ways.

    With ``target_ids`` (all matching nodes, known from an index) both ends grow
    towards each other, which keeps long paths in large graphs cheap.
    """
    if is_target(source):
        return [source]
    if target_ids is not None:
        return _meet_in_middle(graph, source, target_ids, edge_match)
    previous: dict[str, str | None] = {source.id: None}
    queue = deque([source.id])
    while queue:
        current = queue.popleft()
        for other in _walk(graph, current, edge_match):
            if other in previous:
                continue
            previous[other] = current
            node = graph.node(other)
            if node is not None and is_target(node):
                return _trace(graph, previous, other)[::-1]
            queue.append(other)
    return []


def _walk(graph: GraphView, node_id: str, edge_match: Matcher | None) -> Iterable[str]:
    for edge in graph.out_edges(node_id):
        if edge_match is None or edge_match(edge):
            yield edge.child
    for edge in graph.in_edges(node_id):
        if edge_match is None or edge_match(edge):
            yield edge.parent


def _trace(graph: GraphView, previous: dict[str, str | None], last: str) -> list[Node]:
    """Nodes from ``last`` back to the search's start."""
    out = []
    step: str | None = last
    while step is not None:
        node = graph.node(step)
        assert node is not None
        out.append(node)
        step = previous[step]
    return out


def _meet_in_middle(
    graph: GraphView, source: Node, targets: set[str], edge_match: Matcher | None
) -> list[Node]:
    if not targets:
        return []
    forward: dict[str, str | None] = {source.id: None}
    backward: dict[str, str | None] = dict.fromkeys(targets)
    front, back = [source.id], list(targets)
    while front and back:
        grow_forward = len(front) <= len(back)
        frontier = front if grow_forward else back
        seen, other_seen = (forward, backward) if grow_forward else (backward, forward)
        layer: list[str] = []
        meet: tuple[str, str] | None = None
        for current in frontier:
            for nxt in _walk(graph, current, edge_match):
                if nxt in seen:
                    continue
                seen[nxt] = current
                if nxt in other_seen:
                    meet = (nxt, nxt)
                    break
                layer.append(nxt)
            if meet:
                break
        if meet:
            middle = meet[0]
            head = _trace(graph, forward, middle)[::-1]
            tail = _trace(graph, backward, middle)[1:]
            return head + tail
        if grow_forward:
            front = layer
        else:
            back = layer
    return []


def _subgraph(c: Compiler, step: Step, kind: str, rest: Sequence[Step]) -> Compiled:
    edge_match = c.optional_filter(step, edges=True)

    def keep(edge: Edge) -> bool:
        return edge_match is None or edge_match(edge)

    def op(run: Run, items: list[Any]) -> Gen:
        graph = run.graph
        if kind == EDGES:
            edges = [e for e in items if keep(e)]
            ends = (graph.node(i) for e in edges for i in (e.parent, e.child))
            nodes = [n for n in ends if n is not None]
        else:
            nodes = [n for path in items for n in path] if kind == PATHS else items
            ids = {n.id for n in nodes}
            edges = []
            for i, node in enumerate(nodes):
                for edge in graph.out_edges(node.id):
                    if edge.child in ids and keep(edge):
                        edges.append(edge)
                if not i % 512:
                    yield
        run.graph = SubGraphView(nodes, edges)
        return run.graph

    return Compiled(op, GRAPH)


def _family(c: Compiler, step: Step, kind: str, rest: Sequence[Step]) -> Compiled:
    """Descendants / Ascendants / Neighbors: the input plus nodes reached within a depth."""
    args = list(step.args)
    depth = 1
    if len(args) % 2 and isinstance(args[-1].value, int) and not isinstance(args[-1].value, bool):
        depth = args.pop().value  # type: ignore[assignment]
    if len(args) % 2:
        raise c.error(
            f"{step.name}() takes key,value pairs for the edges and an optional depth", step.pos
        )
    if args:
        match = c.filter(step, args, edges=True, any_of=True).match
    else:
        ownership = [Arg("RelationType", step.pos), Arg("ownership", step.pos)]
        match = c.filter(step, ownership, edges=True).match
    down = step.name in ("Descendants", "Neighbors")
    up = step.name in ("Ascendants", "Neighbors")

    def op(run: Run, nodes: list[Node]) -> Gen:
        graph = run.graph
        found: dict[str, Node] = {}
        layer = []
        for node in nodes:
            if node.id not in found:
                found[node.id] = node
                layer.append(node.id)
        level = 0
        while layer and (depth == 0 or level < depth):
            level += 1
            nxt = []
            for node_id in layer:
                reached = []
                if down:
                    reached += [e.child for e in graph.out_edges(node_id) if match(e)]
                if up:
                    reached += [e.parent for e in graph.in_edges(node_id) if match(e)]
                for other in reached:
                    if other not in found:
                        node = graph.node(other)
                        if node is not None:
                            found[other] = node
                            nxt.append(other)
            layer = nxt
            yield
        return list(found.values())

    return Compiled(op, NODES)


# -- metrics and flows: this analyzer has none --------------------------------------


def _empty(c: Compiler, step: Step, kind: str, rest: Sequence[Step]) -> Compiled:
    def op(run: Run, items: Any) -> Gen:
        return []
        yield

    return Compiled(op, RAW)


def _raw_passthrough(c: Compiler, step: Step, kind: str, rest: Sequence[Step]) -> Compiled:
    if step.name in ("Count", "Sum"):

        def zero(run: Run, items: Any) -> Gen:
            return 0
            yield

        return Compiled(zero, NUMBER)
    return _empty(c, step, kind, rest)


def _count_any(c: Compiler, step: Step, kind: str, rest: Sequence[Step]) -> Compiled:
    if kind == RAW:
        c.no_args(step)
        return _raw_passthrough(c, step, kind, rest)
    return _count(c, step, kind, rest)


def _range_any(c: Compiler, step: Step, kind: str, rest: Sequence[Step]) -> Compiled:
    compiled = _range(c, step, kind, rest)
    return compiled if kind != RAW else _empty(c, step, kind, rest)


def _sort_any(c: Compiler, step: Step, kind: str, rest: Sequence[Step]) -> Compiled:
    compiled = _sort(c, step, kind, rest)
    return compiled if kind != RAW else _empty(c, step, kind, rest)


Handler = Callable[[Compiler, Step, str, Sequence[Step]], Compiled]

_TABLE: dict[str, tuple[Handler, tuple[str, ...]]] = {
    "At": (_time, (GRAPH,)),
    "Context": (_time, (GRAPH,)),
    "V": (_vertices, (GRAPH,)),
    "E": (_edges, (GRAPH,)),
    "Has": (_has, (NODES, EDGES, RAW)),
    "HasEither": (_has, (NODES, EDGES, RAW)),
    "HasKey": (_has_key, (NODES, EDGES, RAW)),
    "HasNot": (_has_key, (NODES, EDGES, RAW)),
    "Out": (_neighbours, (NODES,)),
    "In": (_neighbours, (NODES,)),
    "Both": (_neighbours, (NODES,)),
    "OutE": (_edges_of, (NODES,)),
    "InE": (_edges_of, (NODES,)),
    "BothE": (_edges_of, (NODES,)),
    "OutV": (_ends, (EDGES,)),
    "InV": (_ends, (EDGES,)),
    "BothV": (_ends, (EDGES,)),
    "Dedup": (_dedup, (NODES, EDGES, VALUES, PATHS, RAW)),
    "Count": (_count_any, (NODES, EDGES, PATHS, RAW)),
    "Range": (_range_any, (NODES, EDGES, PATHS, RAW)),
    "Limit": (_range_any, (NODES, EDGES, PATHS, RAW)),
    "Sort": (_sort_any, (NODES, RAW)),
    "Values": (_values, (NODES, EDGES)),
    "ValueMap": (_value_map, (NODES, EDGES)),
    "Keys": (_keys, (NODES, EDGES)),
    "Sum": (_sum, (NODES, RAW)),
    "As": (_as, (NODES,)),
    "Select": (_select, (NODES,)),
    "ShortestPathTo": (_shortest_path, (NODES,)),
    "SubGraph": (_subgraph, (NODES, EDGES, PATHS)),
    "Descendants": (_family, (NODES,)),
    "Ascendants": (_family, (NODES,)),
    "Neighbors": (_family, (NODES,)),
    "Metrics": (_empty, (NODES,)),
    "Flows": (_empty, (GRAPH, NODES)),
}
_HANDLERS = {name: entry[0] for name, entry in _TABLE.items()}
_ACCEPTS = {name: entry[1] for name, entry in _TABLE.items()}
