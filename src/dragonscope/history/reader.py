"""The past from a durable store: the nearest checkpoint plus the changes after it.

Decoding a checkpoint of a 100k-node graph takes a good part of a second, so
the few last decoded checkpoints are kept (elements are never changed in
place: a cached checkpoint is shared by the views built from it). Decoding
runs in a worker thread, in chunks, so the event loop keeps turning. A time
inside a recorded gap is refused with the gap's reason: a history with a hole
says so, it never invents state.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

from dragonscope.graph import KIND_NODE, Edge, HistoryError, NetChanges, Node, SnapshotView
from dragonscope.history.codec import decode_checkpoint, replay
from dragonscope.history.store import Checkpoint, Gap, HistoryStore, Row

CACHED_CHECKPOINTS = 4


@dataclass(frozen=True, slots=True)
class DurableChanges:
    nodes: NetChanges
    edges: NetChanges
    gaps: list[Gap]


class DurableHistory:
    def __init__(self, store: HistoryStore) -> None:
        self.store = store
        self._cache: OrderedDict[tuple[int, int], tuple[dict[str, Node], dict[str, Edge]]] = (
            OrderedDict()
        )

    async def _checkpoint(self, cp: Checkpoint) -> tuple[dict[str, Node], dict[str, Edge]]:
        key = (cp.at, cp.seq)
        if key not in self._cache:
            self._cache[key] = await asyncio.to_thread(decode_checkpoint, cp.body)
            while len(self._cache) > CACHED_CHECKPOINTS:
                self._cache.popitem(last=False)
        self._cache.move_to_end(key)
        nodes, edges = self._cache[key]
        return dict(nodes), dict(edges)

    async def _check(self, at: int) -> None:
        for gap in await self.store.gaps(at, at):
            if gap.start < at < gap.end:
                raise HistoryError(
                    f"the history has a hole from {gap.start} to {gap.end} ms "
                    f"({gap.reason}): the graph at {at} ms is not known"
                )

    async def elements_at(self, at: int) -> tuple[dict[str, Node], dict[str, Edge]]:
        """The graph at ``at`` as ID → element maps. Before the earliest checkpoint:
        the earliest state known; before anything was recorded: the empty graph."""
        cp = await self.store.checkpoint_before(at)
        if cp is None:
            return {}, {}
        await self._check(at)
        nodes, edges = await self._checkpoint(cp)
        rows = await self.store.rows_after(cp, max(at, cp.at))
        return await asyncio.to_thread(replay, nodes, edges, rows)

    async def view_at(self, at: int) -> SnapshotView:
        return SnapshotView(*await self.elements_at(at))

    async def window_view(self, start: int, end: int) -> SnapshotView:
        """Everything that existed at some time in [start, end], in its last state."""
        nodes, edges = await self.elements_at(start)
        rows = [r for r in await self.store.rows_between(start, end) if r.body is not None]
        return SnapshotView(*await asyncio.to_thread(replay, nodes, edges, rows))

    async def changes_between(self, start: int, end: int) -> DurableChanges:
        """Net changes in (start, end] per element: (state at start, state at end)."""
        before_nodes, before_edges = await self.elements_at(start)
        rows = await self.store.rows_between(start, end)
        gaps = await self.store.gaps(start, end)
        return await asyncio.to_thread(_net, before_nodes, before_edges, rows, gaps)


def _net(
    nodes: dict[str, Node], edges: dict[str, Edge], rows: Sequence[Row], gaps: list[Gap]
) -> DurableChanges:
    touched = {(r.kind, r.id) for r in rows}
    after_nodes, after_edges = replay(dict(nodes), dict(edges), rows)
    net: tuple[NetChanges, NetChanges] = ({}, {})
    for kind, element_id in touched:
        before, after = (nodes, after_nodes) if kind == KIND_NODE else (edges, after_edges)
        net[kind][element_id] = (before.get(element_id), after.get(element_id))
    return DurableChanges(net[KIND_NODE], net[1 - KIND_NODE], gaps)
