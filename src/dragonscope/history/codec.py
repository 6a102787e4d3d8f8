"""Changes and checkpoints as bytes, and back, the same for every store.

An element is stored as a JSON array of its fields in a fixed order (``[ID,
Metadata, Host, Origin, CreatedAt, UpdatedAt, Revision]``, and ``Parent,
Child`` for an edge): parsing an array costs a good part less than parsing an
object that names every field. A checkpoint is one zlib stream holding one
JSON array of such elements, so it is decoded by a single ``json.loads``.
Decoding builds elements without re-validating them: they were validated when
they entered the live graph.

Decoding a 100k-node checkpoint allocates some 400k container objects, all
acyclic. CPython's cyclic collector would visit the growing heap again and
again meanwhile, tripling the time; it is held off while a batch is decoded.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import threading
import zlib
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from dragonscope.graph import KIND_EDGE, KIND_NODE, Change, Edge, Node
from dragonscope.history.store import Row

Elements = tuple[dict[str, Node], dict[str, Edge]]
_NODE_FIELDS = 7


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


class _CollectorHold:
    """Holds the cyclic collector off while any thread decodes a batch."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._holders = 0
        self._was_enabled = False

    @contextlib.contextmanager
    def __call__(self) -> Iterator[None]:
        with self._lock:
            if not self._holders:
                self._was_enabled = gc.isenabled()
                gc.disable()
            self._holders += 1
        try:
            yield
        finally:
            with self._lock:
                self._holders -= 1
                if not self._holders and self._was_enabled:
                    gc.enable()


collector_held = _CollectorHold()


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


def encode_element(element: Node) -> bytes:
    """An element as stored: a change's body, and one item of a checkpoint."""
    fields = [element.id, element.metadata, element.host, element.origin,
              element.created_at, element.updated_at, element.revision]  # fmt: skip
    if isinstance(element, Edge):
        fields += [element.parent, element.child]
    return _dumps(fields)


def encode_change(change: Change) -> Row:
    if change.new is not None:
        return Row(
            change.at,
            change.kind,
            change.new.id,
            digest(change.kind, change.new, False),
            encode_element(change.new),
        )
    assert change.old is not None
    return Row(change.at, change.kind, change.old.id, digest(change.kind, change.old, True), None)


def encode_checkpoint(elements: Iterable[bytes]) -> bytes:
    """The checkpoint of a graph from its encoded elements, in any order."""
    return zlib.compress(b"[" + b",".join(elements) + b"]", 1)


def _element(f: list[Any]) -> Node:
    if len(f) == _NODE_FIELDS:
        return Node(f[0], f[1] or {}, f[2], f[3], f[4], f[5], None, f[6])
    return Edge(f[0], f[1] or {}, f[2], f[3], f[4], f[5], None, f[6], f[7], f[8])


def decode_checkpoint(body: bytes) -> Elements:
    nodes: dict[str, Node] = {}
    edges: dict[str, Edge] = {}
    with collector_held():
        for f in json.loads(zlib.decompress(body)):
            if len(f) == _NODE_FIELDS:
                nodes[f[0]] = Node(f[0], f[1] or {}, f[2], f[3], f[4], f[5], None, f[6])
            else:
                edges[f[0]] = Edge(f[0], f[1] or {}, f[2], f[3], f[4], f[5], None, f[6], f[7], f[8])
    return nodes, edges


def apply_rows(
    nodes: dict[str, Node],
    edges: dict[str, Edge],
    rows: Sequence[Row],
    applied: dict[tuple[int, str], int] | None = None,
) -> None:
    """Apply changes, in seq order, to elements (changed in place). ``applied`` maps
    an element to the seq of the change that set it: an older change is skipped,
    and the map is kept up to date."""
    last: dict[tuple[int, str], Row] = {}
    for row in rows:
        key = (row.kind, row.id)
        if applied is not None:
            if applied.get(key, 0) > row.seq:
                continue
            applied[key] = row.seq
        last[key] = row
    alive = [(row.kind, row.id, row.body) for row in last.values() if row.body is not None]
    with collector_held():
        fields = json.loads(b"[" + b",".join(body for _, _, body in alive) + b"]")
        for (kind, element_id, _), element in zip(alive, fields, strict=True):
            target: dict[str, Any] = nodes if kind == KIND_NODE else edges
            target[element_id] = _element(element)
    for (kind, element_id), row in last.items():
        if row.body is None:
            (nodes if kind == KIND_NODE else edges).pop(element_id, None)


def checkpoint_lines(body: bytes) -> dict[tuple[int, str], bytes]:
    """A checkpoint's encoded elements by (kind, ID), as a recorder keeps its graph."""
    with collector_held():
        return {
            (KIND_NODE if len(f) == _NODE_FIELDS else KIND_EDGE, f[0]): _dumps(f)
            for f in json.loads(zlib.decompress(body))
        }


def decode_rows(rows: Sequence[Row]) -> list[Node | None]:
    """Each change's element after it (None: deleted)."""
    with collector_held():
        bodies = [r.body for r in rows if r.body is not None]
        fields = iter(json.loads(b"[" + b",".join(bodies) + b"]"))
        return [None if row.body is None else _element(next(fields)) for row in rows]
