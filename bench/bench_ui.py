"""Web UI: time to first complete render in headless Chromium, and event-to-screen latency.

A real analyzer process receives a translated sample cloud from a WebSocket publisher; Chromium
opens the UI and we measure, from navigation, until the page reports that the whole graph is
drawn. The live latency is from a publisher sending NodeAdded until the node is on the canvas (at 5k
drawn in full), or counted in its collapsed group's label (at 20k grouped).
"""

from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import aiohttp

from bench.report import Figure
from dragonscope.demo import Counts, generate
from dragonscope.nb.schema import parse
from dragonscope.topology import translate

sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))
from servers import free_port, wait_port
from ui_support import CHROMIUM, CHROMIUM_ARGS

SIZES = {
    "1k": Counts(tenants=20, networks_per_tenant=2, vms_per_network=12, chassis=6),
    "5k": Counts(tenants=78, networks_per_tenant=3, vms_per_network=12, chassis=20),
    "20k": Counts(tenants=312, networks_per_tenant=3, vms_per_network=12, chassis=100),
}  # fmt: skip
LATENCY_SAMPLES = 30
SETTLE_S = 3.0


def graph_for(counts: Counts) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    dump = generate(counts, seed=1)
    snapshot = {}
    for table, rows in dump.items():
        if table == "unique_key":
            continue
        for row in rows:
            obj = parse(table, row["id"], row)
            snapshot[obj.key] = obj
    nodes, edges = translate(snapshot)
    return [n.to_json() for n in nodes.values()], [e.to_json() for e in edges.values()]


def message(type_: str, obj: dict[str, Any]) -> str:
    return json.dumps({"Namespace": "Graph", "Type": type_, "UUID": "", "Status": 200, "Obj": obj})


class Publisher:
    """A WebSocket publisher on its own event loop thread, so the browser code can stay sync."""

    def __init__(self, base: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.base = base
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.session: aiohttp.ClientSession | None = None
        self.call(self._connect())

    def call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(600)

    async def _connect(self) -> None:
        self.session = aiohttp.ClientSession()
        headers = {
            "X-Host-ID": "bench-ui",
            "X-Client-Type": "dragonscope-bench",
            "X-Client-Protocol": "json",
            "X-Persistence-Policy": "Persistent",
        }
        self.ws = await self.session.ws_connect(f"{self.base}/ws/publisher", headers=headers)
        # Reading is what answers the analyzer's pings; without it the connection is dropped.
        self.reader = asyncio.ensure_future(self._drain())

    async def _drain(self) -> None:
        assert self.ws is not None
        async for _ in self.ws:
            pass

    async def _send(self, frames: list[str]) -> None:
        assert self.ws is not None
        for frame in frames:
            await self.ws.send_str(frame)

    def send(self, frames: list[str]) -> None:
        self.call(self._send(frames))

    def close(self) -> None:
        async def _close() -> None:
            if self.ws is not None:
                await self.ws.close()
                await self.reader
            if self.session is not None:
                await self.session.close()

        self.call(_close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


def count(base: str, query: str) -> int:
    import urllib.request

    body = json.dumps({"GremlinQuery": query}).encode()
    req = urllib.request.Request(f"{base}/api/topology", body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return int(json.loads(resp.read()))


def measure_size(label: str, counts: Counts, browser: Any) -> list[Figure]:
    nodes, edges = graph_for(counts)
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "dragonscope", "analyzer", "--listen", f"127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    figures: list[Figure] = []
    try:
        wait_port(port, timeout=60)
        base = f"http://127.0.0.1:{port}"
        publisher = Publisher(base)
        publisher.send([message("NodeAdded", n) for n in nodes])
        publisher.send([message("EdgeAdded", e) for e in edges])
        deadline = time.monotonic() + 120
        # The whole graph, edges too: a page opened earlier would draw part of it and take the
        # rest as a stream of live events, measured as if they were the first render's.
        for query, want_count in (("G.V().Count()", len(nodes)), ("G.E().Count()", len(edges))):
            while count(base, query) < want_count and time.monotonic() < deadline:
                time.sleep(0.2)
        size = f"{len(nodes):,} nodes, {len(edges):,} edges"
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        want = len(nodes)
        for mode, hash_ in (("drawn in full", f"#limit={want + 1000}&expand=all"), ("grouped", "")):
            if label != "20k" and mode == "grouped":
                continue
            t0 = time.perf_counter()
            page.goto(f"{base}/{hash_}")
            page.wait_for_function(
                f"window.dragonscope?.ready && window.dragonscope.model.nodes.size >= {want}",
                timeout=180_000,
                polling=50,
            )
            # Complete means painted: two animation frames after the page has built the scene.
            page.evaluate(
                "() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))"
            )
            elapsed = time.perf_counter() - t0
            drawn = page.evaluate("window.dragonscope.canvas.drawnNodeCount()")
            figures.append(
                Figure(f"UI first complete render, {mode}", elapsed, "s", size, f"{drawn:,} drawn")
            )
            if (label, mode) in (("5k", "drawn in full"), ("20k", "grouped")):
                figures.append(live_latency(page, publisher, nodes, f"{size}, {mode}", label))
        page.close()
        publisher.close()
    finally:
        proc.terminate()
        proc.wait(20)
    return figures


# On screen: drawn itself, or counted in the collapsed group that stands for it (the group's
# label changed in the same render).
ON_SCREEN = """(id) => { const d = window.dragonscope;
  return Boolean(d.scene && d.scene.visible.has(id)
    && (d.canvas.cy.getElementById(id).nonempty() || !d.scene.nodes.has(id))); }"""


def live_latency(
    page: Any, publisher: Publisher, nodes: list[dict[str, Any]], size: str, tag: str
) -> Figure:
    network = next(n for n in nodes if n["Metadata"].get("Type") == "lswitch")
    # Steady state: after the first render the canvas spends a few seconds caching its picture
    # (and the page fetches its problems and pickers); live latency is measured once settled.
    time.sleep(SETTLE_S)
    samples = []
    for i in range(LATENCY_SAMPLES):
        node_id = f"bench-ui-live-{tag}-{i}"
        node = {
            "ID": node_id,
            "Host": "",
            "Metadata": {
                "Name": f"live-{i}",
                "Type": "lport",
                "Tenant": network["Metadata"].get("Tenant"),
            },
        }
        edge = {
            "ID": f"{node_id}-own",
            "Host": "",
            "Parent": network["ID"],
            "Child": node_id,
            "Metadata": {"RelationType": "ownership"},
        }
        t0 = time.perf_counter()
        publisher.send([message("NodeAdded", node), message("EdgeAdded", edge)])
        page.wait_for_function(ON_SCREEN, arg=node_id, polling="raf", timeout=60_000)
        page.evaluate(
            "() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))"
        )
        samples.append((time.perf_counter() - t0) * 1000)
    samples.sort()
    p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))]
    return Figure(
        "UI event-to-screen latency p50 (p99)",
        statistics.median(samples),
        "ms",
        size,
        f"p99 {p99:.0f} ms over {LATENCY_SAMPLES} NodeAdded",
    )


def collect() -> list[Figure]:
    from playwright.sync_api import sync_playwright

    figures: list[Figure] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for label, counts in SIZES.items():
                figures.extend(measure_size(label, counts, browser))
        finally:
            browser.close()
    return figures
