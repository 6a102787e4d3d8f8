"""Who read what: the objects to render again when something they read changes.

A 100k-object NB records tens of thousands of reads, most of them the only read
of their target (a floating IP's port, a port's trunk segmentation). They are
kept in bytes per read rather than objects: an object's reads are one tuple,
a target read by a single object names it directly, and one read by a few objects
lists them (a set costs 216 bytes for two keys, a list 88).
"""

from __future__ import annotations

from collections.abc import Iterable

from dragonscope.topology.contribution import Dep, Key

_NONE: tuple[Key, ...] = ()
# Readers held in a list up to this many, in a set beyond.
_FEW = 8


class Dependencies:
    """Reads by object, and readers by target."""

    def __init__(self) -> None:
        self._reads: dict[Key, tuple[Dep, ...]] = {}
        self._readers: dict[Dep, Key | list[Key] | set[Key]] = {}

    def readers(self, dep: Dep) -> Iterable[Key]:
        """The objects whose last render read ``dep``."""
        found = self._readers.get(dep)
        if found is None:
            return _NONE
        return (found,) if isinstance(found, tuple) else found

    def record(self, key: Key, reads: set[Dep]) -> None:
        """What the last render of ``key`` read (nothing, for an object that is gone)."""
        old = self._reads.get(key, ())
        if len(old) == len(reads) and reads.issuperset(old):
            return
        before = set(old)
        for dep in before - reads:
            self._forget(dep, key)
        for dep in reads - before:
            self._add(dep, key)
        if reads:
            self._reads[key] = tuple(reads)
        else:
            self._reads.pop(key, None)

    def _add(self, dep: Dep, key: Key) -> None:
        found = self._readers.get(dep)
        if found is None:
            self._readers[dep] = key
        elif isinstance(found, tuple):
            if found != key:
                self._readers[dep] = [found, key]
        elif isinstance(found, list):
            if key not in found:
                if len(found) < _FEW:
                    found.append(key)
                else:
                    self._readers[dep] = {*found, key}
        else:
            found.add(key)

    def _forget(self, dep: Dep, key: Key) -> None:
        found = self._readers.get(dep)
        if found is None:
            return
        if isinstance(found, tuple):
            if found == key:
                del self._readers[dep]
            return
        if isinstance(found, list):
            if key in found:
                found.remove(key)
        else:
            found.discard(key)
        if len(found) == 1:
            self._readers[dep] = next(iter(found))
