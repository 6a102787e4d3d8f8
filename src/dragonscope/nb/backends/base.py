"""The one interface every NB backend implements.

Backends deal in raw stored values (bytes of JSON) so that parsing and
validation live in exactly one place (``dragonscope.nb.schema``); the reader
(``dragonscope.nb.reader``) composes a backend with the parser.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Protocol


class BackendError(Exception):
    """The store cannot be read (unreachable, refused, bad URL). Message is one clear line."""


@dataclass(frozen=True, slots=True)
class RawEntry:
    table: str
    id: str
    value: bytes


@dataclass(frozen=True, slots=True)
class RawChange:
    """A put (``value`` set) or a deletion (``value`` None) seen at ``revision``."""

    table: str
    id: str
    value: bytes | None
    revision: int


class Backend(Protocol):
    """A read-only view of one NB store.

    ``snapshot`` returns every object and the revision it was read at.
    ``changes(since)`` yields every change after ``since``, in order, with no gap:
    after a disconnect it resumes, and when it cannot resume (e.g. etcd
    compaction) it re-reads the store and yields the difference as changes.
    Revisions are opaque increasing integers, comparable within one backend.
    """

    url: str

    async def snapshot(self) -> tuple[list[RawEntry], int]: ...

    def changes(self, since: int) -> AsyncIterator[RawChange]: ...

    async def close(self) -> None: ...


class Resyncs:
    """When a backend had to read the whole store again because the store's history
    broke (restored from a backup, wiped, replaced by another server), and whether it
    is doing so now: what a collector reports, since the graph may be wrong meanwhile.

    ``listener`` is called at the start and at the end of each resync."""

    def __init__(self) -> None:
        self.count = 0
        self.active = False
        self.reason = ""
        self.at: float | None = None  # epoch seconds of the last start
        self.listener: Callable[[Resyncs], None] | None = None

    def begin(self, reason: str) -> None:
        self.count += 1
        self.active = True
        self.reason = reason
        self.at = time.time()
        self._tell()

    def end(self) -> None:
        if self.active:
            self.active = False
            self._tell()

    def _tell(self) -> None:
        if self.listener is not None:
            self.listener(self)
