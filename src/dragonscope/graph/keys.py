"""Reading a key of a node or edge the way Skydive does: dotted paths, lists of
objects, ``@`` pseudo-keys, and the edge-only ``Parent``/``Child`` keys.

The graph owns these semantics: its indexes and Gremlin's steps both read keys through here.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from typing import Any, Final

from dragonscope.graph.model import Edge, Node

MISSING: Final[object] = type("Missing", (), {"__repr__": lambda self: "MISSING"})()
"""What a key reads on an element that lacks it (distinct from a JSON null)."""

PSEUDO_KEYS = ("@ID", "@Host", "@Origin", "@CreatedAt", "@UpdatedAt", "@DeletedAt", "@Revision")
_PSEUDO_ATTRS = {
    "@ID": "id",
    "@Host": "host",
    "@Origin": "origin",
    "@CreatedAt": "created_at",
    "@UpdatedAt": "updated_at",
    "@DeletedAt": "deleted_at",
    "@Revision": "revision",
}

Getter = Callable[[Node], object]
"""Reads one key of an element: a JSON value, or ``MISSING``."""

_INT_TEXT = re.compile(r"[+-]?[0-9]+")


def normalize_key(key: str) -> str:
    """``Metadata.Name`` means ``Name``."""
    return key[len("Metadata.") :] if key.startswith("Metadata.") else key


def getter(key: str, *, edge_ends: bool = False) -> Getter:
    """A function returning the value at ``key`` of an element, or MISSING.

    ``edge_ends`` lets ``Parent``/``Child`` fall back to an edge's ends when the
    metadata has no such key (Skydive accepts them in value predicates only).
    """
    key = normalize_key(key)
    attr = _PSEUDO_ATTRS.get(key)
    if attr is not None:

        def pseudo(element: Node) -> object:
            value = getattr(element, attr)
            return MISSING if value is None else value

        return pseudo
    if edge_ends and key in ("Parent", "Child"):
        end = key.lower()

        def with_end(element: Node) -> object:
            value = element.metadata.get(key, MISSING)
            if value is MISSING and isinstance(element, Edge):
                return getattr(element, end)
            return value

        return with_end
    if "." not in key:
        return lambda element: element.metadata.get(key, MISSING)
    parts = tuple(key.split("."))
    return lambda element: walk(element.metadata, parts)


def walk(value: object, parts: tuple[str, ...]) -> object:
    """Follow a path; a list of objects on the way yields the list of what each holds."""
    for i, part in enumerate(parts):
        if isinstance(value, dict):
            value = value.get(part, MISSING)
            if value is MISSING:
                return MISSING
        elif isinstance(value, list):
            found = []
            for item in value:
                if isinstance(item, dict):
                    sub = walk(item, parts[i:])
                    if sub is not MISSING:
                        found.append(sub)
            return found if found else MISSING
        else:
            return MISSING
    return value


def to_int(value: object) -> int | None:
    """Skydive's integer coercion: ints, floats truncated, numeric strings; never bools."""
    if type(value) is int:
        return value
    if type(value) is float:
        return int(value) if math.isfinite(value) else None
    if type(value) is str and _INT_TEXT.fullmatch(value):
        return int(value)
    return None


def flat_keys(metadata: dict[str, Any], prefix: str = "") -> Iterator[str]:
    """Every key and dotted path of nested objects, in order (``Map``, ``Map.a``)."""
    for key, value in metadata.items():
        path = prefix + key
        yield path
        if isinstance(value, dict):
            yield from flat_keys(value, path + ".")
