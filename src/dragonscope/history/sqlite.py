"""The embedded default: history in one SQLite file, through the standard library.

SQLite is synchronous, so the store owns two worker threads: one writes (one
transaction per batch), one reads (WAL mode lets reads run beside writes), and
the event loop only awaits them. One analyzer writes a file; several analyzers
share a history through PostgreSQL instead. Retention deletes rows and frees
pages incrementally (``auto_vacuum``), so the file stops growing at its bound.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from dragonscope.history.store import (
    Checkpoint,
    Gap,
    HistoryStore,
    Row,
    StoreUnavailable,
    Written,
)

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS changes (
    seq INTEGER PRIMARY KEY, at INTEGER NOT NULL, kind INTEGER NOT NULL,
    id TEXT NOT NULL, digest BLOB NOT NULL, body BLOB);
CREATE INDEX IF NOT EXISTS changes_at ON changes (at, seq);
CREATE TABLE IF NOT EXISTS checkpoints (
    at INTEGER NOT NULL, seq INTEGER NOT NULL, body BLOB NOT NULL, PRIMARY KEY (at, seq));
CREATE TABLE IF NOT EXISTS gaps (start INTEGER NOT NULL, "end" INTEGER NOT NULL, reason TEXT);
CREATE TABLE IF NOT EXISTS writers (id TEXT PRIMARY KEY, seen INTEGER NOT NULL);
"""


class SqliteStore(HistoryStore):
    def __init__(self, path: Path) -> None:
        self.path = path
        self.url = f"sqlite:///{path}"
        self._write_pool = ThreadPoolExecutor(1, thread_name_prefix="history-write")
        self._read_pool = ThreadPoolExecutor(1, thread_name_prefix="history-read")
        self._writer: sqlite3.Connection | None = None
        self._reader: sqlite3.Connection | None = None

    # -- plumbing ------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        return conn

    async def _run(self, pool: ThreadPoolExecutor, job: Callable[[], T]) -> T:
        def guarded() -> T:
            try:
                return job()
            except sqlite3.Error as exc:
                raise StoreUnavailable(f"history file {self.path}: {exc}") from None

        return await asyncio.get_running_loop().run_in_executor(pool, guarded)

    async def _write(self, job: Callable[[sqlite3.Connection], T]) -> T:
        conn = self._writer
        if conn is None:
            raise StoreUnavailable("history store is closed")

        def in_transaction() -> T:
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = job(conn)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            return result

        return await self._run(self._write_pool, in_transaction)

    async def _read(self, job: Callable[[sqlite3.Connection], T]) -> T:
        conn = self._reader
        if conn is None:
            raise StoreUnavailable("history store is closed")
        return await self._run(self._read_pool, lambda: job(conn))

    # -- lifecycle -------------------------------------------------------------------
    async def open(self) -> None:
        def create() -> sqlite3.Connection:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            conn.execute("PRAGMA auto_vacuum=INCREMENTAL")  # only takes effect on a new file
            conn.close()
            conn = self._connect()
            conn.executescript(_SCHEMA)
            return conn

        try:
            self._writer = await self._run(self._write_pool, create)
        except OSError as exc:
            raise StoreUnavailable(f"cannot create {self.path}: {exc.strerror or exc}") from None
        self._reader = await self._run(self._read_pool, self._connect)

    async def close(self) -> None:
        for conn, pool in ((self._writer, self._write_pool), (self._reader, self._read_pool)):
            if conn is not None:
                await asyncio.get_running_loop().run_in_executor(pool, conn.close)
            pool.shutdown(wait=True)
        self._writer = self._reader = None

    # -- writing ---------------------------------------------------------------------
    async def write(self, rows: Sequence[Row], since: int, after: Sequence[int]) -> Written:
        """One writer: nothing is skipped and nobody else writes. A new row's seq is
        the largest so far plus one (the rowid rule), so a batch's seqs follow."""

        def insert(conn: sqlite3.Connection) -> Written:
            (last,) = conn.execute("SELECT coalesce(max(seq), 0) FROM changes").fetchone()
            conn.executemany(
                "INSERT INTO changes (at, kind, id, digest, body) VALUES (?, ?, ?, ?, ?)",
                [(r.at, r.kind, r.id, r.digest, r.body) for r in rows],
            )
            mine = [Row(r.at, r.kind, r.id, r.digest, r.body, last + 1 + i)
                    for i, r in enumerate(rows)]  # fmt: skip
            return Written(mine, [], [r.seq for r in mine])

        return await self._write(insert)

    async def write_checkpoint(self, at: int, body: bytes, seq: int | None = None) -> int:
        def insert(conn: sqlite3.Connection) -> int:
            upto = seq
            if upto is None:
                (upto,) = conn.execute("SELECT coalesce(max(seq), 0) FROM changes").fetchone()
            conn.execute("INSERT OR REPLACE INTO checkpoints VALUES (?, ?, ?)", (at, upto, body))
            return int(upto)

        return await self._write(insert)

    async def add_gap(self, gap: Gap) -> None:
        await self._write(
            lambda conn: conn.execute(
                "INSERT INTO gaps VALUES (?, ?, ?)", (gap.start, gap.end, gap.reason)
            )
        )

    async def heartbeat(self, writer: str, started: int, now: int) -> tuple[bool, bool]:
        await self.leave(writer, now)
        return True, True  # a file has one writer

    async def leave(self, writer: str, now: int) -> None:
        await self._write(
            lambda conn: conn.execute("INSERT OR REPLACE INTO writers VALUES (?, ?)", (writer, now))
        )

    async def last_seen(self) -> int | None:
        return await self._read(
            lambda conn: conn.execute("SELECT max(seen) FROM writers").fetchone()[0]
        )

    async def retain(self, keep_from: int) -> None:
        def delete(conn: sqlite3.Connection) -> None:
            conn.execute(
                "DELETE FROM changes WHERE seq <= (SELECT max(seq) FROM checkpoints WHERE at = ?)",
                (keep_from,),
            )
            conn.execute("DELETE FROM checkpoints WHERE at < ?", (keep_from,))
            conn.execute('DELETE FROM gaps WHERE "end" < ?', (keep_from,))

        await self._write(delete)
        await self._write(lambda conn: conn.execute("PRAGMA incremental_vacuum").fetchall())

    # -- reading ---------------------------------------------------------------------
    async def checkpoint_before(self, at: int) -> Checkpoint | None:
        def find(conn: sqlite3.Connection) -> Checkpoint | None:
            row = (
                conn.execute(
                    "SELECT at, seq, body FROM checkpoints WHERE at <= ? "
                    "ORDER BY at DESC, seq DESC LIMIT 1",
                    (at,),
                ).fetchone()
                or conn.execute(
                    "SELECT at, seq, body FROM checkpoints ORDER BY at, seq LIMIT 1"
                ).fetchone()
            )
            return None if row is None else Checkpoint(*row)

        return await self._read(find)

    async def latest_checkpoint_at(self) -> int | None:
        return await self._read(
            lambda conn: conn.execute("SELECT max(at) FROM checkpoints").fetchone()[0]
        )

    async def checkpoint_times(self) -> list[int]:
        return await self._read(
            lambda conn: [r[0] for r in conn.execute("SELECT at FROM checkpoints ORDER BY at")]
        )

    async def rows_after(self, checkpoint: Checkpoint, upto: int) -> list[Row]:
        def fetch(conn: sqlite3.Connection) -> list[Row]:
            # By time, not from the seq on: the primary key would scan every later change.
            cursor = conn.execute(
                "SELECT at, kind, id, digest, body, seq FROM changes INDEXED BY changes_at "
                "WHERE at BETWEEN ? AND ? AND seq > ? ORDER BY seq",
                (checkpoint.at, upto, checkpoint.seq),
            )
            return [Row(*r) for r in cursor]

        return await self._read(fetch)

    async def latest_rows(
        self, after_seq: int, start: int, end: int, alive: bool = False
    ) -> list[Row]:
        present = "AND body IS NOT NULL" if alive else ""

        def fetch(conn: sqlite3.Connection) -> list[Row]:
            cursor = conn.execute(
                "SELECT at, kind, id, digest, body, seq FROM changes WHERE seq IN ("
                "SELECT max(seq) FROM changes INDEXED BY changes_at "
                f"WHERE at > ? AND at <= ? AND seq > ? {present} GROUP BY kind, id) "
                "ORDER BY seq",
                (start, end, after_seq),
            )
            return [Row(*r) for r in cursor]

        return await self._read(fetch)

    async def gaps(self, start: int, end: int) -> list[Gap]:
        return await self._read(
            lambda conn: [
                Gap(*r)
                for r in conn.execute(
                    'SELECT start, "end", reason FROM gaps WHERE start <= ? AND "end" >= ? '
                    "ORDER BY start",
                    (end, start),
                )
            ]
        )

    async def last_change_at(self) -> int | None:
        return await self._read(
            lambda conn: conn.execute("SELECT max(at) FROM changes").fetchone()[0]
        )

    async def size_bytes(self) -> int:
        def size(conn: sqlite3.Connection) -> int:
            pages = conn.execute("PRAGMA page_count").fetchone()[0]
            free = conn.execute("PRAGMA freelist_count").fetchone()[0]
            page = conn.execute("PRAGMA page_size").fetchone()[0]
            return int((pages - free) * page)

        return await self._read(size)

    async def count_changes(self) -> int:
        return await self._read(
            lambda conn: conn.execute("SELECT count(*) FROM changes").fetchone()[0]
        )
