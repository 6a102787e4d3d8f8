"""What a durable history store keeps, and the one interface every store speaks.

A store holds three things: the changes (one row each: when, which element,
its new state or ``None`` for a deletion), checkpoints (the whole graph at a
time, so a past state is rebuilt from the nearest checkpoint plus the changes
after it, never from the beginning) and gaps (periods the history does not
know: the analyzer was down, or the database was unreachable for longer than
the buffer lasted). Stores are async; the SQLite one works in a thread, the
PostgreSQL one through psycopg's async connection.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass


class StoreUnavailable(RuntimeError):
    """The database cannot be reached or refused a write; the text says why."""


@dataclass(frozen=True, slots=True)
class Row:
    """One change: ``body`` is the element's JSON after the change (None: deleted).
    ``digest`` names the change itself, so analyzers sharing a store write it once."""

    at: int
    kind: int
    id: str
    digest: bytes
    body: bytes | None


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """The whole graph at ``at``: every change with a time up to ``at`` written
    before it (``seq`` is the last change row then) is in ``body``."""

    at: int
    seq: int
    body: bytes


@dataclass(frozen=True, slots=True)
class Gap:
    start: int
    end: int
    reason: str

    def to_json(self) -> dict[str, int | str]:
        return {"From": self.start, "To": self.end, "Reason": self.reason}


class HistoryStore(ABC):
    """A durable history. Methods raise :class:`StoreUnavailable` when the database is."""

    url: str
    shared: bool = False  # several analyzers may write it at once

    @abstractmethod
    async def open(self) -> None: ...

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    async def write(self, rows: Sequence[Row]) -> int:
        """Store the changes in order; returns how many were new (a shared store
        skips changes another analyzer wrote already)."""

    @abstractmethod
    async def write_checkpoint(self, at: int, body: bytes) -> None:
        """Store the graph at ``at``, after every change written so far."""

    @abstractmethod
    async def checkpoint_before(self, at: int) -> Checkpoint | None:
        """The newest checkpoint at or before ``at``; the oldest one when none is."""

    @abstractmethod
    async def latest_checkpoint_at(self) -> int | None: ...

    @abstractmethod
    async def rows_after(self, checkpoint: Checkpoint, upto: int) -> list[Row]:
        """Changes after ``checkpoint`` up to ``upto`` (inclusive), in order."""

    @abstractmethod
    async def add_gap(self, gap: Gap) -> None: ...

    @abstractmethod
    async def gaps(self, start: int, end: int) -> list[Gap]:
        """Gaps overlapping [start, end], oldest first."""

    @abstractmethod
    async def last_change_at(self) -> int | None: ...

    @abstractmethod
    async def heartbeat(self, writer: str, started: int, now: int) -> tuple[bool, bool]:
        """Say ``writer`` is alive. Returns (leader, alone_at_start): the leader is the
        oldest live writer (it writes checkpoints); the second is whether no other
        writer was alive when this one first said so."""

    @abstractmethod
    async def leave(self, writer: str, now: int) -> None:
        """``writer`` stops cleanly: it recorded until ``now``."""

    @abstractmethod
    async def last_seen(self) -> int | None:
        """The last time any writer said it was alive (or left)."""

    @abstractmethod
    async def retain(self, keep_from: int) -> None:
        """Forget what lies before ``keep_from`` (a checkpoint's time)."""

    @abstractmethod
    async def checkpoint_times(self) -> list[int]: ...

    @abstractmethod
    async def size_bytes(self) -> int:
        """Bytes the history takes on disk."""

    @abstractmethod
    async def count_changes(self) -> int: ...
