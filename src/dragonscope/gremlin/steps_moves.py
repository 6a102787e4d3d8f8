"""Steps that move along edges: Out/In/Both, their E and V forms, Descendants and kin."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from dragonscope.graph import Edge, GraphView, Node
from dragonscope.gremlin.plan import (
    EDGES,
    NODES,
    Compiled,
    Compiler,
    Gen,
    Run,
)
from dragonscope.gremlin.syntax import Arg, Step

# -- moves ------------------------------------------------------------------------


def step_neighbours(c: Compiler, step: Step, kind: str, rest: Sequence[Step]) -> Compiled:
    """Out/In/Both: other ends of edges, one entry per edge and input node."""
    match = c.optional_filter(step, edges=False)
    direction = step.name

    def op(run: Run, nodes: list[Node]) -> Gen:
        graph = run.graph
        out: list[Node] = []
        charged = 0
        for i, node in enumerate(nodes):
            for other in _adjacent(graph, node.id, direction):
                if match is None or match(other):
                    out.append(other)
            if not i % 256:
                run.touch(len(out) - charged)
                charged = len(out)
                yield
        run.touch(len(out) - charged)
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


def step_edges_of(c: Compiler, step: Step, kind: str, rest: Sequence[Step]) -> Compiled:
    match = c.optional_filter(step, edges=True)
    direction = step.name

    def op(run: Run, nodes: list[Node]) -> Gen:
        graph = run.graph
        out: list[Edge] = []
        charged = 0
        for i, node in enumerate(nodes):
            for edge in _incident(graph, node.id, direction):
                if match is None or match(edge):
                    out.append(edge)
            if not i % 256:
                run.touch(len(out) - charged)
                charged = len(out)
                yield
        run.touch(len(out) - charged)
        return out

    return Compiled(op, EDGES)


def step_ends(c: Compiler, step: Step, kind: str, rest: Sequence[Step]) -> Compiled:
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
        run.touch(len(out))
        return out

    return Compiled(op, NODES)


def step_family(c: Compiler, step: Step, kind: str, rest: Sequence[Step]) -> Compiled:
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
                        reached_node = graph.node(other)
                        if reached_node is not None:
                            found[other] = reached_node
                            nxt.append(other)
            layer = nxt
            yield
        return list(found.values())

    return Compiled(op, NODES)
