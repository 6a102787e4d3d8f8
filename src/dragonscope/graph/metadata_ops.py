"""Metadata edits: Skydive's partial-update ops and RFC 6902 JSON Patch.

Neither changes what it is given, so that elements already stored (and
referenced by history) are never mutated.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

OP_SET = 1
OP_DELETE = 2


class OpError(ValueError):
    """A partial update or patch that cannot be applied; the text says why."""


def apply_ops(
    metadata: dict[str, Any],
    ops: object,
    copy_value: Callable[[Any], Any] = copy.deepcopy,
) -> dict[str, Any]:
    """Return ``metadata`` with Skydive partial-update ops applied, as a new dict.

    Only the dicts along each op's path are copied; the rest is shared with
    ``metadata``, which stays as it was (stored metadata is never changed in place).
    A deep copy of a port's whole metadata cost more than the rest of its update.
    ``copy_value`` makes the copy of each op's value that goes in."""
    if ops is None:
        return metadata
    if not isinstance(ops, list):
        raise OpError("Ops must be a list")
    result = dict(metadata)
    owned = {id(result)}  # the dicts this call made: only those are changed in place
    for op in ops:
        if not isinstance(op, dict):
            raise OpError("each op must be an object")
        kind, key = op.get("Type"), op.get("Key")
        if not isinstance(key, str) or not key:
            raise OpError("op Key must be a non-empty string")
        if kind == OP_SET:
            _set_path(result, key.split("."), copy_value(op.get("Value")), owned)
        elif kind == OP_DELETE:
            _delete_path(result, key.split("."), owned)
        else:
            raise OpError(f"unknown op Type {kind!r} (1 = set, 2 = delete)")
    return result


def _own(parent: dict[str, Any], part: str, owned: set[int]) -> dict[str, Any]:
    """``parent[part]``, a dict, as one this call made (copied the first time)."""
    child: dict[str, Any] = parent[part]
    if id(child) not in owned:
        child = parent[part] = dict(child)
        owned.add(id(child))
    return child


def _set_path(obj: dict[str, Any], path: list[str], value: Any, owned: set[int]) -> None:
    for part in path[:-1]:
        if part not in obj:
            nxt: dict[str, Any] = {}
            obj[part] = nxt
            owned.add(id(nxt))
        elif not isinstance(obj[part], dict):
            return
        obj = _own(obj, part, owned)
    obj[path[-1]] = value


def _delete_path(obj: dict[str, Any], path: list[str], owned: set[int]) -> None:
    reached: Any = obj
    for part in path[:-1]:  # a path through something else than dicts deletes nothing
        reached = reached.get(part)
        if not isinstance(reached, dict):
            return
    chain = [obj]
    for part in path[:-1]:
        chain.append(_own(chain[-1], part, owned))
    chain[-1].pop(path[-1], None)
    for depth in range(len(chain) - 1, 0, -1):
        if chain[depth]:
            break
        del chain[depth - 1][path[depth - 1]]


def diff_ops(old: dict[str, Any], new: dict[str, Any]) -> list[dict[str, Any]]:
    """Top-level ops turning ``old`` into ``new``, for partial-policy subscribers."""
    ops: list[dict[str, Any]] = []
    for key, value in new.items():
        if key not in old or old[key] != value:
            ops.append({"Type": OP_SET, "Key": key, "Value": value})
    for key in old:
        if key not in new:
            ops.append({"Type": OP_DELETE, "Key": key, "Value": None})
    return ops


# -- RFC 6902 JSON Patch -----------------------------------------------------


def _pointer(path: Any) -> list[str]:
    if not isinstance(path, str) or (path and not path.startswith("/")):
        raise OpError(f"invalid JSON pointer {path!r}")
    if path == "":
        return []
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _parent(doc: Any, parts: list[str]) -> tuple[Any, str]:
    if not parts:
        raise OpError("the whole document cannot be patched")
    target = doc
    for part in parts[:-1]:
        target = _child(target, part)
    return target, parts[-1]


def _child(target: Any, part: str) -> Any:
    if isinstance(target, dict):
        if part not in target:
            raise OpError(f"path member {part!r} not found")
        return target[part]
    if isinstance(target, list):
        return target[_index(target, part, allow_end=False)]
    raise OpError(f"cannot descend into a {type(target).__name__} at {part!r}")


def _index(target: list[Any], part: str, *, allow_end: bool) -> int:
    if allow_end and part == "-":
        return len(target)
    if not part.isdigit():
        raise OpError(f"invalid array index {part!r}")
    index = int(part)
    if index > len(target) or (index == len(target) and not allow_end):
        raise OpError(f"array index {index} out of range")
    return index


def _get(doc: Any, parts: list[str]) -> Any:
    target = doc
    for part in parts:
        target = _child(target, part)
    return target


def _remove(doc: Any, parts: list[str]) -> Any:
    parent, last = _parent(doc, parts)
    if isinstance(parent, dict):
        if last not in parent:
            raise OpError(f"path member {last!r} not found")
        return parent.pop(last)
    if isinstance(parent, list):
        return parent.pop(_index(parent, last, allow_end=False))
    raise OpError("cannot remove from a scalar")


def _add(doc: Any, parts: list[str], value: Any) -> None:
    parent, last = _parent(doc, parts)
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        parent.insert(_index(parent, last, allow_end=True), value)
    else:
        raise OpError("cannot add into a scalar")


def json_size(value: object, cap: int) -> int:
    """About how many bytes the compact JSON of ``value`` takes, counted up to just
    past ``cap`` (so measuring a huge or self-repeating value costs at most ``cap``)."""
    total = 0
    stack = [value]
    while stack and total <= cap:
        item = stack.pop()
        if isinstance(item, str):
            total += len(item) + 2
        elif isinstance(item, dict):
            total += 2 + 2 * len(item)
            for key, child in item.items():
                total += len(key) + 2 if isinstance(key, str) else 8
                stack.append(child)
        elif isinstance(item, list):
            total += 2 + len(item)
            stack.extend(item)
        else:
            total += 8
    return total


class _Budget:
    """The patched document's size, kept as operations add and remove values."""

    def __init__(self, document: object, max_size: int | None) -> None:
        self.max = max_size
        self.size = json_size(document, max_size) if max_size is not None else 0

    def add(self, value: object) -> None:
        if self.max is not None:
            self.size += json_size(value, self.max)
            if self.size > self.max:
                raise OpError(f"the patched element would be over {self.max} bytes")

    def remove(self, value: object) -> None:
        if self.max is not None:
            self.size -= json_size(value, self.max)


def json_patch(document: object, patch: object, max_size: int | None = None) -> object:
    """Apply an RFC 6902 patch to a deep copy of ``document`` (the patched copy).
    With ``max_size``, an operation that would make the document's JSON bigger than
    that is refused before it runs (``copy`` could otherwise double it at each step)."""
    if not isinstance(patch, list):
        raise OpError("a JSON Patch must be an array of operations")
    doc = copy.deepcopy(document)
    budget = _Budget(doc, max_size)
    for op in patch:
        if not isinstance(op, dict):
            raise OpError("each patch operation must be an object")
        name = op.get("op")
        parts = _pointer(op.get("path"))
        if name in ("add", "replace", "test") and "value" not in op:
            raise OpError(f"{name} needs a value")
        if name == "add":
            budget.add(op["value"])
            _add(doc, parts, copy.deepcopy(op["value"]))
        elif name == "remove":
            budget.remove(_remove(doc, parts))
        elif name == "replace":
            budget.remove(_remove(doc, parts))
            budget.add(op["value"])
            _add(doc, parts, copy.deepcopy(op["value"]))
        elif name == "move":
            _add(doc, parts, _remove(doc, _pointer(op.get("from"))))
        elif name == "copy":
            source = _get(doc, _pointer(op.get("from")))
            budget.add(source)
            _add(doc, parts, copy.deepcopy(source))
        elif name == "test":
            if _get(doc, parts) != op["value"]:
                raise OpError(f"test failed at {op.get('path')!r}")
        else:
            raise OpError(f"unknown patch operation {name!r}")
    return doc
