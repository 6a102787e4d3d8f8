"""Keep full garbage-collection passes from pausing the analyzer.

A 100k-node graph with its index and history is millions of container objects.
CPython's full (generation 2) collection visits every one of them: it holds the
event loop for about a second, and comes back each time the heap has grown by
a quarter. Yet nearly all of those objects are long-lived and acyclic (nodes,
edges, metadata dicts, history records) and are freed by reference counting.

So every second, once ``FREEZE_AFTER`` graph changes have happened since the
last time (each leaves a few long-lived objects: the element, its metadata,
its history record), the young generations are collected (about a
millisecond) and everything that survived is moved to the permanent generation
with ``gc.freeze()``: full passes then visit only what was allocated since, a
few milliseconds' worth. Counting changes costs nothing, where counting the
objects of the oldest generation would cost a pass of its own. Frozen
objects are still freed by reference counting; only a frozen object that later
ends up in an unreachable *cycle* (a closed connection's objects, say) is not
reclaimed at once. ``UNFREEZE_EVERY_S`` bounds that: then everything is handed
back to the collector, and one full pass reclaims such cycles (one pause an
hour instead of one every time the graph grows or churns by a quarter).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

CHECK_EVERY_S = 1.0
FREEZE_AFTER = 5_000  # graph changes, some 50k objects: a full pass over them takes a few ms
UNFREEZE_EVERY_S = 3600.0


class GcPolicy:
    """``changes`` is a counter of graph changes that only goes up."""

    def __init__(self, changes: Callable[[], int], freeze_after: int = FREEZE_AFTER) -> None:
        self.changes = changes
        self.freeze_after = freeze_after
        self.freezes = 0
        self._frozen_changes = 0
        self._unfrozen_at = time.monotonic()

    def check(self) -> bool:
        """Freeze the survivors when the oldest generation has grown; True if it did."""
        now = time.monotonic()
        if now - self._unfrozen_at >= UNFREEZE_EVERY_S:
            gc.unfreeze()
            self._unfrozen_at = now
            log.debug("GC: objects unfrozen, the next full pass reclaims frozen cycles")
            return False
        changes = self.changes()
        if changes - self._frozen_changes < self.freeze_after:
            return False
        self._frozen_changes = changes
        gc.collect(1)
        gc.freeze()
        self.freezes += 1
        if log.isEnabledFor(logging.DEBUG):  # counting walks every frozen object
            log.debug("GC: %d objects frozen", gc.get_freeze_count())
        return True

    async def run(self) -> None:
        while True:
            await asyncio.sleep(CHECK_EVERY_S)
            self.check()
