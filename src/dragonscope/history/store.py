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

SAME_CHANGE_WINDOW_MS = 10 * 60 * 1000  # analyzers sharing a store see one change within it


class StoreUnavailable(RuntimeError):
    """The database cannot be reached or refused a write; the text says why."""


@dataclass(frozen=True, slots=True)
class Row:
    """One change: ``body`` is the element after the change, as ``codec`` encodes it
    (None: deleted).
    ``digest`` names the change itself, so analyzers sharing a store write it once;
    ``seq`` is its place in the store's order (0 until stored)."""

    at: int
    kind: int
    id: str
    digest: bytes
    body: bytes | None
    seq: int = 0


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """The whole graph as every change up to ``seq`` left it. Those changes all have
    times up to ``at``, and every later one a time from ``at`` on, so the graph at
    a time T >= ``at`` is ``body`` plus the changes after ``seq`` up to T, in order,
    whichever analyzer stored them and however late."""

    at: int
    seq: int
    body: bytes


@dataclass(frozen=True, slots=True)
class Written:
    """What one write did: ``mine``, the changes it stored (with their seq and the
    time stored, which a late change has moved up to the newest checkpoint's);
    ``others``, what other analyzers stored since the writer's last write."""

    mine: list[Row]
    others: list[Row]
    seqs: list[int]  # per row written: its seq, or that of the same change stored before


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
    async def write(self, rows: Sequence[Row], since: int, after: Sequence[int]) -> Written:
        """Store the changes in order and tell what others stored after seq ``since``.
        A shared store skips a change another analyzer stored already: the same
        change to the same element after ``after`` (per row: the seq of this
        writer's previous change to that element), so an element that comes back to
        an earlier state is a new change, and one seen late is not."""

    @abstractmethod
    async def write_checkpoint(self, at: int, body: bytes, seq: int | None = None) -> int:
        """Store the graph as the changes up to ``seq`` left it (None: as it is
        now, after every change stored so far, which it supersedes); returns the seq."""

    @abstractmethod
    async def checkpoint_before(self, at: int) -> Checkpoint | None:
        """The newest checkpoint at or before ``at``; the oldest one when none is."""

    @abstractmethod
    async def latest_checkpoint_at(self) -> int | None: ...

    @abstractmethod
    async def rows_after(self, checkpoint: Checkpoint, upto: int) -> list[Row]:
        """Changes after ``checkpoint`` with times up to ``upto`` (inclusive), in order."""

    @abstractmethod
    async def latest_rows(
        self, after_seq: int, start: int, end: int, alive: bool = False
    ) -> list[Row]:
        """Per element, its last change (by seq) among the changes after ``after_seq``
        with times in (start, end], in seq order; ``alive``: its last one that left it
        present. The database picks them, so an element changed a thousand times in
        the window costs one row, read and decoded."""

    @abstractmethod
    async def add_gap(self, gap: Gap) -> None: ...

    @abstractmethod
    async def gaps(self, start: int, end: int) -> list[Gap]:
        """Gaps overlapping [start, end], oldest first."""

    @abstractmethod
    async def last_change_at(self) -> int | None: ...

    @abstractmethod
    async def heartbeat(self, writer: str, started: int, now: int) -> tuple[bool, bool]:
        """Say ``writer`` is alive. Returns (leader, alone): the leader is the oldest
        live writer (it writes checkpoints); alone, whether no other writer is alive."""

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
