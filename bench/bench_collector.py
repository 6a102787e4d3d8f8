"""Collector figures on a 100k-object NB in etcd, against Dragonflow's original approach.

Each service (a per-chassis collector for a chassis with about 200 ports, the
global collector, then the baseline) runs as its own process against a fresh
analyzer process, with a history file of its own (the analyzer's default file is
shared by every analyzer of the machine and grows from run to run: an ingest
slowed by it measured that file, not the collector); a subscriber on the
analyzer observes the result:

* initial sync: process start → the subscriber has seen every node and edge,
  and the CPU time the service and the analyzer spent until then (a loaded machine
  stretches the first, hardly the others; on two cores the sync takes at least half
  their sum);
* propagation latency: etcd put → subscriber event, at 500 changes/s, beside the
  put's own round trip (etcd's share of it) and the CPU each change cost the
  service and the analyzer;
* idle: messages sent and CPU time of the service over 60 s with no change;
* memory: RSS after the sync, its peak during the sync, and after the idle minute;
* restart: the collector started again against the analyzer that held its graph,
  until in sync, with its CPU and peak RSS. The global collector's graph outlives
  its connection: it must learn what the analyzer holds and send nothing again. A
  chassis collector's slice goes with its connection (``DeleteOnDisconnect``, as a
  Skydive agent's): its restart is a first sync again.

The floor, a bare etcd range read and ``json.loads`` of every value in a
process of its own, is measured in the same run: no reader of this NB can do
with less. So is the analyzer's own floor for the global graph: the elements the
global collector publishes, encoded beforehand in the collector's ``Batch``
frames and sent over one publisher connection as fast as a fresh analyzer (with
its history and one subscriber, as above) takes them. No collector can sync
the global graph sooner than that analyzer applies it.

The baseline does what ``df_skydive_service`` did: every ``update_interval``
(10 s) it reads the whole NB, translates it and re-sends every element. The
original sent only ``NodeAdded``/``EdgeAdded``, which an analyzer ignores for
an ID it already has, so its updates never appeared at all; the baseline is
given the benefit of ``NodeUpdated``/``EdgeUpdated`` with a fresh revision for
known IDs, so that its latency is measurable. Like the original, it never
sends deletions.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import psutil

from bench.report import Figure
from dragonscope.graph import Edge, Node
from dragonscope.skydive import HDR_CLIENT_TYPE, HDR_HOST_ID, batch_frame

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from servers import EtcdServer, free_port, wait_port  # noqa: E402

SIZE = "large"  # the demo generator's ~100k-object cloud
RATE = 500  # changes per second
LATENCY_SECONDS = 10
IDLE_SECONDS = 60
# ``BENCH_COLLECTOR_MODES=chassis`` measures only those services (for quick iterations);
# the floor is always measured.
MODES = os.environ.get("BENCH_COLLECTOR_MODES", "chassis,collector,baseline").split(",")
INTERVAL = 10.0  # Dragonflow's default update_interval
CHASSIS_PORTS = 200  # the per-chassis collector watches a chassis with about this many ports
DRAGONSCOPE = str(Path(sys.executable).with_name("dragonscope"))
STATUS_TYPE = "dragonscope-collector"


class Subscriber:
    """A /ws/subscriber client that counts elements and timestamps renamed ports.

    It shares the machine with what it measures: it decodes with orjson, as the
    collector and the analyzer do, so that half a million frames cost the observer
    a few seconds of CPU rather than the tens ``json`` took from the services."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.added = 0
        self.seen_names: dict[str, float] = {}
        self._session: aiohttp.ClientSession | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._session = aiohttp.ClientSession()
        ws = await self._session.ws_connect(
            f"http://127.0.0.1:{self.port}/ws/subscriber",
            headers={"X-Host-ID": f"bench-{os.getpid()}", "X-Client-Type": "bench"},
            max_msg_size=0,
        )
        self._task = asyncio.create_task(self._read(ws))

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for frame in ws:
            if frame.type != aiohttp.WSMsgType.TEXT:
                continue
            now = time.monotonic()
            message = orjson.loads(frame.data)
            kind, obj = message.get("Type"), message.get("Obj") or {}
            metadata = obj.get("Metadata") or {}
            if kind in ("NodeAdded", "EdgeAdded") and metadata.get("Type") != STATUS_TYPE:
                self.added += 1
            if kind in ("NodeUpdated", "NodeAdded"):
                name = metadata.get("Name")
                if isinstance(name, str) and name.startswith("bench-"):
                    self.seen_names.setdefault(name, now)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self._session is not None:
            await self._session.close()


class Service:
    def __init__(self, args: list[str], log: Path) -> None:
        self.log = log
        with open(log, "ab") as out:
            self.proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
        self.ps = psutil.Process(self.proc.pid)

    def peak_rss(self) -> float:
        """The process's high-water mark of resident memory, MiB (Linux)."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return self.ps.memory_info().rss / 2**20

    def cpu(self) -> float:
        times = self.ps.cpu_times()
        return times.user + times.system

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


async def _metrics(port: int) -> dict[str, float]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{port}/metrics") as resp,
    ):
        text = await resp.text()
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
    return out


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


LABELS = {
    "collector": "global collector",
    "chassis": "per-chassis collector",
    "baseline": "baseline (resend all)",
}


async def _measure(
    mode: str,
    etcd: EtcdServer,
    ports: list[dict[str, Any]],
    expected: int,
    tmp: Path,
    chassis: str = "",
) -> tuple[list[Figure], int]:
    import aetcd

    from dragonscope.nb import encode

    analyzer, port = _fresh_analyzer(mode, tmp)
    subscriber = Subscriber(port)
    await subscriber.start()
    metrics_port = free_port()
    if mode != "baseline":
        args = [
            DRAGONSCOPE, "collector", "--nb", etcd.url, "--analyzer", f"127.0.0.1:{port}",
            "--update-interval", str(INTERVAL), "--metrics-listen", f"127.0.0.1:{metrics_port}",
            "--no-progress",
        ]  # fmt: skip
        if mode == "chassis":
            args += ["--chassis", chassis]
    else:
        args = [sys.executable, "-m", "bench.bench_collector", "baseline", etcd.url, str(port)]
    started = time.monotonic()
    service = Service(args, tmp / f"{mode}.log")
    label = LABELS[mode]
    figures: list[Figure] = []
    size = f"{expected:,} graph elements"
    if mode == "chassis":
        size += f" ({chassis}, {len(ports)} ports)"
    try:
        while subscriber.added < expected:
            if service.proc.poll() is not None:
                raise RuntimeError(f"{mode} exited:\n{(tmp / f'{mode}.log').read_text()[-2000:]}")
            if time.monotonic() - started > 600:
                raise RuntimeError(f"{mode}: initial sync incomplete ({subscriber.added})")
            await asyncio.sleep(0.05)
        sync_seconds = time.monotonic() - started
        sync_cpu, analyzer_sync_cpu = service.cpu(), analyzer.cpu()
        # A connection lost during the sync (the analyzer saw no pong while the service's
        # loop was held) costs a resync: say so beside the time it stretched.
        lost = await _reconnects(mode, metrics_port)
        figures.append(
            Figure(
                f"{label}: initial sync",
                sync_seconds,
                "s",
                size,
                f"{lost} reconnection(s) to the analyzer" if lost else "",
            )
        )
        figures.append(Figure(f"{label}: CPU until synced", sync_cpu, "CPU s", size))
        figures.append(
            Figure(
                f"{label}: analyzer CPU until synced",
                analyzer_sync_cpu,
                "CPU s",
                size,
                "with one subscriber and the history",
            )
        )
        figures.append(
            Figure(f"{label}: RSS after sync", service.ps.memory_info().rss / 2**20, "MiB", size)
        )
        figures.append(Figure(f"{label}: peak RSS during sync", service.peak_rss(), "MiB", size))
        await asyncio.sleep(2)

        # Propagation latency at RATE changes/s: rename ports, watch the names arrive.
        client = aetcd.Client(host="127.0.0.1", port=etcd.port)
        sent: dict[str, float] = {}
        commits: list[float] = []  # each put's round trip: etcd's share of the latency
        total = RATE * LATENCY_SECONDS
        cpu_start, analyzer_cpu_start = service.cpu(), analyzer.cpu()
        begin = time.monotonic()
        for seq in range(total):
            due = begin + seq / RATE
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            port_obj = dict(ports[seq % len(ports)])
            name = f"bench-{mode}-{seq}"
            port_obj["name"] = name
            sent[name] = time.monotonic()
            await client.put(f"/lport/{port_obj['id']}".encode(), encode(port_obj))
            commits.append((time.monotonic() - sent[name]) * 1000)
        achieved = total / (time.monotonic() - begin)
        await client.close()
        await _settle(subscriber, sent, len(ports), mode)
        cpu_per_change = (service.cpu() - cpu_start) / total * 1e6
        analyzer_per_change = (analyzer.cpu() - analyzer_cpu_start) / total * 1e6
        # Only the last name of each port can still be observed once updates coalesce
        # (by design for us; between rounds for the baseline): measure those that arrived.
        latencies = [
            (subscriber.seen_names[n] - t) * 1000
            for n, t in sent.items()
            if n in subscriber.seen_names
        ]
        last_names = {f"bench-{mode}-{seq}" for seq in range(total - len(ports), total)}
        delivered_last = sum(1 for n in last_names if n in subscriber.seen_names)
        note = (
            f"{achieved:.0f} changes/s over {LATENCY_SECONDS} s, {len(ports)} ports; "
            f"{len(latencies):,} of {total:,} intermediate names observed; "
            f"final state of {delivered_last}/{len(last_names)} ports delivered"
        )
        if latencies:
            figures.append(
                Figure(f"{label}: latency p50", _percentile(latencies, 50), "ms", size, note)
            )
            figures.append(
                Figure(f"{label}: latency p99", _percentile(latencies, 99), "ms", size, note)
            )
            for pct in (50, 99):
                figures.append(
                    Figure(
                        f"{label}: etcd put round trip p{pct}", _percentile(commits, pct),
                        "ms", size, "the bench's own put, within the latency above",
                    )
                )  # fmt: skip

        figures.append(
            Figure(f"{label}: CPU per NB change", cpu_per_change, "µs", size, f"{total:,} changes")
        )
        figures.append(
            Figure(
                f"{label}: analyzer CPU per NB change", analyzer_per_change, "µs", size,
                f"{total:,} changes, with one subscriber and the history",
            )
        )  # fmt: skip

        # Idle: no NB change for IDLE_SECONDS.
        await asyncio.sleep(2)
        sent_before = await _sent(mode, metrics_port, tmp)
        cpu_before = service.cpu()
        await asyncio.sleep(IDLE_SECONDS)
        sent_after = await _sent(mode, metrics_port, tmp)
        cpu_after = service.cpu()
        idle = f"{IDLE_SECONDS} s idle, update_interval {INTERVAL:g} s"
        figures.append(
            Figure(f"{label}: messages while idle", sent_after - sent_before, "msgs", size, idle)
        )
        figures.append(
            Figure(f"{label}: CPU while idle", cpu_after - cpu_before, "CPU s", size, idle)
        )
        figures.append(
            Figure(
                f"{label}: idle CPU", (cpu_after - cpu_before) / IDLE_SECONDS * 100,
                "% of a core", size, idle,
            )
        )  # fmt: skip
        figures.append(
            Figure(f"{label}: steady RSS", service.ps.memory_info().rss / 2**20, "MiB", size, idle)
        )
        if mode != "baseline":
            service.stop()
            service = Service(args, tmp / f"{mode}-restart.log")
            figures += await _restarted(service, mode, metrics_port, tmp, label, size)
    finally:
        service.stop()
        await subscriber.stop()
        analyzer.stop()
    return figures, expected


async def _restarted(
    service: Service, mode: str, metrics_port: int, tmp: Path, label: str, size: str
) -> list[Figure]:
    """A collector restarted against an analyzer that holds its whole graph: until it knows
    the analyzer holds exactly what it wants, what that costs, and what it sends again."""
    started = time.monotonic()
    while True:
        if service.proc.poll() is not None:
            log = (tmp / f"{mode}-restart.log").read_text()[-2000:]
            raise RuntimeError(f"{mode} exited after its restart:\n{log}")
        if time.monotonic() - started > 600:
            raise RuntimeError(f"{mode}: not in sync 600 s after its restart")
        try:
            metrics = await _metrics(metrics_port)
        except aiohttp.ClientError:  # not listening yet
            metrics = {}
        if metrics.get("dragonscope_collector_synced") == 1:
            break
        await asyncio.sleep(0.1)
    seconds, cpu = time.monotonic() - started, service.cpu()
    sent = await _sent(mode, metrics_port, tmp)
    note = f"{sent:,.0f} messages sent again"
    return [
        Figure(f"{label}: restart, until in sync", seconds, "s", size, note),
        Figure(f"{label}: restart, CPU until in sync", cpu, "CPU s", size),
        Figure(f"{label}: restart, peak RSS", service.peak_rss(), "MiB", size),
    ]


async def _settle(subscriber: Subscriber, sent: dict[str, float], ports: int, mode: str) -> None:
    """Wait until the final name of every port arrived (or a generous deadline)."""
    last = list(sent)[-ports:]
    deadline = time.monotonic() + (240 if mode == "baseline" else 30)
    while time.monotonic() < deadline and not all(n in subscriber.seen_names for n in last):
        await asyncio.sleep(0.2)
    await asyncio.sleep(1)


async def _reconnects(mode: str, metrics_port: int) -> int:
    if mode == "baseline":
        return 0
    metrics = await _metrics(metrics_port)
    return int(metrics.get("dragonscope_collector_analyzer_reconnects_total", 0))


async def _sent(mode: str, metrics_port: int, tmp: Path) -> float:
    if mode != "baseline":
        metrics = await _metrics(metrics_port)
        return sum(
            v
            for k, v in metrics.items()
            if k.startswith("dragonscope_collector_messages_out_total")
        )
    lines = [
        line for line in (tmp / "baseline.log").read_text().splitlines() if line.startswith("sent ")
    ]
    return float(lines[-1].split()[1]) if lines else 0.0


async def collect() -> list[Figure]:
    from dragonscope.demo import generate
    from dragonscope.demo.writers import write
    from dragonscope.nb.schema import parse
    from dragonscope.topology import discover, translate

    dump = generate(SIZE, seed=1)
    snapshot = {
        (table, obj["id"]): parse(table, obj["id"], obj)
        for table, rows in dump.items()
        if table != "unique_key"
        for obj in rows
    }
    nodes, edges = translate(snapshot, extensions=discover()[0])
    expected = len(nodes) + len(edges)
    ports = [o for o in dump["lport"] if o.get("name")][:1000]
    chassis, local = _chassis_near(dump, CHASSIS_PORTS)
    slice_nodes, slice_edges = translate(snapshot, chassis, discover()[0])
    del snapshot
    etcd = EtcdServer()
    etcd.start()
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory(prefix="dragonscope-bench-collector-") as tmp:
        try:
            t0 = time.monotonic()
            count = await write(dump, etcd.url)
            print(
                f"loaded {count:,} objects into etcd in {time.monotonic() - t0:.1f} s", flush=True
            )
            floor = _floor(etcd.url, Path(tmp))
            for figure in floor:
                print(f"  {figure.name}: {figure.value:.4g} {figure.unit}", flush=True)
            figures.extend(floor)
            if "collector" in MODES:
                alone = await _analyzer_alone(nodes, edges, Path(tmp))
                for figure in alone:
                    print(f"  {figure.name}: {figure.value:.4g} {figure.unit}", flush=True)
                figures.extend(alone)
            runs = [
                ("chassis", local, len(slice_nodes) + len(slice_edges)),
                ("collector", ports, expected),
                ("baseline", ports, expected),
            ]
            for mode, changed, count in (run for run in runs if run[0] in MODES):
                result, _ = await _measure(mode, etcd, changed, count, Path(tmp), chassis)
                for figure in result:
                    print(
                        f"  {figure.name}: {figure.value:.4g} {figure.unit} ({figure.note})",
                        flush=True,
                    )
                figures.extend(result)
        finally:
            etcd.cleanup()
    return figures


def _chassis_near(dump: dict[str, list[dict[str, Any]]], wanted: int) -> tuple[str, list[dict]]:
    """The chassis with the number of bound ports closest to ``wanted``, and its named ports."""
    bound: dict[str, list[dict[str, Any]]] = {}
    for port in dump["lport"]:
        binding = port.get("binding") or {}
        if binding.get("chassis"):
            bound.setdefault(binding["chassis"], []).append(port)
    name = min(sorted(bound), key=lambda c: abs(len(bound[c]) - wanted))
    return name, [p for p in bound[name] if p.get("name")] or bound[name]


def _floor(url: str, tmp: Path) -> list[Figure]:
    """A bare etcd range read of the NB and ``json.loads`` of every value, in its own
    process: what any reader of this NB must pay at the very least."""
    out = tmp / "floor.json"
    subprocess.run(
        [sys.executable, "-m", "bench.bench_collector", "floor", url, str(out)],
        check=True, cwd=HERE.parent,
    )  # fmt: skip
    result = json.loads(out.read_text())
    size = f"{result['objects']:,} NB objects"
    return [
        Figure("floor (etcd read + json.loads): time", result["seconds"], "s", size),
        Figure("floor (etcd read + json.loads): peak RSS", result["peak_mib"], "MiB", size),
    ]


async def _analyzer_alone(
    nodes: dict[str, Node], edges: dict[str, Edge], tmp: Path
) -> list[Figure]:
    """The analyzer's floor: the global graph applied from frames encoded beforehand,
    planned and batched as the collector does, nothing else working but the bench's
    sender and subscriber."""
    from dragonscope.collector.publish import CHUNK
    from dragonscope.collector.revisions import RevisionClock
    from dragonscope.collector.state import HeldState, Planner

    planner, held = Planner("bench.alone", "bench", RevisionClock()), HeldState()
    node_ids, edge_ids = list(nodes), list(edges)
    planned = [
        *(planner.node_upserts(node_ids[i : i + CHUNK], nodes, held)
          for i in range(0, len(node_ids), CHUNK)),
        *(planner.edge_upserts(edge_ids[i : i + CHUNK], edges, held)
          for i in range(0, len(edge_ids), CHUNK)),
    ]  # fmt: skip
    frames = [
        batch_frame(f"alone-{n}", [message.batch_item() for message in messages])
        for n, messages in enumerate(planned)
    ]
    del planned
    expected = len(nodes) + len(edges)
    analyzer, port = _fresh_analyzer("alone", tmp)
    subscriber = Subscriber(port)
    try:
        await subscriber.start()
        async with aiohttp.ClientSession() as session:
            ws = await session.ws_connect(
                f"http://127.0.0.1:{port}/ws/publisher",
                headers={HDR_HOST_ID: "alone", HDR_CLIENT_TYPE: "bench"},
            )
            cpu, started = analyzer.cpu(), time.monotonic()
            for frame in frames:
                await ws.send_frame(frame, aiohttp.WSMsgType.TEXT)
            while subscriber.added < expected:
                if analyzer.proc.poll() is not None or time.monotonic() - started > 600:
                    raise RuntimeError(f"analyzer alone: {subscriber.added} of {expected} applied")
                await asyncio.sleep(0.05)
            seconds, cpu = time.monotonic() - started, analyzer.cpu() - cpu
            await ws.close()
    finally:
        await subscriber.stop()
        analyzer.stop()
    size = f"{expected:,} graph elements"
    note = f"{len(frames):,} Batch frames from one publisher, with one subscriber and the history"
    return [
        Figure("analyzer alone (global graph): initial sync", seconds, "s", size, note),
        Figure("analyzer alone (global graph): CPU", cpu, "CPU s", size, note),
        Figure("analyzer alone (global graph): CPU per element", cpu / expected * 1e6, "µs", size),
    ]


def _fresh_analyzer(name: str, tmp: Path) -> tuple[Service, int]:
    """An analyzer process of its own, with a history file of its own; its port."""
    port = free_port()
    analyzer = Service(
        [
            DRAGONSCOPE, "analyzer", "--listen", f"127.0.0.1:{port}",
            "--history", f"sqlite://{tmp / f'history-{name}.db'}",
        ],
        tmp / f"analyzer-{name}.log",
    )  # fmt: skip
    wait_port(port, 60)
    return analyzer, port


async def floor(nb_url: str, out: str) -> None:
    """Over gRPC, the fastest wire etcd speaks (the collector reads through etcd's
    HTTP/JSON gateway, which spares it the gRPC runtime's memory)."""
    import grpc
    from aetcd import rpc

    from dragonscope.nb.backends import EtcdUrl, parse_url, split_etcd_key

    url = parse_url(nb_url)
    assert isinstance(url, EtcdUrl)
    host, port = url.endpoints[0]
    channel = grpc.aio.insecure_channel(
        f"{host}:{port}", options=[("grpc.max_receive_message_length", 256 * 2**20)]
    )
    kv = rpc.KVStub(channel)
    started = time.monotonic()
    key, revision, parsed = b"/", 0, []
    while True:
        request = rpc.RangeRequest(key=key, range_end=b"0", limit=2000, revision=revision)
        response = await kv.Range(request, timeout=60)
        revision = revision or response.header.revision
        parsed.extend(json.loads(i.value) for i in response.kvs if split_etcd_key(i.key))
        if not response.more or not response.kvs:
            break
        key = response.kvs[-1].key + b"\0"
    seconds = time.monotonic() - started
    await channel.close()
    peak = int(Path("/proc/self/status").read_text().split("VmHWM:")[1].split()[0]) / 1024
    Path(out).write_text(json.dumps({"seconds": seconds, "peak_mib": peak, "objects": len(parsed)}))


# -- the baseline service, run as its own process --------------------------------------------------
async def baseline(nb_url: str, port: int) -> None:
    """Dragonflow's original exporter loop: read all, translate, send all, sleep."""
    from dragonscope.nb.reader import open_reader
    from dragonscope.skydive.messages import (
        EDGE_ADDED,
        EDGE_UPDATED,
        NODE_ADDED,
        NODE_UPDATED,
        new_message,
    )
    from dragonscope.skydive.publisher import Publisher, PublisherDisconnected
    from dragonscope.skydive.rest import AnalyzerHttp
    from dragonscope.topology import discover, translate

    reader = open_reader(nb_url)
    publisher = Publisher(AnalyzerHttp(f"http://127.0.0.1:{port}"), "baseline", "df-skydive")
    known: set[str] = set()
    sent = revision = 0
    extensions = discover()[0]
    kinds = ((NODE_ADDED, NODE_UPDATED), (EDGE_ADDED, EDGE_UPDATED))
    while True:
        snapshot, _ = await reader.snapshot()
        # (The original blocked its process here; a thread keeps the WebSocket's pings
        # answered so the analyzer does not drop the connection mid-round.)
        graph = await asyncio.to_thread(translate, snapshot, None, extensions)
        revision += 1
        try:
            if not publisher.connected:
                await publisher.connect()
            for elements, (added, updated) in zip(graph, kinds, strict=True):
                for index, element in enumerate(elements.values()):
                    obj = element.to_json()
                    obj.update(Host="dragonflow", Revision=revision, CreatedAt=None, UpdatedAt=None)
                    kind = updated if element.id in known else added
                    await publisher.send(new_message(kind, obj))
                    known.add(element.id)
                    sent += 1
                    if index % 500 == 0:
                        await asyncio.sleep(0)
        except PublisherDisconnected:
            await publisher.disconnect()
            continue
        finally:
            print(f"sent {sent}", flush=True)
        await asyncio.sleep(INTERVAL)


if __name__ == "__main__" and len(sys.argv) == 4 and sys.argv[1] == "baseline":
    asyncio.run(baseline(sys.argv[2], int(sys.argv[3])))
if __name__ == "__main__" and len(sys.argv) == 4 and sys.argv[1] == "floor":
    asyncio.run(floor(sys.argv[2], sys.argv[3]))
