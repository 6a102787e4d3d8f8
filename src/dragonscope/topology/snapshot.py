"""Rebuild NB objects from graph elements: the inverse of the translation.

Every node of an NB object carries the object's stored fields (secrets
excepted) under ``Dragonflow``, so a consumer holding only the graph, such as
the packet simulator working from the analyzer's history, can recover the NB
state the graph was drawn from.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from dragonscope.graph import Edge, Node
from dragonscope.nb import NbObject, Snapshot
from dragonscope.topology.extensions import EXTENSION_KEY
from dragonscope.topology.metadata import DRAGONFLOW, MISSING, ROUTER_PORT, TENANT

DERIVED_TYPES = frozenset({ROUTER_PORT, MISSING, TENANT})
"""Node types that are not NB objects (the router's copy of its ports lives in the router)."""


def _object(metadata: Mapping[str, Any], edge: bool) -> NbObject | None:
    fields = metadata.get(DRAGONFLOW)
    if not isinstance(fields, dict) or EXTENSION_KEY in metadata:
        return None
    table, object_id = fields.get("Table"), fields.get("ID")
    if not isinstance(table, str) or not isinstance(object_id, str):
        return None
    if not edge and (metadata.get("Type") != table or table in DERIVED_TYPES):
        return None
    data = {key: value for key, value in fields.items() if key not in ("Table", "ID")}
    return NbObject(table, object_id, data)


def snapshot_from_graph(
    nodes: Iterable[Node] | Mapping[str, Node], edges: Iterable[Edge] | Mapping[str, Edge] = ()
) -> Snapshot:
    """The NB objects behind ``nodes`` (and behind ``edges`` drawn from relation rows, such as
    ``child_port_segmentation``: pass the edges too to get those back)."""
    snapshot: Snapshot = {}
    node_list = nodes.values() if isinstance(nodes, Mapping) else nodes
    edge_list = edges.values() if isinstance(edges, Mapping) else edges
    for node in node_list:
        obj = _object(node.metadata, edge=False)
        if obj is not None:
            snapshot[obj.key] = obj
    for edge in edge_list:
        obj = _object(edge.metadata, edge=True)
        if obj is not None:
            snapshot[obj.key] = obj
    return snapshot
