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
import logging
import time
from collections.abc import AsyncIterator, Callable

from dragonscope.collector.desired import freeze_heap
from dragonscope.collector.nb_probe import reachable
from dragonscope.collector.settings import CollectorSettings, NbSource
from dragonscope.collector.stats import CollectorStats
from dragonscope.collector.status import StatusNode
from dragonscope.collector.sync import SyncState
from dragonscope.graph import Edge
from dragonscope.nb import Change, NbReader, open_reader
from dragonscope.nb.backends import Resyncs
from dragonscope.skydive import Backoff
from dragonscope.topology import Topology

log = logging.getLogger("dragonscope.collector")


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
        self._keys: set[tuple[str, str]] = set()
        # Called after each change is folded in (another source that reads the NB, say).
        self.listeners: list[Callable[[Change], None]] = []

    def _backoff(self) -> Backoff:
        return Backoff(self.settings.backoff_initial, self.settings.backoff_max)

    async def load(self, reader: NbReader) -> int:
        """Initial snapshot (retried while the NB is unreachable) and translation;
        returns the snapshot's revision."""
        backoff = self._backoff()
        while True:
            try:
                started = time.monotonic()
                snapshot, revision = await reader.snapshot()
                break
            except Exception as exc:
                await self._failed(backoff, f"cannot read the NB: {exc}")
        resyncs = getattr(reader.backend, "resyncs", None)
        if isinstance(resyncs, Resyncs):
            resyncs.listener = self._resync_changed
        # A thread keeps the loop answering /healthz while a big NB is translated.
        await asyncio.to_thread(self.topology.load, snapshot)
        self._keys = set(snapshot)
        for table, _ in self._keys:
            self._stats.nb_objects[table] += 1
        self._stats.nb_revision = revision
        self.mark_stale(False)
        self._status.refresh(self.stale, self.stale_since)
        self.ready = True
        freeze_heap()
        log.info(
            "NB snapshot read objects=%d revision=%s nodes=%d edges=%d elapsed=%.2fs",
            len(snapshot), revision, len(self.topology.nodes), len(self.topology.edges),
            time.monotonic() - started,
        )  # fmt: skip
        return revision

    def apply(self, change: Change) -> None:
        """Fold one NB change into the desired graph (never waits for the analyzer)."""
        stats = self._stats
        stats.nb_events += 1
        self._sync.activity += 1
        stats.nb_revision = change.revision  # in order; lower after a restore
        try:
            ops = self.topology.apply(change)
        except Exception:
            stats.translate_errors += 1
            log.exception("cannot translate change %s/%s; full reconciliation", *change.key)
            self._sync.mark_many(list(self.topology.nodes), list(self.topology.edges))
            self._tell(change)
            return
        if change.deleted:
            if change.key in self._keys:
                self._keys.discard(change.key)
                stats.nb_objects[change.table] -= 1
        elif change.key not in self._keys:
            self._keys.add(change.key)
            stats.nb_objects[change.table] += 1
        for op in ops:
            self._sync.mark(op.element.id, not isinstance(op.element, Edge))
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
                    self.apply(change)
                    since = change.revision  # goes back when the NB was restored
            except Exception as exc:
                await self._failed(backoff, f"NB change stream failed: {exc}")
                continue
            # A finite stream (a dump file) has nothing more to say.
            await asyncio.Event().wait()

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
