"""The durable past against the in-memory one, on SQLite and a real PostgreSQL.

A graph is changed on a simulated clock while both histories record it: the
in-memory history (everything kept) is the oracle. Every time asked of the
durable one, in order (each rebuilt from the last state rebuilt), out of order
and from a fresh reader, must match it exactly: at a checkpoint's own
millisecond, just before and after one, in a window, and after retention has
moved the earliest state known.
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import json
import random
import tracemalloc
import zlib
from pathlib import Path
from typing import Any

import pytest

from dragonscope.graph import KIND_NODE, Edge, Graph, History, NetChanges, Node, SnapshotView
from dragonscope.gremlin import run
from dragonscope.history import (
    DurableHistory,
    HistoryStore,
    Recorder,
    RecorderSettings,
    Row,
    open_store,
)
from dragonscope.history.codec import (
    checkpoint_lines,
    collector_held,
    encode_checkpoint,
    encode_element,
    encode_parts,
    split_element,
)
from postgres_server import PostgresServer

pytestmark = pytest.mark.timeout(120)
START = 1_700_000_000_000
_databases = itertools.count()


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite://{tmp_path}/history.db"
    server: PostgresServer = request.getfixturevalue("postgres")
    name = f"r{next(_databases)}"
    server.execute(f"CREATE DATABASE {name}")
    return server.url(name)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> int:
        return self.now


class Recording:
    """A graph, its in-memory history and a recorder writing the store, one clock."""

    def __init__(self, url: str, settings: RecorderSettings) -> None:
        self.clock = Clock()
        self.graph = Graph()
        self.store: HistoryStore = open_store(url)
        self.recorder = Recorder(self.store, self.graph, settings, clock=self.clock)
        self.memory = History(self.graph, 10**9, 10**9, self.clock, self.recorder.push)

    async def settle(self) -> None:
        """Until every change so far is written (and any checkpoint due with it)."""
        await self.recorder.caught_up(self.clock.now, 20)
        while self.recorder.buffered:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)


def _node(i: int, rev: int) -> Node:
    return Node(f"n{i}", {"Name": f"port-{i}", "Rev": rev, "IPs": [f"10.0.0.{rev % 250}"]},
                "h", "test", START, START, None, rev)  # fmt: skip


def _edge(i: int, j: int) -> Edge:
    return Edge(f"e{i}-{j}", {"RelationType": "layer2"}, "h", "test", START, START, None, 1,
                f"n{i}", f"n{j}")  # fmt: skip


def _change(graph: Graph, rng: random.Random, rev: int) -> None:
    i = rng.randrange(30)
    node = graph.node(f"n{i}")
    roll = rng.random()
    if node is None:
        graph.add_node(_node(i, rev))
    elif roll < 0.15:
        graph.delete_node(node.id)  # and its edges
    elif roll < 0.35:
        j = rng.randrange(30)
        if j != i and graph.node(f"n{j}") is not None and graph.edge(f"e{i}-{j}") is None:
            graph.add_edge(_edge(i, j))
    else:
        graph.replace_node(_node(i, rev))


def _elements(view: SnapshotView) -> dict[str, Any]:
    return {e.id: e.to_json() for e in [*view.nodes(), *view.edges()]}


def _net(net: NetChanges) -> dict[str, Any]:
    return {
        element_id: tuple(None if e is None else e.to_json() for e in pair)
        for element_id, pair in net.items()
        if pair[0] is not None or pair[1] is not None
    }


async def _record(rec: Recording, rng: random.Random, steps: int) -> list[int]:
    """Change the graph ``steps`` times (several changes share a millisecond) and
    return every time something happened, with the time of each checkpoint."""
    await rec.recorder.start()
    times = []
    for rev in range(1, steps + 1):
        if rng.random() < 0.6:
            rec.clock.now += rng.randrange(1, 50)
        _change(rec.graph, rng, rev)
        times.append(rec.clock.now)
        if not rev % 9:
            await rec.settle()  # batches end (and checkpoints fall) at various places
    await rec.settle()
    return sorted({*times, *await rec.store.checkpoint_times()})


def _probe_times(times: list[int]) -> list[int]:
    """Each time of interest, a millisecond before it and one after."""
    return sorted({t + d for t in times for d in (-1, 0, 1) if t + d >= START})


async def test_every_time_rebuilds_as_the_memory_has_it(url: str) -> None:
    rng = random.Random(7)
    rec = Recording(url, RecorderSettings(checkpoint_changes=13, checkpoint_share=0))
    times = await _record(rec, rng, 400)
    try:
        assert rec.recorder.stats.checkpoints >= 20
        probes = _probe_times(times)
        forward = DurableHistory(rec.store)
        for t in probes:  # in order: each from the state rebuilt before it
            assert _elements(await forward.view_at(t)) == _elements(rec.memory.view_at(t)), t
        shuffled = DurableHistory(rec.store)
        for t in rng.sample(probes, len(probes)):
            assert _elements(await shuffled.view_at(t)) == _elements(rec.memory.view_at(t)), t
        for t in rng.sample(probes, 40):
            fresh = _elements(await DurableHistory(rec.store).view_at(t))
            assert fresh == _elements(rec.memory.view_at(t)), t
        for _ in range(40):
            start, end = sorted(rng.sample(probes, 2))
            durable = await forward.changes_between(start, end)
            nodes, edges = rec.memory.changes_between(start, end)
            assert _net(durable.nodes) == _net(nodes), (start, end)
            assert _net(durable.edges) == _net(edges), (start, end)
            window = await shuffled.window_view(start, end)
            assert _elements(window) == _elements(rec.memory.window_view(start, end))
    finally:
        await rec.recorder.stop()


async def test_changes_at_a_checkpoints_millisecond_after_it_count(url: str) -> None:
    rec = Recording(url, RecorderSettings(checkpoint_changes=3, checkpoint_share=0))
    await rec.recorder.start()
    try:
        rec.clock.now += 10
        for i in range(3):
            rec.graph.add_node(_node(i, 1))
        await rec.settle()
        assert rec.clock.now in await rec.store.checkpoint_times()
        rec.graph.add_node(_node(3, 1))  # same millisecond, after the checkpoint's seq
        rec.graph.replace_node(_node(0, 2))
        await rec.settle()
        t = rec.clock.now
        rec.clock.now += 10
        rec.graph.delete_node("n1")
        for _ in range(3):
            rec.graph.replace_node(_node(2, 3))
        await rec.settle()
        history = DurableHistory(rec.store)
        for at in (t - 1, t, t + 1, t + 10, t - 1, t):
            assert _elements(await history.view_at(at)) == _elements(rec.memory.view_at(at))
        assert sorted(n.id for n in (await history.view_at(t)).nodes()) == ["n0", "n1", "n2", "n3"]
    finally:
        await rec.recorder.stop()


async def test_retention_moves_the_earliest_state_even_when_cached(url: str) -> None:
    rng = random.Random(11)
    rec = Recording(url, RecorderSettings(checkpoint_changes=10, checkpoint_share=0))
    if "postgresql" in url:
        rec.store.partition_ms = 100  # type: ignore[attr-defined]
    times = await _record(rec, rng, 200)
    try:
        history = DurableHistory(rec.store)
        checkpoints = await rec.store.checkpoint_times()
        early, keep_from = times[5], checkpoints[len(checkpoints) // 2]
        later = [t for t in times if t > keep_from][::7]
        assert _elements(await history.view_at(early)) == _elements(rec.memory.view_at(early))
        for t in later:
            await history.view_at(t)  # cached states after the cut
        rec.recorder.settings.retention_ms = rec.clock.now - keep_from
        await rec.recorder.enforce_retention(rec.clock.now)
        assert (await rec.store.checkpoint_times())[0] == keep_from
        # Before what is kept: the earliest state known, no longer the cached one.
        assert _elements(await history.view_at(early)) == _elements(rec.memory.view_at(keep_from))
        for t in later:
            assert _elements(await history.view_at(t)) == _elements(rec.memory.view_at(t))
    finally:
        await rec.recorder.stop()


async def test_checkpoints_follow_the_graphs_size(tmp_path: Path) -> None:
    rec = Recording(f"sqlite://{tmp_path}/h.db", RecorderSettings(checkpoint_changes=1))
    await rec.recorder.start()
    try:
        for i in range(200):
            rec.graph.add_node(_node(i, 0))
        await rec.settle()
        before = rec.recorder.stats.checkpoints
        for rev in range(1, 401):
            rec.graph.replace_node(_node(rev % 200, rev))
            if not rev % 10:
                await rec.settle()
        # A fifth of 200 elements: one checkpoint per 40 changes, not one per change.
        assert 8 <= rec.recorder.stats.checkpoints - before <= 10
    finally:
        await rec.recorder.stop()


async def test_decoding_leaves_the_collector_as_it_found_it(tmp_path: Path) -> None:
    rec = Recording(f"sqlite://{tmp_path}/h.db", RecorderSettings(checkpoint_changes=5))
    times = await _record(rec, random.Random(3), 60)
    try:
        assert gc.isenabled()
        await DurableHistory(rec.store).view_at(times[-10])
        assert gc.isenabled()
        gc.disable()
        try:
            await DurableHistory(rec.store).view_at(times[-20])
            assert not gc.isenabled()
        finally:
            gc.enable()
        frozen = gc.get_freeze_count()
        try:
            await DurableHistory(rec.store, freeze=True).view_at(times[-30])
            assert gc.get_freeze_count() > frozen  # the decoded elements with the rest
        finally:
            gc.unfreeze()
    finally:
        await rec.recorder.stop()


def test_what_a_decoding_made_is_frozen_before_the_collector_can_visit_it() -> None:
    """Frozen after the collector is back, a checkpoint's objects were first collected
    with the young generation (by the first allocation after, whatever it was)."""
    collections: list[int] = []

    def seen(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            collections.append(info["generation"])

    gc.collect()
    frozen = gc.get_freeze_count()
    gc.callbacks.append(seen)
    try:
        with collector_held(freeze=True):
            made = [[i] for i in range(100_000)]  # far past the young generation's threshold
        after = [[] for _ in range(100)]  # allocations as the caller goes on
        assert collections == []
        assert gc.get_freeze_count() >= frozen + len(made)
        assert gc.isenabled() and after
    finally:
        gc.callbacks.remove(seen)
        gc.unfreeze()


def test_the_lines_a_recorder_keeps_hold_their_length() -> None:
    """A recorder keeps two lines per element of its graph for as long as it runs. Each
    bytes object orjson returns holds a 4 KiB buffer: kept as such, a 500k-element graph
    took gigabytes. Read back from a checkpoint or encoded afresh, a line holds its text."""
    elements = [Node(f"n{i}", {"Name": f"port {i}", "Type": "lport"}) for i in range(1000)]
    body = encode_checkpoint([encode_parts(e) for e in elements])
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        encoded = [encode_parts(e) for e in elements]
        read_back = checkpoint_lines(body)
        used = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert len(encoded) == len(read_back) == 1000
    assert sorted(read_back.values()) == sorted(encoded)
    assert used < 1000 * 1024, f"{used / 1000:.0f} B per element"


async def test_a_state_follows_the_stores_order_not_the_clocks(postgres: PostgresServer) -> None:
    """Two analyzers' clocks disagree: the change stored last is the element's state
    once both times are past, also in a state rebuilt forward from a cached one."""
    name = f"r{next(_databases)}"
    postgres.execute(f"CREATE DATABASE {name}")
    first = Recording(postgres.url(name), RecorderSettings(checkpoint_changes=10**6))
    await first.recorder.start()
    second = Recording(postgres.url(name), RecorderSettings())
    second.clock.now += 1  # it started later: the first one writes the checkpoints
    await second.recorder.start()
    try:
        first.clock.now = second.clock.now = START + 100
        first.graph.add_node(_node(0, 1))  # stored first, at 100
        await first.settle()
        second.clock.now = START + 50
        second.graph.add_node(_node(0, 2))  # stored next, at 50 by a clock behind
        await second.settle()
        first.recorder.settings.checkpoint_changes = 1
        first.clock.now = START + 1000
        first.graph.add_node(_node(1, 1))
        await first.settle()
        assert START + 1000 in await first.store.checkpoint_times()
        history = DurableHistory(first.store)
        at_60 = await history.view_at(START + 60)
        at_150 = await history.view_at(START + 150)  # from the state cached at 60
        fresh = await DurableHistory(first.store).view_at(START + 150)
        assert [n.revision for n in at_60.nodes()] == [2]
        assert [n.revision for n in at_150.nodes()] == [n.revision for n in fresh.nodes()] == [2]
    finally:
        await second.recorder.stop()
        await first.recorder.stop()


def _answer(query: str, view: SnapshotView) -> Any:
    """A query's answer, in an order that does not depend on the view's."""
    found = run(query, view)
    if not isinstance(found, list):
        return found
    return sorted(json.dumps(x, sort_keys=True) for x in found)


def _stored_metadata(element: Node) -> Any:
    """What the element holds as its metadata: a dict once something has read it."""
    return Node.__dict__["metadata"].__get__(element)


async def test_metadata_is_decoded_when_a_step_reads_it(url: str) -> None:
    rec = Recording(url, RecorderSettings(checkpoint_changes=13, checkpoint_share=0))
    await _record(rec, random.Random(5), 200)
    try:
        checkpoints = await rec.store.checkpoint_times()
        queries = (
            "G.V().Has('Name', 'port-3')",
            "G.V().Has('Name', Regex('port-1.*')).Values('Rev')",
            "G.V().Has('IPs', '10.0.0.7').Count()",
            "G.V().Has('Name', 'port-4').Out().Values('Name')",
        )
        for t in [c + d for c in checkpoints[2:8] for d in (-1, 0, 1)]:  # replay boundaries
            view = await DurableHistory(rec.store).view_at(t)
            memory = rec.memory.view_at(t)
            assert not any(isinstance(_stored_metadata(n), dict) for n in view.nodes()), t
            for query in queries:
                assert _answer(query, view) == _answer(query, memory), (query, t)
            assert all(isinstance(_stored_metadata(n), dict) for n in view.nodes()), t
            assert sorted(view.nodes(), key=lambda n: n.id) == sorted(
                memory.nodes(), key=lambda n: n.id
            )
            assert _elements(view) == _elements(memory), t
    finally:
        await rec.recorder.stop()


def _first_layout(node: Node) -> bytes:
    """A node as histories stored it before the head and metadata were split."""
    fields = [node.id, node.metadata, node.host, node.origin, node.created_at,
              node.updated_at, node.revision]  # fmt: skip
    return json.dumps(fields, separators=(",", ":")).encode()


async def test_a_history_of_the_first_layout_is_still_read(url: str) -> None:
    """Checkpoints and changes stored before the split layout, then in it (a recorder
    taking up such a history writes its next checkpoint in the new layout)."""
    store = open_store(url)
    await store.open()
    try:
        first = {f"n{i}": _node(i, 1) for i in range(5)}
        old_checkpoint = zlib.compress(b"[" + b",".join(map(_first_layout, first.values())) + b"]")
        await store.write_checkpoint(START, old_checkpoint)
        digests = (bytes([i]) * 16 for i in itertools.count(1))
        old_rows = [
            Row(START + 10, KIND_NODE, "n1", next(digests), _first_layout(_node(1, 2))),
            Row(START + 20, KIND_NODE, "n2", next(digests), None),
            Row(START + 30, KIND_NODE, "n3", next(digests), encode_element(_node(3, 3))),
        ]
        written = await store.write(old_rows, 0, [0] * len(old_rows))
        lines = checkpoint_lines(old_checkpoint)
        for row in written.mine:
            if row.body is None:
                lines.pop((row.kind, row.id))
            else:
                lines[(row.kind, row.id)] = split_element(row.body)
        await store.write_checkpoint(
            START + 40, encode_checkpoint(list(lines.values())), written.mine[-1].seq
        )
        new_rows = [
            Row(START + 50, KIND_NODE, "n4", next(digests), _first_layout(_node(4, 5))),
            Row(START + 50, KIND_NODE, "n0", next(digests), encode_element(_node(0, 5))),
        ]
        await store.write(new_rows, 0, [0] * len(new_rows))
        expected = dict(first)
        states = {START + 5: dict(expected)}
        expected["n1"] = _node(1, 2)
        states[START + 15] = dict(expected)
        del expected["n2"]
        states[START + 25] = dict(expected)
        expected["n3"] = _node(3, 3)
        states[START + 35] = states[START + 45] = dict(expected)
        expected.update(n4=_node(4, 5), n0=_node(0, 5))
        states[START + 55] = dict(expected)
        for t, nodes in states.items():
            view = await DurableHistory(store).view_at(t)
            assert {n.id: n for n in view.nodes()} == nodes, t
            assert run("G.V().Has('Rev', 5).Count()", view) == sum(
                n.metadata["Rev"] == 5 for n in nodes.values()
            )
        net = (await DurableHistory(store).changes_between(START + 5, START + 55)).nodes
        assert {k: (a, b) for k, (a, b) in net.items() if a != b} == {
            "n0": (first["n0"], _node(0, 5)),
            "n1": (first["n1"], _node(1, 2)),
            "n2": (first["n2"], None),
            "n3": (first["n3"], _node(3, 3)),
            "n4": (first["n4"], _node(4, 5)),
        }
    finally:
        await store.close()
