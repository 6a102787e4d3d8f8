"""Analyzer figures: ingest rate, fan-out latency, memory with an hour of history, and
how long the event loop stalls while big answers are built.

Ingest and fan-out run the analyzer as its own process (``dragonscope
analyzer``), with the clients in this process, over loopback WebSocket. Memory
is measured in this process on the analyzer's graph, store, index and history,
fed directly with a simulated clock so that an hour of churn takes seconds.

Loop stalls: an embedded analyzer holds 100k nodes + 150k edges and 30 minutes
of churn; a ticker coroutine on its loop records the longest gap between two
of its 1 ms ticks while a client, on its own thread and loop, asks for the
whole graph. The client thread competes for the GIL, so figures include up to
a few ms of its work.
"""

from __future__ import annotations

import asyncio
import gc
import json
import random
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable

import aiohttp
import psutil

from bench.report import Figure
from dragonscope.analyzer import Analyzer, AnalyzerSettings
from dragonscope.graph.history import History
from dragonscope.graph.index import Indexer
from dragonscope.graph.model import Edge, Graph, Node
from dragonscope.graph.store import GraphStore

PUBLISHERS = 4
MESSAGES_PER_PUBLISHER = 25_000
SUBSCRIBERS = 20
FANOUT_EVENTS = 400
FANOUT_RATE = 200  # events/s
NODES = 100_000
EDGES = 150_000
CHURN_PER_S = 30
CHURN_SECONDS = 3600


def _metadata(i: int, kind: str = "lport") -> dict:
    return {
        "Name": f"port-{i}",
        "Type": kind,
        "Manager": "dragonflow",
        "MAC": f"fa:16:3e:{i >> 16 & 255:02x}:{i >> 8 & 255:02x}:{i & 255:02x}",
        "IPV4": [f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}/24"],
        "Neutron": {
            "PortID": f"{i:08x}-0000-4000-8000-000000000000",
            "NetworkID": f"net-{i % 500}",
        },
        "Dragonflow": {"topic": f"tenant-{i % 50}", "version": 1, "enabled": True},
        "State": "UP",
    }


class AnalyzerProcess:
    def __enter__(self) -> str:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "dragonscope", "analyzer", "--listen", "127.0.0.1:0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        if "listening on" not in line:
            self.proc.kill()
            raise RuntimeError(f"analyzer did not start: {line!r}")
        return line.split()[-1]

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def _frame(type_: str, obj: dict, uuid: str = "") -> str:
    return json.dumps({"Namespace": "Graph", "Type": type_, "UUID": uuid, "Obj": obj})


async def _settle(ws: aiohttp.ClientWebSocketResponse) -> None:
    """Messages are applied in order: the rejection of this one acknowledges all before it."""
    await ws.send_str(_frame("NodeDeleted", {"ID": "no-such-node", "Metadata": {}}, "s"))
    while True:
        reply = json.loads((await ws.receive()).data)
        if reply.get("UUID") == "s":
            return


async def _ingest(url: str) -> Figure:
    """4 publishers each add 40% new nodes then update them (60%), concurrently."""
    batches = []
    for p in range(PUBLISHERS):
        adds = int(MESSAGES_PER_PUBLISHER * 0.4)
        frames = [
            _frame("NodeAdded", {"ID": f"p{p}-{i}", "Metadata": _metadata(i), "Revision": 1})
            for i in range(adds)
        ]
        for r in range(MESSAGES_PER_PUBLISHER - adds):
            i = r % adds
            meta = dict(_metadata(i), State="DOWN" if r % 2 else "UP")
            frames.append(
                _frame("NodeUpdated", {"ID": f"p{p}-{i}", "Metadata": meta, "Revision": 2 + r})
            )
        batches.append(frames)
    async with aiohttp.ClientSession() as http:
        sockets = [
            await http.ws_connect(
                url + "/ws/publisher", headers={"X-Host-ID": f"bench-{p}", "X-Client-Type": "bench"}
            )
            for p in range(PUBLISHERS)
        ]

        async def run(ws: aiohttp.ClientWebSocketResponse, frames: list[str]) -> None:
            for frame in frames:
                await ws.send_str(frame)
            await _settle(ws)

        started = time.perf_counter()
        await asyncio.gather(
            *(run(ws, frames) for ws, frames in zip(sockets, batches, strict=True))
        )
        elapsed = time.perf_counter() - started
        for ws in sockets:
            await ws.close()
    total = PUBLISHERS * MESSAGES_PER_PUBLISHER
    return Figure(
        "analyzer ingest",
        total / elapsed,
        "messages/s",
        f"{PUBLISHERS} publishers x {MESSAGES_PER_PUBLISHER:,} msgs",
        "NodeAdded 40% / NodeUpdated 60%, until the last is applied",
    )


async def _fanout(url: str) -> list[Figure]:
    """One publisher updates a node at a steady rate; 20 subscribers time each event."""
    latencies: list[float] = []
    async with aiohttp.ClientSession() as http:
        pub = await http.ws_connect(
            url + "/ws/publisher", headers={"X-Host-ID": "fan-pub", "X-Client-Type": "bench"}
        )
        await pub.send_str(_frame("NodeAdded", {"ID": "hot", "Metadata": _metadata(0)}))
        subs = [
            await http.ws_connect(
                url + "/ws/subscriber", headers={"X-Host-ID": f"s{i}", "X-Client-Type": "bench"}
            )
            for i in range(SUBSCRIBERS)
        ]
        await _settle(pub)

        async def listen(ws: aiohttp.ClientWebSocketResponse) -> None:
            seen = 0
            while seen < FANOUT_EVENTS:
                message = await ws.receive(timeout=30)
                now = time.time_ns()
                event = json.loads(message.data)
                if event["Type"] != "NodeUpdated":
                    continue
                latencies.append((now - event["Obj"]["Metadata"]["SentAt"]) / 1e6)
                seen += 1

        listeners = [asyncio.create_task(listen(ws)) for ws in subs]
        for r in range(FANOUT_EVENTS):
            meta = dict(_metadata(0), SentAt=time.time_ns())
            await pub.send_str(
                _frame("NodeUpdated", {"ID": "hot", "Metadata": meta, "Revision": r + 1})
            )
            await asyncio.sleep(1 / FANOUT_RATE)
        await asyncio.gather(*listeners)
        for ws in [pub, *subs]:
            await ws.close()
    latencies.sort()
    size = f"{SUBSCRIBERS} subscribers, {FANOUT_EVENTS} events at {FANOUT_RATE}/s"
    note = "publisher send to subscriber receive, both clients in one process"
    return [
        Figure("fan-out latency p50", latencies[len(latencies) // 2], "ms", size, note),
        Figure("fan-out latency p99", latencies[int(len(latencies) * 0.99)], "ms", size, note),
    ]


def _memory() -> list[Figure]:
    gc.collect()
    process = psutil.Process()
    before = process.memory_info().rss
    clock = [1_700_000_000_000]
    graph = Graph()
    Indexer.attach(graph)
    store = GraphStore(graph, clock=lambda: clock[0])
    history = History(
        graph, retention_s=2 * CHURN_SECONDS, max_changes=10_000_000, clock=lambda: clock[0]
    )
    for i in range(NODES):
        store.add_node(Node(f"n{i}", _metadata(i)), "bench.collector")
    rng = random.Random(7)
    for i in range(EDGES):
        parent, child = f"n{i % NODES}", f"n{rng.randrange(NODES)}"
        store.add_edge(
            Edge(f"e{i}", {"RelationType": "layer2"}, parent=parent, child=child), "bench.collector"
        )
    start = clock[0]
    changes = CHURN_PER_S * CHURN_SECONDS
    extra = 0
    for c in range(changes):
        clock[0] = start + c * 1000 // CHURN_PER_S
        kind = c % 10
        if kind < 8:  # metadata churn: port state flaps, version bumps
            n = graph.node(f"n{rng.randrange(NODES)}")
            if n is not None:
                store.set_metadata(n, dict(n.metadata, State=rng.choice(["UP", "DOWN"]), Seq=c))
        elif kind == 8:  # a VM port is created
            store.add_node(Node(f"x{extra}", _metadata(NODES + extra)), "bench.collector")
            extra += 1
        elif extra:  # and another is deleted
            victim = f"x{rng.randrange(extra)}"
            if graph.node(victim) is not None:
                store.delete_node(victim, "bench.collector")
    gc.collect()
    rss = (process.memory_info().rss - before) / 2**20
    started = time.perf_counter()
    past = history.view_at(start + CHURN_SECONDS * 500)
    view_ms = (time.perf_counter() - started) * 1000
    started = time.perf_counter()
    history.changes_between(start + CHURN_SECONDS * 500, clock[0])
    diff_ms = (time.perf_counter() - started) * 1000
    size = f"{NODES // 1000}k nodes + {EDGES // 1000}k edges + {changes:,} changes (1 h)"
    return [
        Figure("analyzer RSS with 1 h history", rss, "MiB", size, "graph, index, holds, history"),
        Figure("history view_at 30 min ago", view_ms, "ms", size, f"{past.node_count():,} nodes"),
        Figure(
            "history changes over 30 min", diff_ms, "ms", size, "net diff, before /api/changes JSON"
        ),
    ]


class Ticker:
    """Ticks every millisecond on the loop and remembers the longest gap beyond that,
    in wall time and in the loop thread's CPU time (what the loop itself spent: on
    a busy machine the wall gap also counts time the thread waited for a core)."""

    def __init__(self) -> None:
        self.worst = 0.0
        self.worst_cpu = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _tick(self) -> None:
        while True:
            started, cpu = time.perf_counter(), time.thread_time()
            await asyncio.sleep(0.001)
            self.worst = max(self.worst, time.perf_counter() - started - 0.001)
            self.worst_cpu = max(self.worst_cpu, time.thread_time() - cpu)

    def __enter__(self) -> Ticker:
        self._task = asyncio.get_running_loop().create_task(self._tick())
        return self

    def __exit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()


def _in_thread(make: Callable[[], Awaitable[int]]) -> Awaitable[int]:
    """Run a client coroutine on its own loop in a thread, awaitable from this loop."""
    future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    loop = asyncio.get_running_loop()

    def work() -> None:
        try:
            result = asyncio.run(make())
        except BaseException as exc:
            loop.call_soon_threadsafe(future.set_exception, exc)
        else:
            loop.call_soon_threadsafe(future.set_result, result)

    threading.Thread(target=work, daemon=True).start()
    return future


def _load_big(analyzer: Analyzer, clock: list[int]) -> tuple[int, int]:
    """100k nodes, 150k edges, then 30 minutes of churn; returns the churn window."""
    store, graph = analyzer.store, analyzer.graph
    for i in range(NODES):
        store.add_node(Node(f"n{i}", _metadata(i)), "bench.collector")
    rng = random.Random(7)
    for i in range(EDGES):
        parent, child = f"n{i % NODES}", f"n{rng.randrange(NODES)}"
        store.add_edge(
            Edge(f"e{i}", {"RelationType": "layer2"}, parent=parent, child=child), "bench.collector"
        )
    start = clock[0]
    extra = 0
    for c in range(CHURN_PER_S * CHURN_SECONDS // 2):
        clock[0] = start + 1 + c * 1000 // CHURN_PER_S
        if c % 10 < 8:
            n = graph.node(f"n{rng.randrange(NODES)}")
            if n is not None:
                store.set_metadata(n, dict(n.metadata, State=rng.choice(["UP", "DOWN"]), Seq=c))
        elif c % 10 == 8:
            store.add_node(Node(f"x{extra}", _metadata(NODES + extra)), "bench.collector")
            extra += 1
        elif extra:
            victim = f"x{rng.randrange(extra)}"
            if graph.node(victim) is not None:
                store.delete_node(victim, "bench.collector")
    return start, clock[0]


async def _stalls() -> list[Figure]:
    clock = [int(time.time() * 1000) - CHURN_SECONDS * 1000]
    analyzer = Analyzer(AnalyzerSettings(port=0, host_id="bench", gc_freeze=True))
    analyzer.history._clock = lambda: clock[0]  # 30 minutes of churn in seconds
    analyzer.history.horizon = clock[0]
    start, end = _load_big(analyzer, clock)
    clock[0] = end
    figures: list[Figure] = []
    size = f"{NODES // 1000}k nodes + {EDGES // 1000}k edges"
    async with analyzer:
        url = analyzer.url

        async def topology() -> int:
            async with (
                aiohttp.ClientSession() as http,
                http.post(
                    url + "/api/topology",
                    json={"GremlinQuery": "G.V()"},
                    headers={"Accept-Encoding": "identity"},
                ) as response,
            ):
                return len(await response.read())

        async def sync_request() -> int:
            async with aiohttp.ClientSession() as http:
                ws = await http.ws_connect(
                    url + "/ws/subscriber",
                    headers={"X-Host-ID": "stall", "X-Client-Type": "bench"},
                    max_msg_size=0,
                )
                await ws.send_str(_frame("SyncRequest", {"GremlinFilter": None}, "sync"))
                while True:
                    message = await ws.receive(timeout=60)
                    if '"SyncReply"' in message.data[:200]:
                        await ws.close()
                        return len(message.data)

        async def changes() -> int:
            async with (
                aiohttp.ClientSession() as http,
                http.get(
                    url + f"/api/changes?from={start}&to={end}",
                    headers={"Accept-Encoding": "identity"},
                ) as response,
            ):
                return len(await response.read())

        for name, client, what in (
            ("loop stall: POST /api/topology G.V()", topology, size),
            ("loop stall: subscriber SyncRequest", sync_request, f"{size}, whole graph"),
            ("loop stall: /api/changes over 30 min", changes, f"{size}, 54,000 changes"),
        ):
            gc.collect()
            await asyncio.sleep(1.5)  # as in a running analyzer: its GC policy has had a turn
            with Ticker() as ticker:
                await asyncio.sleep(0.05)
                started = time.perf_counter()
                length = await _in_thread(client)
                elapsed = time.perf_counter() - started
            figures.append(
                Figure(
                    name,
                    ticker.worst_cpu * 1000,
                    "ms CPU",
                    what,
                    f"wall {ticker.worst * 1000:.0f} ms; {length >> 20} MiB in {elapsed:.1f} s",
                )
            )
    return figures


async def _network() -> list[Figure]:
    with AnalyzerProcess() as url:
        figures = [await _ingest(url)]
    with AnalyzerProcess() as url:
        figures += await _fanout(url)
    return figures


def collect() -> list[Figure]:
    figures = asyncio.run(_network())
    figures += _memory()
    gc.collect()
    return figures + asyncio.run(_stalls())
