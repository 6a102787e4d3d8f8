"""End to end: NB server, analyzer and collectors as separate processes.

The tests write the NB with their own clients (never through dragonscope),
break things on purpose (kill etcd/redis, the analyzer, the collector; expire
tokens), and then require the analyzer's graph, read over REST, to equal the
translation of the final NB exactly: IDs, Types and metadata.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import psutil
import pytest

from dragonscope.analyzer.users import add_user
from dragonscope.collector import STATUS_NODE_TYPE
from dragonscope.demo import Counts, generate
from dragonscope.demo.churn import Churn
from dragonscope.nb.schema import parse
from dragonscope.topology import discover, translate
from servers import EtcdServer, RedisServer, free_port, wait_port

pytestmark = pytest.mark.slow

DRAGONSCOPE = str(Path(sys.executable).with_name("dragonscope"))
USER, PASSWORD = "collector", "collector-pass-1"
SMALL = Counts(tenants=3, networks_per_tenant=2, vms_per_network=4, chassis=3)


# -- processes ---------------------------------------------------------------------------------
class Proc:
    """One dragonscope command in its own process, restartable with the same arguments."""

    def __init__(self, name: str, args: list[str], tmp: Path) -> None:
        self.name, self.args = name, args
        self.log = tmp / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [DRAGONSCOPE, *self.args], stdout=log, stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )  # fmt: skip

    def signal(self, sig: int) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def kill(self) -> None:
        self.signal(signal.SIGKILL)

    def stop(self) -> None:
        self.signal(signal.SIGTERM)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""


class Cluster:
    """Analyzer + collectors of one test; everything is stopped at the end."""

    def __init__(self, tmp: Path, token_ttl: float | None = None, auth: bool = True) -> None:
        self.tmp = tmp
        self.port = free_port()
        self.auth = auth
        self.procs: list[Proc] = []
        args = ["analyzer", "--listen", f"127.0.0.1:{self.port}"]
        if auth:
            users = tmp / "users"
            add_user(users, USER, "publisher", PASSWORD)
            args += ["--users", str(users)]
            (tmp / "password").write_text(PASSWORD + "\n")
        if token_ttl is not None:
            args += ["--token-ttl", str(token_ttl)]
        self.analyzer = self.add(Proc("analyzer", args, tmp))

    def add(self, proc: Proc) -> Proc:
        self.procs.append(proc)
        return proc

    def start_analyzer(self) -> None:
        self.analyzer.start()
        try:
            wait_port(self.port, 60)
        except TimeoutError:
            pytest.fail(f"the analyzer did not start:\n{self.analyzer.tail()}")

    def collector(self, nb_url: str, name: str = "collector", *extra: str) -> Proc:
        args = [
            "collector", "--nb", nb_url, "--analyzer", f"127.0.0.1:{self.port}",
            "--update-interval", "1", "--backoff-max", "1", *extra,
        ]  # fmt: skip
        if self.auth:
            args += ["--user", USER, "--password-file", str(self.tmp / "password")]
        return self.add(Proc(name, args, self.tmp))

    def close(self) -> None:
        for proc in reversed(self.procs):
            proc.kill()

    async def graph(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        base = f"http://127.0.0.1:{self.port}"
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
            if self.auth:
                async with session.post(
                    f"{base}/login", data={"username": USER, "password": PASSWORD}
                ) as resp:
                    assert resp.status == 200, await resp.text()
            result = []
            for query in ("G.V()", "G.E()"):
                async with session.post(
                    f"{base}/api/topology",
                    json={"GremlinQuery": query},
                    headers={"Accept": "application/json"},
                ) as resp:
                    assert resp.status == 200, await resp.text()
                    result.append(await resp.json(content_type=None))
        return result[0], result[1]


@pytest.fixture
def cluster_factory(tmp_path: Path):  # type: ignore[no-untyped-def]
    made: list[Cluster] = []

    def make(**kwargs: Any) -> Cluster:
        cluster = Cluster(tmp_path, **kwargs)
        made.append(cluster)
        return cluster

    yield make
    for cluster in made:
        cluster.close()


# -- expected graph ------------------------------------------------------------------------------
Model = dict[tuple[str, str], dict[str, Any]]
Shape = tuple[dict[str, Any], dict[str, Any]]


def expected_shape(model: Model, chassis: str | None = None) -> Shape:
    snapshot = {
        key: parse(key[0], key[1], json.dumps(obj))
        for key, obj in model.items()
        if key[0] != "unique_key"
    }
    nodes, edges = translate(snapshot, chassis=chassis, extensions=discover()[0])
    return (
        {n.id: _plain(n.metadata) for n in nodes.values()},
        {e.id: (e.parent, e.child, _plain(e.metadata)) for e in edges.values()},
    )


def _plain(value: Any) -> Any:
    return json.loads(json.dumps(value))


def actual_shape(nodes: list[dict[str, Any]], edges: list[dict[str, Any]]) -> Shape:
    ids = [n["ID"] for n in nodes]
    assert len(ids) == len(set(ids)), "a node ID appears twice"
    return (
        {n["ID"]: n["Metadata"] for n in nodes if n["Metadata"].get("Type") != STATUS_NODE_TYPE},
        {e["ID"]: (e["Parent"], e["Child"], e["Metadata"]) for e in edges},
    )


def describe(actual: Shape, expected: Shape) -> str:
    lines = []
    for label, a, e in (("nodes", actual[0], expected[0]), ("edges", actual[1], expected[1])):
        missing, extra = set(e) - set(a), set(a) - set(e)
        differ = [k for k in set(a) & set(e) if a[k] != e[k]]
        lines.append(
            f"{label}: {len(a)} vs {len(e)} expected; missing {sorted(missing)[:5]}, "
            f"extra {sorted(extra)[:5]}, different {differ[:5]}"
        )
    return "\n".join(lines)


async def converge(
    cluster: Cluster, want: Callable[[], Shape], timeout: float = 60.0, procs: list[Proc] = ()
) -> Shape:
    deadline = time.monotonic() + timeout
    actual: Shape = ({}, {})
    while time.monotonic() < deadline:
        try:
            actual = actual_shape(*await cluster.graph())
        except (aiohttp.ClientError, AssertionError):
            await asyncio.sleep(0.5)
            continue
        if actual == want():
            return actual
        await asyncio.sleep(0.5)
    logs = "\n".join(f"--- {p.name}\n{p.tail()}" for p in procs)
    pytest.fail(f"analyzer did not converge:\n{describe(actual, want())}\n{logs}")


# -- NB writers (the test's own clients) ----------------------------------------------------
class Changes:
    """Realistic NB writes from the demo's churn stream. Should the stream trip
    over its own state, it is restarted over the current NB (the test is about
    the collector, not the stream)."""

    def __init__(self, model: Model, seed: int) -> None:
        self.model, self.seed = model, seed
        self.churn = Churn(self._dump(), seed=seed)

    def _dump(self) -> dict[str, list[dict[str, Any]]]:
        dump: dict[str, list[dict[str, Any]]] = {}
        for (table, _), obj in self.model.items():
            dump.setdefault(table, []).append(obj)
        return dump

    def __next__(self) -> tuple[str, str, dict[str, Any] | None]:
        for _ in range(10):
            try:
                return next(self.churn)
            except (KeyError, StopIteration, IndexError, ValueError):
                self.seed += 1000
                self.churn = Churn(self._dump(), seed=self.seed)
        raise RuntimeError("the churn stream keeps failing")


def initial_model(seed: int) -> tuple[Model, Changes]:
    dump = generate(SMALL, seed=seed)
    model: Model = {}
    for table, rows in dump.items():
        for row in rows:
            model[(table, row["id"])] = row
    return model, Changes(model, seed)


class EtcdWriter:
    def __init__(self, server: EtcdServer) -> None:
        self.server = server
        self.client: Any = None

    async def connect(self) -> None:
        import aetcd

        self.client = aetcd.Client(host="127.0.0.1", port=self.server.port)

    async def close(self) -> None:
        if self.client is not None:
            await self.client.close()
            self.client = None

    async def write(self, table: str, id_: str, obj: dict[str, Any] | None) -> None:
        key = f"/{table}/{id_}".encode()
        if obj is None:
            await self.client.delete(key)
        elif table == "unique_key":
            await self.client.put(key, str(obj["unique_key"]).encode())
        else:
            await self.client.put(key, json.dumps(obj).encode())

    async def revision(self) -> int:
        status = self.server.etcdctl("endpoint", "status", "-w", "json")
        return int(json.loads(status)[0]["Status"]["header"]["revision"])


class RedisWriter:
    """Dragonflow's redis layout: ``{table.topic}id`` → JSON (§ NB layout)."""

    def __init__(self, server: RedisServer) -> None:
        self.server = server
        self.client: Any = None
        self.topics: dict[tuple[str, str], str] = {}

    async def connect(self) -> None:
        import redis.asyncio as aioredis

        self.client = aioredis.Redis(host="127.0.0.1", port=self.server.port)

    async def close(self) -> None:
        if self.client is not None:
            await self.client.aclose()
            self.client = None

    async def write(self, table: str, id_: str, obj: dict[str, Any] | None) -> None:
        if table == "unique_key":
            if obj is not None:
                await self.client.set(f"{{unique_key.}}{id_}", obj["unique_key"])
            return
        old_topic = self.topics.pop((table, id_), None)
        if old_topic is not None:
            await self.client.delete(f"{{{table}.{old_topic}}}{id_}")
        if obj is not None:
            topic = obj.get("topic") or ""
            self.topics[(table, id_)] = topic
            await self.client.set(f"{{{table}.{topic}}}{id_}", json.dumps(obj))


async def load(writer: Any, model: Model) -> None:
    for (table, id_), obj in model.items():
        await writer.write(table, id_, obj)


async def apply_churn(writer: Any, model: Model, churn: Changes, count: int) -> int:
    """Write ``count`` changes; returns how many were NB objects (not unique-key counters)."""
    objects = 0
    for _ in range(count):
        table, id_, obj = next(churn)
        objects += table != "unique_key"
        await writer.write(table, id_, obj)
        if obj is None:
            model.pop((table, id_), None)
        else:
            model[(table, id_)] = obj
    return objects


# -- the tests -------------------------------------------------------------------------------------
async def _chaos_run(cluster: Cluster, server: Any, writer: Any, nb_url: str, seed: int) -> None:
    model, churn = initial_model(seed)
    await writer.connect()
    await load(writer, model)
    cluster.start_analyzer()
    collector = cluster.collector(nb_url)
    collector.start()
    procs = [cluster.analyzer, collector]
    await converge(cluster, lambda: expected_shape(model), procs=procs)

    async def nb_outage() -> None:
        await writer.close()
        server.kill()
        await asyncio.sleep(1.5)  # the collector notices, keeps the graph, marks itself stale
        server.start()
        await writer.connect()

    steps = 10
    for step in range(steps):
        await apply_churn(writer, model, churn, 5000 // steps)
        if step in (1, 6):
            await nb_outage()
        elif step == 3:
            cluster.analyzer.kill()  # graph lost; tokens lost; changes keep coming
        elif step == 4:
            cluster.start_analyzer()
        elif step == 5:
            await asyncio.sleep(2.5)  # tokens (TTL 2 s) expire under the collector's feet
        elif step == 7:
            collector.kill()  # a Persistent origin's leftovers stay in the analyzer
        elif step == 8:
            collector.start()
    await converge(cluster, lambda: expected_shape(model), procs=procs)
    await writer.close()


async def test_etcd_chaos_converges_exactly(etcd_server: EtcdServer, cluster_factory) -> None:  # type: ignore[no-untyped-def]
    cluster = cluster_factory(token_ttl=2.0)
    await _chaos_run(cluster, etcd_server, EtcdWriter(etcd_server), etcd_server.url, seed=11)


async def test_redis_chaos_converges_exactly(redis_server: RedisServer, cluster_factory) -> None:  # type: ignore[no-untyped-def]
    cluster = cluster_factory(token_ttl=2.0)
    url = f"{redis_server.url}?reconcile=1"
    await _chaos_run(cluster, redis_server, RedisWriter(redis_server), url, seed=12)


async def test_collector_never_writes_to_etcd(etcd_server: EtcdServer, cluster_factory) -> None:  # type: ignore[no-untyped-def]
    model, _ = initial_model(3)
    writer = EtcdWriter(etcd_server)
    await writer.connect()
    await load(writer, model)
    before = await writer.revision()
    cluster = cluster_factory(auth=False)
    cluster.start_analyzer()
    collector = cluster.collector(etcd_server.url)
    collector.start()
    await converge(cluster, lambda: expected_shape(model), procs=[collector])
    # Several reconciliation periods and an NB outage, with no test write at all.
    await writer.close()
    etcd_server.restart()
    await asyncio.sleep(3)
    await writer.connect()
    assert await writer.revision() == before
    await writer.close()


async def _metrics(port: int) -> dict[str, float]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{port}/metrics") as resp,
    ):
        text = await resp.text()
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            values[name] = float(value)
    return values


async def test_analyzer_away_nb_consumed_memory_bounded(
    etcd_server: EtcdServer,
    cluster_factory,  # type: ignore[no-untyped-def]
) -> None:
    model, churn = initial_model(5)
    writer = EtcdWriter(etcd_server)
    await writer.connect()
    await load(writer, model)
    cluster = cluster_factory(auth=False)
    cluster.start_analyzer()
    metrics_port = free_port()
    collector = cluster.collector(
        etcd_server.url, "collector", "--metrics-listen", f"127.0.0.1:{metrics_port}"
    )
    collector.start()
    await converge(cluster, lambda: expected_shape(model), procs=[collector])
    process = psutil.Process(collector.pid)
    cluster.analyzer.kill()
    await apply_churn(writer, model, churn, 500)
    await asyncio.sleep(1)
    rss_start = process.memory_info().rss
    events = "dragonscope_collector_nb_events_total"
    events_start = (await _metrics(metrics_port))[events]
    written = 0
    for _ in range(4):
        written += await apply_churn(writer, model, churn, 1000)
    # Every change is consumed while the analyzer is away...
    deadline = time.monotonic() + 15
    while (metrics := await _metrics(metrics_port))[events] - events_start < written:
        assert time.monotonic() < deadline, (metrics[events] - events_start, written)
        await asyncio.sleep(0.2)
    rss_end = process.memory_info().rss
    assert metrics["dragonscope_collector_analyzer_connected"] == 0
    # ...and memory holds desired state, not a backlog of 4000 messages.
    assert rss_end - rss_start < 20 * 2**20, (rss_start, rss_end)
    assert metrics["dragonscope_collector_pending"] <= len(expected_shape(model)[0]) * 2 + 10
    cluster.start_analyzer()
    await converge(cluster, lambda: expected_shape(model), procs=[collector])
    await writer.close()


async def test_chassis_collectors_and_global(etcd_server: EtcdServer, cluster_factory) -> None:  # type: ignore[no-untyped-def]
    model, _ = initial_model(7)
    writer = EtcdWriter(etcd_server)
    await writer.connect()
    await load(writer, model)
    await writer.close()
    chassis_names = sorted(id_ for table, id_ in model if table == "chassis")[:3]
    cluster = cluster_factory(auth=False)
    cluster.start_analyzer()
    global_collector = cluster.collector(
        etcd_server.url, "global", "--persistence", "DeleteOnDisconnect"
    )
    chassis_collectors = {
        name: cluster.collector(etcd_server.url, f"chassis-{name}", "--chassis", name)
        for name in chassis_names
    }
    procs = [global_collector, *chassis_collectors.values()]
    for proc in procs:
        proc.start()

    def union(names: list[str]) -> Shape:
        nodes: dict[str, Any] = {}
        edges: dict[str, Any] = {}
        for name in names:
            n, e = expected_shape(model, chassis=name)
            nodes.update(n)
            edges.update(e)
        return nodes, edges

    # Four collectors, one graph: exactly one node per object.
    await converge(cluster, lambda: expected_shape(model), procs=procs)
    deadline = time.monotonic() + 60
    while True:  # every collector has published its own status node too
        nodes, _ = await cluster.graph()
        status = {n["ID"] for n in nodes if n["Metadata"]["Type"] == STATUS_NODE_TYPE}
        if len(status) == 4:
            break
        assert time.monotonic() < deadline, f"{len(status)} status nodes"
        await asyncio.sleep(0.5)

    # Without the global collector the graph is the union of the chassis slices.
    global_collector.stop()
    await converge(cluster, lambda: union(chassis_names), procs=procs)
    # Stopping one chassis collector removes only what no other one holds.
    chassis_collectors[chassis_names[0]].stop()
    await converge(cluster, lambda: union(chassis_names[1:]), procs=procs)
    # Bringing it back restores its slice.
    chassis_collectors[chassis_names[0]].start()
    await converge(cluster, lambda: union(chassis_names), procs=procs)
