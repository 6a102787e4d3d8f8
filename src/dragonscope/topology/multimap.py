"""A dict of small sets, in bytes per member rather than objects per entry.

The topology's reverse maps (who read a target, which objects an index value
names, which edges end at a node, which objects draw an element) hold hundreds
of thousands of entries, nearly all with one member and most of the rest with a
few. An entry is kept as its member alone, a tuple of up to ``FEW`` members, then a
set: one member costs nothing beyond the dict slot, two cost a 56-byte tuple
instead of a 216-byte set, thirty a 280-byte tuple instead of a 2 KiB set (the ports
of a network, the edges at a security group). A tuple is made again at each change
(a list would keep slack for growth, some 5 MiB over a 100k-object NB); at ``FEW``
members that copy, like the scan for a member, is still cheaper than hashing.

A member must never be a set itself (keys, IDs and strings are fine).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Any, TypeAlias, TypeVar, cast

_K = TypeVar("_K", bound=Hashable)
_M = TypeVar("_M", bound=Hashable)


class _Few(tuple[Any, ...]):
    """An entry's members while they are few: told apart from a member that is a tuple."""

    __slots__ = ()


Entry: TypeAlias = _M | _Few | set[_M]
"""One key's members: the member alone, a short tuple, or a set."""

FEW = 64
"""Members held in a tuple up to this many, in a set beyond."""


def _several(entry: object) -> bool:
    return entry.__class__ is _Few or entry.__class__ is set


def members(entry: Entry[_M] | None) -> Iterable[_M]:
    """The members of an entry read from the map (None: no member)."""
    if entry is None:
        return ()
    if _several(entry):
        return cast("_Few | set[_M]", entry)
    return (cast(_M, entry),)


def add(entries: dict[_K, Entry[_M]], key: _K, member: _M) -> bool:
    """Add ``member`` under ``key``; True when ``key`` had no member before."""
    found = entries.get(key)
    if found is None:
        entries[key] = member
        return True
    if found.__class__ is _Few:
        if member not in found:
            entries[key] = _Few((*found, member)) if len(found) < FEW else {*found, member}
    elif found.__class__ is set:
        found.add(member)
    elif found != member:
        entries[key] = _Few((found, member))
    return False


def discard(entries: dict[_K, Entry[_M]], key: _K, member: _M) -> bool:
    """Remove ``member`` from ``key``; True when ``key`` has no member left."""
    found = entries.get(key)
    if found is None:
        return True
    if found.__class__ is _Few:
        if member in found:
            rest = [m for m in found if m != member]
            entries[key] = rest[0] if len(rest) == 1 else _Few(rest)
        return False
    if found.__class__ is set:
        found.discard(member)
        if len(found) == 1:
            entries[key] = next(iter(found))
        return False
    if found == member:
        del entries[key]
        return True
    return False


def lowest(entry: Entry[_M]) -> _M:
    """The smallest member (an entry with several members has a deterministic winner)."""
    if _several(entry):
        return min(cast("_Few | set[Any]", entry))  # type: ignore[no-any-return]
    return cast(_M, entry)
