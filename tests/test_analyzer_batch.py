"""Batch frames: many Graph messages in one frame, to an analyzer that says it takes them.

dragonscope's analyzer advertises ``X-Dragonscope-Batch`` (its frame bound) in the
upgrade response and applies a ``Batch`` as its messages one by one, each answered
as if it came alone; a publisher talking to an analyzer that says nothing (Skydive's)
sends one frame per message.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from analyzer_support import edge, eventually, node, publisher_headers, reply_to, settings
from dragonscope import skydive as m
from dragonscope.analyzer import Analyzer
from dragonscope.skydive import AnalyzerHttp, Message, Publisher

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
async def analyzer():  # type: ignore[no-untyped-def]
    async with Analyzer(settings(max_frame_bytes=2**20)) as running:
        yield running


def _batch(uuid: str, *items: tuple[str, Any, str]) -> str:
    obj = [{"Type": type_, "UUID": uid, "Obj": element} for type_, element, uid in items]
    return json.dumps({"Namespace": "Graph", "Type": "Batch", "UUID": uuid, "Obj": obj})


async def test_a_batch_is_applied_in_order_and_answered_per_message(analyzer):
    async with aiohttp.ClientSession() as http:
        ws = await http.ws_connect(
            analyzer.url + "/ws/publisher", headers=publisher_headers("batcher")
        )
        assert ws._response.headers[m.HDR_BATCH] == str(2**20)
        bad = {"ID": "nameless", "Host": "", "Metadata": {"Type": "fabric"}}
        await ws.send_str(
            _batch(
                "b1",
                ("NodeAdded", node("a"), "u1"),
                ("NodeAdded", node("b"), "u2"),
                ("EdgeAdded", edge("e", "a", "b"), "u3"),
                ("NodeAdded", bad, "u4"),
                ("NodeAdded", node("c"), ""),
            )
        )
        rejected = await reply_to(ws, "u4")
        assert rejected["Status"] == 400 and rejected["Obj"]["ID"] == "nameless"
        graph = analyzer.graph
        assert {n.id for n in graph.nodes()} == {"a", "b", "c"}
        assert graph.edge("e") is not None
        assert analyzer.counters["messages_in"] == 5
        await ws.send_str(_batch("b2", ("Batch", [], "")))
        assert (await reply_to(ws, "b2"))["Obj"]["Rule"] == "decode"
        await ws.close()


async def test_the_publisher_batches_for_dragonscope_and_not_for_skydive(analyzer):
    messages = [Message("Graph", "NodeAdded", node(f"n{i}"), f"u{i}") for i in range(300)]
    messages.append(Message("Graph", "EdgeAdded", edge("e", "n0", "n1"), "ue"))
    http = AnalyzerHttp(analyzer.url)
    publisher = Publisher(http, "batching")
    try:
        await publisher.connect()
        assert publisher.batch_bytes > 0
        await publisher.send_many(messages)
        await eventually(lambda: analyzer.graph.edge("e") is not None, 10.0)
        assert analyzer.graph.node_count() == 300
        assert publisher.messages_out == 301
        assert analyzer.counters["messages_in"] == 301
    finally:
        await publisher.disconnect()
        await http.close()

    # An analyzer whose upgrade response says nothing of batches gets one frame per message.
    frames: list[str] = []

    async def skydive_like(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        ws.headers[m.HDR_HOST_ID] = "skydive"
        ws.headers[m.HDR_SERVICE_TYPE] = "analyzer"
        await ws.prepare(request)
        async for frame in ws:
            frames.append(frame.data)
        return ws

    app = web.Application()
    app.router.add_get("/ws/publisher", skydive_like)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    http = AnalyzerHttp(f"http://127.0.0.1:{port}")
    publisher = Publisher(http, "plain")
    try:
        await publisher.connect()
        assert publisher.batch_bytes == 0
        await publisher.send_many(messages[:3])
        await eventually(lambda: len(frames) == 3, 10.0)
        assert [json.loads(f)["Type"] for f in frames] == ["NodeAdded"] * 3
        assert [json.loads(f)["UUID"] for f in frames] == ["u0", "u1", "u2"]
    finally:
        await publisher.disconnect()
        await http.close()
        await runner.cleanup()


async def test_integral_floats_in_metadata_are_stored_as_integers(analyzer):
    """As Skydive stores them, at any depth; other floats, and strings that look like
    numbers, are kept as they are. Only the elements holding a float are normalized."""
    floaty = node("f")
    floaty["Metadata"] = {
        "Name": "f",
        "Type": "device",
        "MTU": 1500.0,
        "Ratio": 0.5,
        "Nested": {"Values": [2.0, 3, {"Deep": -4e0}], "Text": "7.0"},
    }
    plain = node("p")
    plain["Metadata"] = {"Name": "p", "Type": "device", "MTU": 1500, "Address": "10.0.0.1"}
    wide = edge("w", "f", "p")
    wide["Metadata"] = {"RelationType": "layer2", "Weight": 1e3}
    async with aiohttp.ClientSession() as http:
        ws = await http.ws_connect(
            analyzer.url + "/ws/publisher", headers=publisher_headers("floats")
        )
        await ws.send_str(
            _batch(
                "b",
                ("NodeAdded", floaty, "u1"),
                ("NodeAdded", plain, "u2"),
                ("EdgeAdded", wide, "u3"),
            )
        )
        await eventually(lambda: analyzer.graph.edge("w") is not None, 10.0)
        stored = analyzer.graph.node("f").metadata
        assert stored["MTU"] == 1500 and type(stored["MTU"]) is int
        assert stored["Ratio"] == 0.5
        values = stored["Nested"]["Values"]
        assert values[:2] == [2, 3] and type(values[0]) is int
        assert values[2]["Deep"] == -4 and type(values[2]["Deep"]) is int
        assert stored["Nested"]["Text"] == "7.0"
        assert analyzer.graph.node("p").metadata == plain["Metadata"]
        weight = analyzer.graph.edge("w").metadata["Weight"]
        assert weight == 1000 and type(weight) is int
        await ws.close()
