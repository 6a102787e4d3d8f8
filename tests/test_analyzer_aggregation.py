"""Several publishers, one graph: persistence policies, merge across origins, Skydive's rules."""

from __future__ import annotations

import json

import aiohttp
import pytest

from analyzer_support import edge, eventually, msg, node, publisher_headers, settings
from dragonscope.analyzer import Analyzer

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
async def analyzer():
    async with Analyzer(settings()) as running:
        yield running


@pytest.fixture
async def http():
    async with aiohttp.ClientSession() as session:
        yield session


async def connect(http, analyzer, host, client_type="test", persistent=True):
    return await http.ws_connect(
        analyzer.url + "/ws/publisher", headers=publisher_headers(host, client_type, persistent)
    )


async def send_all(ws, frames):
    for frame in frames:
        await ws.send_str(frame)


async def settle(ws):
    """A SyncRequest's reply arrives after every earlier message was applied."""
    await ws.send_str(msg("SyncRequest", {}, uuid="settle"))
    while True:
        reply = json.loads(await ws.receive_str())
        if reply["UUID"] == "settle":
            return reply


async def test_persistence_policies(analyzer, http):
    keep = await connect(http, analyzer, "global", persistent=True)
    drop = await connect(http, analyzer, "chassis-1", persistent=False)
    await send_all(keep, [msg("NodeAdded", node("g1")), msg("NodeAdded", node("g2"))])
    await send_all(drop, [msg("NodeAdded", node("c1")), msg("EdgeAdded", edge("e1", "g1", "c1"))])
    await settle(keep)
    await settle(drop)
    assert {n.id for n in analyzer.graph.nodes()} == {"g1", "g2", "c1"}
    await drop.close()
    await eventually(lambda: analyzer.graph.node("c1") is None)
    assert analyzer.graph.edge("e1") is None
    await keep.close()
    await eventually(lambda: "global" not in analyzer.publishers.by_host)
    assert {n.id for n in analyzer.graph.nodes()} == {"g1", "g2"}


async def test_shared_node_merged_across_origins(analyzer, http):
    a = await connect(http, analyzer, "chassis-a", persistent=False)
    b = await connect(http, analyzer, "chassis-b", persistent=False)
    await a.send_str(msg("NodeAdded", {**node("net", Color="red"), "Revision": 1}))
    await settle(a)
    created = analyzer.graph.node("net")
    await b.send_str(msg("NodeAdded", {**node("net", Color="blue"), "Revision": 7}))
    await settle(b)
    # one element, metadata from the most recent write, held by both origins
    assert analyzer.graph.node_count() == 1
    assert analyzer.graph.node("net").metadata["Color"] == "blue"
    assert analyzer.graph.node("net").created_at == created.created_at
    assert analyzer.store.holders_of_node("net") == ["test.chassis-a", "test.chassis-b"]
    # revisions are per origin: a's revision 2 is newer for a, though b sent 7
    await a.send_str(msg("NodeUpdated", {**node("net", Color="green"), "Revision": 2}))
    await settle(a)
    assert analyzer.graph.node("net").metadata["Color"] == "green"
    # a stale revision from b is rejected and reported
    await b.send_str(msg("NodeUpdated", {**node("net", Color="old"), "Revision": 7}, uuid="r7"))
    reply = json.loads(await b.receive_str())
    assert reply["UUID"] == "r7" and reply["Status"] == 400 and reply["Obj"]["Rule"] == "revision"
    assert analyzer.graph.node("net").metadata["Color"] == "green"
    # b leaves: the node survives (a still holds it); a leaves: it is gone
    await b.close()
    await eventually(lambda: analyzer.store.holders_of_node("net") == ["test.chassis-a"])
    assert analyzer.graph.node("net") is not None
    assert analyzer.graph.node("net").origin == "test.chassis-a"
    await a.close()
    await eventually(lambda: analyzer.graph.node("net") is None)


async def test_what_only_one_holder_says_stays_until_it_leaves(analyzer, http):
    """A port published by the global collector and by its chassis's collector: the chassis's
    OVS section and datapath problems survive the global collector's writes, every holder's
    problems are listed, and what only the chassis said goes when it leaves."""
    nb = await connect(http, analyzer, "global")
    chassis = await connect(http, analyzer, "c1", persistent=False)
    port = {**node("p1", Problems=["nb: duplicate IP"]), "Revision": 1}
    await nb.send_str(msg("NodeAdded", port))
    await settle(nb)
    ovs = {"Interface": "tap-p1", "OfPort": 7}
    problems = ["nb: duplicate IP", "no flow for the port"]
    await chassis.send_str(
        msg("NodeAdded", {**node("p1", OVS=ovs, Problems=problems), "Revision": 1})
    )
    await settle(chassis)
    # The NB changes the port's name: the chassis's section stays, each problem once.
    renamed = {**node("p1", "web-1", Problems=["nb: duplicate IP"]), "Revision": 2}
    await nb.send_str(msg("NodeUpdated", renamed))
    await settle(nb)
    metadata = analyzer.graph.node("p1").metadata
    assert metadata["Name"] == "web-1" and metadata["OVS"] == ovs
    assert metadata["Problems"] == problems
    # The chassis's partial update applies to what the chassis sent.
    ops = [{"Type": 1, "Key": "OVS.OfPort", "Value": 8}]
    await chassis.send_str(msg("NodePartiallyUpdated", {"ID": "p1", "Revision": 2, "Ops": ops}))
    await settle(chassis)
    metadata = analyzer.graph.node("p1").metadata
    assert metadata["OVS"]["OfPort"] == 8 and metadata["Name"] == "p1"  # the newest write's
    # The chassis leaves: its section and its problem go, the NB's view stays.
    await chassis.close()
    await eventually(lambda: "OVS" not in analyzer.graph.node("p1").metadata)
    metadata = analyzer.graph.node("p1").metadata
    assert metadata["Problems"] == ["nb: duplicate IP"] and metadata["Name"] == "web-1"
    assert analyzer.store.holders_of_node("p1") == ["test.global"]


async def test_explicit_delete_releases_only_the_senders_hold(analyzer, http):
    a = await connect(http, analyzer, "a")
    b = await connect(http, analyzer, "b")
    await a.send_str(msg("NodeAdded", node("n")))
    await settle(a)
    await b.send_str(msg("NodeAdded", node("n")))
    await settle(b)
    await a.send_str(msg("NodeDeleted", node("n")))
    await settle(a)
    assert analyzer.graph.node("n") is not None
    await b.send_str(msg("NodeDeleted", node("n")))
    await settle(b)
    assert analyzer.graph.node("n") is None


async def test_skydive_rules_duplicates_missing_ends_and_revisions(analyzer, http):
    ws = await connect(http, analyzer, "rules")
    await ws.send_str(msg("NodeAdded", node("n1"), uuid="1"))
    await ws.send_str(msg("NodeAdded", node("n1", Extra=1), uuid="dup"))
    reply = json.loads(await ws.receive_str())
    assert (reply["UUID"], reply["Obj"]["Rule"]) == ("dup", "duplicate")
    assert "Extra" not in analyzer.graph.node("n1").metadata
    await ws.send_str(msg("EdgeAdded", edge("e", "n1", "ghost"), uuid="e"))
    reply = json.loads(await ws.receive_str())
    assert (reply["Obj"]["Rule"], reply["Obj"]["Error"]) == ("missing-end", "Child node not found")
    await ws.send_str(msg("NodeUpdated", {**node("n1", Extra=2), "Revision": 0}, uuid="u0"))
    reply = json.loads(await ws.receive_str())
    assert reply["Obj"]["Rule"] == "revision"
    await ws.send_str(msg("NodeUpdated", {**node("n1", Extra=3), "Revision": 1}))
    await ws.send_str(msg("NodeUpdated", {**node("ghost"), "Revision": 1}, uuid="g"))
    reply = json.loads(await ws.receive_str())
    assert reply["Obj"]["Rule"] == "not-found"
    ops = [{"Type": 1, "Key": "Deep.Key", "Value": 5}, {"Type": 2, "Key": "Extra"}]
    await ws.send_str(msg("NodePartiallyUpdated", {"ID": "n1", "Revision": 2, "Ops": ops}))
    await settle(ws)
    stored = analyzer.graph.node("n1")
    assert stored.metadata == {"Name": "n1", "Type": "fabric", "Deep": {"Key": 5}}
    assert stored.revision == 2
    await ws.send_str(
        msg("NodePartiallyUpdated", {"ID": "n1", "Revision": 3, "Ops": [{"Type": 9}]}, "bad")
    )
    reply = json.loads(await ws.receive_str())
    assert reply["Obj"]["Rule"] == "ops"
    rejections = await (await http.get(analyzer.url + "/api/rejections?origin=test.rules")).json()
    assert [r["Rule"] for r in rejections] == [
        "duplicate",
        "missing-end",
        "revision",
        "not-found",
        "ops",
    ]


async def test_sync_replaces_own_graph_without_flapping(analyzer, http):
    ws = await connect(http, analyzer, "syncer")
    await ws.send_str(
        msg("Sync", {"Nodes": [node("a"), node("b")], "Edges": [edge("ab", "a", "b")]})
    )
    await settle(ws)
    kept = analyzer.graph.node("a")
    seen: list[str] = []
    analyzer.graph.add_listener(
        type(
            "Recorder",
            (),
            {
                "on_node_added": lambda self, n: seen.append("+" + n.id),
                "on_node_updated": lambda self, n, o: seen.append("~" + n.id),
                "on_node_deleted": lambda self, n: seen.append("-" + n.id),
                "on_edge_added": lambda self, e: seen.append("+" + e.id),
                "on_edge_updated": lambda self, e, o: seen.append("~" + e.id),
                "on_edge_deleted": lambda self, e: seen.append("-" + e.id),
            },
        )()
    )
    await ws.send_str(msg("Sync", {"Nodes": [node("a"), node("c")], "Edges": None}))
    await settle(ws)
    assert sorted(seen) == ["+c", "-ab", "-b"]
    assert analyzer.graph.node("a") is kept


async def test_reconnecting_publisher_starts_revisions_afresh(analyzer, http):
    ws = await connect(http, analyzer, "restart")
    await ws.send_str(msg("NodeAdded", {**node("n"), "Revision": 50}))
    await settle(ws)
    await ws.close()
    await eventually(lambda: "restart" not in analyzer.publishers.by_host)
    ws = await connect(http, analyzer, "restart")
    await ws.send_str(msg("NodeUpdated", {**node("n", Color="new"), "Revision": 1}))
    await settle(ws)
    assert analyzer.graph.node("n").metadata["Color"] == "new"


async def test_duplicate_host_id_refused_with_409(analyzer, http):
    first = await connect(http, analyzer, "same")
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await connect(http, analyzer, "same")
    assert refused.value.status == 409
    subscriber = await http.ws_connect(
        analyzer.url + "/ws/subscriber", headers={"X-Host-ID": "same", "X-Client-Type": "t"}
    )
    await subscriber.close()
    await first.close()


async def test_handshake_requirements(analyzer, http):
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await http.ws_connect(analyzer.url + "/ws/publisher", headers={"X-Host-ID": "x"})
    assert refused.value.status == 400
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await http.ws_connect(
            analyzer.url + "/ws/publisher",
            headers={**publisher_headers("x"), "X-Client-Protocol": "protobuf"},
        )
    assert refused.value.status == 400
    ws = await connect(http, analyzer, "hdr")
    assert ws._response.headers["X-Service-Type"] == "analyzer"
    assert ws._response.headers["X-Host-ID"] == "analyzer-test"


async def test_shared_edge_survives_until_its_last_holder_leaves(analyzer, http):
    keep = await connect(http, analyzer, "keep")
    a = await connect(http, analyzer, "a", persistent=False)
    b = await connect(http, analyzer, "b", persistent=False)
    await send_all(keep, [msg("NodeAdded", node("x")), msg("NodeAdded", node("y"))])
    await settle(keep)
    for ws in (a, b):
        await ws.send_str(msg("EdgeAdded", edge("xy", "x", "y")))
        await settle(ws)
    assert analyzer.store.holders_of_edge("xy") == ["test.a", "test.b"]
    await a.close()
    await eventually(lambda: analyzer.store.holders_of_edge("xy") == ["test.b"])
    assert analyzer.graph.edge("xy") is not None
    await b.close()
    await eventually(lambda: analyzer.graph.edge("xy") is None)
    assert analyzer.graph.node("x") is not None and analyzer.graph.node("y") is not None
