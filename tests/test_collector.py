"""The embedded collector against the real analyzer, in one process: sync, minimal
diffs, coalescing, silence when idle, reconciliation, stale NB, health, leftovers."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from dragonscope.analyzer.app import Analyzer
from dragonscope.analyzer.settings import AnalyzerSettings
from dragonscope.collector import STATUS_NODE_TYPE, Collector, CollectorSettings
from dragonscope.collector.progress import Progress
from dragonscope.collector.state import Learned
from dragonscope.demo import sample_backend
from dragonscope.nb import parse
from dragonscope.skydive.messages import NODE_ADDED, new_message
from dragonscope.skydive.publisher import Publisher
from dragonscope.skydive.rest import AnalyzerHttp
from dragonscope.topology import translate, unpack
from servers import EtcdServer, free_port, self_signed_cert
from stopping import stop_tasks


@pytest.fixture
async def analyzer() -> AsyncIterator[Analyzer]:
    server = Analyzer(AnalyzerSettings(port=0))
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def until(predicate, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


class Running:
    """A collector task that is always cancelled at the end of the test."""

    def __init__(self, collector: Collector) -> None:
        self.collector = collector
        self.task = asyncio.create_task(collector.run())

    async def synced(self) -> Collector:
        await until(lambda: self.collector.synced or self.task.done())
        if self.task.done():
            self.task.result()
        return self.collector

    async def stop(self) -> None:
        await stop_tasks(self.task)


@pytest.fixture
async def running() -> AsyncIterator[Any]:
    started: list[Running] = []

    def start(settings: CollectorSettings) -> Running:
        run = Running(Collector(settings))
        started.append(run)
        return run

    yield start
    for run in started:
        await run.stop()


def graph_shape(analyzer: Analyzer) -> tuple[dict[str, Any], dict[str, Any]]:
    nodes = {
        n.id: n.metadata
        for n in analyzer.graph.nodes()
        if n.metadata.get("Type") != STATUS_NODE_TYPE
    }
    edges = {e.id: (e.parent, e.child, e.metadata) for e in analyzer.graph.edges()}
    return nodes, edges


def translated(
    collector: Collector, chassis: str | None = None, snapshot: dict | None = None
) -> tuple[dict, dict]:
    """The graph the collector should publish: of its NB state, or of ``snapshot`` (a
    chassis collector keeps only skeletons of what its slice does not show)."""
    if snapshot is None:
        snapshot = dict(collector.topology.snapshot)
    nodes, edges = translate(snapshot, chassis=chassis, extensions=[])
    return (
        {n.id: n.metadata for n in nodes.values()},
        {e.id: (e.parent, e.child, e.metadata) for e in edges.values()},
    )


def settings(analyzer: Analyzer, nb: Any, **kwargs: Any) -> CollectorSettings:
    return CollectorSettings(nb=nb, analyzer=f"127.0.0.1:{analyzer.port}", extensions=[], **kwargs)


async def first_port(collector: Collector) -> dict[str, Any]:
    for (table, _), obj in collector.topology.snapshot.items():
        if table == "lport" and obj.get("name"):
            return dict(obj.data)
    raise AssertionError("the sample has no named port")


async def test_embedded_sync_then_minimal_diffs(analyzer: Analyzer, running) -> None:  # type: ignore[no-untyped-def]
    backend = sample_backend("memory://sample")
    collector = await running(settings(analyzer, backend)).synced()
    await until(lambda: graph_shape(analyzer) == translated(collector))
    status = [n for n in analyzer.graph.nodes() if n.metadata["Type"] == STATUS_NODE_TYPE]
    assert [n.metadata["Dragonflow"]["Stale"] for n in status] == [False]
    assert all(n.host == "dragonflow" for n in analyzer.graph.nodes())
    sent = collector.stats["messages_out_total"]
    assert sent == len(analyzer.graph.to_json()["Nodes"]) + analyzer.graph.edge_count()

    port = await first_port(collector)
    port["name"] = "renamed-port"
    backend.put("lport", port["id"], port)
    await until(
        lambda: any(n.metadata.get("Name") == "renamed-port" for n in analyzer.graph.nodes())
    )
    await until(lambda: graph_shape(analyzer) == translated(collector))
    # One object changed: a handful of messages, never a resend.
    assert collector.stats["messages_out_total"] - sent <= 5

    backend.delete("lport", port["id"])
    await until(
        lambda: not any(n.metadata.get("Name") == "renamed-port" for n in analyzer.graph.nodes())
    )
    await until(lambda: graph_shape(analyzer) == translated(collector))
    stats = collector.stats
    assert stats["nb_events"] == 2 and stats["healthy"] and stats["pending"] == 0
    assert stats["nb_objects"]["lport"] == sum(
        1 for table, _ in collector.topology.snapshot if table == "lport"
    )


async def test_skydive_times_and_partial_updates(analyzer: Analyzer, running) -> None:  # type: ignore[no-untyped-def]
    """A change goes as a partial update with ops; the analyzer keeps the creation time the
    collector sent and the update time of the change."""
    backend = sample_backend("memory://sample")
    collector = await running(settings(analyzer, backend)).synced()
    await until(lambda: graph_shape(analyzer) == translated(collector))
    port = await first_port(collector)

    def stored() -> Any:
        return next(
            (n for n in analyzer.graph.nodes() if n.metadata.get("Dragonflow", {}).get("ID")
             == port["id"] and n.metadata["Type"] == "lport"),
            None,
        )  # fmt: skip

    before = stored()
    assert before is not None and before.created_at and before.created_at <= before.updated_at
    port["name"] = "partially-updated"
    backend.put("lport", port["id"], port)
    await until(lambda: stored() is not None and stored().metadata["Name"] == "partially-updated")
    after = stored()
    assert after.created_at == before.created_at and after.updated_at > before.updated_at
    assert collector.stats["messages_out"].get("NodePartiallyUpdated", 0) >= 1


async def burst(  # type: ignore[no-untyped-def]
    analyzer: Analyzer, running, window: float, going: Callable[[int, float], bool]
) -> tuple[Collector, int, float, int]:
    """Rename one port back to back, each change seen by the collector on its own, while
    ``going(changes so far, seconds so far)``; once the analyzer shows the last name and
    nothing is pending: the collector, the changes, the burst's seconds, the messages sent."""
    backend = sample_backend("memory://sample")
    collector = await running(settings(analyzer, backend, coalesce_window=window)).synced()
    port = await first_port(collector)
    before = collector.stats["messages_out_total"]
    loop = asyncio.get_running_loop()
    started = loop.time()
    changes = 0
    while going(changes, loop.time() - started):
        port = dict(port, name=f"burst-{changes}")
        backend.put("lport", port["id"], port)
        changes += 1
        await asyncio.sleep(0)
    seconds = loop.time() - started
    last = f"burst-{changes - 1}"
    await until(lambda: any(n.metadata.get("Name") == last for n in analyzer.graph.nodes()))
    await until(lambda: collector.stats["pending"] == 0)
    return collector, changes, seconds, collector.stats["messages_out_total"] - before


async def test_a_burst_costs_a_few_messages(analyzer: Analyzer, running) -> None:  # type: ignore[no-untyped-def]
    window = 0.1
    collector, _, seconds, sent = await burst(analyzer, running, window, lambda n, _: n < 100)
    assert collector.stats["nb_events"] >= 90, "the changes should arrive one by one"
    # One message per flush window, not one per change.
    assert sent <= 2 + seconds / window and sent < 25, (sent, seconds)


async def test_a_long_burst_costs_one_message_per_window(analyzer: Analyzer, running) -> None:  # type: ignore[no-untyped-def]
    """Changes that arrive while a flush is under way wait for the next window too: a
    burst spanning many windows costs one message per window, however slow each flush."""
    window = 0.1
    collector, changes, seconds, sent = await burst(
        analyzer, running, window, lambda _, elapsed: elapsed < 5 * window
    )
    assert changes >= 20 and collector.stats["nb_events"] >= changes * 0.9, changes
    assert sent <= 2 + seconds / window, (sent, seconds, changes)


async def test_idle_means_silent(analyzer: Analyzer, running) -> None:  # type: ignore[no-untyped-def]
    backend = sample_backend("memory://sample")
    collector = await running(settings(analyzer, backend, update_interval=0.05)).synced()
    before = collector.stats["messages_out_total"]
    await until(lambda: collector.stats["reconciliations"] >= 5)
    assert collector.stats["messages_out_total"] == before
    assert collector.stats["reconcile_fixes"] == 0


async def test_reconciliation_repairs_a_drift(analyzer: Analyzer, running) -> None:  # type: ignore[no-untyped-def]
    backend = sample_backend("memory://sample")
    collector = await running(settings(analyzer, backend, update_interval=3600)).synced()
    node_id = next(iter(collector.topology.nodes))
    held = collector.held
    assert held is not None
    have = held.nodes[node_id]
    held.nodes[node_id] = Learned({"Name": "drifted", "Type": "lport"}, have.revision, have.host)
    before = collector.stats["messages_out_total"]
    assert await collector.reconcile() == 1
    await until(lambda: collector.stats["messages_out_total"] == before + 1)
    assert unpack(held.nodes[node_id].metadata) == collector.topology.nodes[node_id].metadata


async def test_rejection_leads_to_a_resync(
    analyzer: Analyzer,
    running,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    from dragonscope.collector import service

    monkeypatch.setattr(service, "_STABLE_AFTER", 0.1)
    backend = sample_backend("memory://sample")
    collector = await running(settings(analyzer, backend, update_interval=0.1)).synced()
    await until(lambda: graph_shape(analyzer) == translated(collector))
    port = await first_port(collector)
    # Someone deletes the port's node behind the collector's back...
    node_id = next(n.id for n in analyzer.graph.nodes() if n.metadata.get("Name") == port["name"])
    async with (
        aiohttp.ClientSession() as session,
        session.delete(f"http://127.0.0.1:{analyzer.port}/api/node/{node_id}") as resp,
    ):
        assert resp.status == 200
    # ...so the next update of that port is rejected, and the collector resyncs.
    backend.put("lport", port["id"], dict(port, name="after-delete"))
    await until(lambda: collector.stats["analyzer_rejections"] >= 1)
    await until(lambda: collector.stats["resyncs"] >= 2)
    await until(lambda: graph_shape(analyzer) == translated(collector))
    assert analyzer.graph.node(node_id).metadata["Name"] == "after-delete"


async def test_leftovers_of_our_origin_are_removed(analyzer: Analyzer, running) -> None:  # type: ignore[no-untyped-def]
    # A previous run published a node that no longer exists in the NB.
    http = AnalyzerHttp(f"http://127.0.0.1:{analyzer.port}")
    ghost = Publisher(http, "dragonflow")
    await ghost.connect()
    await ghost.send(
        new_message(NODE_ADDED, {"ID": "ghost", "Metadata": {"Name": "g", "Type": "lport"}})
    )
    await until(lambda: analyzer.graph.node("ghost") is not None)
    await ghost.disconnect()
    await http.close()
    collector = await running(settings(analyzer, sample_backend("memory://sample"))).synced()
    await until(lambda: analyzer.graph.node("ghost") is None)
    await until(lambda: graph_shape(analyzer) == translated(collector))


async def test_a_restarted_collector_resends_nothing_the_analyzer_holds(  # type: ignore[no-untyped-def]
    analyzer: Analyzer, running
) -> None:
    """What the analyzer holds is asked a part of the ID space at a time (each answer a
    fraction of the graph), and every element found as desired is taken as sent."""
    backend = sample_backend("memory://sample")
    first = running(settings(analyzer, backend))
    published = (await first.synced()).stats["messages_out_total"]
    await first.stop()
    second = await running(settings(analyzer, backend)).synced()
    held = second.held
    assert held is not None
    assert len(held.nodes) + len(held.edges) > 0.9 * published
    assert all(have.source is not None for have in [*held.nodes.values(), *held.edges.values()])
    assert second.stats["messages_out_total"] <= 2  # the status node's, at most
    assert second.stats["reconcile_fixes"] == 0
    assert graph_shape(analyzer) == translated(second)


async def test_chassis_mode(analyzer: Analyzer, running) -> None:  # type: ignore[no-untyped-def]
    backend = sample_backend("memory://sample")
    snapshot = backend._store.snapshot()[0]
    chassis = sorted(e.id for e in snapshot if e.table == "chassis")[0]
    collector = await running(settings(analyzer, backend, chassis=chassis)).synced()
    stored = {(e.table, e.id): parse(e.table, e.id, e.value) for e in snapshot}
    await until(lambda: graph_shape(analyzer) == translated(collector, chassis, stored))
    assert {n.host for n in analyzer.graph.nodes()} == {chassis}
    assert collector.origin == f"dragonscope-collector.{chassis}"


async def _get(port: int, path: str) -> tuple[int, str]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{port}{path}") as resp,
    ):
        return resp.status, await resp.text()


def _status_stale(analyzer: Analyzer) -> list[bool]:
    return [
        n.metadata["Dragonflow"]["Stale"]
        for n in analyzer.graph.nodes()
        if n.metadata["Type"] == STATUS_NODE_TYPE
    ]


async def test_nb_outage_marks_stale_and_recovers(
    analyzer: Analyzer,
    running,
    etcd_server: EtcdServer,  # type: ignore[no-untyped-def]
) -> None:
    etcd_server.put("/chassis/compute-1", json.dumps({"id": "compute-1", "ip": "10.0.0.1"}))
    etcd_server.put("/lswitch/net-1", json.dumps({"id": "net-1", "name": "n1"}))
    metrics = free_port()
    run = running(
        settings(
            analyzer, etcd_server.url, metrics_listen=f"127.0.0.1:{metrics}",
            nb_probe_interval=0.1,
        )
    )  # fmt: skip
    collector = await run.synced()
    await until(lambda: _status_stale(analyzer) == [False])
    status, body = await _get(metrics, "/healthz")
    assert status == 200 and json.loads(body)["status"] == "ok"
    await until(lambda: graph_shape(analyzer) == translated(collector))
    nodes_before = graph_shape(analyzer)

    etcd_server.kill()
    await until(lambda: _status_stale(analyzer) == [True])
    status, body = await _get(metrics, "/healthz")
    assert status == 503 and "NB unreachable" in json.loads(body)["problems"][0]
    assert graph_shape(analyzer) == nodes_before  # the last graph stays published
    _, text = await _get(metrics, "/metrics")
    assert "dragonscope_collector_nb_stale 1" in text

    etcd_server.start()
    etcd_server.put("/lswitch/net-2", json.dumps({"id": "net-2", "name": "n2"}))
    await until(lambda: _status_stale(analyzer) == [False])
    await until(lambda: any(n.metadata.get("Name") == "n2" for n in analyzer.graph.nodes()))
    await until(lambda: graph_shape(analyzer) == translated(collector))
    status, _ = await _get(metrics, "/healthz")
    assert status == 200


async def test_metrics_text(analyzer: Analyzer, running) -> None:  # type: ignore[no-untyped-def]
    metrics = free_port()
    backend = sample_backend("memory://sample")
    await running(settings(analyzer, backend, metrics_listen=f"127.0.0.1:{metrics}")).synced()
    status, text = await _get(metrics, "/metrics")
    assert status == 200
    for name in (
        'dragonscope_collector_nb_objects{table="lport"}',
        "dragonscope_collector_nb_events_total",
        'dragonscope_collector_messages_out_total{type="NodeAdded"}',
        "dragonscope_collector_lag_seconds",
        "dragonscope_collector_analyzer_reconnects_total",
        "dragonscope_collector_analyzer_rejections_total",
        "dragonscope_collector_last_sync_timestamp_seconds",
        "dragonscope_collector_synced 1",
    ):
        assert name in text, name


async def test_no_sync_is_reported_before_the_nb_is_read(  # type: ignore[no-untyped-def]
    analyzer: Analyzer, running
) -> None:
    """Connected to the analyzer with nothing to send, but the NB unread: not in sync."""
    metrics = free_port()
    unreachable = f"etcd://127.0.0.1:{free_port()}"
    collector = running(settings(analyzer, unreachable, metrics_listen=f"127.0.0.1:{metrics}"))
    await until(lambda: collector.collector.stats["analyzer_connected"])
    await asyncio.sleep(0.5)
    _, text = await _get(metrics, "/metrics")
    assert "dragonscope_collector_analyzer_connected 1" in text
    assert "dragonscope_collector_synced 0" in text
    assert "last_sync_timestamp_seconds" not in text


async def test_analyzer_outage_then_resync(running) -> None:  # type: ignore[no-untyped-def]
    port = free_port()
    server = Analyzer(AnalyzerSettings(port=port))
    await server.start()
    backend = sample_backend("memory://sample")
    try:
        collector = await running(
            CollectorSettings(
                nb=backend, analyzer=f"127.0.0.1:{port}", extensions=[],
                backoff_initial=0.05, backoff_max=0.2,
            )
        ).synced()  # fmt: skip
        await server.stop()
        await until(lambda: not collector.stats["analyzer_connected"])
        port_obj = await first_port(collector)
        backend.delete("lport", port_obj["id"])
        await until(lambda: collector.stats["nb_events"] == 1)
        server = Analyzer(AnalyzerSettings(port=port))
        await server.start()
        await until(lambda: collector.synced)
        await until(lambda: server.graph.node_count() > 0)
        await until(lambda: graph_shape(server) == translated(collector))
        assert collector.stats["resyncs"] == 2
    finally:
        await server.stop()


def test_progress_on_a_terminal_and_in_logs(caplog: pytest.LogCaptureFixture) -> None:
    screen = io.StringIO()
    progress = Progress("initial sync", 10, stream=screen, tty=True)
    progress.advance(10)
    progress.finish()
    assert "10/10" in screen.getvalue() and "100.0%" in screen.getvalue()
    caplog.set_level(logging.INFO)
    quiet = io.StringIO()
    progress = Progress("initial sync", 10, stream=quiet, tty=False, log_every=0)
    progress.advance(5)
    progress.finish()
    assert quiet.getvalue() == ""
    assert "initial sync progress done=5 total=10" in caplog.text
    assert "initial sync done count=5" in caplog.text


def test_isolated_from_dragonflow_and_eventlet() -> None:
    """The collector runs beside the controller, never inside it: no Dragonflow,
    Neutron or eventlet module is ever imported."""
    import subprocess
    import sys

    code = (
        "import sys, dragonscope.cli.collector, dragonscope.collector.service, "
        "dragonscope.nb.reader, dragonscope.topology\n"
        "print(sorted(m for m in sys.modules "
        "if m.split('.')[0] in ('dragonflow', 'neutron', 'eventlet', 'oslo_config')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


async def test_tls_with_a_private_ca(tmp_path: Path, running) -> None:  # type: ignore[no-untyped-def]
    cert, key = self_signed_cert(tmp_path)
    server = Analyzer(AnalyzerSettings(port=0, tls_cert=cert, tls_key=key))
    await server.start()
    try:
        backend = sample_backend("memory://sample")
        verified = running(
            CollectorSettings(
                nb=backend, analyzer=f"127.0.0.1:{server.port}", tls=True, ca_file=str(cert),
                extensions=[],
            )
        )  # fmt: skip
        collector = await verified.synced()
        await until(lambda: graph_shape(server) == translated(collector))
        await verified.stop()
        # Without the CA the certificate is refused, and the reason is visible.
        refused = Collector(
            CollectorSettings(
                nb=backend, analyzer=f"https://127.0.0.1:{server.port}", extensions=[],
                host_id="other", backoff_initial=0.05, backoff_max=0.1,
            )
        )  # fmt: skip
        task = asyncio.create_task(refused.run())
        await until(lambda: "certificate" in refused.stats["analyzer_last_error"].lower())
        assert not refused.stats["analyzer_connected"]
        await stop_tasks(task)
    finally:
        await server.stop()


async def test_no_false_drift_during_a_long_flush(analyzer: Analyzer, running) -> None:  # type: ignore[no-untyped-def]
    from dragonscope.demo import generate
    from dragonscope.nb.backends.memory import MemoryBackend

    backend = MemoryBackend()
    backend.load_dump(generate("medium", seed=2))
    collector = await running(settings(analyzer, backend, update_interval=0.01)).synced()
    # Published while read, each element goes once: the NB is read in an order where a
    # port comes after the floating IPs that point at it (``SNAPSHOT_ORDER``).
    synced_with = collector.stats["messages_out_total"]
    elements = len(collector.topology.nodes) + len(collector.topology.edges) + 1  # status node
    assert synced_with == elements
    await until(lambda: collector.stats["reconciliations"] > 3)
    assert collector.stats["reconcile_fixes"] == 0
    assert collector.stats["messages_out_total"] == synced_with
