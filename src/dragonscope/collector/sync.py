"""The state the collector's tasks share: what the analyzer holds and what must change.

Sources of graph elements (the NB topology, the status node, any other probe)
only *mark* element IDs; the publish task turns marks into messages and the
reconciliation marks whatever drifted. Every mark, flush and resync counts as
activity, which lets an idle reconciliation skip its scan.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable

from dragonscope.collector.state import Dirty, HeldState

log = logging.getLogger("dragonscope.collector")


class SyncState:
    """Held state, dirty IDs and the wake-up of the publish task."""

    def __init__(self) -> None:
        self.held: HeldState | None = None
        self.dirty = Dirty()
        self.synced = False
        # A flush in progress has taken its dirty IDs out of the set.
        self.flushing = False
        self.resync_requested = False
        # Bumped by everything that can change desired or held state.
        self.activity = 0
        self.dirty_since: float | None = None
        self.wake = asyncio.Event()
        # The sync states of the other analyzers the collector publishes to: every
        # mark is theirs too (each analyzer is kept in sync on its own).
        self.followers: list[SyncState] = []

    def mark(self, element_id: str, is_node: bool) -> None:
        """The element may differ from what the analyzer holds: send it at the next flush."""
        for follower in self.followers:
            follower.mark(element_id, is_node)
        self.activity += 1
        if self.dirty_since is None:
            self.dirty_since = time.monotonic()
        if self.held is None:
            # Disconnected: the resync compares everything anyway, so remembering
            # IDs now would only grow memory with every object created and deleted.
            return
        (self.dirty.nodes if is_node else self.dirty.edges).add(element_id)
        self.wake.set()

    def mark_many(self, nodes: Iterable[str], edges: Iterable[str]) -> None:
        for node_id in nodes:
            self.mark(node_id, True)
        for edge_id in edges:
            self.mark(edge_id, False)

    def mark_new(self, element_id: str, is_node: bool) -> int:
        """Mark; 1 if the element was not already on its way."""
        if element_id in (self.dirty.nodes if is_node else self.dirty.edges):
            return 0
        self.mark(element_id, is_node)
        return 1

    def connected(self, held: HeldState) -> None:
        """The analyzer's holdings were just read: start comparing against them."""
        self.activity += 1
        self.held = held
        self.dirty = Dirty()

    def disconnected(self) -> None:
        self.held = None
        self.dirty = Dirty()
        self.synced = False

    def request_resync(self) -> None:
        if self.held is not None:
            self.resync_requested = True
            self.wake.set()

    @property
    def lag(self) -> float:
        """Age of the oldest change not yet sent (0 when the analyzer is up to date)."""
        return 0.0 if self.dirty_since is None else time.monotonic() - self.dirty_since

    def caught_up(self, revision: int) -> None:
        """Nothing is dirty: the analyzer holds exactly the desired graph."""
        self.dirty_since = None
        if not self.synced:
            self.synced = True
            log.info("analyzer in sync with the NB (revision %s)", revision)
