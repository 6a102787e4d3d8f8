"""Who read what: the objects to render again when something they read changes.

A 100k-object NB records hundreds of thousands of reads. They are kept in bytes
per read rather than objects: an object's reads are one tuple of the one shared
copy of each read (every port of a network reads that network: one ``Dep`` for
all of them, not one each), and a read's readers are a ``multimap`` entry.
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
        self._shared: dict[Dep, Dep] = {}  # the copy of each read that _reads holds

    def readers(self, dep: Dep) -> Iterable[Key]:
        """The objects whose last render read ``dep``."""
        return multimap.members(self._readers.get(dep))

    def record(self, key: Key, reads: set[Dep]) -> None:
        """What the last render of ``key`` read (nothing, for an object that is gone)."""
        old = self._reads.get(key, ())
        if len(old) == len(reads) and reads.issuperset(old):
            return
        before = set(old)
        shared = self._shared
        for dep in before - reads:
            if multimap.discard(self._readers, dep, key):
                shared.pop(dep, None)
        for dep in reads - before:
            if multimap.add(self._readers, dep, key):
                shared[dep] = dep
        if reads:
            self._reads[key] = tuple([shared[dep] for dep in reads])
        else:
            self._reads.pop(key, None)
