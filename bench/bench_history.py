"""Durable history figures, for SQLite and PostgreSQL in one run.

* write throughput: an analyzer's graph, history and recorder (no sockets) take
  2,000 changes/s for ``LIVE_SECONDS`` in real time; the figure is what the
  store absorbs per second of writing, and the most changes ever waiting says
  whether it kept up;
* then ``CHANGES`` changes (a ``NODES``-node graph, then updates of random
  nodes) are recorded on a simulated clock spread over ``SPAN_HOURS``, as the
  recorder writes them (batches, a checkpoint every fifth of the graph's size
  in changes, here 20k);
* ``G.At(t)`` for t uniformly spread over that history (the store rebuilds
  each from its nearest checkpoint; all but a few are cache misses, so the
  figure is the cold cost; an element's metadata is decoded only when read,
  so a Gremlin query reading every node's, ``G.At(t).V().Has('Type',
  'lport').Count()``, is timed too, through an analyzer's HTTP API),
  ``/api/changes`` over one hour of it (net changes and gaps, without the
  JSON; then the whole HTTP answer from an analyzer),
  bytes on disk per change, and an analyzer's start with that full history
  behind it. The reader freezes what it decodes out of the cyclic collector's
  sight, as in the analyzer's process (its ``gc_freeze``). Beside each wall
  time, the CPU time the process spent on it (all threads): on a machine
  shared with other work, the wall time is the CPU time plus the waits for a
  core.

``BENCH_HISTORY_CHANGES`` / ``BENCH_HISTORY_NODES`` make it smaller.
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from bench.report import Figure
from dragonscope.analyzer import Analyzer, AnalyzerSettings
from dragonscope.graph import Graph, History, Node
from dragonscope.history import DurableHistory, HistoryStore, Recorder, open_store

sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).parent.parent / "scripts"))
from postgres_server import PostgresServer

CHANGES = int(os.environ.get("BENCH_HISTORY_CHANGES", 2_000_000))
NODES = int(os.environ.get("BENCH_HISTORY_NODES", 100_000))
SPAN_HOURS = 10
LIVE_RATE = 2000  # changes/s
LIVE_SECONDS = 15
AT_SAMPLES = 100
QUERY_SAMPLES = 20
START_MS = 1_700_000_000_000


class Clock:
    """Simulated milliseconds, moved by the benchmark."""

    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


def _node(i: int, rev: int) -> Node:
    metadata = {
        "Name": f"port-{i}",
        "Type": "lport",
        "Dragonflow": {"id": f"{i:08x}-port", "rev": rev, "ips": [f"10.{i % 250}.{rev % 250}.1"]},
    }
    return Node(f"n{i}", metadata, "dragonflow", "bench", START_MS, START_MS, None, rev)


def _change(graph: Graph, rng: random.Random, rev: int) -> None:
    i = rng.randrange(NODES)
    old = graph.node(f"n{i}")
    if old is None:
        graph.add_node(_node(i, rev))
    else:
        graph.replace_node(_node(i, rev))


async def _drained(recorder: Recorder) -> None:
    while recorder.buffered:
        await asyncio.sleep(0.01)


async def _live_write(url: str) -> list[Figure]:
    graph = Graph()
    store = open_store(url)
    recorder = Recorder(store, graph)
    History(graph, 600, 100_000, on_change=recorder.push)
    await recorder.start()
    rng = random.Random(1)
    most = rev = 0
    started = time.monotonic()
    for tick in range(LIVE_SECONDS * 100):
        for _ in range(LIVE_RATE // 100):
            rev += 1
            _change(graph, rng, rev)
        most = max(most, recorder.buffered)
        await asyncio.sleep(max(0.0, started + (tick + 1) / 100 - time.monotonic()))
    await _drained(recorder)
    elapsed = time.monotonic() - started
    stats = recorder.stats
    await recorder.stop()
    size = f"{rev:,} changes at {LIVE_RATE:,}/s"
    return [
        Figure(
            "history write throughput",
            stats.written / stats.write_seconds,
            "changes/s",
            size,
            f"{_kind(url)}; capacity while ingesting",
        ),
        Figure(
            "history writer backlog, max",
            most,
            "changes",
            size,
            f"{_kind(url)}; drained {elapsed - LIVE_SECONDS:.1f} s after the end",
        ),
    ]


async def _fill(store: HistoryStore, clock: Clock) -> None:
    graph = Graph()
    recorder = Recorder(store, graph, clock=clock)
    History(graph, 600, 10_000, clock=clock, on_change=recorder.push)
    await recorder.start()
    rng = random.Random(2)
    step = SPAN_HOURS * 3600 * 1000 / CHANGES
    for i in range(NODES):
        clock.now = START_MS + int(i * step)
        graph.add_node(_node(i, 0))
        if not i % 20_000:
            await _drained(recorder)
    for n in range(NODES, CHANGES):
        clock.now = START_MS + int(n * step)
        _change(graph, rng, n)
        if not n % 20_000:
            await _drained(recorder)
    await _drained(recorder)
    await recorder.stop()


async def _timed(job: Callable[[], object]) -> tuple[float, float]:
    """Wall and CPU milliseconds of one job."""
    started, cpu = time.perf_counter(), time.process_time()
    result = job()
    if asyncio.iscoroutine(result):
        await result
    return (time.perf_counter() - started) * 1000, (time.process_time() - cpu) * 1000


def _p(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(len(values) * q))]


async def _store_figures(live_url: str, url: str) -> list[Figure]:
    """``live_url`` and ``url`` are two empty stores: the real-time run and the
    simulated-clock history (its times are in the past) must not share one."""
    kind = _kind(url)
    figures = await _live_write(live_url)
    clock = Clock(START_MS)
    t0 = time.monotonic()
    await _fill(open_store(url), clock)  # the recorder closes it
    fill_s = time.monotonic() - t0
    store = open_store(url)
    await store.open()
    count = await store.count_changes()
    size = f"{count:,} changes, {NODES:,} nodes"
    durable = DurableHistory(store, freeze=True)
    rng = random.Random(3)
    end = clock.now
    times = sorted(
        (rng.randrange(START_MS + 3600_000, end) for _ in range(AT_SAMPLES)),
        key=lambda _: rng.random(),
    )
    timed = [await _timed(lambda t=t: durable.view_at(t)) for t in times]
    walls, cpus = [w for w, _ in timed], [c for _, c in timed]
    hour = rng.randrange(START_MS + 3600_000, end - 3600_000)
    changes_ms, changes_cpu = await _timed(lambda: durable.changes_between(hour, hour + 3600_000))
    per_change = await store.size_bytes() / count
    await store.close()
    t0 = time.perf_counter()
    # As the analyzer's process runs (gc_freeze: its reader freezes what it decodes),
    # keeping everything: the simulated history lies years back, and the default
    # retention would start deleting it under the request.
    analyzer = Analyzer(
        AnalyzerSettings(host="127.0.0.1", port=0, history=url, history_retention=0, gc_freeze=True)
    )
    await analyzer.start()
    restart_ms = (time.perf_counter() - t0) * 1000
    try:
        http = await _http_changes(analyzer.url, hour, hour + 3600_000)
        queried = [await _http_query(analyzer.url, t) for t in times[:QUERY_SAMPLES]]
        q_walls, q_cpus = [w for w, _ in queried], [c for _, c in queried]
    finally:
        await analyzer.stop()
    return [
        *figures,
        Figure("history fill (simulated clock)", count / fill_s, "changes/s", size, kind),
        Figure(
            "G.At(t) p50",
            _p(walls, 0.5),
            "ms",
            size,
            f"{kind}; {AT_SAMPLES} t uniform over {SPAN_HOURS} h; CPU {_p(cpus, 0.5):,.0f} ms",
        ),
        Figure(
            "G.At(t) p99",
            _p(walls, 0.99),
            "ms",
            size,
            f"{kind}; goal <= 1000; CPU p99 {_p(cpus, 0.99):,.0f} ms",
        ),
        Figure(
            "G.At(t).V().Has('Type', 'lport').Count() p50",
            _p(q_walls, 0.5),
            "ms",
            size,
            f"{kind}; {QUERY_SAMPLES} t uniform, over HTTP; every node's metadata read; "
            f"CPU {_p(q_cpus, 0.5):,.0f} ms",
        ),
        Figure(
            "G.At(t).V().Has('Type', 'lport').Count() max",
            max(q_walls),
            "ms",
            size,
            f"{kind}; the same {QUERY_SAMPLES} queries; CPU max {max(q_cpus):,.0f} ms",
        ),
        Figure(
            "/api/changes over 1 h",
            changes_ms,
            "ms",
            size,
            f"{kind}; {CHANGES // SPAN_HOURS:,} changes in the hour; CPU {changes_cpu:,.0f} ms",
        ),
        Figure(
            "GET /api/changes over 1 h",
            http.total_ms,
            "ms",
            size,
            f"{kind}; the same hour from a freshly started analyzer, {http.bytes / 2**20:.0f} MiB "
            f"of JSON, first byte after {http.first_ms:,.0f} ms",
        ),
        Figure("history bytes per change", per_change, "B", size, f"{kind}; with checkpoints"),
        Figure("analyzer start with full history", restart_ms, "ms", size, kind),
    ]


@dataclass(frozen=True, slots=True)
class _Download:
    first_ms: float
    total_ms: float
    bytes: int


async def _http_changes(base: str, start: int, end: int) -> _Download:
    """The whole answer of ``/api/changes`` over HTTP (client and server in this process)."""
    window = {"from": str(start), "to": str(end)}
    async with aiohttp.ClientSession() as http:
        started = time.perf_counter()
        first, size = 0.0, 0
        async with http.get(base + "/api/changes", params=window) as response:
            assert response.status == 200, await response.text()
            async for chunk in response.content.iter_any():
                first = first or time.perf_counter()
                size += len(chunk)
        done = time.perf_counter()
    return _Download((first - started) * 1000, (done - started) * 1000, size)


async def _http_query(base: str, at: int) -> tuple[float, float]:
    """Wall and CPU milliseconds (client and analyzer: one process) of one Gremlin
    query at ``at`` that reads every node's metadata."""
    gremlin = f"G.At({at}).V().Has('Type', 'lport').Count()"

    async def ask() -> None:
        async with (
            aiohttp.ClientSession() as http,
            http.post(base + "/api/topology", json={"GremlinQuery": gremlin}) as response,
        ):
            assert response.status == 200, await response.text()
            assert await response.json() == NODES

    return await _timed(ask)


def _kind(url: str) -> str:
    return url.split(":", 1)[0]


async def collect() -> list[Figure]:
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory(prefix="dragonscope-bench-history-") as tmp:
        figures += await _store_figures(f"sqlite://{tmp}/live.db", f"sqlite://{tmp}/history.db")
    server = PostgresServer()
    server.start()
    try:
        server.execute("CREATE DATABASE live")
        server.execute("CREATE DATABASE bench")
        figures += await _store_figures(server.url("live"), server.url("bench"))
    finally:
        await asyncio.to_thread(server.cleanup)
    return figures
