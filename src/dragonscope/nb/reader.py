"""A backend composed with the parser: what the rest of dragonscope reads the NB through.

    reader = open_reader("etcd://127.0.0.1:2379")
    snapshot, revision = await reader.snapshot()
    async for change in reader.changes(revision):
        ...

Every stored value goes through ``schema.parse``, which never raises: a bad row
becomes an object with problems, counted here, and never stops the stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections import Counter
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

from dragonscope.nb import schema
from dragonscope.nb.backends import Backend, RawEntry, open_backend
from dragonscope.nb.model import Change, NbObject, Problem, Snapshot
from dragonscope.nb.problems import DUPLICATE_ID

# Parse this many objects between two yields to the event loop, so a 100k-object
# snapshot does not freeze the analyzer or the publisher's heartbeats.
CHUNK = 2000


class NbReader:
    """Parsed snapshots and changes of one NB backend, with problem counters."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.objects_parsed = 0
        self.invalid_objects = 0
        self.problem_counts: Counter[str] = Counter()

    @property
    def url(self) -> str:
        return self.backend.url

    async def snapshot(self) -> tuple[Snapshot, int]:
        """Every object at one revision, parsed."""
        with _collector_paused():
            entries, revision = await self.backend.snapshot()
            snapshot: Snapshot = {}
            for index, entry in enumerate(entries):
                obj = self.parse(entry.table, entry.id, entry.value)
                snapshot[obj.key] = obj
                if index % CHUNK == CHUNK - 1:
                    await asyncio.sleep(0)
        return snapshot, revision

    async def snapshot_pages(
        self, order: Sequence[str] = schema.LOAD_ORDER
    ) -> AsyncIterator[tuple[list[RawEntry], int]]:
        """The snapshot's stored values a page at a time, each with the snapshot's
        revision, unparsed: for a reader that parses only some objects whole. Tables come
        in ``order`` (by default what an object references before it), then any other. A
        backend that reads page by page (etcd) is never held whole."""
        pages = getattr(self.backend, "snapshot_pages", None)
        if pages is None:
            entries, revision = await self.backend.snapshot()
            rank = {table: i for i, table in enumerate(order)}
            entries.sort(key=lambda entry: rank.get(entry.table, len(rank)))
            for start in range(0, max(len(entries), 1), CHUNK):
                yield entries[start : start + CHUNK], revision
            return
        async for page, revision in pages(order):
            yield page, revision

    async def snapshot_batches(self) -> AsyncIterator[tuple[list[NbObject], int]]:
        """The snapshot in parsed batches, each with the snapshot's revision."""
        async for page, revision in self.snapshot_pages():
            yield [self.parse(e.table, e.id, e.value) for e in page], revision

    @property
    def can_fetch(self) -> bool:
        """Whether single objects can be read again cheaply (``fetch``)."""
        return callable(getattr(self.backend, "fetch", None))

    async def fetch(
        self, keys: list[tuple[str, str]], revision: int = 0
    ) -> dict[tuple[str, str], NbObject | None]:
        """``keys`` read again, parsed, at ``revision`` where the store keeps history
        (None for an object that does not exist)."""
        raw = await self.backend.fetch(keys, revision)  # type: ignore[attr-defined]
        return {
            key: None if value is None else self.parse(key[0], key[1], value)
            for key, value in raw.items()
        }

    async def changes(self, since: int) -> AsyncIterator[Change]:
        """Every change after ``since``, parsed, in order, with no gap."""
        async for raw in self.backend.changes(since):
            obj = None if raw.value is None else self.parse(raw.table, raw.id, raw.value)
            yield Change(raw.table, raw.id, obj, raw.revision)

    def parse(self, table: str, id: str, value: bytes) -> NbObject:
        obj = schema.parse(table, id, value)
        duplicates = getattr(self.backend, "duplicates", None)
        if duplicates and obj.key in duplicates:
            obj = _with_problem(obj, _duplicate(obj, duplicates[obj.key]))
        self.objects_parsed += 1
        if obj.problems:
            self.invalid_objects += 1
            self.problem_counts.update(p.kind for p in obj.problems)
        return obj

    def stats(self) -> dict[str, Any]:
        """Counters for status pages and logs."""
        return {
            "objects_parsed": self.objects_parsed,
            "invalid_objects": self.invalid_objects,
            "problems": dict(self.problem_counts),
            **({"mode": self.backend.mode} if hasattr(self.backend, "mode") else {}),
        }

    async def close(self) -> None:
        await self.backend.close()

    async def __aenter__(self) -> NbReader:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


def open_reader(url: str) -> NbReader:
    """A reader for an NB URL (see ``dragonscope.nb.backends``); BackendError if bad."""
    return NbReader(open_backend(url))


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a snapshot is built.

    Building 100k objects (dicts, lists, strings: no cycles) triggers repeated
    full collections over an ever larger heap; pausing them makes a large
    snapshot about a third faster and frees nothing that would be freed.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _duplicate(obj: NbObject, where: tuple[str, ...]) -> Problem:
    return Problem(
        obj.table,
        obj.id,
        "id",
        f"expected one {obj.table} with this id, found it stored {len(where)} times "
        f"({', '.join(where)}); showing the one with the highest version",
        DUPLICATE_ID,
    )


def _with_problem(obj: NbObject, problem: Problem) -> NbObject:
    return NbObject(obj.table, obj.id, obj.data, (*obj.problems, problem))
