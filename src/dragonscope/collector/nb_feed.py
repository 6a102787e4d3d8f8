"""The NB task: NB snapshot and changes into the topology, touched elements marked.

It never waits for the analyzer, so the NB is consumed at full speed even while
the analyzer is away. When the NB is unreachable (its stream fails, or no
endpoint accepts a connection) the last graph stays published and the status
node says ``Dragonflow.Stale: true`` until the stream resumes. When the NB's
history breaks (restored from a backup, wiped, a redis restart) the backend
reads it again in full; that resync is logged, counted, shown on the status
node and makes ``/healthz`` degraded while it runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from functools import partial

from dragonscope.collector.desired import freeze_heap
from dragonscope.collector.nb_probe import reachable
from dragonscope.collector.settings import CollectorSettings, NbSource
from dragonscope.collector.stats import CollectorStats
from dragonscope.collector.status import StatusNode
from dragonscope.collector.sync import SyncState
from dragonscope.nb import Change, NbObject, NbReader, open_reader, stored_object
from dragonscope.nb.backends import RawEntry, Resyncs
from dragonscope.skydive import Backoff
from dragonscope.topology import SNAPSHOT_ORDER, GraphOp, Topology

log = logging.getLogger("dragonscope.collector")

# NB objects translated between two yields to the event loop during the initial load:
# about 15 ms, so that the flush publishing them takes its turns often enough to keep
# the analyzer busy while the NB is still being read.
_SLICE = 100


@contextlib.asynccontextmanager
async def opened(nb: NbSource) -> AsyncIterator[NbReader]:
    """A reader for ``nb``: a URL is opened here and closed on exit; a reader or a
    backend passed by an embedder is used as is and left open."""
    if isinstance(nb, str):
        reader = open_reader(nb)
        try:
            yield reader
        finally:
            with contextlib.suppress(Exception):
                await reader.close()
    else:
        yield nb if isinstance(nb, NbReader) else NbReader(nb)


class NbFeed:
    """Keeps ``topology`` equal to the NB and tells the sync state what moved."""

    def __init__(
        self,
        settings: CollectorSettings,
        sync: SyncState,
        status: StatusNode,
        stats: CollectorStats,
    ) -> None:
        self.settings = settings
        self.topology = Topology(extensions=settings.extensions, chassis=settings.chassis)
        self.stale = False
        self.stale_since: float | None = None
        self.ready = False
        self._sync = sync
        self._status = status
        self._stats = stats
        # Called after each change is folded in (another source that reads the NB, say).
        self.listeners: list[Callable[[Change], None]] = []
        # Called once a snapshot is wholly loaded: what such a source read of the NB while
        # the snapshot was still arriving (published while it is read) lacked the rest.
        self.loaded: list[Callable[[], None]] = []

    @property
    def settled(self) -> bool:
        """The NB wholly read, no resync under way and the slice complete: what a reader of
        the whole topology (the flow-drift watch) can take as the NB."""
        return self.ready and not self._stats.nb_resyncing and not self.topology.wanted

    def _backoff(self) -> Backoff:
        return Backoff(self.settings.backoff_initial, self.settings.backoff_max)

    def prepare(self, reader: NbReader) -> None:
        """A chassis slice is compact when its store can be asked again for single objects;
        the backend reports a break in the NB's history (a restore) to this feed."""
        resyncs = getattr(reader.backend, "resyncs", None)
        if isinstance(resyncs, Resyncs):
            resyncs.listener = self._resync_changed
        if not self.topology.snapshot:
            self.topology.compact = self.topology.chassis is not None and reader.can_fetch

    async def load(self, reader: NbReader) -> int:
        """Initial snapshot (retried while the NB is unreachable), translated and marked
        batch by batch as it is read, so that the analyzer receives the graph while the
        rest is still read; returns the snapshot's revision."""
        backoff = self._backoff()
        while True:
            try:
                return await self._load(reader)
            except Exception as exc:
                await self._failed(backoff, f"cannot read the NB: {exc}")

    async def _load(self, reader: NbReader) -> int:
        topology, stats = self.topology, self._stats
        started = time.monotonic()
        # A retried load must also drop what disappeared since the failed attempt.
        retried = set(topology.snapshot) if topology.snapshot else None
        self.prepare(reader)
        stats.nb_objects.clear()
        topology.begin_load()
        with _old_generation_paused():
            revision, count = await self._read_pages(reader, retried)
        ops = topology.end_load()
        if retried:
            ops += topology.apply_all(Change(t, i, None, revision) for t, i in retried)
        self._mark(ops + await self._hydrate(reader, revision))
        stats.nb_revision = revision
        self.mark_stale(False)
        self._status.refresh(self.stale, self.stale_since)
        self.ready = True
        self._sync.complete()
        for listener in self.loaded:
            listener()
        freeze_heap()
        log.info(
            "NB snapshot read objects=%d revision=%s nodes=%d edges=%d elapsed=%.2fs",
            count, revision, len(topology.nodes), len(topology.edges),
            time.monotonic() - started,
        )  # fmt: skip
        return revision

    async def _read_pages(
        self, reader: NbReader, retried: set[tuple[str, str]] | None
    ) -> tuple[int, int]:
        """Translate and mark the snapshot page by page; its revision and object count.

        What a page drew may read objects a compact slice holds as skeletons (a port's
        network, read pages earlier): they are read whole before the page is published,
        so that each element goes out once, as it finally is (published first, 5 to 7 %
        of a chassis slice's elements went out twice). Those in the page are taken from
        it; the others are fetched from the NB while the next page is translated, and
        the page is published once they are in (awaited page by page, the round trips
        to a store busy serving the snapshot took a sixth of a chassis slice's sync)."""
        topology, stats = self.topology, self._stats
        revision = count = 0
        fetching: asyncio.Task[list[Change]] | None = None
        waiting: list[GraphOp] = []  # the previous page's, until its fetch is in
        try:
            async for page, revision in reader.snapshot_pages(SNAPSHOT_ORDER):
                batch = self._read(reader, page)
                for obj in batch:
                    stats.nb_objects[obj.table] += 1
                    if retried is not None:
                        retried.discard(obj.key)
                count += len(batch)
                ops: list[GraphOp] = []
                values: dict[tuple[str, str], bytes] = {}
                # In slices, so that translating a page never holds the loop for long.
                for start in range(0, len(batch), _SLICE):
                    ops += topology.load_batch(batch[start : start + _SLICE])
                    if topology.wanted:
                        values = values or {(e.table, e.id): e.value for e in page}
                        ops += self._take_wanted(reader, revision, values)
                    await asyncio.sleep(0)
                del batch
                if fetching is not None:
                    ops += topology.apply_all(await fetching)
                    fetching = None
                self._mark(waiting)
                waiting = []
                if topology.wanted:
                    keys = sorted(topology.wanted)
                    fetching = asyncio.ensure_future(self._fetch(reader, keys, revision))
                    waiting = ops
                else:
                    self._mark(ops)
                stats.nb_revision = revision
            if fetching is not None:
                waiting += topology.apply_all(await fetching)
                fetching = None
            self._mark(waiting + await self._hydrate(reader, revision))
        finally:
            if fetching is not None and not fetching.cancel() and not fetching.cancelled():
                fetching.exception()  # the read failed meanwhile: what this fetch met is moot
        return revision, count

    def _take_wanted(
        self, reader: NbReader, revision: int, values: Mapping[tuple[str, str], bytes]
    ) -> list[GraphOp]:
        """The wanted objects ``values`` (a page's) holds, read whole from it, and those
        they bring."""
        ops: list[GraphOp] = []
        while True:
            found = sorted(key for key in self.topology.wanted if key in values)
            if not found:
                return ops
            ops += self.topology.apply_all(
                Change(t, i, reader.parse(t, i, values[t, i]), revision) for t, i in found
            )

    @staticmethod
    async def _fetch(reader: NbReader, keys: list[tuple[str, str]], revision: int) -> list[Change]:
        found = await reader.fetch(keys, revision)
        return [Change(t, i, found.get((t, i)), revision) for t, i in keys]

    def _read(self, reader: NbReader, page: list[RawEntry]) -> list[NbObject]:
        """A page's objects, parsed whole; or, where a compact slice keeps only a skeleton,
        only glanced at (judging a whole object costs several times its decoding)."""
        topology, out = self.topology, []
        for entry in page:
            obj = (
                topology.skeleton(entry.table, entry.id, partial(stored_object, entry.value))
                if topology.compact
                else None
            )
            out.append(obj if obj is not None else reader.parse(entry.table, entry.id, entry.value))
        return out

    async def _hydrate(self, reader: NbReader, revision: int) -> list[GraphOp]:
        """Read again, whole, the objects a compact slice now needs (it holds only their
        skeletons), from the NB at ``revision`` where the store keeps history, so that
        they agree with the rest of the slice."""
        ops: list[GraphOp] = []
        asked: frozenset[tuple[str, str]] = frozenset()
        while self.topology.wanted and self.topology.wanted != asked:
            asked = self.topology.wanted
            ops += self.topology.apply_all(await self._fetch(reader, sorted(asked), revision))
        return ops

    def _mark(self, ops: list[GraphOp]) -> None:
        for op in ops:
            self._sync.mark(op.element.id, op.is_node)

    async def apply(self, change: Change, reader: NbReader | None = None) -> None:
        """Fold one NB change into the desired graph (never waits for the analyzer);
        with ``reader``, objects the change brings into a compact slice are read whole."""
        stats = self._stats
        stats.nb_events += 1
        self._sync.activity += 1
        stats.nb_revision = change.revision  # in order; lower after a restore
        existed = change.key in self.topology.snapshot
        try:
            ops = self.topology.apply(change)
            if reader is not None and self.topology.wanted:
                ops += await self._hydrate(reader, change.revision)
        except Exception:
            stats.translate_errors += 1
            log.exception("cannot translate change %s/%s; full reconciliation", *change.key)
            self._sync.mark_many(list(self.topology.nodes), list(self.topology.edges))
            self._tell(change)
            return
        if change.deleted and existed:
            stats.nb_objects[change.table] -= 1
        elif not change.deleted and not existed:
            stats.nb_objects[change.table] += 1
        self._mark(ops)
        self._tell(change)

    def _tell(self, change: Change) -> None:
        for listener in self.listeners:
            listener(change)

    async def follow(self, reader: NbReader, since: int) -> None:
        """Apply every change after ``since``, forever, riding out NB outages."""
        backoff = self._backoff()
        while True:
            try:
                async for change in reader.changes(since):
                    if self.stale:
                        self.mark_stale(False)
                    backoff.reset()
                    await self.apply(change, reader)
                    since = change.revision  # goes back when the NB was restored
            except Exception as exc:
                await self._failed(backoff, f"NB change stream failed: {exc}")
                continue
            # A finite stream (a dump file) has nothing more to say.
            await asyncio.Event().wait()

    async def _failed(self, backoff: Backoff, reason: str) -> None:
        """The NB could not be read: say so, keep the last graph, wait before retrying."""
        self._stats.nb_errors += 1
        self.mark_stale(True, reason)
        await asyncio.sleep(backoff.next_delay())

    async def probe(self, endpoints: list[tuple[str, int]]) -> None:
        """Backends resume their streams by themselves, so only a connect tells
        "nothing changed" from "the store is down"."""
        interval = self.settings.nb_probe_interval
        while True:
            await asyncio.sleep(interval)
            alive = await reachable(endpoints, timeout=min(2.0, interval))
            if not alive:
                self.mark_stale(True, "no NB endpoint accepts connections")
            elif self.stale:
                self.mark_stale(False)

    def mark_stale(self, stale: bool, reason: str = "") -> None:
        if stale == self.stale:
            return
        self.stale = stale
        if stale:
            self.stale_since = time.time()
            log.warning("NB unreachable, keeping the last published graph: %s", reason)
        else:
            log.info("NB reachable again; resuming from revision %s", self._stats.nb_revision)
            self.stale_since = None
        if self.ready:
            self._status.refresh(self.stale, self.stale_since)

    def _resync_changed(self, resyncs: Resyncs) -> None:
        stats = self._stats
        stats.nb_resyncs, stats.nb_resyncing = resyncs.count, resyncs.active
        stats.nb_resync_reason = resyncs.reason
        if resyncs.active:
            log.warning(
                "NB history changed (%s): resynchronising from a fresh read", resyncs.reason
            )
        else:
            log.info("NB resync done; following from revision %s", stats.nb_revision)
        if self.ready:
            self._status.resynced(resyncs.count, resyncs.active, resyncs.reason, resyncs.at)


@contextlib.contextmanager
def _old_generation_paused() -> Iterator[None]:
    """No full garbage collection while the initial load builds the graph: each would
    rescan its hundreds of thousands of acyclic objects, for seconds on a large NB, while
    the publisher waits (``freeze_heap`` then moves them out of the collector's sight).
    The young generations are still collected: what the publisher does meanwhile leaves
    cycles there."""
    young, middle, old = gc.get_threshold()
    gc.set_threshold(young, middle, 2**30)
    try:
        yield
    finally:
        gc.set_threshold(young, middle, old)
