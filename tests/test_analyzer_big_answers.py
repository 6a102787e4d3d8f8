"""Big answers built in slices: same content as built in one go, events never before
the reply they follow and never lost, views fixed when they are taken, the GC policy.

``SLICE_SECONDS = 0`` makes every slice give the loop a turn, so the interleavings
that a 100k-node graph produces happen here with a few thousand elements.
"""

from __future__ import annotations

import asyncio
import gc
import json
from typing import Any

import aiohttp
import pytest

from analyzer_support import eventually, msg, node, publisher_headers, settings
from dragonscope.analyzer import Analyzer, chunked
from dragonscope.analyzer.endpoints import subscriber as subscriber_endpoint
from dragonscope.analyzer.gc_policy import GcPolicy
from dragonscope.analyzer.subscribers import (
    FULL,
    Pending,
    Subscriber,
    SubscriberHub,
    encode,
)
from dragonscope.graph.history import History
from dragonscope.graph.model import Edge, Graph, Node
from dragonscope.gremlin import AS_BYTES, compile_query
from dragonscope.gremlin import engine as gremlin_engine
from dragonscope.skydive import messages as m

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def thin_slices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(chunked, "SLICE_SECONDS", 0.0)
    monkeypatch.setattr(gremlin_engine, "SLICE_SECONDS", 0.0)


def _graph(count: int) -> Graph:
    graph = Graph()
    for i in range(count):
        graph.add_node(Node(f"n{i}", {"Name": f"n{i}", "Type": "port", "Note": "é ✓"}))
    for i in range(1, count):
        graph.add_edge(Edge(f"e{i}", {"RelationType": "layer2"}, parent=f"n{i - 1}", child=f"n{i}"))
    return graph


def _subscriber(queue_max: int = 10_000) -> Subscriber:
    return Subscriber(
        ws=None,  # type: ignore[arg-type]  # the writer is not run: frames stay queued
        host_id="s",
        client_type="t",
        policy=FULL,
        namespaces=frozenset("*"),
        queue_max=queue_max,
    )


# -- the encoders give the JSON of a one-go json.dumps, compact, in the same order ------
@pytest.mark.parametrize("join_in_thread_over", [0, 1 << 30])
async def test_chunked_graph_frame_is_the_plain_frame(
    thin_slices: None, monkeypatch: pytest.MonkeyPatch, join_in_thread_over: int
) -> None:
    monkeypatch.setattr(chunked, "_JOIN_IN_THREAD_OVER", join_in_thread_over)
    graph = _graph(700)
    nodes, edges = list(graph.nodes()), list(graph.edges())
    pieces = await chunked.graph_bytes(nodes, edges)
    framed = await chunked.envelope(m.SYNC_REPLY, pieces, m.GRAPH, uuid="u-1")
    same(framed.decode(), encode(m.SYNC_REPLY, graph.to_json(), uuid="u-1"))
    empty = await chunked.envelope(m.SYNC, await chunked.graph_bytes([], []), m.GRAPH)
    same(empty.decode(), encode(m.SYNC, {"Nodes": [], "Edges": []}))


def same(text: str, expected: str) -> None:
    """The same JSON value, keys in the same order, and as compact (non-ASCII characters
    may be written as themselves rather than escaped)."""
    assert json.loads(text, object_pairs_hook=list) == json.loads(expected, object_pairs_hook=list)
    assert len(text.encode()) <= len(expected.encode())


async def test_an_integer_past_64_bits_and_a_lone_surrogate_still_encode(
    thin_slices: None,
) -> None:
    value = [{"ID": "a", "Metadata": {"Big": 2**70, "Odd": "\ud800"}}]
    same(b"".join(await chunked.json_bytes(value)).decode(), json.dumps(value))


async def test_json_bytes_is_compact_json_dumps(thin_slices: None) -> None:
    big = [{"ID": str(i), "Metadata": {"x": [i, "ü"]}} for i in range(1000)]
    for value in (
        {"From": 1, "To": 2, "Added": {"Nodes": big, "Edges": []}, "Removed": {"Nodes": None}},
        big,
        [],
        {},
        {"a": {"b": {"c": [1, 2.5, None, True]}}},
        "text",
        7,
    ):
        same(
            b"".join(await chunked.json_bytes(value)).decode(),
            json.dumps(value, separators=(",", ":")),
        )


@pytest.mark.parametrize(
    "query",
    [
        "G",
        "G.V()",
        "G.E()",
        "G.V().Has('Name', 'nothing')",
        "G.V().Count()",
        "G.V().Values('Name')",
        "G.V('n0').ShortestPathTo(Metadata('Name', 'n40'))",
        "G.V().Has('Name', 'n3').SubGraph()",
    ],
)
async def test_gremlin_bytes_are_the_json_text(thin_slices: None, query: str) -> None:
    graph = _graph(600)
    compiled = compile_query(query)
    expected = json.dumps(compiled.run(graph), separators=(",", ":")) + "\n"
    pieces = await compiled.run_async(graph, form=AS_BYTES)
    text = b"".join([*pieces, b"\n"]).decode()
    assert text.endswith("\n")
    same(text, expected)


# -- order: a reply's place in the queue is fixed when its content is --------------
async def test_events_during_a_sliced_reply_queue_behind_it(thin_slices: None) -> None:
    graph = _graph(2000)
    hub = SubscriberHub(graph)
    sub = _subscriber()
    hub.add(sub)
    before = graph.node("n5")
    await hub.send_graph(sub, m.SYNC_REPLY, *hub.view_lists(sub), uuid="r")
    await asyncio.sleep(0)  # the reply has taken its place and is being encoded
    assert isinstance(sub.queue[0], Pending) and not sub.queue[0].ready.is_set()
    graph.add_node(Node("late", {"Name": "late", "Type": "port"}))
    graph.replace_node(Node("n5", {"Name": "n5", "Type": "port", "State": "DOWN"}))
    graph.delete_node("n7")
    await sub.queue[0].ready.wait()
    reply, *events = list(sub.queue)
    assert isinstance(reply, Pending) and len(reply.frames) == 1
    obj = json.loads(reply.frames[0])["Obj"]
    ids = {n["ID"] for n in obj["Nodes"]}
    assert "late" not in ids and "n7" in ids and len(ids) == 2000
    assert next(n for n in obj["Nodes"] if n["ID"] == "n5") == before.to_json()
    assert {e["ID"] for e in obj["Edges"]} == {f"e{i}" for i in range(1, 2000)}
    got = [(f["Type"], f["Obj"]["ID"]) for f in map(json.loads, events)]
    assert got == [
        ("NodeAdded", "late"),
        ("NodeUpdated", "n5"),
        ("EdgeDeleted", "e8"),  # a node's edges go first, out then in
        ("EdgeDeleted", "e7"),
        ("NodeDeleted", "n7"),
    ]


def test_an_overflow_keeps_pending_replies_and_asks_for_a_sync() -> None:
    sub = _subscriber(queue_max=3)
    sub.push("one")
    pending = sub.reserve()
    sub.push("two")
    sub.push("three")  # the queue is full: the backlog goes, the reply stays
    assert list(sub.queue) == [pending] and sub.resync and sub.dropped == 2


def _replay(state: dict[str, dict[str, Any]], frame: dict[str, Any]) -> None:
    """Apply one live event to a subscriber's copy of the graph, strictly: an event
    that the SyncReply already contained (or that skips one) fails the test."""
    obj, kind = frame["Obj"], frame["Type"]
    if kind == "NodeAdded":
        assert obj["ID"] not in state, f"{obj['ID']} added twice: event before its reply"
        state[obj["ID"]] = obj
    elif kind == "NodeUpdated":
        assert obj["Revision"] > state[obj["ID"]]["Revision"], "update already in the reply"
        state[obj["ID"]] = obj
    elif kind == "NodeDeleted":
        assert state.pop(obj["ID"], None) is not None, f"{obj['ID']} deleted but never seen"


async def _churn(pub: aiohttp.ClientWebSocketResponse, rounds: int, zone: bool = False) -> None:
    for r in range(rounds):
        extra = {"Zone": "blue" if r % 3 else "red"} if zone else {}
        await pub.send_str(msg("NodeAdded", node(f"c{r}", **extra)))
        updated = dict(node(f"n{r % 50}", State=f"s{r}", **extra), Revision=r + 1)
        await pub.send_str(msg("NodeUpdated", updated))
        if r % 4 == 3:
            await pub.send_str(msg("NodeDeleted", node(f"c{r - 2}")))
        await asyncio.sleep(0)


async def _until_marker(sub: aiohttp.ClientWebSocketResponse, marker: str) -> list[dict]:
    """Frames up to the marker's NodeAdded, and those that follow it until the line is
    quiet (a filtered view's refresh sends additions before updates)."""
    frames = []
    while True:
        frame = json.loads(await sub.receive_str(timeout=20))
        frames.append(frame)
        if frame["Type"] == "NodeAdded" and frame["Obj"]["ID"] == marker:
            break
    while True:
        try:
            frames.append(json.loads(await sub.receive_str(timeout=0.5)))
        except TimeoutError:
            return frames


async def test_sync_reply_then_live_events_rebuild_the_graph_exactly(thin_slices: None) -> None:
    async with Analyzer(settings()) as analyzer, aiohttp.ClientSession() as http:
        for i in range(1500):
            analyzer.store.add_node(Node(f"n{i}", {"Name": f"n{i}", "Type": "fabric"}), "seed")
        pub = await http.ws_connect(analyzer.url + "/ws/publisher", headers=publisher_headers("p"))
        for i in range(50):  # the publisher holds the nodes it updates
            await pub.send_str(msg("NodeAdded", node(f"n{i}")))
        sub = await http.ws_connect(
            analyzer.url + "/ws/subscriber",
            headers={"X-Host-ID": "s", "X-Client-Type": "t"},
            max_msg_size=0,
        )
        churn = asyncio.create_task(_churn(pub, 200))
        await asyncio.sleep(0.01)
        await sub.send_str(msg("SyncRequest", {"GremlinFilter": None}, uuid="req"))
        await churn
        await pub.send_str(msg("NodeAdded", node("marker")))
        frames = await _until_marker(sub, "marker")
        replies = [i for i, f in enumerate(frames) if f["Type"] == "SyncReply"]
        assert len(replies) == 1 and frames[replies[0]]["UUID"] == "req"
        state = {n["ID"]: n for n in frames[replies[0]]["Obj"]["Nodes"]}
        for frame in frames[replies[0] + 1 :]:
            _replay(state, frame)
        live = {n.id: n.to_json() for n in analyzer.graph.nodes()}
        assert state == live


async def test_filtered_view_converges_under_churn(thin_slices: None) -> None:
    async with Analyzer(settings()) as analyzer, aiohttp.ClientSession() as http:
        pub = await http.ws_connect(analyzer.url + "/ws/publisher", headers=publisher_headers("p"))
        for i in range(50):
            await pub.send_str(msg("NodeAdded", node(f"n{i}", Zone="blue" if i % 2 else "red")))
        sub = await http.ws_connect(
            analyzer.url + "/ws/subscriber",
            headers={
                "X-Host-ID": "f",
                "X-Client-Type": "t",
                "X-Gremlin-Filter": "G.V().Has('Zone', 'blue').SubGraph()",
            },
        )
        await eventually(lambda: analyzer.graph.node("n49"))
        await sub.send_str(msg("SyncRequest", {"GremlinFilter": None}, uuid="req"))
        await _churn(pub, 150, zone=True)
        await pub.send_str(msg("NodeAdded", node("marker", Zone="blue")))
        frames = await _until_marker(sub, "marker")
        start = next(i for i, f in enumerate(frames) if f["Type"] == "SyncReply")
        state = {n["ID"]: n for n in frames[start]["Obj"]["Nodes"]}
        for frame in frames[start + 1 :]:
            _replay(state, frame)
        blue = {
            n.id: n.to_json() for n in analyzer.graph.nodes() if n.metadata.get("Zone") == "blue"
        }
        assert state == blue


# -- the past is fixed when it is asked for ------------------------------------------
def test_a_past_view_is_not_touched_by_later_changes() -> None:
    clock = [1_000]
    graph = Graph()
    history = History(graph, retention_s=3600, max_changes=100_000, clock=lambda: clock[0])
    for i in range(3000):
        graph.add_node(Node(f"n{i}", {"Name": f"n{i}", "Type": "port"}))
    clock[0] = 2_000
    for i in range(0, 3000, 2):
        graph.replace_node(Node(f"n{i}", {"Name": f"n{i}", "Type": "port", "State": "UP"}))
    expected = history.view_at(1_500).to_json()
    steps = history.view_at_steps(1_500)
    next(steps)  # started: what it rebuilds is now fixed
    clock[0] = 3_000
    graph.delete_node("n1")
    graph.replace_node(Node("n3", {"Name": "n3", "Type": "port", "State": "DOWN"}))
    graph.add_node(Node("new", {"Name": "new", "Type": "port"}))
    while True:
        try:
            next(steps)
        except StopIteration as done:
            view = done.value
            break
    assert view.to_json() == expected


def test_deleting_stamps_a_copy_and_leaves_the_stored_element_alone() -> None:
    graph = _graph(3)
    stored_node, stored_edge = graph.node("n2"), graph.edge("e2")
    gone = graph.delete_node("n2", deleted_at=42)
    assert gone.deleted_at == 42 and gone.to_json()["ID"] == "n2"
    assert stored_node.deleted_at is None and stored_edge.deleted_at is None


# -- GC policy -----------------------------------------------------------------------
def test_gc_policy_freezes_survivors_after_enough_changes() -> None:
    changes = [0]
    policy = GcPolicy(lambda: changes[0], freeze_after=100)
    try:
        gc.unfreeze()
        changes[0] = 99
        assert not policy.check() and gc.get_freeze_count() == 0
        changes[0] = 100
        assert policy.check() and gc.get_freeze_count() > 0 and policy.freezes == 1
        assert not policy.check()  # nothing new since
    finally:
        gc.unfreeze()


async def test_analyzer_runs_its_gc_policy_only_when_asked() -> None:
    async with Analyzer(settings()) as plain:
        assert plain.gc_policy is None
    async with Analyzer(settings(gc_freeze=True)) as tuned:
        assert tuned.gc_policy is not None
        tuned.gc_policy.freeze_after = 1
        tuned.store.add_node(Node("x", {"Name": "x", "Type": "port"}), "o")
        try:
            await eventually(lambda: tuned.gc_policy.freezes, timeout=5)
        finally:
            gc.unfreeze()


async def test_rest_listings_are_the_plain_json(thin_slices: None) -> None:
    async with Analyzer(settings()) as analyzer, aiohttp.ClientSession() as http:
        async with http.get(analyzer.url + "/api/topology") as response:
            assert await response.json() == {"Nodes": None, "Edges": None}
        for i in range(600):
            analyzer.store.add_node(Node(f"n{i}", {"Name": f"n{i}", "Type": "port"}), "o")
        analyzer.store.add_edge(Edge("e", {"RelationType": "layer2"}, parent="n0", child="n1"), "o")
        graph = analyzer.graph.to_json()
        async with http.get(analyzer.url + "/api/topology") as response:
            assert response.headers["Content-Type"] == "application/json; charset=UTF-8"
            assert await response.json() == graph
        async with http.get(analyzer.url + "/api/node") as response:
            assert await response.json() == {n["ID"]: n for n in graph["Nodes"]}
        async with http.get(analyzer.url + "/api/edge") as response:
            assert await response.json() == {e["ID"]: e for e in graph["Edges"]}


async def test_rules_run_in_slices_and_respect_changes_made_meanwhile(thin_slices: None) -> None:
    async with Analyzer(settings()) as analyzer, aiohttp.ClientSession() as http:
        for i in range(600):
            analyzer.store.add_node(Node(f"n{i}", {"Name": f"n{i}", "Type": "port"}), "o")
        response = await http.post(
            analyzer.url + "/api/noderule",
            json={
                "Action": "update",
                "Query": "G.V().Has('Type', 'port')",
                "Metadata": {"Seen": 1},
            },
        )
        assert response.status == 201
        response = await http.post(
            analyzer.url + "/api/edgerule",
            json={
                "Src": "G.V().Has('Name', 'n1')",
                "Dst": "G.V().Has('Name', 'n599')",
                "Metadata": {"RelationType": "layer2"},
            },
        )
        assert response.status == 201
        for i in range(100, 200):  # while the rules' queries run, the graph moves on
            analyzer.store.delete_node(f"n{i}", "o")
            await asyncio.sleep(0)
        analyzer.store.add_node(Node("late", {"Name": "late", "Type": "port"}), "o")

        def settled() -> bool:
            ports = list(analyzer.graph.nodes())
            return len(ports) == 501 and all(n.metadata.get("Seen") == 1 for n in ports)

        await eventually(settled, timeout=10)
        assert [(e.parent, e.child) for e in analyzer.graph.edges()] == [("n1", "n599")]
        assert all(analyzer.graph.node(f"n{i}") is None for i in range(100, 200))


async def test_changing_the_filter_during_churn_gives_an_exact_new_view(thin_slices: None) -> None:
    async with Analyzer(settings()) as analyzer, aiohttp.ClientSession() as http:
        pub = await http.ws_connect(analyzer.url + "/ws/publisher", headers=publisher_headers("p"))
        for i in range(50):
            await pub.send_str(msg("NodeAdded", node(f"n{i}", Zone="blue" if i % 2 else "red")))
        sub = await http.ws_connect(
            analyzer.url + "/ws/subscriber",
            headers={
                "X-Host-ID": "f",
                "X-Client-Type": "t",
                "X-Gremlin-Filter": "G.V().Has('Zone', 'blue').SubGraph()",
            },
        )
        await eventually(lambda: analyzer.graph.node("n49"))
        churn = asyncio.create_task(_churn(pub, 150, zone=True))
        await asyncio.sleep(0.02)  # refreshes of the blue view are under way
        red = "G.V().Has('Zone', 'red').SubGraph()"
        await sub.send_str(msg("SyncRequest", {"GremlinFilter": red}, uuid="red"))
        await churn
        await pub.send_str(msg("NodeAdded", node("marker", Zone="red")))
        frames = await _until_marker(sub, "marker")
        start = next(i for i, f in enumerate(frames) if f["Type"] == "SyncReply")
        assert frames[start]["UUID"] == "red"
        state = {n["ID"]: n for n in frames[start]["Obj"]["Nodes"]}
        for frame in frames[start + 1 :]:
            _replay(state, frame)
        wanted = {
            n.id: n.to_json() for n in analyzer.graph.nodes() if n.metadata.get("Zone") == "red"
        }
        assert state == wanted


async def test_a_filter_change_waits_for_a_refresh_of_the_old_filter() -> None:
    async with Analyzer(settings()) as analyzer:
        for i in range(6):
            zone = "blue" if i % 2 else "red"
            analyzer.store.add_node(
                Node(f"n{i}", {"Name": f"n{i}", "Type": "t", "Zone": zone}), "o"
            )
        hub, sub = analyzer.hub, _subscriber()
        release = asyncio.Event()

        async def slow_blue(graph: Graph) -> tuple[set[str], set[str]]:
            await release.wait()
            return {"n1", "n3", "n5"}, set()

        sub.view_filter = slow_blue
        hub.add(sub)
        refreshing = asyncio.create_task(hub.refresh(sub))
        await asyncio.sleep(0)  # the old filter is running
        red = "G.V().Has('Zone', 'red').SubGraph()"
        request = m.Message(m.GRAPH, m.SYNC_REQUEST, {"GremlinFilter": red}, "r")
        changing = asyncio.create_task(subscriber_endpoint._sync_reply(analyzer, sub, request))
        await asyncio.sleep(0.01)
        release.set()
        await asyncio.gather(refreshing, changing)
        assert set(sub.view_nodes) == {"n0", "n2", "n4"}
        last = sub.queue[-1]
        assert isinstance(last, Pending)
        reply = json.loads(last.frames[0])
        assert reply["Type"] == "SyncReply" and reply["UUID"] == "r"
        assert {n["ID"] for n in reply["Obj"]["Nodes"]} == {"n0", "n2", "n4"}
        hub.remove(sub)
