"""Compile once, run many times: the public face of the Gremlin engine.

There is one way to run a compiled query: :meth:`CompiledQuery.steps` computes it
as a generator that yields between slices of work, in the :class:`Form` asked for
(Skydive's JSON, JSON text, UTF-8 pieces, or the graph view itself); ``run``
drives it to the end at once, ``run_async`` gives the event loop a turn every
~10 ms. Time travel (``At``/``Context``) and "now" come in one :class:`RunOptions`.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, overload

from dragonscope.graph import GraphView, Json, now_ms
from dragonscope.gremlin.errors import GremlinError
from dragonscope.gremlin.parser import parse
from dragonscope.gremlin.plan import EDGES, GRAPH, NODES, PATHS, AtFn, Gen, Op, Run, WindowFn
from dragonscope.gremlin.steps import compile_steps

T = TypeVar("T")

# How long run_async computes before giving the event loop a turn.
SLICE_SECONDS = 0.010
_JSON_CHUNK = 512


@dataclass(frozen=True, slots=True)
class RunOptions:
    """Where a query may look: ``at``/``window`` reach the past for ``G.At``/``G.Context``
    (without them those steps fail with "Backend does not support history");
    ``now_ms`` pins "now" (default: the clock when the run starts).

    Budgets, for queries from clients: ``max_elements`` bounds the elements the
    steps produce and the result holds; ``seconds`` bounds the time of an
    ``run_async``; ``cancelled`` is asked between slices (the client left).
    Past any of them the run stops with a GremlinError naming the budget.
    ``pace`` gives the length of each slice of a ``run_async`` (default
    ``SLICE_SECONDS``): a server running many queries at once shares its loop."""

    at: AtFn | None = None
    window: WindowFn | None = None
    now_ms: int | None = None
    max_elements: int | None = None
    seconds: float | None = None
    cancelled: Callable[[], bool] | None = None
    pace: Callable[[], float] | None = None


NOW = RunOptions()


class Form(Generic[T]):
    """What a run gives back: ``output(kind, value)`` turns the query's value into
    it, yielding between slices like the evaluation does."""

    def __init__(self, name: str, output: Callable[[str, Any], Generator[None, None, T]]) -> None:
        self.name = name
        self.output = output

    def __repr__(self) -> str:
        return f"Form({self.name!r})"


class CompiledQuery:
    """A parsed and checked query.

    ``kind`` is what it yields: ``graph``, ``nodes``, ``edges``, ``paths``,
    ``values``, ``number`` or ``raw``; ``returns_graph`` tells whether it can be a
    subscriber filter (and be run ``AS_VIEW``).
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

    def steps(
        self, view: GraphView, options: RunOptions, form: Form[T]
    ) -> Generator[None, None, T]:
        """The run itself: yields between slices of work, returns the result in ``form``."""
        if form is AS_VIEW and not self.returns_graph:
            raise GremlinError(f"the query returns {self.kind}, not a graph")
        when = now_ms() if options.now_ms is None else options.now_ms
        run = Run(view, options.at, options.window, when, options.max_elements)
        value: Any = view
        for op in self._ops:
            value = yield from op(run, value)
        limit = options.max_elements
        if limit is not None and isinstance(value, list) and len(value) > limit:
            raise GremlinError(
                f"the query returns more than {limit} items (gremlin-max-elements); "
                "narrow it with Has() or Limit()"
            )
        return (yield from form.output(self.kind, value))

    @overload
    def run(self, view: GraphView, options: RunOptions = NOW) -> Json: ...
    @overload
    def run(self, view: GraphView, options: RunOptions = NOW, *, form: Form[T]) -> T: ...
    def run(
        self, view: GraphView, options: RunOptions = NOW, *, form: Form[Any] | None = None
    ) -> Any:
        """The result at once, by default as Skydive's ``POST /api/topology`` JSON."""
        return _drive(self.steps(view, options, form or AS_JSON))

    @overload
    async def run_async(self, view: GraphView, options: RunOptions = NOW) -> Json: ...
    @overload
    async def run_async(
        self, view: GraphView, options: RunOptions = NOW, *, form: Form[T]
    ) -> T: ...
    async def run_async(
        self, view: GraphView, options: RunOptions = NOW, *, form: Form[Any] | None = None
    ) -> Any:
        """``run`` for an event loop: gives the loop a turn every ~10 ms of work, and
        stops when ``options.seconds`` have passed or ``options.cancelled()`` says so."""
        return await _drive_async(self.steps(view, options, form or AS_JSON), options)


def _advance(gen: Generator[None, None, T], deadline: float) -> list[T]:
    """Run ``gen`` for at least one step and until ``deadline``: ``[its value]`` when
    it finished, ``[]`` when time ran out first."""
    try:
        next(gen)
        while time.monotonic() < deadline:
            next(gen)
    except StopIteration as stop:
        return [stop.value]
    return []


def _drive(gen: Generator[None, None, T]) -> T:
    return _advance(gen, math.inf)[0]


async def _drive_async(gen: Generator[None, None, T], options: RunOptions) -> T:
    started = time.monotonic()
    budget = math.inf if options.seconds is None else options.seconds
    pace = options.pace or (lambda: SLICE_SECONDS)
    try:
        while not (done := _advance(gen, time.monotonic() + pace())):
            if time.monotonic() - started > budget:
                raise GremlinError(
                    f"the query ran for more than {budget:g} s (gremlin-timeout); narrow it"
                )
            if options.cancelled is not None and options.cancelled():
                raise GremlinError("the query was cancelled: its client left")
            await asyncio.sleep(0)
    finally:
        gen.close()  # whatever it built is freed now, not when the frame is collected
    return done[0]


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), allow_nan=False)


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


def _view(kind: str, value: Any) -> Generator[None, None, GraphView]:
    yield from ()  # nothing to convert: the value is the view
    view: GraphView = value
    return view


def _text(kind: str, value: Any) -> Generator[None, None, str]:
    return "".join((yield from _text_pieces(kind, value)))


def _bytes(kind: str, value: Any) -> Generator[None, None, list[bytes]]:
    encoded = []
    for piece in (yield from _text_pieces(kind, value)):
        encoded.append(piece.encode())
        yield
    return encoded


AS_JSON: Form[Json] = Form("json", _to_json)
"""Skydive's JSON result, as Python lists, dicts and scalars."""
AS_TEXT: Form[str] = Form("text", _text)
"""The JSON result as compact text, encoded slice by slice: a result of 100k
elements neither holds the loop in one long ``json.dumps`` nor leaves a million
objects for the garbage collector."""
AS_BYTES: Form[list[bytes]] = Form("bytes", _bytes)
"""The compact JSON text as UTF-8 pieces to send one after the other: a response
of tens of megabytes is never joined or copied whole."""
AS_VIEW: Form[GraphView] = Form("view", _view)
"""The graph itself, for queries that return one (``returns_graph``)."""


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
) -> Json:
    """Run ``query`` on ``view`` and return Skydive's JSON result (raises GremlinError)."""
    return compile_query(query).run(view, RunOptions(at, window, now_ms))
