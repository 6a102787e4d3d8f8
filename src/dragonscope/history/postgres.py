"""History in PostgreSQL, for long retention and for analyzers that share one history.

Changes live in a table partitioned by time (one partition per ``partition_ms``),
so retention drops whole partitions instead of deleting rows. Several analyzers
fed by the same collectors write the same changes: each batch is written under
a transaction-scoped advisory lock and skips changes whose digest is already
stored near the same time, so a change is stored once whoever sees it first.
Writers say they are alive in ``history_writers``; the oldest live one writes
the checkpoints (a newcomer's graph is still filling up), and one that starts
alone records the time nobody was writing as a gap.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from dragonscope.history.store import (
    SAME_CHANGE_WINDOW_MS,
    Checkpoint,
    Gap,
    HistoryStore,
    Row,
    StoreUnavailable,
    Written,
)

T = TypeVar("T")
log = logging.getLogger(__name__)
DAY_MS = 24 * 3600 * 1000
WRITER_STALE_MS = 15_000
_LOCK = 0x6472_6167_6F6E  # the advisory lock every writer of a history takes
_FETCH_BATCH = 5000
_SORT_MEMORY = "128MB"

_SCHEMA = """
CREATE SEQUENCE IF NOT EXISTS history_seq;
CREATE TABLE IF NOT EXISTS history_changes (
    seq bigint NOT NULL DEFAULT nextval('history_seq'), at bigint NOT NULL,
    kind smallint NOT NULL, id text NOT NULL, digest bytea NOT NULL, body bytea
) PARTITION BY RANGE (at);
CREATE INDEX IF NOT EXISTS history_changes_at ON history_changes (at, seq);
CREATE INDEX IF NOT EXISTS history_changes_seq ON history_changes (seq);
CREATE INDEX IF NOT EXISTS history_changes_digest ON history_changes (digest);
CREATE TABLE IF NOT EXISTS history_checkpoints (
    at bigint NOT NULL, seq bigint NOT NULL, body bytea NOT NULL, PRIMARY KEY (at, seq));
CREATE TABLE IF NOT EXISTS history_gaps (start bigint NOT NULL, "end" bigint NOT NULL, reason text);
CREATE TABLE IF NOT EXISTS history_writers (
    id text PRIMARY KEY, started bigint NOT NULL, seen bigint NOT NULL,
    gone boolean NOT NULL DEFAULT false);
"""

# The same change stored by another analyzer since this writer's previous change to
# the element (the first such row), or NULL.
_MATCH = f"""
SELECT (SELECT min(c.seq) FROM history_changes c WHERE c.digest = v.digest AND c.seq > v.after
        AND c.at BETWEEN v.at - {SAME_CHANGE_WINDOW_MS} AND v.at + {SAME_CHANGE_WINDOW_MS})
FROM unnest(%s::bytea[], %s::bigint[], %s::bigint[]) WITH ORDINALITY AS v(digest, after, at, n)
ORDER BY v.n
"""
# A late change (its time before the newest checkpoint) is stored at that
# checkpoint's time, so a checkpoint's changes all come before it in time and
# every later one after it.
_INSERT = """
INSERT INTO history_changes (at, kind, id, digest, body)
SELECT greatest(v.at, %s), v.kind, v.id, v.digest, v.body
FROM unnest(%s::bigint[], %s::smallint[], %s::text[], %s::bytea[], %s::bytea[])
     WITH ORDINALITY AS v(at, kind, id, digest, body, n)
ORDER BY v.n
RETURNING seq, at
"""
_OTHERS = """
SELECT at, kind, id, digest, body, seq FROM history_changes
WHERE seq > %s AND NOT seq = ANY(%s::bigint[]) ORDER BY seq
"""


def _driver() -> Any:
    try:
        import psycopg
    except ImportError:
        raise StoreUnavailable(
            "a postgresql:// history needs psycopg: pip install 'dragonscope[postgresql]'"
        ) from None
    return psycopg


def _row(r: tuple[Any, ...]) -> Row:
    at, kind, id_, dig, body, seq = r
    return Row(at, kind, id_, bytes(dig), None if body is None else bytes(body), seq)


def _columns(rows: Sequence[Row]) -> tuple[list[Any], ...]:
    return (
        [r.at for r in rows],
        [r.kind for r in rows],
        [r.id for r in rows],
        [r.digest for r in rows],
        [r.body for r in rows],
    )


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)


class PostgresStore(HistoryStore):
    shared = True

    def __init__(self, url: str, partition_ms: int = DAY_MS) -> None:
        self.url = url
        self.partition_ms = partition_ms
        self._conns: dict[str, Any] = {}  # "write" and "read": psycopg AsyncConnection
        self._partitions: set[int] = set()
        self._locks: dict[str, asyncio.Lock] = {}

    # -- plumbing ------------------------------------------------------------------
    async def _conn(self, role: str) -> Any:
        conn = self._conns.get(role)
        if conn is None or conn.closed:
            psycopg = _driver()
            # Unprepared: a prepared statement's generic plan for a batch of arrays
            # scans whole partitions per row once it is chosen, as the table grows.
            conn = await psycopg.AsyncConnection.connect(
                self.url, connect_timeout=3, prepare_threshold=None
            )
            self._conns[role] = conn
        return conn

    async def _run(self, role: str, job: Callable[[Any], Awaitable[T]]) -> T:
        """Run ``job`` in one transaction on the role's connection. Jobs of a role take
        turns (a connection runs one transaction at a time); any database error makes
        the connection suspect, so it is closed and the next job opens a new one."""
        psycopg = _driver()
        async with self._locks.setdefault(role, asyncio.Lock()):
            try:
                conn = await self._conn(role)
                async with conn.transaction(), conn.cursor() as cur:
                    if role == "write":
                        await cur.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK,))
                    return await job(cur)
            except (psycopg.Error, OSError) as exc:
                await self._drop(role)
                raise StoreUnavailable(f"history database: {exc}".strip()) from None
            except asyncio.CancelledError:
                await self._drop(role)  # it may be left inside the transaction
                raise

    async def _drop(self, role: str) -> None:
        dead = self._conns.pop(role, None)
        self._partitions.clear()
        if dead is not None:
            with contextlib.suppress(Exception):
                await dead.close()

    # -- lifecycle -------------------------------------------------------------------
    async def open(self) -> None:
        async def create(cur: Any) -> None:
            await cur.execute(_SCHEMA)

        await self._run("write", create)
        if _driver().pq.__impl__ == "python":
            log.warning(
                "psycopg runs its pure-Python implementation: reading the past from "
                "PostgreSQL takes several times longer; pip install "
                "'dragonscope[postgresql]' adds its C implementation"
            )

    async def close(self) -> None:
        for conn in self._conns.values():
            with contextlib.suppress(Exception):
                await conn.close()
        self._conns.clear()

    # -- writing ---------------------------------------------------------------------
    async def _ensure_partitions(self, cur: Any, times: Sequence[int]) -> None:
        for bucket in sorted({at // self.partition_ms for at in times} - self._partitions):
            low = bucket * self.partition_ms
            await cur.execute(
                f"CREATE TABLE IF NOT EXISTS history_changes_{bucket} PARTITION OF "
                f"history_changes FOR VALUES FROM ({low}) TO ({low + self.partition_ms})"
            )
            self._partitions.add(bucket)

    async def write(self, rows: Sequence[Row], since: int, after: Sequence[int]) -> Written:
        async def insert(cur: Any) -> Written:
            await cur.execute("SELECT coalesce(max(at), 0) FROM history_checkpoints")
            (floor,) = await cur.fetchone()
            await cur.execute(_MATCH, ([r.digest for r in rows], list(after), [r.at for r in rows]))
            matched = [m for (m,) in await cur.fetchall()]
            new = [r for r, m in zip(rows, matched, strict=True) if m is None]
            await self._ensure_partitions(cur, [max(r.at, floor) for r in new])
            await cur.execute(_INSERT, (floor, *_columns(new)))
            stored = iter(await cur.fetchall())
            mine: list[Row] = []
            seqs: list[int] = []
            for r, m in zip(rows, matched, strict=True):
                if m is None:
                    seq, at = next(stored)
                    mine.append(Row(at, r.kind, r.id, r.digest, r.body, seq))
                    m = seq
                seqs.append(int(m))
            await cur.execute(_OTHERS, (since, [r.seq for r in mine]))
            others = [_row(r) for r in await cur.fetchall()]
            return Written(mine, others, seqs)

        return await self._run("write", insert)

    async def write_checkpoint(self, at: int, body: bytes, seq: int | None = None) -> int:
        async def insert(cur: Any) -> int:
            upto = seq
            if upto is None:
                await cur.execute("SELECT coalesce(max(seq), 0) FROM history_changes")
                (upto,) = await cur.fetchone()
            await cur.execute(
                "INSERT INTO history_checkpoints VALUES (%s, %s, %s) "
                "ON CONFLICT (at, seq) DO UPDATE SET body = excluded.body",
                (at, upto, body),
            )
            return int(upto)

        return await self._run("write", insert)

    async def add_gap(self, gap: Gap) -> None:
        async def insert(cur: Any) -> None:
            await cur.execute(
                "INSERT INTO history_gaps VALUES (%s, %s, %s)", (gap.start, gap.end, gap.reason)
            )

        await self._run("write", insert)

    async def heartbeat(self, writer: str, started: int, now: int) -> tuple[bool, bool]:
        async def beat(cur: Any) -> tuple[bool, bool]:
            stale = now - WRITER_STALE_MS
            await cur.execute(
                "SELECT NOT EXISTS (SELECT 1 FROM history_writers "
                "WHERE id <> %s AND seen > %s AND NOT gone)",
                (writer, stale),
            )
            (alone,) = await cur.fetchone()
            await cur.execute(
                "INSERT INTO history_writers VALUES (%s, %s, %s) "
                "ON CONFLICT (id) DO UPDATE SET seen = excluded.seen",
                (writer, started, now),
            )
            await cur.execute(
                "SELECT id FROM history_writers WHERE seen > %s AND NOT gone "
                "ORDER BY started, id LIMIT 1",
                (stale,),
            )
            (leader,) = await cur.fetchone()
            await cur.execute("DELETE FROM history_writers WHERE seen < %s", (now - DAY_MS,))
            return leader == writer, bool(alone)

        return await self._run("write", beat)

    async def leave(self, writer: str, now: int) -> None:
        async def mark(cur: Any) -> None:
            await cur.execute(
                "UPDATE history_writers SET seen = %s, gone = true WHERE id = %s", (now, writer)
            )

        await self._run("write", mark)

    async def last_seen(self) -> int | None:
        return _opt_int((await self._fetch("SELECT max(seen) FROM history_writers"))[0][0])

    async def retain(self, keep_from: int) -> None:
        async def drop(cur: Any) -> None:
            await cur.execute(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "WHERE i.inhparent = 'history_changes'::regclass"
            )
            for (name,) in await cur.fetchall():
                bucket = int(name.rsplit("_", 1)[1])
                if (bucket + 1) * self.partition_ms <= keep_from:
                    await cur.execute(f"DROP TABLE {name}")
                    self._partitions.discard(bucket)
            await cur.execute("DELETE FROM history_checkpoints WHERE at < %s", (keep_from,))
            await cur.execute('DELETE FROM history_gaps WHERE "end" < %s', (keep_from,))

        await self._run("write", drop)

    # -- reading ---------------------------------------------------------------------
    async def _fetch(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        async def fetch(cur: Any) -> list[tuple[Any, ...]]:
            await cur.execute(sql, params)
            return list(await cur.fetchall())

        return await self._run("read", fetch)

    async def _fetch_rows(self, sql: str, params: Sequence[Any]) -> list[Row]:
        """Changes in binary form (a body is not spelled out in hex), converted a batch
        at a time with turns of the event loop in between. The sort that picks each
        element's last change gets the memory for an hour of changes (some 50 MB),
        so it does not spill to disk."""

        async def fetch(cur: Any) -> list[Row]:
            await cur.execute(f"SET LOCAL work_mem = '{_SORT_MEMORY}'")
            await cur.execute(sql, params, binary=True)
            rows: list[Row] = []
            while batch := await cur.fetchmany(_FETCH_BATCH):
                rows.extend(_row(r) for r in batch)
                await asyncio.sleep(0)
            return rows

        return await self._run("read", fetch)

    async def checkpoint_before(self, at: int) -> Checkpoint | None:
        async def fetch(cur: Any) -> Checkpoint | None:
            await cur.execute(
                "(SELECT at, seq, body, 0 AS o FROM history_checkpoints WHERE at <= %s "
                " ORDER BY at DESC, seq DESC LIMIT 1) UNION ALL "
                "(SELECT at, seq, body, 1 FROM history_checkpoints ORDER BY at, seq LIMIT 1) "
                "ORDER BY o LIMIT 1",
                (at,),
                binary=True,
            )
            row = await cur.fetchone()
            return None if row is None else Checkpoint(row[0], row[1], bytes(row[2]))

        return await self._run("read", fetch)

    async def latest_checkpoint_at(self) -> int | None:
        return _opt_int((await self._fetch("SELECT max(at) FROM history_checkpoints"))[0][0])

    async def checkpoint_times(self) -> list[int]:
        return [r[0] for r in await self._fetch("SELECT at FROM history_checkpoints ORDER BY at")]

    async def rows_after(self, checkpoint: Checkpoint, upto: int) -> list[Row]:
        return await self._fetch_rows(
            "SELECT at, kind, id, digest, body, seq FROM history_changes "
            "WHERE at BETWEEN %s AND %s AND seq > %s ORDER BY seq",
            (checkpoint.at, upto, checkpoint.seq),
        )

    async def latest_rows(
        self, after_seq: int, start: int, end: int, alive: bool = False
    ) -> list[Row]:
        present = "AND body IS NOT NULL" if alive else ""
        return await self._fetch_rows(
            "SELECT * FROM (SELECT DISTINCT ON (kind, id) at, kind, id, digest, body, seq "
            f"FROM history_changes WHERE at > %s AND at <= %s AND seq > %s {present} "
            "ORDER BY kind, id, seq DESC) AS latest ORDER BY seq",
            (start, end, after_seq),
        )

    async def gaps(self, start: int, end: int) -> list[Gap]:
        rows = await self._fetch(
            'SELECT start, "end", reason FROM history_gaps WHERE start <= %s AND "end" >= %s '
            "ORDER BY start",
            (end, start),
        )
        return [Gap(*r) for r in rows]

    async def last_change_at(self) -> int | None:
        return _opt_int((await self._fetch("SELECT max(at) FROM history_changes"))[0][0])

    async def size_bytes(self) -> int:
        rows = await self._fetch(
            "SELECT coalesce(sum(pg_total_relation_size(relid)), 0) "
            "FROM pg_partition_tree('history_changes') UNION ALL "
            "SELECT pg_total_relation_size(t) FROM unnest(ARRAY['history_checkpoints', "
            "'history_gaps', 'history_writers']::regclass[]) AS t"
        )
        return int(sum(r[0] for r in rows))

    async def count_changes(self) -> int:
        return int((await self._fetch("SELECT count(*) FROM history_changes"))[0][0])
