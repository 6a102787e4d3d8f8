"""The typed services that route and endpoint modules receive, instead of the analyzer."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from dragonscope.analyzer.past import Past
from dragonscope.graph import Graph, GraphStore, History

Sockets = set[web.WebSocketResponse]
"""Open WebSockets of both endpoints, closed (1001 going away) when the analyzer stops."""


@dataclass(frozen=True, slots=True)
class Live:
    """The live graph, its write path (origins kept apart) and its past (``history``
    in memory; ``past`` answers any time, from memory or the durable store)."""

    graph: Graph
    store: GraphStore
    history: History
    past: Past
