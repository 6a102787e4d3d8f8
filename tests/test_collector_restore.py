"""The collector follows the NB through a restore from a backup and a wiped data
directory: real etcd, analyzer and collector processes; the analyzer's graph ends
equal to the NB's translation, and the resync is reported (log, metric, status node)."""

from __future__ import annotations

import asyncio
import copy
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from dragonscope.collector import STATUS_NODE_TYPE
from servers import EtcdServer, RedisServer, free_port
from test_collector_e2e import (
    Cluster,
    EtcdWriter,
    Model,
    RedisWriter,
    apply_churn,
    converge,
    expected_shape,
    initial_model,
    load,
)

pytestmark = pytest.mark.slow


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


async def _status_node(cluster: Cluster) -> dict[str, Any]:
    nodes, _ = await cluster.graph()
    [status] = [n for n in nodes if n["Metadata"].get("Type") == STATUS_NODE_TYPE]
    return dict(status["Metadata"]["Dragonflow"])


async def _resyncs_reported(cluster: Cluster, metrics_port: int, at_least: int) -> None:
    metrics = await _metrics(metrics_port)
    assert metrics["dragonscope_collector_nb_resyncs_total"] >= at_least
    assert metrics["dragonscope_collector_nb_resyncing"] == 0
    for _ in range(40):  # the status node is published with the next flush
        dragonflow = await _status_node(cluster)
        if dragonflow.get("Resyncs", 0) >= at_least:
            break
        await asyncio.sleep(0.25)
    assert dragonflow["Resyncs"] >= at_least and dragonflow["Resyncing"] is False
    assert dragonflow["LastResync"]["Reason"]


@pytest.fixture
def cluster(tmp_path: Path):  # type: ignore[no-untyped-def]
    made = Cluster(tmp_path, auth=False)
    yield made
    made.close()


async def test_etcd_restored_from_a_backup_then_wiped_is_followed(
    etcd_server: EtcdServer, cluster: Cluster, tmp_path: Path
) -> None:
    model, churn = initial_model(21)
    writer = EtcdWriter(etcd_server)
    await writer.connect()
    await load(writer, model)
    backup = tmp_path / "backup.db"
    etcd_server.save_snapshot(backup)
    backed_up: Model = copy.deepcopy(model)
    cluster.start_analyzer()
    metrics_port = free_port()
    collector = cluster.collector(etcd_server.url, "collector", "--metrics-listen",
                                  f"127.0.0.1:{metrics_port}")  # fmt: skip
    collector.start()
    procs = [cluster.analyzer, collector]
    await converge(cluster, lambda: expected_shape(model), procs=procs)
    # Far past the backup's revision, then back to it: the revision goes backwards.
    await apply_churn(writer, model, churn, 400)
    await converge(cluster, lambda: expected_shape(model), procs=procs)
    await writer.close()
    etcd_server.restore_snapshot(backup)
    await converge(cluster, lambda: expected_shape(backed_up), procs=procs)
    await _resyncs_reported(cluster, metrics_port, 1)
    # Changes after the restore are followed from the restored history.
    await writer.connect()
    await apply_churn(writer, backed_up, churn, 30)
    await converge(cluster, lambda: expected_shape(backed_up), procs=procs)
    await writer.close()
    # A wiped data directory, refilled with part of the NB: every other object goes.
    etcd_server.wipe()
    await writer.connect()
    kept = dict(list(backed_up.items())[: len(backed_up) // 3])
    await load(writer, kept)
    await converge(cluster, lambda: expected_shape(kept), procs=procs)
    await _resyncs_reported(cluster, metrics_port, 2)
    await writer.close()
    assert "NB history changed" in collector.tail()


async def test_redis_restart_is_a_reported_resync(
    redis_server: RedisServer, cluster: Cluster
) -> None:
    model, churn = initial_model(22)
    writer = RedisWriter(redis_server)
    await writer.connect()
    await load(writer, model)
    cluster.start_analyzer()
    metrics_port = free_port()
    collector = cluster.collector(f"{redis_server.url}?reconcile=1", "collector",
                                  "--metrics-listen", f"127.0.0.1:{metrics_port}")  # fmt: skip
    collector.start()
    procs = [cluster.analyzer, collector]
    await converge(cluster, lambda: expected_shape(model), procs=procs)
    await writer.close()
    redis_server.kill()  # it comes back with a new run ID, and is then emptied
    redis_server.start()
    await writer.connect()
    await writer.client.flushall()
    kept = dict(list(model.items())[: len(model) // 2])
    writer.topics.clear()
    await load(writer, kept)
    await apply_churn(writer, kept, churn, 20)
    await converge(cluster, lambda: expected_shape(kept), procs=procs)
    await _resyncs_reported(cluster, metrics_port, 1)
    await writer.close()
