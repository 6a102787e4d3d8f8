"""The built-in in-process NB: the demo's default store and the fast one for tests.

It behaves like the real backends (snapshot at a revision, gap-free change
stream for any number of followers) and, unlike them, can be written to: the
demo's churn and the tests change it through ``put``, ``delete`` and
``load_dump``. Writers must run on the event loop's thread.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

from dragonscope.nb.backends.base import RawChange, RawEntry
from dragonscope.nb.backends.store import LocalStore, flatten_dump, to_bytes
from dragonscope.nb.dump import Dump


class MemoryBackend:
    """An in-process NB store, empty until written to."""

    def __init__(self, url: str = "memory://") -> None:
        self.url = url
        self._store = LocalStore()

    @property
    def revision(self) -> int:
        return self._store.revision

    def put(self, table: str, id: str, value: Mapping[str, Any] | str | bytes) -> int:
        """Create or overwrite one object; returns the store revision afterwards."""
        self._store.set(table, id, to_bytes(value))
        return self._store.revision

    def delete(self, table: str, id: str) -> int:
        """Remove one object (no-op if absent); returns the store revision afterwards."""
        self._store.set(table, id, None)
        return self._store.revision

    def load_dump(self, dump: Dump) -> int:
        """Replace the whole content with a ``df-db dump`` shaped dict; returns the revision.

        Objects that disappear are deleted and changed ones updated, so followers
        see exactly the difference.
        """
        content, _ = flatten_dump(dump, "load_dump")
        self._store.replace(content)
        return self._store.revision

    async def snapshot(self) -> tuple[list[RawEntry], int]:
        return self._store.snapshot()

    async def fetch(
        self, keys: list[tuple[str, str]], revision: int = 0
    ) -> dict[tuple[str, str], bytes | None]:
        """The current values of ``keys`` (None when absent); the store keeps no history."""
        return {key: self._store.get(key) for key in keys}

    def changes(self, since: int) -> AsyncIterator[RawChange]:
        return self._store.follow(since)

    async def close(self) -> None:
        self._store.close()
