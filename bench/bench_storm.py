"""A publisher storm against an analyzer with its default limits.

The analyzer runs as its own process (``dragonscope analyzer``, durable history
in a SQLite file as the command's default). A loader publishes a large graph
(20k nodes + 20k edges) and leaves. Then 220 publishers connect at once, 20 more
than ``max-publishers-per-user`` (every client is the one anonymous user): each
accepted one asks what the analyzer holds for its origin (two Gremlin queries,
as a collector does after connecting) and publishes its cloud's graph as
``NodeAdded``/``EdgeAdded`` messages (a translated sample cloud, about 110 nodes
and 300 edges each); 40 of them also send a ``SyncRequest`` at once, each
answered with the whole graph. Meanwhile another process asks ``/healthz`` every
50 ms and samples the analyzer's RSS.

Reported: ``/healthz`` latency during the storm (p50, p99, max), the analyzer's
peak RSS (its high-water mark, ``VmHWM``), publishers accepted and refused with
the bound each refusal named, and whether every accepted publisher's graph is
exactly in the analyzer afterwards (and nothing of the refused ones).
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import multiprocessing
import random
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import aiohttp
import psutil

from bench.report import Figure
from dragonscope.demo import generate
from dragonscope.nb import parse
from dragonscope.topology import translate

STORM = 200  # AnalyzerSettings.max_publishers_per_user, the default
OVER = 20  # publishers past that bound, to be refused
SYNC_REQUESTS = 40
BIG_NODES = 20_000
BIG_EDGES = 20_000
PROBE_EVERY_S = 0.05
HEALTHZ_P99_S = 1.0
RSS_BOUND_MIB = 2048
CLIENT_TYPE = "bench"


class AnalyzerProcess:
    """``dragonscope analyzer`` on a free loopback port, with history in ``directory``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def __enter__(self) -> AnalyzerProcess:
        history = f"sqlite://{self.directory / 'history.db'}"
        self.log = self.directory / "analyzer.log"
        with self.log.open("w") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "dragonscope",
                    "analyzer",
                    "--listen",
                    "127.0.0.1:0",
                    "--history",
                    history,
                ],
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
            )
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        if "listening on" not in line:
            self.proc.kill()
            raise RuntimeError(f"analyzer did not start: {line!r}")
        self.url = line.split()[-1]
        return self

    def peak_rss(self) -> int:
        """The process's RSS high-water mark in bytes (``VmHWM``)."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
        return psutil.Process(self.proc.pid).memory_info().rss

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        self.proc.wait(30)


def _probe(url: str, pid: int, stop: Any, out: Connection) -> None:
    """In its own process: GET /healthz every 50 ms until ``stop``; sends back
    [(latency s or None on failure)] and the largest RSS sampled."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    analyzer = psutil.Process(pid)
    latencies: list[float | None] = []
    rss = 0
    next_at = time.monotonic()
    while not stop.is_set():
        started = time.monotonic()
        try:
            conn = http.client.HTTPConnection(host, int(port), timeout=30)
            conn.request("GET", "/healthz")
            ok = conn.getresponse().status == 200
            conn.close()
            latencies.append(time.monotonic() - started if ok else None)
        except OSError:
            latencies.append(None)
        with contextlib.suppress(psutil.Error):
            rss = max(rss, analyzer.memory_info().rss)
        next_at += PROBE_EVERY_S
        time.sleep(max(0.0, next_at - time.monotonic()))
    out.send((latencies, rss))
    out.close()


def _frame(type_: str, obj: Any, uuid_: str = "") -> str:
    return json.dumps({"Namespace": "Graph", "Type": type_, "UUID": uuid_, "Obj": obj})


def _clouds(count: int) -> list[tuple[list[dict[str, Any]], list[dict[str, Any]]]]:
    """Translated sample clouds (nodes and edges as a collector sends them)."""
    clouds = []
    for seed in range(count):
        dump = generate("small", seed=seed)
        snapshot = {
            (table, obj["id"]): parse(table, obj["id"], obj)
            for table, rows in dump.items()
            if table != "unique_key"
            for obj in rows
        }
        nodes, edges = translate(snapshot, extensions=[])
        clouds.append(
            (
                [{"ID": n.id, "Metadata": n.metadata} for n in nodes.values()],
                [
                    {"ID": e.id, "Metadata": e.metadata, "Parent": e.parent, "Child": e.child}
                    for e in edges.values()
                ],
            )
        )
    return clouds


@dataclass
class Publisher:
    """One storm client: its graph (IDs its own), and what happened to it."""

    index: int
    nodes: list[dict[str, Any]]
    edges: list[dict[str, Any]]
    sync_request: bool = False
    accepted: bool = False
    refusal: str = ""
    rejections: list[str] = field(default_factory=list)
    reply_bytes: int = 0
    reply_status: int = 0
    close: str = ""  # how the analyzer closed the connection, when not on our close

    @property
    def host_id(self) -> str:
        return f"storm-{self.index}"

    @property
    def origin(self) -> str:
        return f"{CLIENT_TYPE}.{self.host_id}"


def _publishers(count: int) -> list[Publisher]:
    clouds = _clouds(4)
    out = []
    for p in range(count):
        nodes, edges = clouds[p % len(clouds)]
        ids = {n["ID"]: str(uuid.uuid5(uuid.NAMESPACE_URL, f"{p}/{n['ID']}")) for n in nodes}
        for e in edges:
            ids[e["ID"]] = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{p}/{e['ID']}"))
        out.append(
            Publisher(
                p,
                [dict(n, ID=ids[n["ID"]]) for n in nodes],
                [
                    dict(e, ID=ids[e["ID"]], Parent=ids[e["Parent"]], Child=ids[e["Child"]])
                    for e in edges
                ],
            )
        )
    return out


def _headers(host_id: str) -> dict[str, str]:
    return {
        "X-Host-ID": host_id,
        "X-Client-Type": CLIENT_TYPE,
        "X-Client-Protocol": "json",
        "X-Persistence-Policy": "Persistent",
    }


def _big_graph() -> dict[str, Any]:
    rng = random.Random(19)
    nodes = [
        {
            "ID": f"big-{i}",
            "Metadata": {
                "Name": f"port-{i}",
                "Type": "lport",
                "Manager": "dragonflow",
                "MAC": f"fa:16:3e:00:{i >> 8 & 255:02x}:{i & 255:02x}",
                "IPV4": [f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}/24"],
                "Dragonflow": {"topic": f"tenant-{i % 50}", "version": 1},
            },
        }
        for i in range(BIG_NODES)
    ]
    edges = [
        {
            "ID": f"big-e{i}",
            "Metadata": {"RelationType": "layer2"},
            "Parent": f"big-{i % BIG_NODES}",
            "Child": f"big-{rng.randrange(BIG_NODES)}",
        }
        for i in range(BIG_EDGES)
    ]
    return {"Nodes": nodes, "Edges": edges}


async def _load(http: aiohttp.ClientSession, url: str) -> None:
    """Publish the large graph and leave (the close handshake follows its last frame)."""
    ws = await http.ws_connect(url + "/ws/publisher", headers=_headers("storm-loader"))
    await ws.send_str(_frame("Sync", _big_graph()))
    await ws.close()


async def _gremlin(http: aiohttp.ClientSession, url: str, query: str) -> Any:
    async with http.post(url + "/api/topology", json={"GremlinQuery": query}) as response:
        response.raise_for_status()
        return await response.json()


async def _storm_one(
    http: aiohttp.ClientSession, url: str, pub: Publisher, sent: asyncio.Barrier
) -> None:
    try:
        ws = await http.ws_connect(
            url + "/ws/publisher", headers=_headers(pub.host_id), max_msg_size=0
        )
    except aiohttp.WSServerHandshakeError as exc:
        bound = (exc.headers or {}).get("X-Refused", "")
        pub.refusal = f"{exc.status} {bound or 'no bound named'}"
        await sent.wait()
        return
    pub.accepted = True
    reply = asyncio.get_running_loop().create_future() if pub.sync_request else None

    async def read() -> None:
        with contextlib.suppress(aiohttp.ClientError):
            await read_all()

    async def read_all() -> None:
        async for message in ws:
            if message.type != aiohttp.WSMsgType.TEXT:
                continue
            head = message.data[:300]
            if reply is not None and '"UUID":"sync"' in head.replace(" ", ""):
                pub.reply_bytes = len(message.data)
                pub.reply_status = json.loads(head.split(',"Obj"', 1)[0] + "}").get("Status", 0)
                # The reply holds what the publisher sent before asking: its last
                # node and edge at least.
                for element in (pub.nodes[-1], pub.edges[-1]):
                    if f'"ID":"{element["ID"]}"' not in message.data:
                        pub.rejections.append(f"SyncReply without {element['ID']}")
                reply.set_result(None)
            else:
                pub.rejections.append(message.data[:200])

    reader = asyncio.create_task(read())
    try:
        await _gremlin(http, url, f"G.V().Has('@Origin', '{pub.origin}')")
        await _gremlin(http, url, f"G.E().Has('@Origin', '{pub.origin}')")
        for n in pub.nodes:
            await ws.send_str(_frame("NodeAdded", dict(n, Host=pub.host_id, Revision=1)))
        for e in pub.edges:
            await ws.send_str(_frame("EdgeAdded", dict(e, Host=pub.host_id, Revision=1)))
        if reply is not None:
            await ws.send_str(_frame("SyncRequest", None, "sync"))
            await asyncio.wait_for(asyncio.shield(reply), 300)
    except (aiohttp.ClientError, TimeoutError) as exc:
        pub.close = f"{ws.close_code} {exc!r}"
    await sent.wait()  # nobody leaves before every handshake is answered
    closed_by_peer = ws.closed
    await ws.close()  # the analyzer answers the close after applying every frame before it
    reader.cancel()
    if closed_by_peer or ws.close_code != aiohttp.WSCloseCode.OK:
        pub.close = pub.close or f"{ws.close_code} {ws.exception() or ''}"


def _same(expected: list[dict[str, Any]], got: Any, keys: tuple[str, ...]) -> bool:
    if not isinstance(got, list):
        return False
    want = {e["ID"]: tuple(json.dumps(e[k], sort_keys=True) for k in keys) for e in expected}
    have = {e["ID"]: tuple(json.dumps(e.get(k), sort_keys=True) for k in keys) for e in got}
    return want == have


async def _verify(http: aiohttp.ClientSession, url: str, pubs: list[Publisher]) -> list[str]:
    """What is not exact: an accepted publisher's nodes and edges (IDs, metadata, ends)
    must be what it sent; a refused one must have nothing."""
    wrong = []
    for pub in pubs:
        nodes = await _gremlin(http, url, f"G.V().Has('@Origin', '{pub.origin}')")
        edges = await _gremlin(http, url, f"G.E().Has('@Origin', '{pub.origin}')")
        if pub.accepted:
            if not _same(pub.nodes, nodes, ("Metadata",)):
                wrong.append(f"{pub.origin}: nodes differ")
            if not _same(pub.edges, edges, ("Metadata", "Parent", "Child")):
                wrong.append(f"{pub.origin}: edges differ")
        elif nodes or edges:
            wrong.append(f"{pub.origin} was refused but has elements")
    return wrong


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


async def _storm(analyzer: AnalyzerProcess) -> list[Figure]:
    url = analyzer.url
    pubs = _publishers(STORM + OVER)
    for pub in pubs[:SYNC_REQUESTS]:
        pub.sync_request = True
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=None, sock_read=300)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
        await _load(http, url)
        loaded_rss = psutil.Process(analyzer.proc.pid).memory_info().rss
        ctx = multiprocessing.get_context("spawn")
        stop = ctx.Event()
        receive, send = ctx.Pipe(duplex=False)
        probe = ctx.Process(target=_probe, args=(url, analyzer.proc.pid, stop, send))
        probe.start()
        await asyncio.sleep(0.5)
        sent = asyncio.Barrier(len(pubs))
        started = time.monotonic()
        await asyncio.gather(*(_storm_one(http, url, pub, sent) for pub in pubs))
        elapsed = time.monotonic() - started
        stop.set()
        latencies, probed_rss = await asyncio.to_thread(receive.recv)
        probe.join(10)
        peak = max(analyzer.peak_rss(), probed_rss)
        wrong = await _verify(http, url, pubs)
    answered = [s for s in latencies if s is not None]
    failed = len(latencies) - len(answered)
    accepted = [p for p in pubs if p.accepted]
    refusals = Counter(p.refusal for p in pubs if not p.accepted)
    replies = [p for p in accepted if p.sync_request]
    rejected = sum(len(p.rejections) for p in accepted)
    size = (
        f"{len(pubs)} publishers at once ({STORM} = max-publishers-per-user), "
        f"{SYNC_REQUESTS} SyncRequests, {BIG_NODES // 1000}k+{BIG_EDGES // 1000}k graph"
    )
    p99 = _percentile(answered, 0.99) if answered else float("inf")
    verdict = "ok" if p99 <= HEALTHZ_P99_S and not failed else f"over {HEALTHZ_P99_S:g} s"
    probes = f"{len(latencies)} probes every {PROBE_EVERY_S * 1000:.0f} ms, {failed} failed"
    exact = f"{len(accepted) - len({w.split(':')[0] for w in wrong})}/{len(accepted)} exact"
    reply_sizes = sorted(p.reply_bytes for p in replies)
    reply_ok = sum(1 for p in replies if p.reply_status == 200)
    rss_mib = peak / 2**20
    closed = sum(1 for p in accepted if p.close)
    figures = [
        Figure("storm: /healthz p50", _percentile(answered, 0.5) * 1000, "ms", size, probes),
        Figure(
            "storm: /healthz p99", p99 * 1000, "ms", size, f"bound {HEALTHZ_P99_S:g} s: {verdict}"
        ),
        Figure("storm: /healthz max", max(answered) * 1000, "ms", size, probes),
        Figure(
            "storm: analyzer peak RSS",
            rss_mib,
            "MiB",
            size,
            f"VmHWM; {loaded_rss / 2**20:.0f} MiB after loading; bound {RSS_BOUND_MIB} MiB: "
            + ("ok" if rss_mib <= RSS_BOUND_MIB else "over"),
        ),
        Figure(
            "storm: publishers accepted",
            len(accepted),
            "publishers",
            size,
            f"{exact}; {rejected} messages rejected; {closed} closed by the analyzer; "
            f"storm took {elapsed:.1f} s",
        ),
        Figure(
            "storm: publishers refused",
            sum(refusals.values()),
            "publishers",
            size,
            ", ".join(f"{n} x {r}" for r, n in sorted(refusals.items())) or "none",
        ),
        Figure(
            "storm: SyncReplies",
            reply_ok,
            "replies",
            size,
            f"{len(replies)} asked; "
            + (f"{reply_sizes[0] >> 20}-{reply_sizes[-1] >> 20} MiB each" if reply_sizes else ""),
        ),
    ]
    closes = [f"{p.origin}: {p.close}" for p in accepted if p.close]
    if closes:
        print("closed by the analyzer:", *closes[:20], sep="\n  ", flush=True)
    if wrong:
        print("not exact:", *wrong[:20], sep="\n  ", flush=True)
        lines = analyzer.log.read_text().splitlines()
        warnings = [line for line in lines if "WARNING" in line or "ERROR" in line]
        print("analyzer warnings:", *warnings[:20], sep="\n  ", flush=True)
    return figures


def collect() -> list[Figure]:
    with tempfile.TemporaryDirectory() as directory, AnalyzerProcess(Path(directory)) as analyzer:
        return asyncio.run(_storm(analyzer))
