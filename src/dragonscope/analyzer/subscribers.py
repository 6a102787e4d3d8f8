"""Fan-out of graph events to subscribers, each behind its own bounded queue.

Graph listeners run inside the publisher's write, so they only append an
already-encoded frame (encoded once per event and policy, shared by every
subscriber) to each queue; a writer task per subscriber drains its queue. A
subscriber that falls ``queue_max`` frames (or ``queue_max_bytes``) behind loses
its backlog and gets a fresh ``Sync`` of its view instead; one that keeps
falling behind is disconnected, with a close frame saying why. Nobody else ever
waits for it.

Filtered subscribers do not take events one by one: a change marks them dirty
and their writer re-runs the filter and sends the difference (added nodes,
removed nodes, added edges, removed edges, then updates), as Skydive does. A
filter that fails (past a Gremlin budget) empties the view, and the subscriber
is told why once, in an ``Error`` message with ``Status: 400``.

Big answers (a ``SyncReply`` or ``Sync`` of 100k nodes, a large difference)
are encoded in slices so the event loop keeps serving everyone else. Their
order is fixed before encoding starts: the elements are captured and a
``Pending`` placeholder takes its place in the queue in the same step, so every
event that happens later is queued behind it, and every event before it is
already in what it will send. Stored elements are never changed in place, so
the captured ones keep describing that moment. At most ``slots`` whole-graph
answers (``SyncReply``, ``Sync``) are held at once, from the start of their
encoding until their writer has sent them: however many subscribers ask at once,
memory stays bounded, and the others wait their turn in their own queues.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from dragonscope import skydive as m
from dragonscope.analyzer.chunked import Slicer, envelope, graph_bytes
from dragonscope.graph import Edge, Graph, GraphListener, Node, diff_ops

log = logging.getLogger(__name__)

FULL = "full"
PARTIAL = "partial"
_OVERFLOWS_BEFORE_DISCONNECT = 3
_OVERFLOW_WINDOW_S = 60.0
REFRESH_INTERVAL_S = 0.05
# The message telling a filtered subscriber that its filter failed (its view is
# then empty): over a Gremlin budget, say.
FILTER_ERROR = "Error"


def encode(
    type_: str, obj: Any, namespace: str = m.GRAPH, uuid: str = "", status: int = 200
) -> str:
    return m.Message(namespace, type_, obj, uuid, status).encode()


def _partial_obj(element: Node, old: Node) -> dict[str, Any]:
    return {
        "ID": element.id,
        "UpdatedAt": element.updated_at,
        "Revision": element.revision,
        "Ops": diff_ops(old.metadata, element.metadata),
    }


# A filter: given the live graph, the IDs of the nodes and edges in view (computed
# in slices, so the graph may move meanwhile: the hub re-checks after it).
ViewFilter = Callable[[Graph], Awaitable[tuple[set[str], set[str]]]]


class Pending:
    """A place in a subscriber's queue for frames still being encoded; ``done`` gives
    back the slot those frames held once they are sent (or will never be)."""

    __slots__ = ("_release", "frames", "ready")

    def __init__(self) -> None:
        self.frames: list[bytes | str] = []
        self.ready = asyncio.Event()
        self._release: Callable[[], None] | None = None

    def fill(self, frames: list[bytes | str], release: Callable[[], None] | None = None) -> None:
        self.frames = frames
        self._release = release
        self.ready.set()

    def done(self) -> None:
        release, self._release = self._release, None
        self.frames = []
        if release is not None:
            release()


Frame = str | Pending


@dataclass(eq=False)
class Subscriber:
    ws: web.WebSocketResponse
    host_id: str
    client_type: str
    policy: str
    namespaces: frozenset[str]
    queue_max: int
    queue_max_bytes: int = 64 * 2**20
    remote: str = ""
    connected_at: float = field(default_factory=time.time)
    view_filter: ViewFilter | None = None
    filter_text: str = ""
    filter_error: str = ""  # why the filter last failed, as the subscriber was told
    # Filtered view: what the subscriber was last told, by ID (element objects
    # are never mutated in place, so identity tells whether one changed).
    view_nodes: dict[str, Node] = field(default_factory=dict)
    view_edges: dict[str, Edge] = field(default_factory=dict)
    dirty: bool = False
    queue: deque[Frame] = field(default_factory=deque)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    resync: bool = False
    overflows: deque[float] = field(default_factory=deque)
    sent: int = 0
    dropped: int = 0
    closed: bool = False
    queued_bytes: int = 0  # of the text frames in the queue
    abort: Callable[[str], None] = lambda reason: None
    refreshed_at: float = 0.0
    refresh_cost: float = 0.0  # seconds the last refresh took
    # Held while the view is recomputed and its frames queued: a filter change
    # must not interleave with a refresh of the filter it replaces.
    view_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def accepts(self, namespace: str) -> bool:
        return "*" in self.namespaces or namespace in self.namespaces

    def push(self, frame: str) -> None:
        if self.resync or self.closed:
            return
        size = len(frame)
        if len(self.queue) >= self.queue_max or self.queued_bytes + size > self.queue_max_bytes:
            # Answers being encoded keep their place: the Sync that replaces the
            # backlog comes after them.
            kept: deque[Frame] = deque(f for f in self.queue if isinstance(f, Pending))
            self.dropped += len(self.queue) - len(kept)
            self.queue = kept
            self.queued_bytes = 0
            self.resync = True
            now = time.monotonic()
            self.overflows.append(now)
            while self.overflows and self.overflows[0] < now - _OVERFLOW_WINDOW_S:
                self.overflows.popleft()
            if len(self.overflows) >= _OVERFLOWS_BEFORE_DISCONNECT:
                # It cannot even take resyncs: cut it off without waiting for its socket.
                reason = (
                    f"send queue over {self.queue_max} frames or {self.queue_max_bytes} bytes "
                    f"{len(self.overflows)} times in {_OVERFLOW_WINDOW_S:g} s (subscriber-queue)"
                )
                log.warning("subscriber %s is too slow: disconnected: %s", self.host_id, reason)
                self.closed = True
                self.abort(reason)
        else:
            self.queue.append(frame)
            self.queued_bytes += size
        self.wake.set()

    def reserve(self) -> Pending:
        """Queue a place for frames encoded later; events queued after it wait for it."""
        pending = Pending()
        self.queue.append(pending)
        self.wake.set()
        return pending

    def mark_dirty(self) -> None:
        self.dirty = True
        self.wake.set()

    def set_view(self, graph: Graph, node_ids: set[str], edge_ids: set[str]) -> None:
        self.view_nodes = {i: n for i in node_ids if (n := graph.node(i)) is not None}
        self.view_edges = {
            i: e
            for i in edge_ids
            if (e := graph.edge(i)) is not None
            and e.parent in self.view_nodes
            and e.child in self.view_nodes
        }
        self.dirty = False


class SubscriberHub(GraphListener):
    def __init__(self, graph: Graph, slots: int = 4) -> None:
        self.graph = graph
        self.subscribers: set[Subscriber] = set()
        self.frames_out = 0
        self.version = 0  # counts graph events: tells whether a slow filter run saw them all
        self.slots = slots
        self._slots = asyncio.Semaphore(slots)
        self.graphs_held = 0  # whole-graph answers encoding or waiting to be sent
        self.graphs_held_max = 0
        self._encodings: set[asyncio.Task[None]] = set()
        graph.add_listener(self)

    # -- registry --------------------------------------------------------------
    def add(self, sub: Subscriber) -> None:
        self.subscribers.add(sub)

    def remove(self, sub: Subscriber) -> None:
        sub.closed = True
        sub.wake.set()
        self.subscribers.discard(sub)

    def queue_depths(self) -> list[int]:
        return [len(s.queue) for s in self.subscribers]

    # -- events ----------------------------------------------------------------
    def _fan_out(self, full: str, element: Node, partial: Callable[[], str] | None = None) -> None:
        partial_frame: str | None = None
        for sub in self.subscribers:
            if sub.view_filter is not None:
                sub.mark_dirty()
            elif sub.accepts(m.GRAPH):
                if partial is not None and sub.policy == PARTIAL:
                    if partial_frame is None:
                        partial_frame = partial()
                    sub.push(partial_frame)
                else:
                    sub.push(full)

    def _emit(self, type_: str, element: Node) -> None:
        self.version += 1
        if self.subscribers:
            self._fan_out(encode(type_, element.to_json()), element)

    def _emit_update(self, type_: str, partial_type: str, element: Node, old: Node) -> None:
        self.version += 1
        if self.subscribers:
            self._fan_out(
                encode(type_, element.to_json()),
                element,
                lambda: encode(partial_type, _partial_obj(element, old)),
            )

    def on_node_added(self, node: Node) -> None:
        self._emit(m.NODE_ADDED, node)

    def on_node_updated(self, node: Node, old: Node) -> None:
        self._emit_update(m.NODE_UPDATED, m.NODE_PARTIALLY_UPDATED, node, old)

    def on_node_deleted(self, node: Node) -> None:
        self._emit(m.NODE_DELETED, node)

    def on_edge_added(self, edge: Edge) -> None:
        self._emit(m.EDGE_ADDED, edge)

    def on_edge_updated(self, edge: Edge, old: Edge) -> None:
        self._emit_update(m.EDGE_UPDATED, m.EDGE_PARTIALLY_UPDATED, edge, old)

    def on_edge_deleted(self, edge: Edge) -> None:
        self._emit(m.EDGE_DELETED, edge)

    def broadcast(self, namespace: str, type_: str, obj: Any) -> None:
        """A non-graph notification (e.g. an Alert) to every subscriber that wants it."""
        frame = encode(type_, obj, namespace=namespace)
        for sub in self.subscribers:
            if sub.accepts(namespace):
                sub.push(frame)

    # -- per-subscriber views ----------------------------------------------------
    def view_lists(self, sub: Subscriber) -> tuple[list[Node], list[Edge]]:
        """The subscriber's view as it is now, captured in one step."""
        if sub.view_filter is None:
            nodes, edges = self.graph.snapshot()
            return list(nodes.values()), list(edges.values())
        return list(sub.view_nodes.values()), list(sub.view_edges.values())

    async def send_graph(
        self,
        sub: Subscriber,
        type_: str,
        nodes: Sequence[Node],
        edges: Sequence[Edge],
        uuid: str = "",
    ) -> None:
        """Queue a ``SyncReply``/``Sync`` of these elements at the current place in
        the subscriber's queue; it is encoded, without holding the loop, once one of
        the hub's slots is free (the writer goes on sending what is ahead of it)."""
        pending = sub.reserve()
        task = asyncio.create_task(self._encode_graph(sub, pending, type_, nodes, edges, uuid))
        self._encodings.add(task)
        task.add_done_callback(self._encodings.discard)

    async def _encode_graph(
        self,
        sub: Subscriber,
        pending: Pending,
        type_: str,
        nodes: Sequence[Node],
        edges: Sequence[Edge],
        uuid: str,
    ) -> None:
        await self._slots.acquire()
        with contextlib.ExitStack() as slot:
            slot.callback(self._slots.release)
            if sub.closed:
                pending.fill([])
                return
            self.graphs_held += 1
            self.graphs_held_max = max(self.graphs_held_max, self.graphs_held)
            slot.callback(self._let_go)
            try:
                obj = await graph_bytes(nodes, edges)
                frames: list[bytes | str] = [await envelope(type_, obj, m.GRAPH, uuid=uuid)]
            except asyncio.CancelledError:  # the analyzer stops
                pending.fill([])
                raise
            except Exception:
                log.exception("subscriber %s: the graph could not be encoded", sub.host_id)
                frames = [encode(type_, "the graph could not be encoded", uuid=uuid, status=500)]
            # From here the writer gives the slot back, once it has sent the frames.
            pending.fill(frames, slot.pop_all().close)
            if sub.closed:
                pending.done()

    def _let_go(self) -> None:
        self.graphs_held -= 1

    async def close(self) -> None:
        """Stop the answers still being encoded (the analyzer stops)."""
        for task in list(self._encodings):
            task.cancel()
        await asyncio.gather(*self._encodings, return_exceptions=True)

    async def compute_view(self, sub: Subscriber) -> None:
        """Run a filtered subscriber's filter and make its result the view. Events
        that arrive while the filter runs leave the subscriber dirty, so the next
        refresh sends what they changed."""
        assert sub.view_filter is not None
        sub.dirty = False
        version = self.version
        try:
            node_ids, edge_ids = await sub.view_filter(self.graph)
            sub.filter_error = ""
        except ValueError as exc:  # the filter stopped working (a budget, a node gone)
            log.debug("subscriber %s filter failed: %s", sub.host_id, exc)
            node_ids, edge_ids = set(), set()
            if str(exc) != sub.filter_error:  # said once, not at every refresh
                sub.filter_error = str(exc)
                sub.push(encode(FILTER_ERROR, f"{m.HDR_GREMLIN_FILTER}: {exc}", status=400))
        self.adopt_view(sub, node_ids, edge_ids, version)

    def adopt_view(
        self, sub: Subscriber, node_ids: set[str], edge_ids: set[str], version: int
    ) -> None:
        """Make a filter's result the view; ``version`` is the graph's when the filter
        started: if anything changed since, the subscriber stays dirty."""
        sub.set_view(self.graph, node_ids, edge_ids)
        if self.version != version:
            sub.mark_dirty()

    async def refresh(self, sub: Subscriber) -> None:
        """Re-run a filtered subscriber's filter and queue the difference."""
        async with sub.view_lock:
            if sub.view_filter is not None:
                await self._refresh(sub)

    async def _refresh(self, sub: Subscriber) -> None:
        old_nodes, old_edges = sub.view_nodes, sub.view_edges
        await self.compute_view(sub)
        new_nodes, new_edges = sub.view_nodes, sub.view_edges
        # What changed is decided here, in one step; only the encoding is sliced.
        changes: list[tuple[str, Node, Node | None]] = []
        changes += [(m.NODE_ADDED, n, None) for i, n in new_nodes.items() if i not in old_nodes]
        changes += [(m.NODE_DELETED, n, None) for i, n in old_nodes.items() if i not in new_nodes]
        changes += [(m.EDGE_ADDED, e, None) for i, e in new_edges.items() if i not in old_edges]
        changes += [(m.EDGE_DELETED, e, None) for i, e in old_edges.items() if i not in new_edges]
        for new, old, full_type, partial_type in (
            (new_nodes, old_nodes, m.NODE_UPDATED, m.NODE_PARTIALLY_UPDATED),
            (new_edges, old_edges, m.EDGE_UPDATED, m.EDGE_PARTIALLY_UPDATED),
        ):
            for element_id, element in new.items():
                before = old.get(element_id)
                if before is None or before is element:
                    continue
                if sub.policy == PARTIAL:
                    changes.append((partial_type, element, before))
                else:
                    changes.append((full_type, element, None))
        if not changes:
            return
        pending = sub.reserve()
        slicer = Slicer()
        frames: list[bytes | str] = []
        for type_, element, before in changes:
            obj = element.to_json() if before is None else _partial_obj(element, before)
            frames.append(encode(type_, obj))
            await slicer.maybe_yield()
        pending.fill(frames)

    async def writer(self, sub: Subscriber) -> None:
        """Drain one subscriber's queue until it closes; the only task that sends to it."""
        try:
            await self._drain(sub)
        finally:
            sub.closed = True  # an answer still being encoded gives its slot back at once
            for frame in sub.queue:
                if isinstance(frame, Pending):
                    frame.done()

    async def _drain(self, sub: Subscriber) -> None:
        ws = sub.ws
        while not sub.closed and not ws.closed:
            await sub.wake.wait()
            sub.wake.clear()
            if sub.resync:
                sub.resync = False
                async with sub.view_lock:
                    if sub.view_filter is not None:
                        await self.compute_view(sub)
                    await self.send_graph(sub, m.SYNC, *self.view_lists(sub))
            elif sub.dirty and sub.view_filter is not None:
                # Coalesce bursts: a filter runs over the whole graph, so at most
                # once per interval per subscriber, and a filter that takes long
                # waits twice its own time, so that its runs take at most a third
                # of the analyzer's time however busy the graph is.
                pause = max(REFRESH_INTERVAL_S, 2 * sub.refresh_cost)
                wait = sub.refreshed_at + pause - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                if sub.closed:
                    return
                started = time.monotonic()
                await self.refresh(sub)
                sub.refreshed_at = time.monotonic()
                sub.refresh_cost = sub.refreshed_at - started
            while sub.queue and not ws.closed:
                head = sub.queue[0]
                if isinstance(head, Pending):
                    await head.ready.wait()
                    frames: list[bytes | str] = head.frames
                else:
                    frames = [head]
                if sub.queue and sub.queue[0] is head:
                    sub.queue.popleft()
                    if isinstance(head, str):
                        sub.queued_bytes -= len(head)
                try:
                    await self._send(sub, frames)
                finally:
                    if isinstance(head, Pending):
                        head.done()  # sent: its slot is free for another answer

    async def _send(self, sub: Subscriber, frames: list[bytes | str]) -> None:
        ws = sub.ws
        for frame in frames:
            with contextlib.suppress(ConnectionResetError):
                if isinstance(frame, bytes):
                    # A view, not a slice copy, is what the transport buffers
                    # of a message too big to go out at once.
                    await ws.send_frame(memoryview(frame), WSMsgType.TEXT)  # type: ignore[arg-type]
                else:
                    await ws.send_str(frame)
            sub.sent += 1
            self.frames_out += 1
