"""The reconcile task: compare desired and held, mark whatever differs.

It runs after every (re)connection, as part of the resync, and every
``update_interval``; with nothing changing, nothing is scanned and nothing is
sent.
"""

from __future__ import annotations

import asyncio
import logging

from dragonscope.collector.desired import DesiredGraph, trim_heap
from dragonscope.collector.state import HeldState, adopt, same
from dragonscope.collector.stats import CollectorStats
from dragonscope.collector.sync import SyncState

log = logging.getLogger("dragonscope.collector")

# Elements compared between two yields during a scan: about a millisecond, since an NB
# change waits for a slice at each of its hops through the loop (watch, apply, flush).
_SCAN_SLICE = 1000


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
        if held is None or sync.flushing or not sync.loaded:
            # A flush in progress has taken its dirty IDs out of the set: comparing
            # now would count them as surprises. The next period will look. While the
            # NB snapshot is still read, everything it brings is marked anyway: scanning
            # the growing graph every period would only cost CPU.
            return 0
        if sync.resync_requested:
            sync.wake.set()
        self._stats.reconciliations += 1
        activity = sync.activity
        if activity == self._clean_at:
            return 0
        # Elements already dirty are on their way; only count the real surprises.
        count = await self.scan(held)
        if not self._scan_complete:
            return 0
        if count == 0:
            self._clean_at = activity
            trim_heap()  # once after each burst of activity, never while idle
        else:
            self._stats.reconcile_fixes += count
            log.warning("reconciliation found %d element(s) out of step; resending them", count)
        return count

    async def scan(self, held: HeldState) -> int:
        """Mark dirty every element whose held state differs from desired.

        Walks a copy of the keys in slices, yielding between them, so that a
        500k-element scan neither blocks the loop nor trips over the NB task
        changing the graph meanwhile (a change marks its elements dirty anyway).
        An element sent from the very object that is still desired is unchanged:
        that identity check keeps an idle scan cheap.
        """
        sync, host = self._sync, self._host
        count = 0
        self._scan_complete = True
        for desired, is_node in self._desired.parts():
            get_desired = desired.get
            held_part = held.nodes if is_node else held.edges
            get_held = held_part.get
            keys = list(desired)
            for start in range(0, len(keys), _SCAN_SLICE):
                for element_id in keys[start : start + _SCAN_SLICE]:
                    element = get_desired(element_id)
                    have = get_held(element_id)
                    if element is None or (have is not None and have.source is element):
                        continue
                    if have is not None and same(have, element, host):
                        adopt(held_part, element_id, element)
                        continue
                    count += sync.mark_new(element_id, is_node)
                await asyncio.sleep(0)
                if sync.held is not held or sync.flushing:
                    # Reconnected, or a flush took dirty IDs out of the set: stop
                    # here rather than count in-flight elements as surprises.
                    self._scan_complete = False
                    return count
        return count + await self.mark_unwanted(held, during_scan=True)

    async def mark_unwanted(self, held: HeldState | None, during_scan: bool = False) -> int:
        """Mark what the analyzer holds and no source wants any more. Not before the NB
        snapshot is wholly read: what it has not reached yet is still wanted. In slices:
        comparing 500k held IDs at once held the loop for 0.15 s. ``during_scan``: stop
        when a flush starts, as the scan does, rather than count in-flight elements."""
        sync = self._sync
        if held is None or not sync.loaded:
            return 0
        count = 0
        for held_part, is_node in ((held.nodes, True), (held.edges, False)):
            ids = list(held_part)
            for start in range(0, len(ids), _SCAN_SLICE):
                for element_id in self._desired.unwanted(ids[start : start + _SCAN_SLICE], is_node):
                    if element_id in held_part:  # not removed by a flush since the copy
                        count += sync.mark_new(element_id, is_node)
                await asyncio.sleep(0)
                if sync.held is not held or (during_scan and sync.flushing):
                    self._scan_complete = False
                    return count
        return count
