"""JSON for big answers, built in slices so that the event loop keeps turning.

A 100k-node graph is tens of megabytes of JSON: one ``json.dumps`` of it holds
the loop for a second or more. These helpers encode a few hundred elements at
a time and give the loop a turn whenever a slice has taken ``SLICE_SECONDS``.
They take *lists* of elements captured beforehand: elements are never changed
in place (an update stores a new object), so the text describes exactly the
graph as it was when the lists were taken, whatever happens meanwhile.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Generator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from dragonscope.graph import Graph, Node
from dragonscope.skydive import (
    FIELD_NAMESPACE,
    FIELD_OBJ,
    FIELD_STATUS,
    FIELD_TYPE,
    FIELD_UUID,
    compact_json,
    compact_json_bytes,
)

SLICE_SECONDS = 0.005
# What the analyzer's sliced work together (publishers' frames, Gremlin runs) may
# take before the event loop gets a turn.
TURN_SECONDS = 0.02
_BUSY_WINDOW_S = 0.25
_CHUNK = 256
_JOIN_IN_THREAD_OVER = 4 << 20  # bytes

T = TypeVar("T")


class Slicer:
    """Counts time spent since the loop last had a turn, and yields when it is due."""

    def __init__(self, budget: float | None = None) -> None:
        self.budget = SLICE_SECONDS if budget is None else budget
        self.deadline = time.monotonic() + self.budget

    async def maybe_yield(self) -> None:
        if time.monotonic() >= self.deadline:
            await asyncio.sleep(0)
            self.deadline = time.monotonic() + self.budget


class Pacer:
    """Shares the event loop among the workers that take it in slices: each gives
    the loop a turn after its share of ``TURN_SECONDS``, divided among the workers
    busy lately. A fixed slice each would let 200 publishers writing at once, or
    200 queries, hold the loop for 200 slices (seconds) between two turns, and
    /healthz, subscribers and everyone else would wait that long."""

    def __init__(self, turn: float = TURN_SECONDS) -> None:
        self.turn = turn
        self._busy = 1
        self._seen: set[int] = set()
        self._window_end = 0.0

    def share(self, worker: object) -> float:
        """How long ``worker`` may work before yielding; counts it as busy."""
        now = time.monotonic()
        self._seen.add(id(worker))
        if now >= self._window_end:
            self._busy = max(1, len(self._seen))
            self._seen.clear()
            self._window_end = now + _BUSY_WINDOW_S
        return self.turn / self._busy


# One event loop per analyzer process: its workers share one pacer.
PACER = Pacer()


async def drive(steps: Generator[None, None, T], slicer: Slicer | None = None) -> T:
    """Run a generator that yields between small steps, giving the loop turns."""
    slicer = slicer or Slicer()
    while True:
        try:
            next(steps)
        except StopIteration as stop:
            result: T = stop.value
            return result
        await slicer.maybe_yield()


async def elements_bytes(
    elements: Sequence[Node], slicer: Slicer, empty: bytes = b"[]"
) -> list[bytes]:
    """``[...]`` of the elements' JSON, as pieces to be joined once (``empty`` when
    there are none: REST says ``null`` where the WebSocket says ``[]``)."""
    if not elements:
        return [empty]
    pieces = [b"["]
    for start in range(0, len(elements), _CHUNK):
        if start:
            pieces.append(b",")
        chunk = elements[start : start + _CHUNK]
        pieces.append(compact_json_bytes([e.to_json() for e in chunk])[1:-1])
        await slicer.maybe_yield()
    pieces.append(b"]")
    return pieces


async def graph_bytes(
    nodes: Sequence[Node], edges: Sequence[Node], empty: bytes = b"[]"
) -> list[bytes]:
    """``{"Nodes": [...], "Edges": [...]}`` (the SyncReply and Sync shape), as pieces."""
    slicer = Slicer()
    return [
        b'{"Nodes":',
        *(await elements_bytes(nodes, slicer, empty)),
        b',"Edges":',
        *(await elements_bytes(edges, slicer, empty)),
        b"}",
    ]


async def by_id_bytes(
    keys: Sequence[str], items: Sequence[T], to_json: Callable[[T], Any]
) -> list[bytes]:
    """``{"<key>": resource, ...}``, Skydive's shape for a list of resources."""
    slicer = Slicer()
    pieces = [b"{"]
    for start in range(0, len(items), _CHUNK):
        if start:
            pieces.append(b",")
        chunk = zip(keys[start : start + _CHUNK], items[start : start + _CHUNK], strict=True)
        pieces.append(compact_json_bytes({k: to_json(i) for k, i in chunk})[1:-1])
        await slicer.maybe_yield()
    pieces.append(b"}")
    return pieces


async def envelope(
    type_: str, obj_pieces: list[bytes], namespace: str, uuid: str = "", status: int = 200
) -> bytes:
    """A WebSocket message around an already encoded ``Obj``; the same text as
    ``subscribers.encode`` would give for the decoded object. A message must leave
    as one frame, so the pieces are joined: in a worker thread when big, since
    ``bytes.join`` copies large results without holding the GIL."""
    fields = {FIELD_NAMESPACE: namespace, FIELD_TYPE: type_, FIELD_UUID: uuid}
    head = compact_json({**fields, FIELD_STATUS: status})[:-1] + f",{compact_json(FIELD_OBJ)}:"
    pieces = [head.encode(), *obj_pieces, b"}"]
    if sum(len(p) for p in pieces) > _JOIN_IN_THREAD_OVER:
        return await asyncio.to_thread(b"".join, pieces)
    return b"".join(pieces)


async def json_bytes(value: Any, slicer: Slicer | None = None) -> list[bytes]:
    """Any JSON-able value, with long lists (the big part of our answers) encoded
    a slice at a time; pieces of the same text as compact ``json.dumps``."""
    slicer = slicer or Slicer()
    pieces: list[bytes] = []
    await _encode(value, pieces, slicer)
    return pieces


async def _encode(value: Any, out: list[bytes], slicer: Slicer) -> None:
    if isinstance(value, dict) and any(isinstance(v, (dict, list)) for v in value.values()):
        out.append(b"{")
        for i, (key, item) in enumerate(value.items()):
            out.append((("," if i else "") + compact_json(str(key)) + ":").encode())
            await _encode(item, out, slicer)
        out.append(b"}")
    elif isinstance(value, list) and len(value) > _CHUNK:
        out.append(b"[")
        for start in range(0, len(value), _CHUNK):
            if start:
                out.append(b",")
            out.append(compact_json_bytes(value[start : start + _CHUNK])[1:-1])
            await slicer.maybe_yield()
        out.append(b"]")
    else:
        out.append(compact_json_bytes(value))
        await slicer.maybe_yield()


class ElementTexts:
    """The JSON of each element as last encoded, reused while the element is the same
    object (stored elements are never changed in place: an update stores a new one),
    so encoding the whole graph again after a few changes costs a lookup per element
    and the encoding of what changed. Holds about the graph's JSON in memory."""

    def __init__(self) -> None:
        self._nodes: dict[str, tuple[Node, bytes]] = {}
        self._edges: dict[str, tuple[Node, bytes]] = {}

    def clear(self) -> None:
        self._nodes, self._edges = {}, {}

    async def graph(self, nodes: Sequence[Node], edges: Sequence[Node]) -> list[bytes]:
        """``{"Nodes": [...], "Edges": [...]}`` as pieces, like ``graph_bytes``."""
        slicer = Slicer()
        node_pieces = await self._array(nodes, self._nodes, slicer)
        edge_pieces = await self._array(edges, self._edges, slicer)
        if len(self._nodes) + len(self._edges) > 2 * (len(nodes) + len(edges)) + _CHUNK:
            # Deleted elements pile up: keep only what this encoding used.
            self._nodes = {e.id: t for e in nodes if (t := self._nodes.get(e.id)) is not None}
            self._edges = {e.id: t for e in edges if (t := self._edges.get(e.id)) is not None}
        return [b'{"Nodes":', *node_pieces, b',"Edges":', *edge_pieces, b"}"]

    @staticmethod
    async def _array(
        elements: Sequence[Node], texts: dict[str, tuple[Node, bytes]], slicer: Slicer
    ) -> list[bytes]:
        if not elements:
            return [b"[]"]
        pieces = [b"["]
        for start in range(0, len(elements), _CHUNK):
            for element in elements[start : start + _CHUNK]:
                known = texts.get(element.id)
                if known is not None and known[0] is element:
                    text = known[1]
                else:
                    text = compact_json_bytes(element.to_json())
                    texts[element.id] = (element, text)
                pieces += (text, b",")
            await slicer.maybe_yield()
        pieces[-1] = b"]"
        return pieces


@dataclass(frozen=True, slots=True)
class GraphCapture:
    """The graph's elements at one version, captured in one step to be encoded later."""

    version: int
    nodes: list[Node]
    edges: list[Node]


class SharedGraphJson:
    """The whole graph's JSON for concurrent requests of it (publishers' SyncRequests).

    A request captures the graph when it arrives (references, not copies); its
    reply is encoded in slices, once per graph version for the requests in flight,
    reusing the text of every element unchanged since the last encoding
    (``ElementTexts``, dropped after ``KEEP_TEXTS_S`` without requests). At most
    ``slots`` replies are encoded and sent at once, so memory stays bounded
    however many ask (a reply waiting in a socket's buffer costs its size)."""

    KEEP_TEXTS_S = 60.0

    def __init__(self, graph: Graph, version: Callable[[], int], slots: int) -> None:
        self._graph = graph
        self._version = version
        self._slots = asyncio.Semaphore(slots)
        self._last: GraphCapture | None = None
        self._encoding: dict[int, tuple[asyncio.Future[list[bytes]], list[int]]] = {}
        self._texts = ElementTexts()
        self._forget: asyncio.TimerHandle | None = None
        self.encodings = 0

    def capture(self) -> GraphCapture:
        """The graph as it is now (shared with the other captures of this version)."""
        version = self._version()
        if self._last is None or self._last.version != version:
            nodes, edges = self._graph.snapshot()
            self._last = GraphCapture(version, list(nodes.values()), list(edges.values()))
        return self._last

    async def send(
        self,
        capture: GraphCapture,
        type_: str,
        namespace: str,
        uuid: str,
        deliver: Callable[[bytes], Awaitable[None]],
    ) -> None:
        """Build a whole message whose ``Obj`` is the captured graph, and hand it to
        ``deliver``, which returns once the message has left (or failed)."""
        async with self._slots:
            shared = self._encoding.get(capture.version)
            if shared is None:
                self.encodings += 1
                task = asyncio.ensure_future(self._texts.graph(capture.nodes, capture.edges))
                shared = self._encoding[capture.version] = (task, [0])
            shared[1][0] += 1
            try:
                pieces = await asyncio.shield(shared[0])
                await deliver(await envelope(type_, pieces, namespace, uuid=uuid))
            finally:
                shared[1][0] -= 1
                if not shared[1][0]:
                    del self._encoding[capture.version]
                if self._last is capture and not self._encoding:
                    self._last = None
                if self._forget is not None:
                    self._forget.cancel()
                loop = asyncio.get_running_loop()
                self._forget = loop.call_later(self.KEEP_TEXTS_S, self._texts.clear)
