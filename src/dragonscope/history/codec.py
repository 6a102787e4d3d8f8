"""Changes and checkpoints as bytes, and back, the same for every store.

An element is stored as its Skydive JSON (what the wire and the REST API say);
a checkpoint is one zlib stream of lines, ``N`` or ``E`` followed by an
element's JSON. Decoding builds elements without re-validating them: they were
validated when they entered the live graph. Work is cut in chunks so that a
worker thread decoding a 100k-node checkpoint lets the event loop run.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Iterable, Sequence
from typing import Any

from dragonscope.graph import KIND_EDGE, KIND_NODE, Change, Edge, Node
from dragonscope.history.store import Row

_CHUNK = 2048
_TAG = {KIND_NODE: b"N", KIND_EDGE: b"E"}


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def digest(kind: int, element: Node, deleted: bool) -> bytes:
    """What makes a change itself, whichever analyzer recorded it: the element's
    state, not its revision or times (a collector publishing to several analyzers
    stamps each link's messages with its own)."""
    parent = element.parent if isinstance(element, Edge) else ""
    child = element.child if isinstance(element, Edge) else ""
    key = [kind, deleted, element.id, element.origin, element.host, parent, child,
           element.metadata]  # fmt: skip
    return hashlib.blake2b(
        json.dumps(key, sort_keys=True, separators=(",", ":")).encode(), digest_size=16
    ).digest()


def encode_change(change: Change) -> Row:
    if change.new is not None:
        return Row(
            change.at,
            change.kind,
            change.new.id,
            digest(change.kind, change.new, False),
            _dumps(change.new.to_json()),
        )
    assert change.old is not None
    return Row(change.at, change.kind, change.old.id, digest(change.kind, change.old, True), None)


def encode_element(kind: int, element: Node) -> bytes:
    """One checkpoint line (without its newline)."""
    return _TAG[kind] + _dumps(element.to_json())


def encode_checkpoint(lines: Iterable[bytes]) -> bytes:
    return zlib.compress(b"\n".join(lines), 1)


def _node(obj: dict[str, Any]) -> Node:
    return Node(obj["ID"], obj["Metadata"] or {}, obj["Host"], obj["Origin"],
                obj["CreatedAt"], obj["UpdatedAt"], None, obj["Revision"])  # fmt: skip


def _edge(obj: dict[str, Any]) -> Edge:
    return Edge(obj["ID"], obj["Metadata"] or {}, obj["Host"], obj["Origin"],
                obj["CreatedAt"], obj["UpdatedAt"], None, obj["Revision"],
                obj["Parent"], obj["Child"])  # fmt: skip


def _decode_many(bodies: Sequence[bytes]) -> list[Any]:
    out: list[Any] = []
    for start in range(0, len(bodies), _CHUNK):
        out.extend(json.loads(b"[" + b",".join(bodies[start : start + _CHUNK]) + b"]"))
    return out


def decode_checkpoint(body: bytes) -> tuple[dict[str, Node], dict[str, Edge]]:
    nodes: dict[str, Node] = {}
    edges: dict[str, Edge] = {}
    text = zlib.decompress(body)
    if not text:
        return nodes, edges
    lines = text.split(b"\n")
    node_bodies = [line[1:] for line in lines if line[:1] == b"N"]
    edge_bodies = [line[1:] for line in lines if line[:1] == b"E"]
    for obj in _decode_many(node_bodies):
        nodes[obj["ID"]] = _node(obj)
    for obj in _decode_many(edge_bodies):
        edges[obj["ID"]] = _edge(obj)
    return nodes, edges


def replay(
    nodes: dict[str, Node], edges: dict[str, Edge], rows: Sequence[Row]
) -> tuple[dict[str, Node], dict[str, Edge]]:
    """Apply changes, in order, to a checkpoint's elements (changed in place)."""
    last: dict[tuple[int, str], bytes | None] = {}
    for row in rows:
        last[(row.kind, row.id)] = row.body
    alive = [(key, body) for key, body in last.items() if body is not None]
    objs = _decode_many([body for _, body in alive if body is not None])
    for (kind, element_id), obj in zip((key for key, _ in alive), objs, strict=True):
        if kind == KIND_NODE:
            nodes[element_id] = _node(obj)
        else:
            edges[element_id] = _edge(obj)
    for (kind, element_id), body in last.items():
        if body is None:
            target: dict[str, Any] = nodes if kind == KIND_NODE else edges
            target.pop(element_id, None)
    return nodes, edges
