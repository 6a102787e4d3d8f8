"""A dict of small sets, in bytes per member rather than objects per entry.

The topology's reverse maps (who read a target, which objects an index value
names, which edges end at a node, which objects draw an element) hold hundreds
of thousands of entries, nearly all with one member and most of the rest with a
few. An entry is kept as its member alone, a list of up to ``FEW`` members, then a
set: one member costs nothing beyond the dict slot, two cost a 72-byte list
instead of a 216-byte set, thirty a 300-byte list instead of a 2 KiB set (the ports
of a network, the edges at a security group). Adding to or removing from a list
scans it, which at ``FEW`` members is still cheaper than hashing.

A member must never be a list or a set itself (keys, IDs and strings are fine).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Any, TypeAlias, TypeVar, cast

_K = TypeVar("_K", bound=Hashable)
_M = TypeVar("_M", bound=Hashable)

Entry: TypeAlias = _M | list[_M] | set[_M]
"""One key's members: the member alone, a short list, or a set."""

FEW = 64
"""Members held in a list up to this many, in a set beyond."""


def _several(entry: object) -> bool:
    return entry.__class__ is list or entry.__class__ is set


def members(entry: Entry[_M] | None) -> Iterable[_M]:
    """The members of an entry read from the map (None: no member)."""
    if entry is None:
        return ()
    if _several(entry):
        return cast("list[_M] | set[_M]", entry)
    return (cast(_M, entry),)


def add(entries: dict[_K, Entry[_M]], key: _K, member: _M) -> bool:
    """Add ``member`` under ``key``; True when ``key`` had no member before."""
    found = entries.get(key)
    if found is None:
        entries[key] = member
        return True
    if found.__class__ is list:
        if member not in found:
            if len(found) < FEW:
                found.append(member)
            else:
                entries[key] = {*found, member}
    elif found.__class__ is set:
        found.add(member)
    elif found != member:
        entries[key] = [cast(_M, found), member]
    return False


def discard(entries: dict[_K, Entry[_M]], key: _K, member: _M) -> bool:
    """Remove ``member`` from ``key``; True when ``key`` has no member left."""
    found = entries.get(key)
    if found is None:
        return True
    if _several(found):
        group = cast("list[_M] | set[_M]", found)
        if member in group:
            group.remove(member)
        if len(group) == 1:
            entries[key] = next(iter(group))
        return False
    if found == member:
        del entries[key]
        return True
    return False


def lowest(entry: Entry[_M]) -> _M:
    """The smallest member (an entry with several members has a deterministic winner)."""
    if _several(entry):
        return min(cast("list[Any] | set[Any]", entry))  # type: ignore[no-any-return]
    return cast(_M, entry)
