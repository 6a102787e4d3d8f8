"""One collector publishing to two analyzers that share a PostgreSQL history: each
analyzer is kept equal to the NB on its own (one restarting does not hold the other
back), each change is stored once, and both answer the same past."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from dragonscope.analyzer.app import Analyzer
from dragonscope.analyzer.settings import AnalyzerSettings
from dragonscope.collector import STATUS_NODE_TYPE, Collector, CollectorSettings
from dragonscope.demo import sample_backend
from dragonscope.graph import now_ms
from dragonscope.topology import translate
from postgres_server import PostgresServer
from servers import free_port
from stopping import stop_tasks

pytestmark = pytest.mark.timeout(120)


async def until(predicate: Any, timeout: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


def shape(analyzer: Analyzer) -> tuple[dict[str, Any], dict[str, Any]]:
    nodes = {
        n.id: n.metadata for n in analyzer.graph.nodes() if n.metadata["Type"] != STATUS_NODE_TYPE
    }
    return nodes, {e.id: (e.parent, e.child, e.metadata) for e in analyzer.graph.edges()}


def nb_shape(collector: Collector) -> tuple[dict[str, Any], dict[str, Any]]:
    nodes, edges = translate(dict(collector.topology.snapshot), extensions=[])
    return (
        {n.id: n.metadata for n in nodes.values()},
        {e.id: (e.parent, e.child, e.metadata) for e in edges.values()},
    )


async def written(analyzer: Analyzer) -> None:
    recorder = analyzer.recorder
    assert recorder is not None
    await until(lambda: recorder.buffered == 0 and recorder.stats.down_since is None)


def first_port(collector: Collector) -> dict[str, Any]:
    for (table, _), obj in sorted(collector.topology.snapshot.items()):
        if table == "lport" and obj.get("name"):
            return dict(obj.data)
    raise AssertionError("the sample has no named port")


async def test_two_analyzers_kept_in_sync_and_one_history(postgres: PostgresServer) -> None:
    postgres.execute("CREATE DATABASE collected")
    url = postgres.url("collected")
    ports = [free_port(), free_port()]

    def analyzer(port: int) -> Analyzer:
        return Analyzer(AnalyzerSettings(host="127.0.0.1", port=port, history=url))

    a1, a2 = analyzer(ports[0]), analyzer(ports[1])
    await a1.start()
    await a2.start()
    backend = sample_backend("memory://sample")
    collector = Collector(
        CollectorSettings(
            nb=backend, analyzer=",".join(f"127.0.0.1:{p}" for p in ports), extensions=[],
            backoff_initial=0.05, backoff_max=0.2,
        )
    )  # fmt: skip
    task = asyncio.create_task(collector.run())
    try:
        await until(lambda: collector.stats["healthy"])
        for a in (a1, a2):
            await until(lambda a=a: shape(a) == nb_shape(collector))
        port = first_port(collector)
        port["name"] = "renamed-port"
        backend.put("lport", port["id"], port)
        for a in (a1, a2):
            await until(lambda a=a: shape(a) == nb_shape(collector))
            await written(a)
        assert a1.recorder is not None and a2.recorder is not None
        store = a1.recorder.store
        # Both analyzers saw every change; the shared history holds each once.
        assert len(a1.history) == len(a2.history) == await store.count_changes()
        assert a1.recorder.stats.written + a2.recorder.stats.written == len(a1.history)
        await asyncio.sleep(0.05)
        renamed = now_ms()
        await asyncio.sleep(0.05)

        # One analyzer goes away: the other stays in sync with the NB meanwhile.
        await a2.stop()
        await until(
            lambda: not collector.stats["analyzers"][f"http://127.0.0.1:{ports[1]}"]["connected"]
        )
        backend.delete("lport", port["id"])
        await until(lambda: shape(a1) == nb_shape(collector))
        assert collector.stats["analyzers"][f"http://127.0.0.1:{ports[0]}"]["synced"]

        # Back (a new process on the same port): resynced, equal to the NB again.
        a2 = analyzer(ports[1])
        await a2.start()
        await until(lambda: collector.stats["healthy"])
        await until(lambda: shape(a2) == nb_shape(collector) == shape(a1))
        for a in (a1, a2):
            await written(a)
        # The past before the restart: the restarted analyzer reads it from the store
        # and answers what the other remembers.
        assert not a2.history.covers(renamed)
        past = [await a.past.view_at(renamed) for a in (a1, a2)]
        names = [sorted(str(n.metadata.get("Name")) for n in view.nodes()) for view in past]
        assert names[0] == names[1] and "renamed-port" in names[0]
    finally:
        await stop_tasks(task)
        await a1.stop()
        await a2.stop()
