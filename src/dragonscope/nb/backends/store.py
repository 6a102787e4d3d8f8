"""A revisioned in-process copy of an NB, shared by the backends that number revisions locally.

The memory, redis and dump-file backends have no store revision of their own, so
each keeps one ``LocalStore``: the current value of every object plus, for every
key, the local revision of its last change (deletions are kept as tombstones).
``changes(since)`` then replays every key changed after ``since`` in revision
order, so a consumer that falls behind still converges on the exact state (it
gets the latest value of each key changed meanwhile, not every intermediate
one), and any number of consumers can follow the same store.

Tombstones are pruned once there are too many; a consumer asking for a revision
older than the pruning horizon gets ``BackendError`` (like etcd compaction), and
must take a new snapshot.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Mapping
from typing import Any

from dragonscope.nb.backends.base import BackendError, RawChange, RawEntry
from dragonscope.nb.dump import encode
from dragonscope.nb.tables import NON_OBJECT_TABLES

log = logging.getLogger(__name__)

Key = tuple[str, str]

MAX_TOMBSTONES = 100_000


class LocalStore:
    """Current NB content with a local revision counter and a replayable change index."""

    def __init__(self, *, max_tombstones: int = MAX_TOMBSTONES) -> None:
        self.revision = 0
        self._values: dict[Key, bytes] = {}
        # key -> (revision of its last change, value or None); ordered by revision.
        self._index: OrderedDict[Key, tuple[int, bytes | None]] = OrderedDict()
        self._tombstones = 0
        self._max_tombstones = max_tombstones
        self._horizon = 0  # changes at or below this revision may have been forgotten
        self._changed = asyncio.Event()
        self._closed = False

    def snapshot(self) -> tuple[list[RawEntry], int]:
        entries = [RawEntry(table, id_, value) for (table, id_), value in self._values.items()]
        return entries, self.revision

    def get(self, key: Key) -> bytes | None:
        return self._values.get(key)

    def set(self, table: str, id_: str, value: bytes | None) -> bool:
        """Store ``value`` (None deletes); returns False when nothing changed."""
        key = (table, id_)
        old = self._values.get(key)
        if old == value:
            return False
        self.revision += 1
        if value is None:
            del self._values[key]
            self._tombstones += 1
        else:
            self._values[key] = value
            if old is None and key in self._index:
                self._tombstones -= 1  # a tombstone is replaced by a live value
        self._index[key] = (self.revision, value)
        self._index.move_to_end(key)
        if self._tombstones > self._max_tombstones:
            self._prune_tombstones()
        self._wake()
        return True

    def replace(self, content: dict[Key, bytes]) -> int:
        """Make the store equal ``content``; returns how many keys changed."""
        changed = 0
        for key in [k for k in self._values if k not in content]:
            changed += self.set(key[0], key[1], None)
        for (table, id_), value in content.items():
            changed += self.set(table, id_, value)
        return changed

    def close(self) -> None:
        """Wake every follower so that it ends."""
        self._closed = True
        self._wake()

    def changes_after(self, since: int) -> list[RawChange]:
        """Every key changed after ``since`` with its latest value, in revision order."""
        if since > self.revision:
            raise BackendError(
                f"revision {since} is ahead of this store ({self.revision}); revisions of "
                "this backend are local to the process: take a new snapshot"
            )
        if since < self._horizon:
            raise BackendError(
                f"revision {since} is older than the oldest one still known "
                f"({self._horizon}); take a new snapshot"
            )
        found: list[RawChange] = []
        for (table, id_), (revision, value) in reversed(self._index.items()):
            if revision <= since:
                break
            found.append(RawChange(table, id_, value, revision))
        found.reverse()
        return found

    async def follow(self, since: int) -> AsyncIterator[RawChange]:
        """Yield every change after ``since``, then wait for more, until closed."""
        while not self._closed:
            changed = self._changed
            batch = self.changes_after(since)
            for change in batch:
                yield change
                since = change.revision
            if not batch:
                await changed.wait()

    def _wake(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def _prune_tombstones(self) -> None:
        """Forget the oldest half of the deletions; followers behind them must resync."""
        to_drop = self._tombstones // 2
        for key, (revision, value) in list(self._index.items()):
            if to_drop == 0:
                break
            if value is None:
                del self._index[key]
                self._horizon = revision
                self._tombstones -= 1
                to_drop -= 1


def to_bytes(value: Mapping[str, Any] | str | bytes) -> bytes:
    """Raw stored form of a value given as a JSON object, JSON text or bytes."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    return encode(value)


def pick(values: list[bytes]) -> bytes:
    """Choose which of several values stored for one (table, id) is the current one.

    Happens in Dragonflow's redis layout when an object's topic changed (the old
    key stays behind) and in hand-edited dump files. The highest Neutron
    ``version`` wins; on a tie, the last one given (the most recently written).
    """
    best, best_version = values[-1], _version(values[-1])
    for value in reversed(values[:-1]):
        version = _version(value)
        if version > best_version:
            best, best_version = value, version
    return best


def _version(value: bytes) -> int:
    try:
        version = json.loads(value).get("version")
    except (ValueError, AttributeError):
        return -1
    return version if isinstance(version, int) else -1


def flatten_dump(
    dump: dict[str, Any], source: str
) -> tuple[dict[Key, bytes], dict[Key, tuple[str, ...]]]:
    """A ``df-db dump`` dict -> ({(table, id): value}, {(table, id): where, if stored twice}).

    Bad rows are kept for the parser to report rather than dropped: an object
    without a usable id is named ``#<position>``, and an id listed twice keeps
    the value ``pick`` prefers. Counter tables are skipped, and so (with a
    warning naming ``source``) is a table that is not a list.
    """
    found: dict[Key, list[tuple[str, bytes]]] = {}
    for table, objects in dump.items():
        if table in NON_OBJECT_TABLES:
            continue
        if not isinstance(objects, list):
            log.warning(
                "%s: table %r is a %s, not a list of objects; skipped",
                source, table, type(objects).__name__,
            )  # fmt: skip
            continue
        for index, obj in enumerate(objects):
            id_ = obj.get("id") if isinstance(obj, dict) else None
            key = (table, str(id_) if isinstance(id_, str | int) else f"#{index}")
            found.setdefault(key, []).append((f"{table}[{index}]", encode(obj)))
    duplicates = {
        key: tuple(where for where, _ in stored) for key, stored in found.items() if len(stored) > 1
    }
    return {key: pick([value for _, value in stored]) for key, stored in found.items()}, duplicates
