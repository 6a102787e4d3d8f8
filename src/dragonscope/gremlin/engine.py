"""Compile once, run many times: the public face of the Gremlin engine."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Generator
from typing import Any

from dragonscope.graph import GraphView, now_ms
from dragonscope.gremlin.errors import GremlinError
from dragonscope.gremlin.parser import parse
from dragonscope.gremlin.plan import EDGES, GRAPH, NODES, PATHS, Gen, Op, Run
from dragonscope.gremlin.steps import compile_steps

# ``at``/``window`` return a view, or a generator that yields between steps of
# building it and returns the view (so rebuilding the past can yield too).
AtFn = Callable[[int], Any]
WindowFn = Callable[[int, int], Any]

# How long run_async computes before giving the event loop a turn.
SLICE_SECONDS = 0.010
_JSON_CHUNK = 512


class CompiledQuery:
    """A parsed and checked query.

    ``kind`` is what it yields: ``graph``, ``nodes``, ``edges``, ``paths``,
    ``values``, ``number`` or ``raw``; ``returns_graph`` tells whether it can be a
    subscriber filter.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self._ops: list[Op]
        self._ops, self.kind = compile_steps(text, parse(text))

    @property
    def returns_graph(self) -> bool:
        return self.kind == GRAPH

    def __repr__(self) -> str:
        return f"CompiledQuery({self.text!r}, kind={self.kind!r})"

    # -- evaluation -------------------------------------------------------------
    def evaluate(
        self,
        view: GraphView,
        *,
        at: AtFn | None = None,
        window: WindowFn | None = None,
        now_ms: int | None = None,
    ) -> Any:
        """The result as Python objects: a GraphView, lists of Node/Edge, paths,
        values or a number (see ``kind``)."""
        return _drive(self._evaluate(view, at, window, now_ms))

    async def evaluate_async(
        self,
        view: GraphView,
        *,
        at: AtFn | None = None,
        window: WindowFn | None = None,
        now_ms: int | None = None,
    ) -> Any:
        """``evaluate`` for an event loop: gives the loop a turn every ~10 ms of work."""
        return await _drive_async(self._evaluate(view, at, window, now_ms))

    def run(
        self,
        view: GraphView,
        *,
        at: AtFn | None = None,
        window: WindowFn | None = None,
        now_ms: int | None = None,
    ) -> Any:
        """The JSON-able result exactly as Skydive's ``POST /api/topology`` returns it."""
        return _drive(self._run(view, at, window, now_ms))

    def run_json(
        self,
        view: GraphView,
        *,
        at: AtFn | None = None,
        window: WindowFn | None = None,
        now_ms: int | None = None,
    ) -> str:
        """``run``'s result already encoded as compact JSON text."""
        return _drive(self._run_text(view, at, window, now_ms))

    async def run_json_async(
        self,
        view: GraphView,
        *,
        at: AtFn | None = None,
        window: WindowFn | None = None,
        now_ms: int | None = None,
    ) -> str:
        """``run_json`` for an event loop. Encoding slice by slice keeps only text
        alive, so a result of 100k elements neither blocks the loop in one long
        ``json.dumps`` nor leaves a million objects for the garbage collector."""
        return await _drive_async(self._run_text(view, at, window, now_ms))

    async def run_json_pieces_async(
        self,
        view: GraphView,
        *,
        at: AtFn | None = None,
        window: WindowFn | None = None,
        now_ms: int | None = None,
    ) -> list[bytes]:
        """``run_json_async`` as pieces of UTF-8 text to send one after the other:
        a response of tens of megabytes is never joined or copied whole."""
        return await _drive_async(self._run_bytes(view, at, window, now_ms))

    async def run_async(
        self,
        view: GraphView,
        *,
        at: AtFn | None = None,
        window: WindowFn | None = None,
        now_ms: int | None = None,
    ) -> Any:
        """As ``run``, but gives the event loop a turn every ~10 ms of work."""
        return await _drive_async(self._run(view, at, window, now_ms))

    def _evaluate(
        self, view: GraphView, at: AtFn | None, window: WindowFn | None, when: int | None
    ) -> Gen:
        run = Run(view, at, window, now_ms() if when is None else when)
        value: Any = view
        for op in self._ops:
            value = yield from op(run, value)
        return value

    def _run(
        self, view: GraphView, at: AtFn | None, window: WindowFn | None, when: int | None
    ) -> Gen:
        value = yield from self._evaluate(view, at, window, when)
        return (yield from _to_json(self.kind, value))

    def _run_text(
        self, view: GraphView, at: AtFn | None, window: WindowFn | None, when: int | None
    ) -> Gen:
        value = yield from self._evaluate(view, at, window, when)
        return "".join((yield from _text_pieces(self.kind, value)))

    def _run_bytes(
        self,
        view: GraphView,
        at: AtFn | None,
        window: WindowFn | None,
        when: int | None,
    ) -> Gen:
        value = yield from self._evaluate(view, at, window, when)
        pieces = yield from _text_pieces(self.kind, value)
        encoded = []
        for piece in pieces:
            encoded.append(piece.encode())
            yield
        return encoded


def _drive(gen: Generator[None, None, Any]) -> Any:
    while True:
        try:
            next(gen)
        except StopIteration as stop:
            return stop.value


async def _drive_async(gen: Generator[None, None, Any]) -> Any:
    deadline = time.monotonic() + SLICE_SECONDS
    while True:
        try:
            next(gen)
        except StopIteration as stop:
            return stop.value
        if time.monotonic() >= deadline:
            await asyncio.sleep(0)
            deadline = time.monotonic() + SLICE_SECONDS


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _text_pieces(kind: str, value: Any) -> Gen:
    """The result as pieces of JSON text, to be joined once at the end (a result
    of 100k elements is tens of megabytes: copying it again would hold the loop)."""
    if kind == GRAPH:
        nodes = yield from _elements_text(list(value.nodes()))
        edges = yield from _elements_text(list(value.edges()))
        return ['[{"Nodes":', *(nodes or ["null"]), ',"Edges":', *(edges or ["null"]), "}]"]
    if kind in (NODES, EDGES):
        return (yield from _elements_text(value)) or ["[]"]
    if kind == PATHS:
        parts = ["["]
        for start in range(0, len(value), _JSON_CHUNK // 8):
            chunk = value[start : start + _JSON_CHUNK // 8]
            if start:
                parts.append(",")
            parts.append(_dumps([[n.to_json() for n in path] for path in chunk])[1:-1])
            yield
        parts.append("]")
        return parts
    return [_dumps(value)]


def _elements_text(elements: list[Any]) -> Gen:
    """Pieces of ``[...]`` holding the elements' JSON; no pieces when there are none."""
    pieces = ["["]
    for start in range(0, len(elements), _JSON_CHUNK):
        if start:
            pieces.append(",")
        pieces.append(_dumps([e.to_json() for e in elements[start : start + _JSON_CHUNK]])[1:-1])
        yield
    pieces.append("]")
    return pieces if elements else []


def _to_json(kind: str, value: Any) -> Gen:
    if kind == GRAPH:
        nodes = yield from _elements_json(list(value.nodes()))
        edges = yield from _elements_json(list(value.edges()))
        return [{"Nodes": nodes or None, "Edges": edges or None}]
    if kind in (NODES, EDGES):
        return (yield from _elements_json(value))
    if kind == PATHS:
        return [[n.to_json() for n in path] for path in value]
    return value


def _elements_json(elements: list[Any]) -> Gen:
    out: list[dict[str, Any]] = []
    for start in range(0, len(elements), _JSON_CHUNK):
        out.extend(e.to_json() for e in elements[start : start + _JSON_CHUNK])
        yield
    return out


def compile_query(query: str) -> CompiledQuery:
    """Parse and check ``query`` (raises GremlinError); run it later, many times."""
    return _compile_cached(query)


_CACHE: dict[str, CompiledQuery] = {}
_CACHE_SIZE = 256


def _compile_cached(query: str) -> CompiledQuery:
    if not isinstance(query, str):
        raise GremlinError("The query must be a string")
    compiled = _CACHE.get(query)
    if compiled is None:
        compiled = CompiledQuery(query)
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[query] = compiled
    return compiled


def run(
    query: str,
    view: GraphView,
    *,
    at: AtFn | None = None,
    window: WindowFn | None = None,
    now_ms: int | None = None,
) -> Any:
    """Run ``query`` on ``view`` and return Skydive's JSON result (raises GremlinError)."""
    return compile_query(query).run(view, at=at, window=window, now_ms=now_ms)


async def run_async(
    query: str,
    view: GraphView,
    *,
    at: AtFn | None = None,
    window: WindowFn | None = None,
    now_ms: int | None = None,
) -> Any:
    """``run`` for an event loop: computes in slices of ~10 ms and yields in between."""
    return await compile_query(query).run_async(view, at=at, window=window, now_ms=now_ms)
