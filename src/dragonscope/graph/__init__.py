"""The graph engine: Skydive's node/edge model and everything that keeps a graph.

It owns the model (``Node``, ``Edge``, ``Graph`` and its listeners), the store that
applies publishers' writes under Skydive's rules and our merge rule, the history of
changes and the graph at any past time, metadata edits (partial-update ops, JSON
Patch), element validation, indexes with their key semantics, time parsing, and
``Json``, the one type of a JSON value every package above uses.

It is a ground floor: it imports nothing of dragonscope but itself (no wire, no NB,
no query language), so every package above can build on it.
"""

from dragonscope.graph.history import (
    KIND_EDGE,
    KIND_NODE,
    Change,
    History,
    HistoryError,
    NetChanges,
    SnapshotView,
    Steps,
)
from dragonscope.graph.index import Indexer
from dragonscope.graph.keys import (
    MISSING,
    PSEUDO_KEYS,
    flat_keys,
    getter,
    normalize_key,
    to_int,
    walk,
)
from dragonscope.graph.metadata_ops import (
    OP_DELETE,
    OP_SET,
    OpError,
    apply_ops,
    diff_ops,
    json_patch,
    json_size,
)
from dragonscope.graph.model import (
    Edge,
    Graph,
    GraphError,
    GraphListener,
    GraphView,
    Json,
    Node,
    now_ms,
)
from dragonscope.graph.store import GraphStore, Rejected, decode_edge, decode_node
from dragonscope.graph.times import (
    duration_ms,
    epoch_ms,
    parse_rfc1123,
    parse_time,
)
from dragonscope.graph.validation import (
    ValidationError,
    check_edge,
    check_edge_metadata,
    check_node,
    check_node_metadata,
    normalize,
)

__all__ = [
    "KIND_EDGE",
    "KIND_NODE",
    "MISSING",
    "OP_DELETE",
    "OP_SET",
    "PSEUDO_KEYS",
    "Change",
    "Edge",
    "Graph",
    "GraphError",
    "GraphListener",
    "GraphStore",
    "GraphView",
    "History",
    "HistoryError",
    "Indexer",
    "Json",
    "NetChanges",
    "Node",
    "OpError",
    "Rejected",
    "SnapshotView",
    "Steps",
    "ValidationError",
    "apply_ops",
    "check_edge",
    "check_edge_metadata",
    "check_node",
    "check_node_metadata",
    "decode_edge",
    "decode_node",
    "diff_ops",
    "duration_ms",
    "epoch_ms",
    "flat_keys",
    "getter",
    "json_patch",
    "json_size",
    "normalize",
    "normalize_key",
    "now_ms",
    "parse_rfc1123",
    "parse_time",
    "to_int",
    "walk",
]
