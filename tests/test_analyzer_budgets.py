"""Every place a client's Gremlin runs has the same configurable budget (elements
touched or returned, seconds): REST queries, subscriber filters, saved views, node
and edge rules, alerts. Past it the client gets an error naming the bound, and
/metrics counts the run by where it ran."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest

from analyzer_support import edge, eventually, msg, node, publisher_headers, reply_to, settings
from dragonscope.analyzer import Analyzer

MAX_ELEMENTS = 50
HEAVY = "G.V().Both().Both().Both()"
SUBSCRIBER = {"X-Client-Type": "test"}


@pytest.fixture
async def analyzer():  # type: ignore[no-untyped-def]
    async with Analyzer(settings(gremlin_max_elements=MAX_ELEMENTS, gremlin_timeout=2.0)) as a:
        yield a


@pytest.fixture
async def http():  # type: ignore[no-untyped-def]
    async with aiohttp.ClientSession() as session:
        yield session


async def _graph(http: aiohttp.ClientSession, url: str, size: int = 40) -> Any:
    """A ring with chords: every node has a few neighbours, so moves multiply."""
    ws = await http.ws_connect(url + "/ws/publisher", headers=publisher_headers("g"))
    for i in range(size):
        await ws.send_str(msg("NodeAdded", node(f"n{i}", type_="lport")))
    for i in range(size):
        for step in (1, 3):
            j = (i + step) % size
            await ws.send_str(msg("EdgeAdded", edge(f"e{i}-{j}", f"n{i}", f"n{j}")))
    await ws.send_str(msg("SyncRequest", None, uuid="done"))
    await reply_to(ws, "done")
    return ws


async def _exceeded(http: aiohttp.ClientSession, url: str) -> dict[str, float]:
    async with http.get(url + "/metrics") as response:
        text = await response.text()
    out = {}
    for line in text.splitlines():
        if line.startswith("dragonscope_gremlin_budget_exceeded_total{"):
            where = line.split('where="', 1)[1].split('"', 1)[0]
            out[where] = float(line.rsplit(" ", 1)[1])
    return out


async def test_rest_queries(analyzer, http):
    await _graph(http, analyzer.url)
    async with http.post(analyzer.url + "/api/topology", json={"GremlinQuery": HEAVY}) as r:
        assert r.status == 400
        assert "gremlin-max-elements" in await r.text()
    assert (await _exceeded(http, analyzer.url))["rest"] == 1


async def test_subscriber_filters(analyzer, http):
    publisher = await _graph(http, analyzer.url)
    heavy = HEAVY + ".SubGraph()"
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await http.ws_connect(
            analyzer.url + "/ws/subscriber", headers={**SUBSCRIBER, "X-Gremlin-Filter": heavy}
        )
    assert refused.value.status == 400
    # A filter within the budget at first (21 elements), past it once the graph grows.
    growing = "G.V().Has('Name', 'n0').Both().Both().SubGraph()"
    ws = await http.ws_connect(
        analyzer.url + "/ws/subscriber", headers={**SUBSCRIBER, "X-Host-ID": "s1"}
    )
    await ws.send_str(msg("SyncRequest", {"GremlinFilter": heavy}, uuid="heavy"))
    reply = await reply_to(ws, "heavy")
    assert reply["Status"] == 400 and "gremlin-max-elements" in reply["Obj"]
    await ws.send_str(msg("SyncRequest", {"GremlinFilter": growing}, uuid="ok"))
    assert (await reply_to(ws, "ok"))["Status"] == 200
    for i in range(MAX_ELEMENTS):
        await publisher.send_str(msg("NodeAdded", node(f"vm{i}", type_="vm")))
        await publisher.send_str(msg("EdgeAdded", edge(f"vm-e{i}", "n0", f"vm{i}")))
    while True:
        body = json.loads((await ws.receive(timeout=10)).data)
        if body["Type"] == "Error":
            break
        assert body["Type"] in ("NodeAdded", "EdgeAdded", "NodeDeleted", "EdgeDeleted")
    assert body["Status"] == 400
    assert "gremlin-max-elements" in body["Obj"] and "X-Gremlin-Filter" in body["Obj"]
    exceeded = await _exceeded(http, analyzer.url)
    assert exceeded["subscriber-filter"] >= 3


async def test_views(analyzer, http):
    ws = await _graph(http, analyzer.url, size=MAX_ELEMENTS + 10)
    # A missing object every node refers to: the view follows them all.
    await ws.send_str(msg("NodeAdded", node("m", type_="missing")))
    for i in range(MAX_ELEMENTS + 10):
        await ws.send_str(msg("EdgeAdded", edge(f"ref{i}", f"n{i}", "m", "reference")))
    await ws.send_str(msg("SyncRequest", None, uuid="refs"))
    await reply_to(ws, "refs")
    async with http.get(analyzer.url + "/api/views/broken-references") as r:
        assert r.status == 400
        assert "gremlin-max-elements" in await r.text()
    assert (await _exceeded(http, analyzer.url))["view"] == 1


async def test_rules(analyzer, http):
    await _graph(http, analyzer.url)
    body = {"Name": "heavy", "Action": "update", "Query": HEAVY, "Metadata": {"Tag": "x"}}
    async with http.post(analyzer.url + "/api/noderule", json=body) as r:
        assert r.status == 201
        rule = await r.json()
    async with http.get(analyzer.url + f"/api/noderule/{rule['UUID']}") as r:
        assert "gremlin-max-elements" in (await r.json())["Error"]
    body = {"Name": "e", "Src": HEAVY, "Dst": "G.V().Has('Name', 'n1')", "Metadata": {}}
    body["Metadata"] = {"RelationType": "layer2"}
    async with http.post(analyzer.url + "/api/edgerule", json=body) as r:
        assert r.status == 201
        rule = await r.json()
    async with http.get(analyzer.url + f"/api/edgerule/{rule['UUID']}") as r:
        assert "gremlin-max-elements" in (await r.json())["Error"]
    assert not any(n.metadata.get("Tag") for n in analyzer.graph.nodes())
    assert (await _exceeded(http, analyzer.url))["rule"] >= 2


async def test_alerts(analyzer, http):
    await _graph(http, analyzer.url)
    body = {"Name": "heavy", "Expression": HEAVY}
    async with http.post(analyzer.url + "/api/alert", json=body) as r:
        assert r.status == 201
        alert = await r.json()
    assert "Error" not in alert

    async def error() -> str:
        async with http.get(analyzer.url + f"/api/alert/{alert['UUID']}") as r:
            return str((await r.json()).get("Error", ""))

    for _ in range(250):
        if "gremlin-max-elements" in await error():
            break
        await asyncio.sleep(0.02)
    assert "gremlin-max-elements" in await error()
    await eventually(lambda: analyzer.query_budget.exceeded["alert"] >= 1)
    assert analyzer.counters["alerts_fired"] == 0
