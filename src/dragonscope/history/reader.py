"""The past from a durable store: the nearest checkpoint plus the changes after it.

The database hands over only the last change of each element after the
checkpoint (an element updated a thousand times since costs one row), and
checkpoints are close enough (a fifth of the graph's size in changes, see
``RecorderSettings``) that those rows stay few. Decoding runs in a worker
thread so the event loop keeps turning; it leaves each element's metadata as
stored, decoded by whatever reads it first (see ``codec``), except for the net
changes of a window, which are all answered and so decoded in bulk here.

Two caches make the next question cheaper: the last decoded checkpoint, and for
the last two checkpoints used, the last state rebuilt from each. A later time
after the same checkpoint starts from that state and reads only the changes in
between (an operator stepping forward through the past, or asking for the
nodes and then the edges of one time). Elements are never changed in place, so
cached states share them with the views built from them. A state is kept only
for a time before the newest checkpoint: no change can still arrive there (a
late one is stored at the newest checkpoint's time), so it is final. Retention
cannot make one wrong either: it removes whole checkpoints with the changes
before them, and a state is found through its checkpoint.

Decoded elements live long (in the caches) and hold no cycles, like the live
graph's. In a process that freezes its survivors out of the cyclic collector's
sight (``freeze``, as the analyzer does for its graph), they are frozen as soon
as they are decoded: otherwise each full collection would visit them all again.
They are frozen before the collector is back, so the young generations are not
collected first (a pass over the 400k objects of a checkpoint costs a third of
its decoding): the few garbage cycles frozen with them wait for the process's
next unfreeze.

A time inside a recorded gap is refused with the gap's reason: a history with
a hole says so, it never invents state.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from dragonscope.graph import KIND_NODE, Edge, HistoryError, NetChanges, Node, SnapshotView
from dragonscope.history.codec import (
    apply_rows,
    collector_held,
    decode_checkpoint,
    decode_rows,
    materialize,
)
from dragonscope.history.store import Checkpoint, Gap, HistoryStore, Row

# A decoded 100k-node checkpoint is about 115 MiB: the caches hold at most three
# graphs' worth (less when, as usual, a state shares its checkpoint's elements).
CACHED_CHECKPOINTS = 1
CACHED_STATES = 2


@dataclass(frozen=True, slots=True)
class DurableChanges:
    nodes: NetChanges
    edges: NetChanges
    gaps: list[Gap]


@dataclass(slots=True)
class _State:
    """The graph at ``at``, rebuilt from a checkpoint; ``applied``: per element changed
    since the checkpoint, the seq of the change that set it."""

    at: int
    nodes: dict[str, Node]
    edges: dict[str, Edge]
    applied: dict[tuple[int, str], int] = field(default_factory=dict)


_EMPTY = _State(0, {}, {})
_Key = tuple[int, int]
T = TypeVar("T")


class DurableHistory:
    def __init__(self, store: HistoryStore, freeze: bool = False) -> None:
        self.store = store
        self.freeze = freeze
        self._checkpoints: OrderedDict[_Key, tuple[dict[str, Node], dict[str, Edge]]] = (
            OrderedDict()
        )
        self._states: OrderedDict[_Key, _State] = OrderedDict()

    async def _decode(self, job: Callable[[], T]) -> T:
        """Run a decoding job in a worker thread, the cyclic collector held off (then
        freeze what it made, if asked: what is not kept is still freed when dropped)."""

        def run() -> T:
            with collector_held(self.freeze):
                return job()

        return await asyncio.to_thread(run)

    async def _decoded(self, cp: Checkpoint) -> tuple[dict[str, Node], dict[str, Edge]]:
        key = (cp.at, cp.seq)
        if key not in self._checkpoints:
            decoded = await self._decode(lambda: decode_checkpoint(cp.body, self.freeze))
            self._checkpoints[key] = decoded
            while len(self._checkpoints) > CACHED_CHECKPOINTS:
                self._checkpoints.popitem(last=False)
        self._checkpoints.move_to_end(key)
        return self._checkpoints[key]

    async def _check(self, at: int) -> None:
        for gap in await self.store.gaps(at, at):
            if gap.start < at < gap.end:
                raise HistoryError(
                    f"the history has a hole from {gap.start} to {gap.end} ms "
                    f"({gap.reason}): the graph at {at} ms is not known"
                )

    async def _state_at(self, at: int) -> _State:
        """The graph at ``at`` (shared with the cache: not to be changed). Before the
        earliest checkpoint: the earliest state known; before anything was recorded:
        the empty graph."""
        cp = await self.store.checkpoint_before(at)
        if cp is None:
            return _EMPTY
        await self._check(at)
        upto = max(at, cp.at)
        key = (cp.at, cp.seq)
        cached = self._states.get(key)
        if cached is not None and cached.at == upto:
            self._states.move_to_end(key)
            return cached
        if cached is not None and cached.at < upto:
            since = cached.at
            state = _State(upto, dict(cached.nodes), dict(cached.edges), dict(cached.applied))
        else:
            since = cp.at - 1  # the changes stored at the checkpoint's time, after its seq
            nodes, edges = await self._decoded(cp)
            state = _State(upto, dict(nodes), dict(edges))
        rows = await self.store.latest_rows(cp.seq, since, upto)
        await self._decode(
            lambda: apply_rows(state.nodes, state.edges, rows, state.applied, self.freeze)
        )
        newest = await self.store.latest_checkpoint_at()
        if newest is not None and upto < newest:
            self._states[key] = state
            self._states.move_to_end(key)
            while len(self._states) > CACHED_STATES:
                self._states.popitem(last=False)
        return state

    async def view_at(self, at: int) -> SnapshotView:
        state = await self._state_at(at)
        return SnapshotView(state.nodes, state.edges)

    async def window_view(self, start: int, end: int) -> SnapshotView:
        """Everything that existed at some time in [start, end], in its last state."""
        state = await self._state_at(start)
        nodes, edges = dict(state.nodes), dict(state.edges)
        rows = await self.store.latest_rows(0, start, end, alive=True)
        await self._decode(lambda: apply_rows(nodes, edges, rows, freeze=self.freeze))
        return SnapshotView(nodes, edges)

    async def changes_between(self, start: int, end: int) -> DurableChanges:
        """Net changes in (start, end] per element: (state at start, state at end)."""
        before = await self._state_at(start)
        rows = await self.store.latest_rows(0, start, end)
        gaps = await self.store.gaps(start, end)
        return await self._decode(lambda: _net(before, rows, gaps))


def _net(before: _State, rows: Sequence[Row], gaps: list[Gap]) -> DurableChanges:
    net: tuple[NetChanges, NetChanges] = ({}, {})
    afters = decode_rows(rows)
    befores = [
        before.nodes.get(row.id) if row.kind == KIND_NODE else before.edges.get(row.id)
        for row in rows
    ]
    materialize(was for was in befores if was is not None)  # every one is answered in full
    for row, was, after in zip(rows, befores, afters, strict=True):
        net[row.kind][row.id] = (was, after)
    return DurableChanges(net[KIND_NODE], net[1 - KIND_NODE], gaps)
