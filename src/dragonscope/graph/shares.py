"""What each origin says about an element that several origins hold, and the metadata they make.

A port bound to a chassis is published by the global collector (what the NB says) and by
that chassis's collector (the same, plus its ``OVS`` section and datapath problems). If
the most recent write replaced the metadata whole, each write of one would hide what only
the other knows. So for an element held by several origins the store keeps each origin's
last metadata (its *share*) and shows their union: a key several origins send takes the
most recent write's value, a key only one sends stays while that origin holds the element,
and ``Problems`` lists every origin's problems (each reports what it sees). An element with
one holder keeps no share: its metadata is that holder's, as in Skydive.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

Metadata = dict[str, Any]

# The key whose lists are joined across origins rather than taken from the newest write.
UNION_KEY = "Problems"


class Shares:
    """Each holder's last metadata, only for elements held by more than one origin."""

    def __init__(self) -> None:
        self._by_element: dict[str, dict[str, Metadata]] = {}

    def base(self, element_id: str, origin: str, current: Metadata) -> Metadata:
        """What ``origin`` last sent for the element (what its partial updates apply to)."""
        shares = self._by_element.get(element_id)
        if shares is None:
            return current
        return shares.get(origin, current)

    def contribute(
        self,
        element_id: str,
        origin: str,
        metadata: Metadata,
        holders: list[str],
        current: Metadata,
    ) -> Metadata:
        """Record ``origin``'s write and return the element's metadata after it.

        ``holders`` are the element's holders, ``origin`` among them; ``current`` is the
        element's metadata before the write, which is the only other holder's own when
        the element becomes shared."""
        if len(holders) < 2:
            self._by_element.pop(element_id, None)
            return metadata
        shares = self._by_element.get(element_id)
        if shares is None:
            shares = {holder: current for holder in holders if holder != origin}
            self._by_element[element_id] = shares
        shares.pop(origin, None)
        shares[origin] = metadata  # the most recent writer last: its values win
        return union(shares.values())

    def withdraw(self, element_id: str, origin: str, remaining: list[str]) -> Metadata | None:
        """``origin`` let go of the element: the metadata the remaining holders make, or
        None when the element kept no shares."""
        shares = self._by_element.get(element_id)
        if shares is None:
            return None
        shares.pop(origin, None)
        kept = [shares[holder] for holder in shares if holder in remaining]
        if len(remaining) < 2:
            del self._by_element[element_id]
        return union(kept) if kept else None

    def forget(self, element_id: str) -> None:
        self._by_element.pop(element_id, None)

    def __len__(self) -> int:
        return len(self._by_element)


def union(shares: Iterable[Metadata]) -> Metadata:
    """The metadata of several origins' shares, oldest first."""
    merged: Metadata = {}
    problems: list[Any] = []
    joined = True
    for share in shares:
        merged.update(share)
        listed = share.get(UNION_KEY)
        if isinstance(listed, list):
            for problem in listed:
                if problem not in problems:
                    problems.append(problem)
        elif listed is not None:
            joined = False
    if joined and problems:
        merged[UNION_KEY] = problems
    return merged
