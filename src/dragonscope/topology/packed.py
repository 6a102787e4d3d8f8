"""Node metadata held as the compact JSON it is published as.

A collector keeps every node it publishes for as long as it runs: to tell what a
change changed, and to send everything again to an analyzer that restarted. As
Python objects the nodes of a 100k-object NB cost some 235 MiB (dicts of dicts,
with every field of the NB object again under ``Dragonflow``); as orjson's compact
JSON, a fifth of that. A packed node is compared by its text, and the publisher
embeds it in its messages as it is; reading its ``metadata`` decodes it.

The text is kept as ``str``: the bytes orjson returns each hold a 4 KiB buffer.
"""

from __future__ import annotations

from typing import Any

import orjson

from dragonscope.graph import Node

Metadata = str | dict[str, Any]
"""Node metadata as the topology keeps it: packed, or a dict when orjson cannot encode it
(an integer past 64 bits in an NB field)."""


def pack(metadata: dict[str, Any]) -> Metadata:
    try:
        return orjson.dumps(metadata).decode()
    except (orjson.JSONEncodeError, TypeError):
        return metadata


def keep(metadata: dict[str, Any]) -> Metadata:
    """``pack``'s stand-in where nothing is kept for long."""
    return metadata


def unpack(metadata: Metadata) -> dict[str, Any]:
    if isinstance(metadata, str):
        return orjson.loads(metadata)  # type: ignore[no-any-return]
    return metadata


class PackedNode(Node):
    """A node whose metadata is held packed: ``metadata`` decodes it at each read (a fresh
    dict each time: read it once), ``packed`` is the compact JSON itself."""

    __slots__ = ("packed",)

    def __init__(self, id: str, packed: str) -> None:
        self.id = id
        self.packed = packed
        self.host = ""
        self.origin = ""
        self.created_at = None
        self.updated_at = None
        self.deleted_at = None
        self.revision = 0

    @property
    def metadata(self) -> dict[str, Any]:
        return orjson.loads(self.packed)  # type: ignore[no-any-return]

    @metadata.setter
    def metadata(self, value: dict[str, Any]) -> None:
        self.packed = orjson.dumps(value).decode()


def make_node(node_id: str, metadata: Metadata) -> Node:
    if isinstance(metadata, str):
        return PackedNode(node_id, metadata)
    return Node(node_id, metadata)


def held_form(node: Node) -> Metadata:
    """What the topology keeps of ``node``'s metadata: its text when it is packed."""
    return node.packed if isinstance(node, PackedNode) else node.metadata


def same_metadata(a: Metadata, b: Metadata) -> bool:
    if a is b:
        return True
    if isinstance(a, str) and isinstance(b, str):
        return a == b
    return unpack(a) == unpack(b)
