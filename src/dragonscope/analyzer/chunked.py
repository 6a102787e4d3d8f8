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
import json
import time
from collections.abc import Callable, Generator, Sequence
from typing import Any, TypeVar

from dragonscope.graph import Graph, Node
from dragonscope.skydive import (
    FIELD_NAMESPACE,
    FIELD_OBJ,
    FIELD_STATUS,
    FIELD_TYPE,
    FIELD_UUID,
)

SLICE_SECONDS = 0.005
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


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), allow_nan=False)


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
        pieces.append(_dumps([e.to_json() for e in chunk])[1:-1].encode())
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
        pieces.append(_dumps({k: to_json(i) for k, i in chunk})[1:-1].encode())
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
    head = _dumps({**fields, FIELD_STATUS: status})[:-1] + f",{_dumps(FIELD_OBJ)}:"
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
            out.append((("," if i else "") + _dumps(str(key)) + ":").encode())
            await _encode(item, out, slicer)
        out.append(b"}")
    elif isinstance(value, list) and len(value) > _CHUNK:
        out.append(b"[")
        for start in range(0, len(value), _CHUNK):
            if start:
                out.append(b",")
            out.append(_dumps(value[start : start + _CHUNK])[1:-1].encode())
            await slicer.maybe_yield()
        out.append(b"]")
    else:
        out.append(_dumps(value).encode())
        await slicer.maybe_yield()


class SharedGraphJson:
    """The whole graph's JSON for concurrent requests of it (publishers' SyncRequests):
    encoded in slices once per graph version and shared by the requests in flight,
    with at most ``slots`` replies assembled at once so memory stays bounded. The
    shared text is dropped when the last request using it is done."""

    def __init__(self, graph: Graph, version: Callable[[], int], slots: int) -> None:
        self._graph = graph
        self._version = version
        self._slots = asyncio.Semaphore(slots)
        self._shared: tuple[int, asyncio.Future[list[bytes]]] | None = None
        self._users = 0
        self.encodings = 0

    async def message(self, type_: str, namespace: str, uuid: str) -> bytes:
        """A whole message whose ``Obj`` is the graph as it is now."""
        async with self._slots:
            self._users += 1
            try:
                pieces = await self._pieces()
                return await envelope(type_, pieces, namespace, uuid=uuid)
            finally:
                self._users -= 1
                if not self._users:
                    self._shared = None

    def _pieces(self) -> asyncio.Future[list[bytes]]:
        version = self._version()
        if self._shared is None or self._shared[0] != version:
            nodes, edges = self._graph.snapshot()
            self.encodings += 1
            task = asyncio.ensure_future(graph_bytes(list(nodes.values()), list(edges.values())))
            self._shared = (version, task)
        return asyncio.shield(self._shared[1])
