"""The NB objects a topology reads, whole only where its graph needs them.

A global graph draws every object, so every object is kept whole. A chassis
slice draws a few thousand objects of a hundred thousand: the others only
have to say whether they enter the slice, which their *skeleton* tells (the
few fields anchors and indexes read, see ``rules.SKELETONS``). In a compact
store an object is kept whole while the slice needs it (it is drawn, or a drawn
object read it) and as a skeleton otherwise; ``wanted`` names the skeletons the
slice now needs whole, which the caller fetches from the NB again and hands back
as ordinary changes.

An object that arrives whole (a change, a snapshot batch) stays whole until the
end of the batch that brought it, so that an object entering the slice with its
own change needs no fetch.

A skeleton is held as its fields alone (often one dict shared by many objects) and made
an ``NbObject`` only when read: a hundred thousand skeleton records would cost some
6 MiB for a table name and an ID the store's key already holds.

A whole object is held packed, as orjson's compact JSON text (``str``: orjson's bytes
each hold a 4 KiB buffer; compressed ``bytes`` once its table has learned a dictionary,
see ``squeeze``), and decoded when read (the few objects many renders read in
a row, a network or a chassis, from a small cache): parsed, a 100k-object NB costs some
150 MiB of dicts and lists; packed, a sixth. An object with problems, or with a value
orjson cannot encode, is kept as it is.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from dragonscope.nb import NbObject
from dragonscope.topology.contribution import Key, one_copy
from dragonscope.topology.packed import pack, same_metadata
from dragonscope.topology.rules import SKELETONS
from dragonscope.topology.squeeze import expand

_NOTHING: dict[str, Any] = {}
# One-field skeletons are shared between objects with the same one (every port of a
# chassis has the same binding); a table's shared ones are bounded, others simply kept.
_SHARED_MAX = 1024


@dataclass(frozen=True, slots=True)
class Skeleton(NbObject):
    """What a compact slice keeps of an object it does not draw (read-only, shared)."""


Held = NbObject | dict[str, Any] | str | bytes
"""A whole object (packed, or as it is), or the fields of a skeleton."""

_DECODED_MAX = 4096
"""Whole objects kept decoded between reads, at most (the cache lasts one batch)."""


class _Held:
    """What the store holds, by table then ID: no (table, id) tuple per object."""

    __slots__ = ("_count", "_tables")

    def __init__(self) -> None:
        self._tables: dict[str, dict[str, Held]] = {}
        self._count = 0

    def get(self, key: Key) -> Held | None:
        ids = self._tables.get(key[0])
        return None if ids is None else ids.get(key[1])

    def __setitem__(self, key: Key, held: Held) -> None:
        ids = self._tables.get(key[0])
        if ids is None:
            ids = self._tables[key[0]] = {}
        if key[1] not in ids:
            self._count += 1
        ids[key[1]] = held

    def pop(self, key: Key) -> None:
        ids = self._tables.get(key[0])
        if ids is not None and ids.pop(key[1], None) is not None:
            self._count -= 1

    def __contains__(self, key: Key) -> bool:
        ids = self._tables.get(key[0])
        return ids is not None and key[1] in ids

    def __iter__(self) -> Iterator[Key]:
        for table, ids in self._tables.items():
            for object_id in ids:
                yield table, object_id

    def __len__(self) -> int:
        return self._count

    def tables(self) -> Iterator[tuple[str, dict[str, Held]]]:
        return iter(self._tables.items())

    def table(self, table: str) -> Mapping[str, Held]:
        return self._tables.get(table) or {}


def _texts(held: object) -> bool:
    """Whether ``held`` is a packed text (plain or compressed)."""
    return held.__class__ is str or held.__class__ is bytes


def _pack(obj: NbObject) -> Held:
    """The object's text; the object itself when it has problems or orjson refuses it."""
    if obj.problems:
        return obj
    text = pack(obj.data, obj.table)
    return text if isinstance(text, str | bytes) else obj


class _Objects(Mapping[Key, NbObject]):
    """The store's objects as ``NbObject``s, skeletons included."""

    __slots__ = ("_decoded", "_held")

    def __init__(self, held: _Held) -> None:
        self._held = held
        self._decoded: dict[Key, NbObject] = {}

    def __getitem__(self, key: Key) -> NbObject:
        obj = self.get(key)
        if obj is None:
            raise KeyError(key)
        return obj

    def get(self, key: Key, default: NbObject | None = None) -> NbObject | None:  # type: ignore[override]
        held = self._held.get(key)
        if held is None:
            return default
        if isinstance(held, dict):
            return Skeleton(key[0], key[1], held)
        if not _texts(held):
            return held  # type: ignore[return-value]
        obj = self._decoded.get(key)
        if obj is None:
            obj = NbObject(key[0], key[1], orjson.loads(expand(held)))  # type: ignore[arg-type]
            self.remember(key, obj)
        return obj

    def forget(self, key: Key) -> None:
        """The object changed: a decoded copy is stale."""
        self._decoded.pop(key, None)

    def forget_all(self) -> None:
        self._decoded.clear()

    def remember(self, key: Key, obj: NbObject) -> None:
        """``obj`` is decoded (or was just packed): reads in the same batch reuse it."""
        if len(self._decoded) >= _DECODED_MAX:
            self._decoded.clear()
        self._decoded[key] = obj

    def __contains__(self, key: object) -> bool:
        return isinstance(key, tuple) and key in self._held

    def __iter__(self) -> Iterator[Key]:
        return iter(self._held)

    def __len__(self) -> int:
        return len(self._held)


class ObjectStore:
    """NB state by key; in a compact store, whole objects only where needed."""

    def __init__(self, compact: bool, packed: bool = True) -> None:
        self.compact = compact
        self._packed = packed
        self._held = _Held()
        self._objects = _Objects(self._held)
        self.objects: Mapping[Key, NbObject] = self._objects
        self.wanted: set[Key] = set()
        self._need: dict[Key, int] = {}
        self._needs_of: dict[Key, tuple[Key, ...]] = {}
        self._candidates: set[Key] = set()
        self._shared: dict[str, dict[str, dict[str, Any]]] = {}
        self._also: dict[str, tuple[str, ...]] = {}
        self._whole: set[str] = set()

    def keep_also(self, fields: Mapping[str, Iterable[str] | None]) -> None:
        """Fields another reader of the store needs on every object, drawn or not
        (None: the whole objects of that table)."""
        for table, names in fields.items():
            if names is None:
                self._whole.add(table)
            else:
                kept = (*self._also.get(table, ()), *names)
                self._also[table] = tuple(dict.fromkeys(kept))

    def get(self, key: Key) -> NbObject | None:
        return self.objects.get(key)

    def text(self, key: Key) -> str | bytes | None:
        """The kept text of a whole object's fields (maybe compressed), if it is packed."""
        held = self._held.get(key)
        return held if _texts(held) else None  # type: ignore[return-value]

    def counts(self) -> Iterator[tuple[str, int]]:
        """Objects held, by table."""
        return ((table, len(ids)) for table, ids in self._held.tables())

    def texts(self, table: str, limit: int) -> list[tuple[str, str | bytes]]:
        """The first ``limit`` packed texts of ``table``'s objects, by ID."""
        ids = self._held.table(table)
        return [(i, held) for i, held in itertools.islice(ids.items(), limit) if _texts(held)]  # type: ignore[misc]

    def unchanged(self, key: Key, obj: NbObject | None) -> bool:
        """Whether storing ``obj`` would change nothing anyone reads."""
        current = self._held.get(key)
        if obj is None or current is None:
            return obj is current
        if _texts(current):
            if isinstance(obj, Skeleton):
                return False
            packed = _pack(obj)
            return packed is not obj and same_metadata(packed, current)  # type: ignore[arg-type]
        if current.__class__ is not dict:
            return current == obj
        if isinstance(obj, Skeleton):
            return obj.data == current
        return key not in self._need and self._skeleton_data(obj.table, obj.data) == current

    def put(self, key: Key, obj: NbObject | None) -> None:
        self._objects.forget(key)
        if obj is None:
            self._held.pop(key)
            self.wanted.discard(key)
            return
        if isinstance(obj, Skeleton):
            self._held[key] = obj.data
            # Judged a skeleton before a render came to need it (earlier in the same page).
            if key in self._need:
                self.wanted.add(key)
            else:
                self.wanted.discard(key)
        else:
            held = self._held[key] = _pack(obj) if self._packed else obj
            if held is not obj:
                self._objects.remember(key, obj)
            self.wanted.discard(key)
        if self.compact and key not in self._need and key[0] not in self._whole:
            self._candidates.add(key)

    def set_needs(self, key: Key, drawn: bool, reads: Iterable[Key]) -> None:
        """What the render of ``key`` needs whole: itself and what it read, if drawn."""
        if not self.compact:
            return
        new = (key, *reads) if drawn else ()
        old = self._needs_of.get(key, ())
        if new == old:
            return
        if new:
            self._needs_of[key] = new
        else:
            self._needs_of.pop(key, None)
        for needed in new:
            count = self._need.get(needed, 0)
            self._need[needed] = count + 1
            if not count and self._held.get(needed).__class__ is dict:
                self.wanted.add(needed)
        for released in old:
            count = self._need[released] - 1
            if count:
                self._need[released] = count
            else:
                del self._need[released]
                self.wanted.discard(released)
                if released[0] not in self._whole:
                    self._candidates.add(released)

    def settled(self) -> None:
        """End of a batch: objects no drawn render needs shrink to their skeleton."""
        for key in self._candidates:
            held = self._held.get(key)
            if key not in self._need and held is not None and held.__class__ is not dict:
                obj = self._objects.get(key)
                assert obj is not None
                self._held[key] = self._skeleton_data(key[0], obj.data)
        self._candidates.clear()
        self._objects.forget_all()

    def skeleton(self, key: Key, stored: Callable[[], Mapping[str, Any] | None]) -> Skeleton | None:
        """What a compact store keeps of an object read from the NB, made without judging
        the whole object (``stored`` decodes its value, only if a field is kept); None
        when the object is needed whole, or its value is not a JSON object."""
        table = key[0]
        if not self.compact or key in self._need or table in self._whole:
            return None
        if table not in SKELETONS and table not in self._also:
            return Skeleton(table, key[1], _NOTHING)
        data = stored()
        if data is None:
            return None
        return Skeleton(table, key[1], self._skeleton_data(table, data))

    def _skeleton_data(self, table: str, stored: Mapping[str, Any]) -> dict[str, Any]:
        keep = SKELETONS.get(table)
        data = keep(stored) if keep is not None else _NOTHING
        also = self._also.get(table)
        if also:
            data = {**data, **{name: stored[name] for name in also if name in stored}}
        if not data:
            return _NOTHING
        if len(data) > 1:
            return data
        try:  # the canonical JSON text (decoded: orjson's bytes keep kilobytes of slack)
            frozen = orjson.dumps(data, option=orjson.OPT_SORT_KEYS).decode()
        except (orjson.JSONEncodeError, TypeError):  # an oddity in a field: keep it unshared
            return data
        return one_copy(self._shared.setdefault(table, {}), frozen, data, _SHARED_MAX)
