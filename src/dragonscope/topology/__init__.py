"""NB objects to a Skydive graph: translation, incremental diff, chassis slices, extensions.

    topology = Topology()                # installed extensions; chassis="..." for a slice
    ops = topology.load(snapshot)        # the whole graph, nodes before edges
    ops = topology.apply(change)         # only what the change touched, in a valid order

It owns the per-table rules (``topology/rules/``), deterministic element IDs and the
extension API. Its operations speak the graph's vocabulary (``GraphOp``: an ``Action`` on a
node or an edge): it imports only ``dragonscope.nb`` and ``dragonscope.graph``, never the
wire protocol (``skydive``) or anything above. ``docs/graph-model.md`` describes every
node type, metadata key and relation.
"""

from dragonscope.topology.contribution import one_copy
from dragonscope.topology.engine import Action, GraphOp, Topology, translate
from dragonscope.topology.extensions import (
    ENTRY_POINT_GROUP,
    Extension,
    ExtensionContext,
    ExtensionFailure,
    discover,
)
from dragonscope.topology.ids import chassis_node_id, edge_id, node_id, router_port_id
from dragonscope.topology.packed import (
    Metadata,
    PackedNode,
    held_form,
    pack,
    same_metadata,
    unpack,
)
from dragonscope.topology.packed import text as packed_text
from dragonscope.topology.rules import SNAPSHOT_ORDER
from dragonscope.topology.snapshot import snapshot_from_graph
from dragonscope.topology.store import Skeleton

__all__ = [
    "ENTRY_POINT_GROUP",
    "SNAPSHOT_ORDER",
    "Action",
    "Extension",
    "ExtensionContext",
    "ExtensionFailure",
    "GraphOp",
    "Metadata",
    "PackedNode",
    "Skeleton",
    "Topology",
    "chassis_node_id",
    "discover",
    "edge_id",
    "held_form",
    "node_id",
    "one_copy",
    "pack",
    "packed_text",
    "router_port_id",
    "same_metadata",
    "snapshot_from_graph",
    "translate",
    "unpack",
]
