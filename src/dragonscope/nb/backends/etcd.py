"""Dragonflow's etcd NB (etcd v3 API, through etcd's HTTP/JSON gateway: see ``etcd_wire``).

Layout (``nb/backends/keys.py``): ``/<table>/<id>`` -> JSON text; counters and
pub/sub events share the keyspace and are skipped.

- ``snapshot()`` reads the whole ``/`` range page by page, every page at the
  revision of the first one, so the result is one consistent cut.
- ``changes(since)`` watches ``/`` from ``since + 1``. After a disconnect it
  resumes from the last revision it saw, trying the next endpoint. If etcd
  answers that the revision was compacted, it reads the store again and yields
  the difference with what it had, at the new revision. To compute that
  difference it keeps, per key, the revision of the last change it saw.
- Its history can also break: etcd restored from an older snapshot, or its data
  directory wiped, answers with a revision *lower* than the last one seen (a
  watch from there would wait silently for revisions that will never mean the
  same thing), or under another cluster ID, or with keys whose revisions differ
  from what was delivered. Before every (re)watch, and every ``check_interval``
  seconds of a silent watch, the store's header is checked; after a reconnect the
  per-key revisions are compared too. A broken history is followed by a full
  re-read yielded as changes (every object, and deletions of the ones gone), at
  the store's new revision, and reported in ``resyncs``.

The per-key revisions are kept once: the state a stream hands over to the next one is
moved, not copied (a 100k-object NB costs some 5 MiB per copy).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from dragonscope.nb.backends.base import BackendError, RawChange, RawEntry, Resyncs
from dragonscope.nb.backends.etcd_wire import (
    Compacted,
    Connection,
    RangeResponse,
    Rewound,
    Unreachable,
    WatchCall,
    WatchResponse,
)
from dragonscope.nb.backends.keys import (
    ETCD_PREFIX,
    ETCD_PREFIX_END,
    etcd_key,
    etcd_table_range,
    split_etcd_key,
)

log = logging.getLogger(__name__)

PAGE_SIZE = 2000
# Keys read in one Txn by ``fetch`` (etcd's default limit is 128 operations).
FETCH_BATCH = 100
# A table larger than a page is read in this many parts at once (see ``_range_pages``).
READERS = 4
_CUTS = [b"%x" % (16 * i // READERS) for i in range(1, READERS)]


class Revisions:
    """The revision of every key, by table then id: kept for the whole NB as long as the
    backend follows it, so without a (table, id) tuple per key."""

    __slots__ = ("_tables",)

    def __init__(self) -> None:
        self._tables: dict[str, dict[str, int]] = {}

    def get(self, key: tuple[str, str]) -> int | None:
        ids = self._tables.get(key[0])
        return None if ids is None else ids.get(key[1])

    def __setitem__(self, key: tuple[str, str], revision: int) -> None:
        ids = self._tables.get(key[0])
        if ids is None:
            ids = self._tables[key[0]] = {}
        ids[key[1]] = revision

    def pop(self, key: tuple[str, str]) -> None:
        ids = self._tables.get(key[0])
        if ids is not None:
            ids.pop(key[1], None)

    def items(self) -> Iterator[tuple[tuple[str, str], int]]:
        for table, ids in self._tables.items():
            for id_, revision in ids.items():
                yield (table, id_), revision

    def missing_from(self, other: Revisions) -> list[tuple[str, str]]:
        """Keys held here and not in ``other``, sorted."""
        gone: list[tuple[str, str]] = []
        for table, ids in self._tables.items():
            there = other._tables.get(table, {})
            gone.extend((table, id_) for id_ in ids.keys() - there.keys())
        return sorted(gone)


@dataclass
class _Read:
    """One consistent read of the NB keys."""

    revision: int
    entries: list[RawEntry] = field(default_factory=list)
    mod_revisions: Revisions = field(default_factory=Revisions)
    cluster_id: int = 0


@dataclass
class _Position:
    """How far a change stream got, and the per-key revisions of the state it delivered.

    That state is exact for any revision in ``[yielded, last]``: the events in
    between were not NB objects. A new stream starting there can reuse it.
    """

    yielded: int
    last: int
    known: Revisions
    # Read from the store in one consistent cut (a snapshot just taken): nothing to verify.
    read: bool = False


class EtcdBackend:
    """Read-only view of Dragonflow's NB in etcd; endpoints are tried in turn."""

    def __init__(
        self,
        url: str,
        endpoints: list[tuple[str, int]],
        *,
        timeout: float = 10.0,
        page_size: int = PAGE_SIZE,
        retry_delay: float = 0.1,
        max_retry_delay: float = 2.0,
        check_interval: float = 5.0,
    ) -> None:
        self.url = url
        self.timeout = timeout
        self.page_size = page_size
        self.retry_delay = retry_delay
        self.max_retry_delay = max_retry_delay
        self.check_interval = check_interval
        self.resyncs = Resyncs()
        self._cluster_id = 0  # the cluster the followed history belongs to
        self._endpoints = endpoints
        self._conn = Connection(endpoints, timeout)
        self._watch_conns: set[Connection] = set()
        self._closed = False
        # Where the last snapshot or stream ended: lets changes(since) start from
        # there without re-reading the store.
        self._resume: _Position | None = None

    @property
    def endpoints(self) -> str:
        return ",".join(f"{h}:{p}" for h, p in self._endpoints)

    async def snapshot(self) -> tuple[list[RawEntry], int]:
        read = await self._read_any_endpoint(self._conn, revision=0, keys_only=False)
        self._cluster_id = read.cluster_id
        self._resume = _Position(read.revision, read.revision, read.mod_revisions, read=True)
        return read.entries, read.revision

    async def snapshot_pages(
        self, first: Sequence[str] = ()
    ) -> AsyncIterator[tuple[list[RawEntry], int]]:
        """The snapshot one page at a time (each with the snapshot's revision), so that a
        reader can translate and publish while reading, never holding the store whole.
        The tables in ``first`` come first, in that order, then every other key, all at
        the revision of the first page read."""
        read = _Read(0)
        for start, end in _ranges_in_order(first):
            async for page in self._range_pages(start, end, read):
                yield page, read.revision
        self._resume = _Position(read.revision, read.revision, read.mod_revisions, read=True)

    async def _range_pages(
        self, start: bytes, end: bytes, read: _Read
    ) -> AsyncIterator[list[RawEntry]]:
        """The keys in [start, end) page by page, at ``read.revision`` (set by the first page
        read when 0), in no particular order after the first page. The rest of a range
        longer than a page (a table of thousands of ports) is read in ``READERS`` parts at
        once: etcd serves one read at a time on one core, so a single sequence of pages
        took 2.8 s to read a 100k-object NB, four parts 1.7 s. The parts read on while the
        reader works on a page already read, up to one page each waiting to be taken: at
        most ``READERS`` + 1 pages are held besides the one being translated."""
        response = await self._page(start, end, read.revision)
        read.revision = read.revision or response.header.revision
        rest = response.kvs[-1].key + b"\0" if response.more and response.kvs else None
        page = self._entries(response, read)
        del response
        if page:
            yield page
        if rest is None:
            return
        queue: asyncio.Queue[list[RawEntry] | BaseException | None] = asyncio.Queue(1)

        async def part(part_start: bytes, part_end: bytes) -> None:
            try:
                async for page in self._pages_of(part_start, part_end, read):
                    await queue.put(page)
                await queue.put(None)
            except Exception as exc:
                await queue.put(exc)

        tasks = [asyncio.ensure_future(part(*bounds)) for bounds in _parts(rest, end)]
        try:
            running = len(tasks)
            while running:
                item = await queue.get()
                if item is None:
                    running -= 1
                elif isinstance(item, BaseException):
                    raise item
                else:
                    yield item
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    def _entries(self, response: RangeResponse, read: _Read) -> list[RawEntry]:
        """A page's NB objects, their revisions noted in ``read``."""
        page = []
        for kv in response.kvs:
            where = split_etcd_key(kv.key)
            if where is not None:
                read.mod_revisions[where] = kv.mod_revision
                page.append(RawEntry(where[0], where[1], kv.value))
        return page

    async def _pages_of(
        self, start: bytes, end: bytes, read: _Read
    ) -> AsyncIterator[list[RawEntry]]:
        """The keys in [start, end) page by page, at ``read.revision``."""
        key: bytes | None = start
        while key is not None:
            response = await self._page(key, end, read.revision)
            key = response.kvs[-1].key + b"\0" if response.more and response.kvs else None
            page = self._entries(response, read)
            del response
            if page:
                yield page

    async def _page(self, key: bytes, end: bytes, revision: int) -> RangeResponse:
        """One page of a snapshot, from another endpoint if this one fails (the parts of a
        table read at once fail together: the first to fail moves them all, once)."""
        failures = 0
        while True:
            endpoint = self._conn.index
            try:
                return await self._range(self._conn, key, revision, keys_only=False, end=end)
            except Unreachable as exc:
                failures += 1
                if failures >= 3 * len(self._endpoints):
                    raise BackendError(f"etcd unreachable while reading the NB: {exc}") from None
                if self._conn.index == endpoint:
                    await self._conn.rotate()
                await asyncio.sleep(0.2 * failures / len(self._endpoints))
            except Compacted:
                raise BackendError("etcd compacted the revision being read; read again") from None

    async def fetch(
        self, keys: list[tuple[str, str]], revision: int = 0
    ) -> dict[tuple[str, str], bytes | None]:
        """The values of ``keys`` at ``revision`` (now if 0, or if it was compacted);
        None for a key that does not exist."""
        out: dict[tuple[str, str], bytes | None] = {}
        for start in range(0, len(keys), FETCH_BATCH):
            chunk = keys[start : start + FETCH_BATCH]
            values = await self._get_many(chunk, revision)
            out.update(zip(chunk, values, strict=True))
        return out

    async def _get_many(self, keys: list[tuple[str, str]], revision: int) -> list[bytes | None]:
        try:
            return await self._conn.get_many([etcd_key(*key) for key in keys], revision)
        except Compacted:
            if revision:
                return await self._get_many(keys, 0)
            raise BackendError(
                f"etcd {self._conn.target}: cannot read {keys[0]}...: compacted"
            ) from None
        except (Unreachable, Rewound) as exc:
            raise BackendError(
                f"etcd {self._conn.target}: cannot read {keys[0]}...: {exc}"
            ) from exc

    async def changes(self, since: int) -> AsyncIterator[RawChange]:
        conn = Connection(self._endpoints, self.timeout)
        self._watch_conns.add(conn)
        position = _Position(since, since, Revisions())
        try:
            with contextlib.suppress(Rewound):  # the first check of _follow resyncs
                position.known, position.read = await self._revisions_at(conn, since)
            async for change in self._follow(conn, position):
                yield change
        finally:
            self._watch_conns.discard(conn)
            if position.yielded <= position.last:
                self._resume = position
            await conn.close()

    async def close(self) -> None:
        """Close every connection; change streams still open end."""
        self._closed = True
        await self._conn.close()
        for conn in list(self._watch_conns):
            await conn.close()

    # -- reading ---------------------------------------------------------------------------

    async def _read_any_endpoint(self, conn: Connection, revision: int, keys_only: bool) -> _Read:
        """Read from the first endpoint that answers; BackendError if none does."""
        errors: list[str] = []
        attempts = 0
        # Three rounds over the endpoints, briefly apart: rides over a member that is
        # still electing a leader or restarting, yet fails within a second when none runs.
        while attempts < 3 * len(self._endpoints):
            try:
                return await self._read(conn, revision, keys_only)
            except Compacted:
                if revision:
                    raise
                # Compacted between two pages of a read of the present: read again.
            except Unreachable as exc:
                errors.append(f"{conn.target}: {exc}")
                attempts += 1
                await conn.rotate()
                if attempts % len(self._endpoints) == 0:
                    await asyncio.sleep(0.2 * attempts / len(self._endpoints))
        raise BackendError(
            f"etcd unreachable ({'; '.join(dict.fromkeys(errors))}); check that etcd runs "
            f"and that the URL matches [df] remote_db_hosts"
        )

    async def _read(self, conn: Connection, revision: int, keys_only: bool) -> _Read:
        """All NB keys at ``revision`` (0 = now), one page at a time."""
        read = _Read(revision)
        key = ETCD_PREFIX
        while True:
            response = await self._range(conn, key, read.revision, keys_only)
            if read.revision == 0:
                read.revision = response.header.revision
            read.cluster_id = response.header.cluster_id
            for kv in response.kvs:
                where = split_etcd_key(kv.key)
                if where is None:
                    continue
                read.mod_revisions[where] = kv.mod_revision
                if not keys_only:
                    read.entries.append(RawEntry(where[0], where[1], kv.value))
            if not response.more or not response.kvs:
                return read
            key = response.kvs[-1].key + b"\0"

    async def _range(
        self,
        conn: Connection,
        key: bytes,
        revision: int,
        keys_only: bool,
        end: bytes = ETCD_PREFIX_END,
    ) -> RangeResponse:
        """One page of NB keys from ``key`` on (up to ``end``), at ``revision`` (0 = now)."""
        return await conn.range(
            key, end, limit=self.page_size, revision=revision, keys_only=keys_only
        )

    async def _revisions_at(self, conn: Connection, since: int) -> tuple[Revisions, bool]:
        """Per-key revisions at ``since``: the base for a diff after compaction; and
        whether they are those of the snapshot just read at ``since``."""
        if since <= 0:
            return Revisions(), False
        resume = self._resume
        if resume is not None and resume.yielded <= since <= resume.last:
            # Moved to the new stream, which hands its own state back when it ends.
            self._resume = None
            return resume.known, resume.read and since == resume.last
        delay = self.retry_delay
        while True:
            try:
                return (await self._read(conn, since, keys_only=True)).mod_revisions, False
            except Compacted:
                raise BackendError(
                    f"etcd revision {since} is compacted; take a new snapshot"
                ) from None
            except Unreachable as exc:
                log.warning("etcd %s: %s; retrying", conn.target, exc)
                await conn.rotate()
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.max_retry_delay)

    # -- watching --------------------------------------------------------------------------

    async def _follow(self, conn: Connection, position: _Position) -> AsyncIterator[RawChange]:
        delay = self.retry_delay
        outage_logged = False
        # A new stream or a reconnect: compare the per-key revisions too, unless they were
        # just read from the store (a 100k-key read the snapshot already made).
        verify, position.read = not position.read, False
        while not self._closed:
            try:
                await self._check_history(conn, position, verify)
                verify = False
                async for response in self._watch(conn, position):
                    if outage_logged:
                        log.info(
                            "etcd %s: watching again after revision %d", conn.target, position.last
                        )
                        outage_logged = False
                    delay = self.retry_delay
                    for event in response.events:
                        revision = event.kv.mod_revision
                        where = split_etcd_key(event.kv.key)
                        position.last = revision
                        if where is None:
                            continue
                        position.yielded = revision
                        if event.deleted:
                            position.known.pop(where)
                            yield RawChange(where[0], where[1], None, revision)
                        else:
                            position.known[where] = revision
                            yield RawChange(where[0], where[1], event.kv.value, revision)
            except Compacted:
                log.warning(
                    "etcd %s: revision %d was compacted; re-reading the NB",
                    conn.target, position.last + 1,
                )  # fmt: skip
                read = await self._reread(conn)
                for change in _difference(position.known, read):
                    position.yielded = change.revision
                    yield change
                position.known = read.mod_revisions
                position.last = max(position.last, read.revision)
            except Rewound as exc:
                log.warning(
                    "etcd %s: the store's history changed (%s); re-reading the whole NB",
                    conn.target, exc,
                )  # fmt: skip
                self.resyncs.begin(str(exc))
                read = await self._reread(conn)
                for change in _difference(position.known, read, everything=True):
                    yield change
                position.known = read.mod_revisions
                position.yielded = position.last = read.revision
                self._cluster_id = read.cluster_id
                self.resyncs.end()
                log.info("etcd %s: NB re-read at revision %d", conn.target, read.revision)
            except Unreachable as exc:
                if self._closed:
                    return
                if not outage_logged:
                    log.warning("etcd %s: %s; reconnecting", conn.target, exc)
                    outage_logged = True
                verify = True
                await conn.rotate()
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.max_retry_delay)

    async def _check_history(self, conn: Connection, position: _Position, verify: bool) -> None:
        """Raise Rewound unless the store still holds the history followed so far.
        ``verify`` also compares every key's revision up to the last one seen (a
        keys-only read, page by page: done on a new stream and after a reconnect)."""
        revision, cluster_id = await self._header(conn)
        if self._cluster_id and cluster_id and cluster_id != self._cluster_id:
            raise Rewound(f"cluster ID {self._cluster_id:x} became {cluster_id:x}")
        if cluster_id:
            self._cluster_id = cluster_id
        if revision < position.last:
            raise Rewound(f"revision went back from {position.last} to {revision}")
        if not verify or position.last <= 0:
            return
        key = ETCD_PREFIX
        while True:
            response = await self._range(conn, key, revision, keys_only=True)
            for kv in response.kvs:
                where = split_etcd_key(kv.key)
                if where is None or kv.mod_revision > position.last:
                    continue
                if position.known.get(where) != kv.mod_revision:
                    raise Rewound(
                        f"{where[0]}/{where[1]} is at revision {kv.mod_revision}, "
                        f"not {position.known.get(where) or 'absent'} as followed"
                    )
            if not response.more or not response.kvs:
                return
            key = response.kvs[-1].key + b"\0"

    async def _header(self, conn: Connection) -> tuple[int, int]:
        """The store's current revision and cluster ID, from the read of one key
        (the header is what counts; the key itself is never an NB object)."""
        response = await conn.range(ETCD_PREFIX, keys_only=True)
        return response.header.revision, response.header.cluster_id

    async def _reread(self, conn: Connection) -> _Read:
        delay = self.retry_delay
        while not self._closed:
            try:
                return await self._read(conn, 0, keys_only=False)
            except (Unreachable, Compacted) as exc:
                log.warning("etcd %s: %s; retrying the read", conn.target, exc)
                await conn.rotate()
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.max_retry_delay)
        raise BackendError(f"{self.url}: backend closed")

    async def _watch(self, conn: Connection, position: _Position) -> AsyncIterator[WatchResponse]:
        """Responses of one watch stream from after ``position.last``; raises Compacted,
        Unreachable, or Rewound when a silent watch finds the store's history changed."""
        call: WatchCall | None = None
        reading: asyncio.Future[Any] | None = None
        try:
            call = await conn.watch(ETCD_PREFIX, ETCD_PREFIX_END, position.last + 1)
            while True:
                reading = reading or asyncio.ensure_future(call.read())
                done, _ = await asyncio.wait({reading}, timeout=self.check_interval)
                if not done:
                    await self._check_history(conn, position, verify=False)
                    continue
                response, reading = reading.result(), None
                if response is None:
                    raise Unreachable("watch stream closed by the server")
                if response.compact_revision:
                    raise Compacted(response.compact_revision)
                if response.canceled:
                    raise Unreachable(f"watch cancelled: {response.cancel_reason or 'no reason'}")
                yield response
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if self._closed and task is not None and not task.cancelling():
                raise Unreachable("backend closed") from None  # our channel was closed
            raise
        finally:
            if reading is not None:
                reading.cancel()
            if call is not None:
                call.cancel()


def _difference(known: Revisions, read: _Read, *, everything: bool = False) -> list[RawChange]:
    """Changes turning the state described by ``known`` into ``read``, all at its revision;
    ``everything`` yields every object read (revisions of another history prove nothing)."""
    changes = [
        RawChange(entry.table, entry.id, entry.value, read.revision)
        for entry in read.entries
        if everything
        or known.get((entry.table, entry.id)) != read.mod_revisions.get((entry.table, entry.id))
    ]
    changes.extend(
        RawChange(table, id_, None, read.revision)
        for (table, id_) in known.missing_from(read.mod_revisions)
    )
    return changes


def _parts(start: bytes, end: bytes) -> list[tuple[bytes, bytes]]:
    """[start, end) cut in up to ``READERS`` consecutive parts covering it exactly, at the
    first hexadecimal digit after the table's prefix: Dragonflow's IDs are UUIDs, so the
    parts are even; any other ID is still read once, only less evenly."""
    prefix = end[:-1] + b"/"  # the table's ``/<table>/``
    cuts = [prefix + digit for digit in _CUTS if start < prefix + digit < end]
    bounds = [start, *cuts, end]
    return list(itertools.pairwise(bounds))


def _ranges_in_order(first: Sequence[str]) -> list[tuple[bytes, bytes]]:
    """Key ranges covering every NB key once: each table of ``first`` in turn, then the
    gaps between them (the other tables, in key order)."""
    tables = [etcd_table_range(table) for table in dict.fromkeys(first)]
    ranges, at = list(tables), ETCD_PREFIX
    for start, end in sorted(tables):
        if at < start:
            ranges.append((at, start))
        at = max(at, end)
    if at < ETCD_PREFIX_END:
        ranges.append((at, ETCD_PREFIX_END))
    return ranges
