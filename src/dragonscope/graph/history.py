"""Timestamped change log of the live graph, and the graph as it was at any time.

Every mutation is recorded as (time, old element, new element). The past is
rebuilt by taking the live graph and undoing, newest first, the changes made
after the requested time, so recent history (what operators ask for) is the
cheapest. Memory is bounded by a retention period and a maximum number of
changes. A time before the oldest kept state is answered with that state (the
earliest known: the empty graph the analyzer started with, or what retention
kept), as Skydive's UI expects; ``horizon`` says where knowledge begins. Each
change is also handed to ``on_change`` (a durable store's recorder) with the
very time kept here, so the durable past and this one agree to the millisecond.
"""

from __future__ import annotations

import bisect
import copy
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from dragonscope.graph.model import Edge, Graph, GraphListener, Node, now_ms

KIND_NODE = 0
KIND_EDGE = 1
_STEP = 2048  # changes undone (or summed) between two chances to yield

_T = TypeVar("_T")
Steps = Generator[None, None, _T]
"""Work that yields between slices (so an event loop can breathe) and returns a ``_T``."""
NetChanges = dict[str, tuple[Node | None, Node | None]]
"""Per element ID: its state at the start and at the end of a period (None: absent)."""


class HistoryError(ValueError):
    """The requested time cannot be answered (a hole in a durable history)."""


@dataclass(slots=True, frozen=True)
class Change:
    at: int
    kind: int
    old: Node | None
    new: Node | None

    @property
    def element_id(self) -> str:
        element = self.new if self.new is not None else self.old
        assert element is not None
        return element.id


class SnapshotView:
    """A frozen GraphView over dictionaries of nodes and edges."""

    def __init__(self, nodes: dict[str, Node], edges: dict[str, Edge]) -> None:
        self._nodes = nodes
        self._edges = edges
        self._out: dict[str, list[Edge]] | None = None
        self._in: dict[str, list[Edge]] = {}

    def _adjacency(self) -> dict[str, list[Edge]]:
        if self._out is None:
            out: dict[str, list[Edge]] = {}
            inc: dict[str, list[Edge]] = {}
            for edge in self._edges.values():
                out.setdefault(edge.parent, []).append(edge)
                inc.setdefault(edge.child, []).append(edge)
            self._out, self._in = out, inc
        return self._out

    def node(self, node_id: str) -> Node | None:
        return self._nodes.get(node_id)

    def edge(self, edge_id: str) -> Edge | None:
        return self._edges.get(edge_id)

    def nodes(self) -> Iterator[Node]:
        return iter(self._nodes.values())

    def edges(self) -> Iterator[Edge]:
        return iter(self._edges.values())

    def out_edges(self, node_id: str) -> Iterable[Edge]:
        return self._adjacency().get(node_id, [])

    def in_edges(self, node_id: str) -> Iterable[Edge]:
        self._adjacency()
        return self._in.get(node_id, [])

    def node_count(self) -> int:
        return len(self._nodes)

    def edge_count(self) -> int:
        return len(self._edges)

    def to_json(self) -> dict[str, list[dict[str, Any]]]:
        return {
            "Nodes": [n.to_json() for n in self._nodes.values()],
            "Edges": [e.to_json() for e in self._edges.values()],
        }


class History(GraphListener):
    def __init__(
        self,
        graph: Graph,
        retention_s: float,
        max_changes: int,
        clock: Callable[[], int] = now_ms,
        on_change: Callable[[Change], None] | None = None,
    ) -> None:
        self._graph = graph
        self._retention_ms = int(retention_s * 1000)
        self._max = max(1, max_changes)
        self._clock = clock
        self._times: list[int] = []
        self._changes: list[Change] = []
        self._start = 0
        self.horizon = clock()  # nothing is known before this time
        self.on_change = on_change
        graph.add_listener(self)

    # -- recording -------------------------------------------------------------
    def _record(self, kind: int, old: Node | None, new: Node | None) -> None:
        at = self._clock()
        if self._times and at < self._times[-1]:
            at = self._times[-1]  # the wall clock stepped back: keep the log ordered
        change = Change(at, kind, old, new)
        self._times.append(at)
        self._changes.append(change)
        if self.on_change is not None:
            self.on_change(change)
        if len(self._times) - self._start > self._max:
            self._drop(self._start + 1)

    def on_node_added(self, node: Node) -> None:
        self._record(KIND_NODE, None, node)

    def on_node_updated(self, node: Node, old: Node) -> None:
        self._record(KIND_NODE, old, node)

    def on_node_deleted(self, node: Node) -> None:
        self._record(KIND_NODE, _alive(node), None)

    def on_edge_added(self, edge: Edge) -> None:
        self._record(KIND_EDGE, None, edge)

    def on_edge_updated(self, edge: Edge, old: Edge) -> None:
        self._record(KIND_EDGE, old, edge)

    def on_edge_deleted(self, edge: Edge) -> None:
        self._record(KIND_EDGE, _alive(edge), None)

    # -- retention ---------------------------------------------------------------
    def prune(self) -> None:
        """Forget changes older than the retention period (called periodically)."""
        cutoff = self._clock() - self._retention_ms
        end = bisect.bisect_right(self._times, cutoff, lo=self._start)
        if end > self._start:
            self._drop(end)

    def _drop(self, end: int) -> None:
        self.horizon = max(self.horizon, self._times[end - 1])
        self._start = end
        if self._start > 4096 and self._start * 2 > len(self._times):
            del self._times[: self._start]
            del self._changes[: self._start]
            self._start = 0

    def __len__(self) -> int:
        return len(self._times) - self._start

    @property
    def oldest(self) -> int:
        return self.horizon

    # -- queries -----------------------------------------------------------------
    def covers(self, at: int) -> bool:
        """Whether ``at`` is within what this history kept (not before its horizon)."""
        return at >= self.horizon

    def view_at(self, at: int) -> Graph | SnapshotView:
        """The graph as it was at ``at`` (ms since epoch); the live graph itself
        when nothing changed since (no copy)."""
        return _run(self.view_at_steps(at))

    def view_at_steps(self, at: int) -> Steps[Graph | SnapshotView]:
        """``view_at`` as a generator that yields between slices of work and returns
        the view, for callers on an event loop. What it rebuilds is fixed when it
        starts: later changes to the live graph do not leak into the past. A time
        before the horizon gives the earliest state known."""
        at = max(at, self.horizon)
        if bisect.bisect_right(self._times, at, lo=self._start) == len(self._times):
            return self._graph
        return (yield from self._snapshot_steps(at))

    def _snapshot_steps(self, at: int) -> Steps[SnapshotView]:
        at = max(at, self.horizon)
        nodes, edges = self._graph.snapshot()
        first = bisect.bisect_right(self._times, at, lo=self._start)
        undo = self._changes[first:]  # fixed now: pruning or new changes cannot shift it
        for index in range(len(undo) - 1, -1, -1):
            change = undo[index]
            target: dict[str, Any] = nodes if change.kind == KIND_NODE else edges
            if change.new is not None:
                target.pop(change.new.id, None)
            if change.old is not None:
                target[change.old.id] = change.old
            if not index % _STEP:
                yield
        return SnapshotView(nodes, edges)

    def window_view(self, start: int, end: int) -> SnapshotView:
        """Everything that existed at some time in [start, end]: the graph at ``end``
        plus what was removed during the window, in its last state. A window that
        starts before the kept history covers what is kept (``FOREVER`` works)."""
        return _run(self.window_view_steps(start, end))

    def window_view_steps(self, start: int, end: int) -> Steps[SnapshotView]:
        """``window_view`` as a generator, like ``view_at_steps``."""
        lo = bisect.bisect_left(self._times, start, lo=max(self._start, 0))
        hi = bisect.bisect_right(self._times, end, lo=lo)
        removed = self._changes[lo:hi]
        view = yield from self._snapshot_steps(end)
        for index in range(len(removed) - 1, -1, -1):
            change = removed[index]
            if change.old is not None:
                target: dict[str, Any] = view._nodes if change.kind == KIND_NODE else view._edges
                target.setdefault(change.old.id, change.old)
            if not index % _STEP:
                yield
        view._out = None
        return view

    def changes_between(self, start: int, end: int) -> tuple[NetChanges, NetChanges]:
        """Net changes in (start, end]: per kind, {id: (state at start, state at end)}."""
        return _run(self.changes_between_steps(start, end))

    def changes_between_steps(self, start: int, end: int) -> Steps[tuple[NetChanges, NetChanges]]:
        """``changes_between`` as a generator that yields between slices of work.
        A start before the horizon counts from the earliest state known."""
        lo = bisect.bisect_right(self._times, start, lo=self._start)
        hi = bisect.bisect_right(self._times, end, lo=lo)
        changes = self._changes[lo:hi]
        net: tuple[NetChanges, NetChanges] = ({}, {})
        for index, change in enumerate(changes):
            bucket = net[change.kind]
            key = change.element_id
            before = bucket[key][0] if key in bucket else change.old
            bucket[key] = (before, _alive(change.new))
            if not index % _STEP:
                yield
        return net


def _run(steps: Steps[_T]) -> _T:
    while True:
        try:
            next(steps)
        except StopIteration as stop:
            result: _T = stop.value
            return result


def _alive(element: Node | None) -> Node | None:
    """The graph stamps DeletedAt on the object it deletes; history shows it as it was."""
    if element is None or element.deleted_at is None:
        return element
    alive = copy.copy(element)
    alive.deleted_at = None
    return alive
