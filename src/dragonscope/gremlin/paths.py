"""ShortestPathTo and SubGraph."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from typing import Any

from dragonscope.graph import Edge, GraphView, Node
from dragonscope.gremlin.plan import (
    CHUNK,
    EDGES,
    GRAPH,
    PATHS,
    Compiled,
    Compiler,
    Gen,
    Run,
    fetch,
    index_ids,
)
from dragonscope.gremlin.predicates import Matcher
from dragonscope.gremlin.subgraph import SubGraphView
from dragonscope.gremlin.syntax import Step

# -- paths and subgraphs ------------------------------------------------------------


def step_shortest_path(c: Compiler, step: Step, kind: str, rest: Sequence[Step]) -> Compiled:
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
        indexed = index_ids(graph, target, edges=False)
        target_ids = None
        if indexed is not None:
            candidates = yield from fetch(graph, indexed[0], edges=False)
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


def step_subgraph(c: Compiler, step: Step, kind: str, rest: Sequence[Step]) -> Compiled:
    edge_match = c.optional_filter(step, edges=True)

    def keep(edge: Edge) -> bool:
        return edge_match is None or edge_match(edge)

    def op(run: Run, items: list[Any]) -> Gen:
        graph = run.graph
        sub = SubGraphView()
        if kind == EDGES:
            for start in range(0, len(items), CHUNK):
                edges = [e for e in items[start : start + CHUNK] if keep(e)]
                ends = (graph.node(i) for e in edges for i in (e.parent, e.child))
                sub.add_nodes(n for n in ends if n is not None)
                sub.add_edges(edges)
                yield
        else:
            nodes = [n for path in items for n in path] if kind == PATHS else items
            for start in range(0, len(nodes), CHUNK):
                sub.add_nodes(nodes[start : start + CHUNK])
                yield
            for start in range(0, len(nodes), CHUNK):
                for node in nodes[start : start + CHUNK]:
                    sub.add_edges(
                        e
                        for e in graph.out_edges(node.id)
                        if sub.node(e.child) is not None and keep(e)
                    )
                yield
        run.graph = sub
        return sub

    return Compiled(op, GRAPH)
