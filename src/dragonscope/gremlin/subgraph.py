"""A read-only graph made of chosen nodes and edges (the result of ``SubGraph()``)."""

from __future__ import annotations

from collections.abc import Iterable

from dragonscope.graph import Edge, Node


class SubGraphView:
    """Implements GraphView over its own node and edge tables, so later steps
    (``.V()``, ``.Out()``) see only what the subgraph holds."""

    def __init__(self, nodes: Iterable[Node] = (), edges: Iterable[Edge] = ()) -> None:
        self._nodes: dict[str, Node] = {}
        self._edges: dict[str, Edge] = {}
        self._out: dict[str, list[Edge]] = {}
        self._in: dict[str, list[Edge]] = {}
        self.add_nodes(nodes)
        self.add_edges(edges)

    def add_nodes(self, nodes: Iterable[Node]) -> None:
        for node in nodes:
            self._nodes.setdefault(node.id, node)

    def add_edges(self, edges: Iterable[Edge]) -> None:
        """Add edges (their ends should be added as nodes too); repeats are ignored."""
        for edge in edges:
            if edge.id in self._edges:
                continue
            self._edges[edge.id] = edge
            self._out.setdefault(edge.parent, []).append(edge)
            self._in.setdefault(edge.child, []).append(edge)

    def node(self, node_id: str) -> Node | None:
        return self._nodes.get(node_id)

    def edge(self, edge_id: str) -> Edge | None:
        return self._edges.get(edge_id)

    def nodes(self) -> Iterable[Node]:
        return list(self._nodes.values())

    def edges(self) -> Iterable[Edge]:
        return list(self._edges.values())

    def out_edges(self, node_id: str) -> Iterable[Edge]:
        return self._out.get(node_id, ())

    def in_edges(self, node_id: str) -> Iterable[Edge]:
        return self._in.get(node_id, ())

    def node_count(self) -> int:
        return len(self._nodes)

    def edge_count(self) -> int:
        return len(self._edges)
