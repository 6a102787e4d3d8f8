"""Who read what: the objects to render again when something they read changes.

A 100k-object NB records tens of thousands of reads, most of them the only read
of their target (a floating IP's port, a port's trunk segmentation). They are
kept in bytes per read rather than objects: an object's reads are one tuple, and
its readers are a ``multimap`` entry.
"""

from __future__ import annotations

from collections.abc import Iterable

from dragonscope.topology import multimap
from dragonscope.topology.contribution import Dep, Key


class Dependencies:
    """Reads by object, and readers by target."""

    def __init__(self) -> None:
        self._reads: dict[Key, tuple[Dep, ...]] = {}
        self._readers: dict[Dep, multimap.Entry[Key]] = {}

    def readers(self, dep: Dep) -> Iterable[Key]:
        """The objects whose last render read ``dep``."""
        return multimap.members(self._readers.get(dep))

    def record(self, key: Key, reads: set[Dep]) -> None:
        """What the last render of ``key`` read (nothing, for an object that is gone)."""
        old = self._reads.get(key, ())
        if len(old) == len(reads) and reads.issuperset(old):
            return
        before = set(old)
        for dep in before - reads:
            multimap.discard(self._readers, dep, key)
        for dep in reads - before:
            multimap.add(self._readers, dep, key)
        if reads:
            self._reads[key] = tuple(reads)
        else:
            self._reads.pop(key, None)
