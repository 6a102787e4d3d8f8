"""Node metadata held as the compact JSON it is published as.

A collector keeps every node it publishes for as long as it runs: to tell what a
change changed, and to send everything again to an analyzer that restarted. As
Python objects the nodes of a 100k-object NB cost some 235 MiB (dicts of dicts,
with every field of the NB object again under ``Dragonflow``); as orjson's compact
JSON, a fifth of that. A packed node is compared by its text, and the publisher
embeds it in its messages as it is; reading its ``metadata`` decodes it.

The text is kept as ``str`` (the bytes orjson returns each hold a 4 KiB buffer), or
compressed once its table has learned a dictionary (``bytes``, see ``squeeze``).

A node shows its NB object's stored fields under ``Dragonflow``, and the topology
keeps those fields' text already (see ``store``): kept twice, they were a third of
a large graph's node text. A node that shows them unchanged (nothing redacted) is
kept ``Split``: its own text without them, and the very text the store holds.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import orjson

from dragonscope.graph import Edge, Node
from dragonscope.topology.squeeze import expand, squeeze

DRAGONFLOW = "Dragonflow"
"""The metadata key of an NB object's stored fields."""


class Split(NamedTuple):
    """Packed metadata whose ``Dragonflow`` fields are shared with the NB object's own text
    (``fields``, a non-empty JSON object): the whole text is ``head + fields[1:] + "}"``,
    ``head`` ending with the opening of ``Dragonflow`` and its ``Table`` and ``ID``; either
    part may be compressed (see ``squeeze``)."""

    head: str | bytes
    fields: str | bytes


Metadata = str | bytes | Split | dict[str, Any]
"""Node metadata as the topology keeps it: packed (whole or split, maybe compressed), or
a dict when orjson cannot encode it (an integer past 64 bits in an NB field)."""

Packer = Callable[[dict[str, Any], str | None], Metadata]
"""``pack`` or ``keep``: metadata, and the table of the object that draws them."""


def pack(metadata: dict[str, Any], table: str | None = None) -> Metadata:
    """``metadata`` packed, compressed with ``table``'s dictionary if it has one."""
    try:
        return squeeze(table, orjson.dumps(metadata))
    except (orjson.JSONEncodeError, TypeError):
        return metadata


def pack_sharing(
    metadata: dict[str, Any], fields: str | bytes, table: str | None = None
) -> Metadata:
    """``pack``, sharing ``fields`` (the kept text of the drawn object's stored fields)
    when the metadata show exactly those under ``Dragonflow``, ``Table`` and ``ID`` first
    (``metadata.stored_fields``). Told by the text itself, so that a rule or an extension
    that changed the fields only costs the sharing."""
    shown = metadata.get(DRAGONFLOW)
    plain = expand(fields)
    if shown.__class__ is not dict or len(plain) < 3 or plain[0] != "{":
        return pack(metadata, table)
    try:
        shown_text = orjson.dumps(shown).decode()
        opening = orjson.dumps({"Table": shown["Table"], "ID": shown["ID"]}).decode()[:-1] + ","
        rest = orjson.dumps({k: v for k, v in metadata.items() if k != DRAGONFLOW}).decode()
    except (orjson.JSONEncodeError, TypeError, KeyError):
        return pack(metadata, table)
    if shown_text != f"{opening}{plain[1:]}":
        return pack(metadata, table)
    head = f'{rest[:-1]}{"," if len(rest) > 2 else ""}"{DRAGONFLOW}":{opening}'
    return Split(squeeze(table, head.encode()), fields)


def text(metadata: str | bytes | Split) -> str:
    """The compact JSON text of packed metadata."""
    if metadata.__class__ is Split:
        head, fields = metadata
        return f"{expand(head)}{expand(fields)[1:]}}}"
    return expand(metadata)  # type: ignore[arg-type]


def keep(metadata: dict[str, Any], table: str | None = None) -> Metadata:
    """``pack``'s stand-in where nothing is kept for long."""
    return metadata


def unpack(metadata: Metadata) -> dict[str, Any]:
    if isinstance(metadata, dict):
        return metadata
    return orjson.loads(text(metadata))  # type: ignore[no-any-return]


def _unstamped(element: Node) -> None:
    """A topology's element carries no host, origin, times or revision: its publisher's do."""
    element.host = element.origin = ""
    element.created_at = element.updated_at = element.deleted_at = None
    element.revision = 0


class PackedNode(Node):
    """A node whose metadata is held packed: ``metadata`` decodes it at each read (a fresh
    dict each time: read it once), ``packed`` is the compact JSON itself, maybe split."""

    __slots__ = ("packed",)

    def __init__(self, id: str, packed: str | bytes | Split) -> None:
        self.id = id
        self.packed = packed
        _unstamped(self)

    @property
    def metadata(self) -> dict[str, Any]:
        return orjson.loads(text(self.packed))  # type: ignore[no-any-return]

    @metadata.setter
    def metadata(self, value: dict[str, Any]) -> None:
        self.packed = orjson.dumps(value).decode()


class PackedEdge(Edge):
    """An edge whose metadata is held packed, as ``PackedNode``'s: only edges with metadata
    of their own (a port's subnet edge names its addresses); most share one dict per
    relation and are kept as they are."""

    __slots__ = ("packed",)

    def __init__(self, id: str, packed: str | bytes, parent: str, child: str) -> None:
        self.id = id
        self.packed = packed
        self.parent = parent
        self.child = child
        _unstamped(self)

    @property
    def metadata(self) -> dict[str, Any]:
        return orjson.loads(expand(self.packed))  # type: ignore[no-any-return]

    @metadata.setter
    def metadata(self, value: dict[str, Any]) -> None:
        self.packed = orjson.dumps(value).decode()


def pack_edge(edge: Edge, pack: Packer, table: str | None = None) -> Edge:
    """``edge`` with its own metadata packed by ``pack`` (it may keep them as they are)."""
    packed = pack(edge.metadata, table)
    if isinstance(packed, str | bytes):
        return PackedEdge(edge.id, packed, edge.parent, edge.child)
    return edge


def make_node(node_id: str, metadata: Metadata) -> Node:
    if isinstance(metadata, dict):
        return Node(node_id, metadata)
    return PackedNode(node_id, metadata)


def held_form(node: Node) -> Metadata:
    """What the topology keeps of an element's metadata: its text when it is packed."""
    if isinstance(node, PackedNode | PackedEdge):
        return node.packed
    return node.metadata


def same_metadata(a: Metadata, b: Metadata) -> bool:
    if a is b:
        return True
    if isinstance(a, dict) or isinstance(b, dict):
        return unpack(a) == unpack(b)
    if a.__class__ is b.__class__:
        if a == b:  # texts, or split texts part by part (fields shared: by identity)
            return True
        if a.__class__ is str:
            return False
    # A plain text and a compressed one (packed before and after the table learned its
    # dictionary), or split texts whose parts differ that way.
    return text(a) == text(b)
