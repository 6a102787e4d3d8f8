"""History: the graph as it was (Gremlin At/Context) and /api/changes between two times."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest

from analyzer_support import settings
from dragonscope.analyzer import Analyzer
from dragonscope.graph.history import History
from dragonscope.graph.model import Graph, Node, now_ms
from dragonscope.graph.store import decode_edge, decode_node

pytestmark = pytest.mark.timeout(60)


def add(analyzer, obj):
    element = decode_edge(obj) if "Parent" in obj else decode_node(obj)
    add_fn = analyzer.store.add_edge if "Parent" in obj else analyzer.store.add_node
    add_fn(element, "test.history")


def fabric(node_id, **extra):
    return {"ID": node_id, "Metadata": {"Name": node_id, "Type": "fabric", **extra}}


async def tick() -> int:
    """A time strictly between the changes before and after it."""
    await asyncio.sleep(0.02)
    t = now_ms()
    await asyncio.sleep(0.02)
    return t


async def query(http, analyzer, gremlin):
    response = await http.post(analyzer.url + "/api/topology", json={"GremlinQuery": gremlin})
    assert response.status == 200, await response.text()
    return await response.json()


def ids(section):
    return sorted(e["ID"] if "ID" in e else e["After"]["ID"] for e in section)


async def test_at_and_changes_between_three_times():
    async with Analyzer(settings()) as analyzer, aiohttp.ClientSession() as http:
        add(analyzer, fabric("n1"))
        add(analyzer, fabric("n2"))
        add(analyzer, {"ID": "e12", "Parent": "n1", "Child": "n2",
                       "Metadata": {"RelationType": "layer2"}})  # fmt: skip
        t1 = await tick()
        n1 = analyzer.graph.node("n1")
        analyzer.store.set_metadata(n1, {**n1.metadata, "Color": "red"})
        add(analyzer, fabric("n3"))
        analyzer.store.delete_node("n2", None)
        t2 = await tick()
        analyzer.store.delete_node("n3", None)
        add(analyzer, fabric("n4"))
        t3 = await tick()

        at_t1 = await query(http, analyzer, f"G.At({t1}).V()")
        assert sorted(n["ID"] for n in at_t1) == ["n1", "n2"]
        at_t2 = await query(http, analyzer, f"G.At({t2}).V()")
        assert sorted(n["ID"] for n in at_t2) == ["n1", "n3"]
        assert {n["ID"]: n["Metadata"].get("Color") for n in at_t2}["n1"] == "red"
        assert await query(http, analyzer, f"G.At({t2}).E().Count()") == 0
        assert await query(http, analyzer, f"G.Context({t1}).E().Count()") == 1
        window = sorted(n["ID"] for n in await query(http, analyzer, f"G.Context({t3}, 60).V()"))
        assert window == ["n1", "n2", "n3", "n4"]  # all that existed in the last minute
        assert sorted(n["ID"] for n in await query(http, analyzer, f"G.At({t3}).V()")) == [
            "n1", "n4"]  # fmt: skip

        response = await http.get(analyzer.url + f"/api/changes?from={t1}&to={t2}")
        diff = await response.json()
        assert (diff["From"], diff["To"]) == (t1, t2)
        assert ids(diff["Added"]["Nodes"]) == ["n3"]
        assert ids(diff["Removed"]["Nodes"]) == ["n2"]
        assert ids(diff["Changed"]["Nodes"]) == ["n1"]
        change = diff["Changed"]["Nodes"][0]
        assert "Color" not in change["Before"]["Metadata"]
        assert change["After"]["Metadata"]["Color"] == "red"
        assert ids(diff["Removed"]["Edges"]) == ["e12"]
        assert diff["Added"]["Edges"] == diff["Changed"]["Edges"] == []

        diff = await (await http.get(analyzer.url + f"/api/changes?from={t1}&to={t3}")).json()
        assert ids(diff["Added"]["Nodes"]) == ["n4"]  # n3 came and went inside the window
        assert ids(diff["Removed"]["Nodes"]) == ["n2"]

        diff = await (await http.get(analyzer.url + f"/api/changes?from={t2}&to={t3}")).json()
        assert ids(diff["Added"]["Nodes"]) == ["n4"] and ids(diff["Removed"]["Nodes"]) == ["n3"]
        assert diff["Changed"]["Nodes"] == []

        flt = "G.V().Has('Name', Within('n1', 'n2')).SubGraph()"
        diff = await (
            await http.get(
                analyzer.url + "/api/changes", params={"from": t1, "to": t3, "filter": flt}
            )
        ).json()
        assert ids(diff["Removed"]["Nodes"]) == ["n2"] and diff["Added"]["Nodes"] == []
        assert ids(diff["Changed"]["Nodes"]) == ["n1"]


async def test_changes_errors_are_clear():
    async with Analyzer(settings()) as analyzer, aiohttp.ClientSession() as http:
        await asyncio.sleep(1.1)
        for params, fragment in (
            ({}, "from parameter is required"),
            ({"from": "yesterday"}, "invalid time"),
            ({"from": "-1m", "to": "-2m"}, "is after"),
            ({"from": "-1s", "filter": "G.V()"}, "must return a graph"),
            ({"from": "-1s", "filter": "G.V(("}, ""),
        ):
            response = await http.get(analyzer.url + "/api/changes", params=params)
            assert response.status == 400, params
            assert fragment in (await response.json())["Error"]


async def test_times_before_history_began_answer_the_earliest_state():
    """Skydive's UI asks for G.At('-1m') in the analyzer's first minute, and may sync at
    a Time before the first change: both get the earliest state known, not an error."""
    async with Analyzer(settings()) as analyzer, aiohttp.ClientSession() as http:
        add(analyzer, fabric("n1"))
        assert await query(http, analyzer, "G.At('-1m').V()") == []
        assert await query(http, analyzer, "G.At(1).V().Count()") == 0
        assert ids(await query(http, analyzer, "G.V()")) == ["n1"]
        sub = await http.ws_connect(
            analyzer.url + "/ws/subscriber", headers={"X-Host-ID": "s", "X-Client-Type": "t"}
        )
        await sub.send_str(json.dumps({"Namespace": "Graph", "Type": "SyncRequest", "UUID": "u",
                                       "Obj": {"GremlinFilter": "", "Time": 1000}}))  # fmt: skip
        reply = json.loads(await sub.receive_str(timeout=5))
        assert (reply["Type"], reply["Status"]) == ("SyncReply", 200)
        assert reply["Obj"]["Nodes"] == [] and reply["Obj"]["Edges"] == []
        diff = await (await http.get(analyzer.url + "/api/changes", params={"from": "1"})).json()
        assert ids(diff["Added"]["Nodes"]) == ["n1"] and diff["Gaps"] == []
        await sub.close()


def test_retention_bounds_memory_and_answers_the_earliest_state_kept():
    clock = [1_000_000]
    graph = Graph()
    history = History(graph, retention_s=10, max_changes=100, clock=lambda: clock[0])
    for i in range(250):
        clock[0] += 1
        graph.add_node(Node(f"n{i}", {"Name": f"n{i}", "Type": "fabric"}))
    assert len(history) == 100
    assert history.horizon == 1_000_150
    assert history.view_at(1_000_100).node_count() == 150  # the earliest state kept
    assert history.view_at(1_000_200).node_count() == 200
    clock[0] += 20_000
    history.prune()
    assert len(history) == 0
    assert history.view_at(clock[0]).node_count() == 250
