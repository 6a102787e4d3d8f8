"""Changes and checkpoints as bytes, and back, the same for every store.

An element is stored as two lines of JSON: a head, the array of its fields but
the metadata in a fixed order (``[ID, Host, Origin, CreatedAt, UpdatedAt,
Revision]``, and ``Parent, Child`` for an edge), then its ``Metadata`` object
(JSON text never holds a raw newline, so the first one splits them). A
checkpoint is a version byte (``\\x02``) and one zlib stream holding the array of
every head, a newline, and each element's metadata line in the same order.

Rebuilding a past state decodes the heads in one ``json.loads`` and keeps each
metadata line as it is: the metadata of an element is decoded the first time
something reads it (:class:`LazyNode`, :class:`LazyEdge`). Most of a
checkpoint's cost is its metadata (some ten objects per element): a question
about one time rarely reads all of it, and a view of 100k elements is built
in a fraction of the time a full decoding takes. Lines are kept in chunks of
1,024 elements; a step that reads several elements of a chunk (a scan) has
the rest of the chunk decoded in one call, so reading every element costs
little more than decoding them all at once did. What is known to be read in
full (the net changes of a window) is decoded in bulk (:func:`materialize`).
Decoding builds elements without re-validating them: they were validated when
they entered the live graph.

Histories written before this layout hold changes as one JSON array with the
metadata second, and checkpoints as a bare zlib stream of an array of those
(its first byte is 0x78): both are still read, and the recorder writes the
next checkpoint in the current layout.

Decoding a 100k-node checkpoint allocates hundreds of thousands of objects,
all acyclic. CPython's cyclic collector would visit the growing heap again and
again meanwhile; it is held off while a batch is decoded.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import threading
import time
import zlib
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import orjson

from dragonscope.graph import KIND_EDGE, KIND_NODE, Change, Edge, Node
from dragonscope.history.store import Row
from dragonscope.skydive import compact_json_bytes, kept_json_bytes

Elements = tuple[dict[str, Node], dict[str, Edge]]
_NODE_HEAD = 6  # fields in a node's head; an edge's has Parent and Child too
_OLD_NODE_FIELDS = 7  # an element of the first layout: the head's and Metadata
_LAYOUT = b"\x02"  # a checkpoint's first byte in this layout
_CHECKPOINT_SLICE = 4096  # elements compressed between two chances for the event loop
Encoded = tuple[bytes, bytes]
"""An element's head line and metadata line."""
_SLOT: Any = Node.__dict__["metadata"]  # the metadata slot itself, under any property


class _CollectorHold:
    """Holds the cyclic collector off while any thread decodes a batch.

    ``freeze``: what the batch made lives long, move it out of the collector's sight
    on the way out. Frozen before the collector is back: frozen after, the first
    allocation (the very exception that ends this generator) found the young
    generation hundreds of thousands of objects past its threshold and collected
    them all, a third of a checkpoint's decoding."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._holders = 0
        self._was_enabled = False

    @contextlib.contextmanager
    def __call__(self, freeze: bool = False) -> Iterator[None]:
        with self._lock:
            if not self._holders:
                self._was_enabled = gc.isenabled()
                gc.disable()
            self._holders += 1
        try:
            yield
        finally:
            with self._lock:
                if freeze:
                    gc.freeze()
                self._holders -= 1
                if not self._holders and self._was_enabled:
                    gc.enable()


collector_held = _CollectorHold()


# -- elements whose metadata is decoded when first read --------------------------------
_CHUNK = 1024  # elements whose metadata lines are kept together
_SCAN_READS = 8  # reads in one chunk after which the rest of it is decoded at once


class _Chunk:
    """The metadata lines of elements decoded together, in their order. Once several
    of them are read, a step is likely scanning them all: the chunk is then decoded
    in one ``json.loads``, a good part cheaper than one call per element, and short
    enough not to hold the event loop. It holds no element (no reference cycle)."""

    __slots__ = ("freeze", "raws", "reads", "values")

    def __init__(self, raws: list[bytes], freeze: bool) -> None:
        self.raws = raws
        self.freeze = freeze
        self.reads = 0
        self.values: list[Any] | None = None

    def value(self, index: int) -> dict[str, Any]:
        self.reads += 1
        values = self.values
        if values is None and self.reads >= _SCAN_READS:
            # As a checkpoint's decoding: the collector held off, what it made frozen
            # when the reader freezes (a scan decodes a million long-lived objects).
            with collector_held(self.freeze):
                values = self.values = json.loads(b"[" + b",".join(self.raws) + b"]")
        if values is not None:
            return values[index] or {}
        return json.loads(self.raws[index]) or {}


def _metadata(element: Node) -> dict[str, Any]:
    value = _SLOT.__get__(element)
    if value.__class__ is tuple:
        chunk, index = value
        value = chunk.value(index)
        _SLOT.__set__(element, value)
    return value  # type: ignore[no-any-return]


def _set_metadata(element: Node, value: dict[str, Any]) -> None:
    _SLOT.__set__(element, value)


def _chunked(raws: list[bytes], freeze: bool) -> Iterator[tuple[_Chunk, int]]:
    """Where each metadata line is kept: (its chunk, its place in it)."""
    for start in range(0, len(raws), _CHUNK):
        chunk = _Chunk(raws[start : start + _CHUNK], freeze)
        for index in range(len(chunk.raws)):
            yield chunk, index


def _fields(element: Node) -> tuple[Any, ...]:
    own = (element.id, element.metadata, element.host, element.origin, element.created_at,
           element.updated_at, element.deleted_at, element.revision)  # fmt: skip
    return (*own, element.parent, element.child) if isinstance(element, Edge) else own


def _same(element: Node, other: object) -> bool | None:
    """Whether ``other``, a node (or edge) lazy or not, has the same fields; None:
    it is not one."""
    if not isinstance(other, Node) or isinstance(other, Edge) is not isinstance(element, Edge):
        return None
    return bool(_fields(element) == _fields(other))


class _Lazy:
    """Metadata kept as stored until read, for a node or an edge read from the history;
    equal to an element with the same fields, lazy or not."""

    __slots__ = ()
    metadata = property(_metadata, _set_metadata)

    def __eq__(self, other: object) -> bool:
        same = _same(self, other)  # type: ignore[arg-type]
        return NotImplemented if same is None else same


class LazyNode(_Lazy, Node):
    """A node read from the history."""

    __slots__ = ()


class LazyEdge(_Lazy, Edge):
    """An edge read from the history."""

    __slots__ = ()


def materialize(elements: Iterable[Node]) -> None:
    """Decode now, in one go, the metadata of elements not read yet: for many
    elements about to be read in full, a good part cheaper than one at a time."""
    pending = [e for e in elements if _SLOT.__get__(e).__class__ is tuple]
    if pending:
        raws = (chunk.raws[index] for chunk, index in map(_SLOT.__get__, pending))
        values = json.loads(b"[" + b",".join(raws) + b"]")
        for element, value in zip(pending, values, strict=True):
            _SLOT.__set__(element, value or {})


# -- encoding --------------------------------------------------------------------------
def digest(kind: int, element: Node, deleted: bool) -> bytes:
    """What makes a change itself, whichever analyzer recorded it: the element's
    state, not its revision or times (a collector publishing to several analyzers
    stamps each link's messages with its own)."""
    parent = element.parent if isinstance(element, Edge) else ""
    child = element.child if isinstance(element, Edge) else ""
    key = [kind, deleted, element.id, element.origin, element.host, parent, child,
           element.metadata]  # fmt: skip
    try:
        text = orjson.dumps(key, option=orjson.OPT_SORT_KEYS)
    except (orjson.JSONEncodeError, TypeError):  # an integer past 64 bits
        text = json.dumps(key, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.blake2b(text, digest_size=16).digest()


def _head(element: Node) -> list[Any]:
    head: list[Any] = [element.id, element.host, element.origin, element.created_at,
                       element.updated_at, element.revision]  # fmt: skip
    if isinstance(element, Edge):
        head += [element.parent, element.child]
    return head


def encode_parts(element: Node) -> Encoded:
    """An element's head and metadata lines, as a recorder keeps its graph."""
    return kept_json_bytes(_head(element)), kept_json_bytes(element.metadata)


def encode_element(element: Node) -> bytes:
    """An element as stored: a change's body (its head line, then its metadata line)."""
    return compact_json_bytes(_head(element)) + b"\n" + compact_json_bytes(element.metadata)


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


def split_element(line: bytes) -> Encoded:
    """An encoded element's head and metadata lines (one of the first layout, too)."""
    head, newline, metadata = line.partition(b"\n")
    if newline:
        return head, metadata
    fields = json.loads(line)
    return kept_json_bytes([fields[0], *fields[2:]]), kept_json_bytes(fields[1] or {})


def encode_checkpoint(elements: Sequence[Encoded]) -> bytes:
    """The checkpoint of a graph from its encoded elements, in any order.

    Written from a worker thread while the event loop serves publishers: compressed a
    slice at a time, letting the loop in between, instead of whole strings of hundreds
    of megabytes that held the interpreter for seconds (0.8 s change latencies while a
    500k-element graph was written)."""
    packer = zlib.compressobj(1)
    out = [_LAYOUT, packer.compress(b"[")]
    for start in range(0, len(elements), _CHECKPOINT_SLICE):
        part = elements[start : start + _CHECKPOINT_SLICE]
        joined = b",".join([head for head, _ in part])
        out.append(packer.compress(b"," + joined if start else joined))
        time.sleep(0)
    out.append(packer.compress(b"]\n"))
    for start in range(0, len(elements), _CHECKPOINT_SLICE):
        part = elements[start : start + _CHECKPOINT_SLICE]
        joined = b"\n".join([meta for _, meta in part])
        out.append(packer.compress(b"\n" + joined if start else joined))
        time.sleep(0)
    out.append(packer.flush())
    return b"".join(out)


# -- decoding --------------------------------------------------------------------------
def _lazy(head: list[Any], metadata: tuple[_Chunk, int]) -> Node:
    if len(head) == _NODE_HEAD:
        return LazyNode(head[0], metadata, head[1], head[2], head[3], head[4], None, head[5])  # type: ignore[arg-type]
    return LazyEdge(head[0], metadata, head[1], head[2], head[3], head[4], None, head[5],  # type: ignore[arg-type]
                    head[6], head[7])  # fmt: skip


def _plain(head: list[Any], metadata: dict[str, Any]) -> Node:
    if len(head) == _NODE_HEAD:
        return Node(head[0], metadata, head[1], head[2], head[3], head[4], None, head[5])
    return Edge(head[0], metadata, head[1], head[2], head[3], head[4], None, head[5],
                head[6], head[7])  # fmt: skip


def _old(f: list[Any]) -> Node:
    """An element of the first layout: ``[ID, Metadata, Host, ...]``."""
    if len(f) == _OLD_NODE_FIELDS:
        return Node(f[0], f[1] or {}, f[2], f[3], f[4], f[5], None, f[6])
    return Edge(f[0], f[1] or {}, f[2], f[3], f[4], f[5], None, f[6], f[7], f[8])


def _checkpoint_parts(body: bytes) -> tuple[list[list[Any]], list[bytes]] | list[list[Any]]:
    """A checkpoint's heads and metadata lines; of the first layout, its arrays."""
    if body[:1] != _LAYOUT:
        return json.loads(zlib.decompress(body))  # type: ignore[no-any-return]
    data = zlib.decompress(memoryview(body)[1:])
    cut = data.index(b"\n")
    heads = json.loads(data[:cut])
    return heads, (data[cut + 1 :].split(b"\n") if heads else [])


def decode_checkpoint(body: bytes, freeze: bool = False) -> Elements:
    """A checkpoint's elements; ``freeze``: what a scan decodes later is frozen."""
    nodes: dict[str, Node] = {}
    edges: dict[str, Edge] = {}
    with collector_held():
        parts = _checkpoint_parts(body)
        if isinstance(parts, list):
            for f in parts:
                element = _old(f)
                if isinstance(element, Edge):
                    edges[element.id] = element
                else:
                    nodes[element.id] = element
            return nodes, edges
        heads, metadata = parts
        for head, meta in zip(heads, _chunked(metadata, freeze), strict=True):
            if len(head) == _NODE_HEAD:
                nodes[head[0]] = LazyNode(head[0], meta, head[1], head[2], head[3], head[4],  # type: ignore[arg-type]
                                          None, head[5])  # fmt: skip
            else:
                edges[head[0]] = LazyEdge(head[0], meta, head[1], head[2], head[3], head[4],  # type: ignore[arg-type]
                                          None, head[5], head[6], head[7])  # fmt: skip
    return nodes, edges


def checkpoint_lines(body: bytes) -> dict[tuple[int, str], Encoded]:
    """A checkpoint's encoded elements by (kind, ID), as a recorder keeps its graph."""
    with collector_held():
        parts = _checkpoint_parts(body)
        if isinstance(parts, list):
            return {
                (KIND_NODE if len(f) == _OLD_NODE_FIELDS else KIND_EDGE, f[0]): encode_parts(
                    _old(f)
                )
                for f in parts
            }
        heads, metadata = parts
        return {
            (KIND_NODE if len(head) == _NODE_HEAD else KIND_EDGE, head[0]): (
                kept_json_bytes(head),
                meta,
            )
            for head, meta in zip(heads, metadata, strict=True)
        }


def decode_bodies(bodies: Sequence[bytes], lazy: bool = True, freeze: bool = False) -> list[Node]:
    """Changes' elements; ``lazy``: their metadata decoded when read (else now, in bulk)."""
    parts = [body.partition(b"\n") for body in bodies]
    with collector_held():
        heads = json.loads(b"[" + b",".join(head for head, _, _ in parts) + b"]")
        raws = [meta for _, newline, meta in parts if newline]
        if lazy:
            kept: Iterator[Any] = _chunked(raws, freeze)
        else:
            kept = iter(json.loads(b"[" + b",".join(raws) + b"]"))
        out: list[Node] = []
        for head, (_, newline, _) in zip(heads, parts, strict=True):
            if not newline:
                out.append(_old(head))
            elif lazy:
                out.append(_lazy(head, next(kept)))
            else:
                out.append(_plain(head, next(kept) or {}))
    return out


def apply_rows(
    nodes: dict[str, Node],
    edges: dict[str, Edge],
    rows: Sequence[Row],
    applied: dict[tuple[int, str], int] | None = None,
    freeze: bool = False,
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
    alive = [row for row in last.values() if row.body is not None]
    elements = decode_bodies([row.body for row in alive if row.body is not None], freeze=freeze)
    for row, element in zip(alive, elements, strict=True):
        target: dict[str, Any] = nodes if row.kind == KIND_NODE else edges
        target[row.id] = element
    for (kind, element_id), row in last.items():
        if row.body is None:
            (nodes if kind == KIND_NODE else edges).pop(element_id, None)


def decode_rows(rows: Sequence[Row]) -> list[Node | None]:
    """Each change's element after it (None: deleted), its metadata decoded."""
    elements = iter(decode_bodies([r.body for r in rows if r.body is not None], lazy=False))
    return [None if row.body is None else next(elements) for row in rows]
