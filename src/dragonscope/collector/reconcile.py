"""The reconcile task: compare desired and held, mark whatever differs.

It runs after every (re)connection, as part of the resync, and every
``update_interval``; with nothing changing, nothing is scanned and nothing is
sent.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator, Mapping
from itertools import islice

from dragonscope.collector.desired import DesiredGraph, trim_heap
from dragonscope.collector.state import HeldState, adopt, same
from dragonscope.collector.stats import CollectorStats
from dragonscope.collector.sync import SyncState

log = logging.getLogger("dragonscope.collector")

# How long a scan holds the loop between two yields, since an NB change waits for a slice
# at each of its hops through the loop (watch, apply, flush). An element costs 0.1 us when
# it is what was sent, 10 to 20 us when it must be compared: a slice is bounded in time,
# looked at every _BATCH elements.
_SLICE_SECONDS = 0.001
_BATCH = 64


class Reconciler:
    def __init__(
        self, host: str, sync: SyncState, desired: DesiredGraph, stats: CollectorStats
    ) -> None:
        self._host = host
        self._sync = sync
        self._desired = desired
        self._stats = stats
        # Activity count at the last scan that found nothing to fix.
        self._clean_at = -1
        self._scan_complete = True
        self._scans = 0  # under way (a resync's and a periodic one may overlap)

    async def run(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            await self.reconcile()

    async def reconcile(self) -> int:
        """Mark dirty whatever the analyzer should hold differently; returns how many.

        Desired and held state only change through marks, flushes and resyncs,
        each of which counts as activity; with no activity since the last clean
        scan, nothing can differ and the scan is skipped (an idle collector costs
        no CPU)."""
        sync = self._sync
        held = sync.held
        if held is None or sync.flushing or not sync.loaded or self._scans:
            # A flush in progress has taken its dirty IDs out of the set: comparing
            # now would count them as surprises. The next period will look. While the
            # NB snapshot is still read, everything it brings is marked anyway: scanning
            # the growing graph every period would only cost CPU. A resync's scan under
            # way marks what differs: what it has not reached yet is no surprise.
            return 0
        if sync.resync_requested:
            sync.wake.set()
        self._stats.reconciliations += 1
        activity = sync.activity
        if activity == self._clean_at:
            return 0
        # Elements already dirty are on their way; only count the real surprises.
        count = await self.scan(held, periodic=True)
        if not self._scan_complete:
            return 0
        if count == 0:
            self._clean_at = activity
            trim_heap()  # once after each burst of activity, never while idle
        else:
            self._stats.reconcile_fixes += count
            log.warning("reconciliation found %d element(s) out of step; resending them", count)
        return count

    async def scan(self, held: HeldState, *, periodic: bool = False) -> int:
        """Mark dirty every element whose held state differs from desired.

        Walks the keys in slices of about a millisecond, yielding between them, so that
        a 500k-element scan does not block the loop; what the NB task changes meanwhile
        marks its elements dirty anyway. A ``periodic`` scan stops there when a flush
        starts or a mapping it walks changes size: the next period looks again.
        An element sent from the very object that is still desired is unchanged:
        that identity check keeps an idle scan cheap.
        """
        self._scans += 1
        try:
            return await self._scan(held, periodic)
        finally:
            self._scans -= 1

    async def _scan(self, held: HeldState, periodic: bool) -> int:
        sync, host = self._sync, self._host
        count = 0
        self._scan_complete = True
        turns = _Turns()
        for desired, is_node in self._desired.parts():
            get_desired = desired.get
            held_part = held.nodes if is_node else held.edges
            get_held = held_part.get
            for batch in _batches(desired, copy_if_moved=not periodic):
                if batch is _MOVED:
                    self._scan_complete = False
                    return count
                for element_id in batch:
                    element = get_desired(element_id)
                    have = get_held(element_id)
                    if element is None or (have is not None and have.source is element):
                        continue
                    if have is not None and same(have, element, host):
                        adopt(held_part, element_id, element)
                        continue
                    count += sync.mark_new(element_id, is_node)
                if await turns.gave() and (sync.held is not held or sync.flushing):
                    # Reconnected, or a flush took dirty IDs out of the set: stop
                    # here rather than count in-flight elements as surprises.
                    self._scan_complete = False
                    return count
        return count + await self.mark_unwanted(held, during_scan=True, periodic=periodic)

    async def mark_unwanted(
        self, held: HeldState | None, during_scan: bool = False, periodic: bool = False
    ) -> int:
        """Mark what the analyzer holds and no source wants any more. Not before the NB
        snapshot is wholly read: what it has not reached yet is still wanted. In slices:
        comparing 500k held IDs at once held the loop for 0.15 s. ``during_scan``: stop
        when a flush starts, as the scan does, rather than count in-flight elements;
        ``periodic`` as for ``scan``."""
        sync = self._sync
        if held is None or not sync.loaded:
            return 0
        count = 0
        turns = _Turns()
        for held_part, is_node in ((held.nodes, True), (held.edges, False)):
            for batch in _batches(held_part, copy_if_moved=not periodic):
                if batch is _MOVED:
                    self._scan_complete = False
                    return count
                for element_id in self._desired.unwanted(batch, is_node):
                    if element_id in held_part:  # not removed by a flush since a copy
                        count += sync.mark_new(element_id, is_node)
                if await turns.gave() and (
                    sync.held is not held or (during_scan and sync.flushing)
                ):
                    self._scan_complete = False
                    return count
        return count


class _Turns:
    """A walk's turns on the loop: it gives the loop a turn once _SLICE_SECONDS passed."""

    def __init__(self) -> None:
        self._ends = time.perf_counter() + _SLICE_SECONDS

    async def gave(self) -> bool:
        """Give the loop a turn if this slice is over; whether it did (the walk then looks
        at what the loop changed)."""
        if time.perf_counter() < self._ends:
            return False
        await asyncio.sleep(0)
        self._ends = time.perf_counter() + _SLICE_SECONDS
        return True


# The batch that ends the walk of a mapping that changed size under it (not copied).
_MOVED: list[str] = []


def _batches(mapping: Mapping[str, object], copy_if_moved: bool) -> Iterator[list[str]]:
    """The keys of ``mapping``, _BATCH at a time, read from the mapping itself across the
    loop's turns rather than from a copy taken at once: copying 427k keys held the loop
    for 50 ms, every key being touched.

    A mapping whose size changed meanwhile cannot be walked on. With ``copy_if_moved`` the
    rest comes from a copy of its keys then, which gives again the keys already given (one
    more look each, a no-op for the callers); otherwise ``_MOVED`` ends the walk."""
    keys: Iterator[str] = iter(mapping)
    while True:
        try:
            batch = list(islice(keys, _BATCH))
        except RuntimeError:  # "dictionary changed size during iteration"
            if not copy_if_moved:
                yield _MOVED
                return
            keys = iter(list(mapping))
            continue
        if not batch:
            return
        yield batch
