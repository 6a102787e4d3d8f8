"""The graph model shared by the collector and the analyzer (Skydive's node/edge model)."""

from dragonscope.graph.model import (
    Edge,
    Graph,
    GraphError,
    GraphListener,
    GraphView,
    Node,
    now_ms,
)

__all__ = ["Edge", "Graph", "GraphError", "GraphListener", "GraphView", "Node", "now_ms"]
