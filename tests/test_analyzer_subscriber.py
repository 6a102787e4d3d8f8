"""/ws/subscriber: SyncRequest/SyncReply, filtered live events, partial policy, slow subscribers."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import time

import aiohttp
import pytest

from analyzer_support import edge, eventually, msg, node, publisher_headers, settings
from dragonscope.analyzer import Analyzer

pytestmark = pytest.mark.timeout(60)


async def receive(ws, timeout=5.0):
    return json.loads(await ws.receive_str(timeout=timeout))


async def subscribe(http, analyzer, host, **headers):
    return await http.ws_connect(
        analyzer.url + "/ws/subscriber",
        headers={"X-Host-ID": host, "X-Client-Type": "t", **headers},
    )


async def test_sync_then_live_events_in_order():
    async with Analyzer(settings()) as analyzer, aiohttp.ClientSession() as http:
        pub = await http.ws_connect(analyzer.url + "/ws/publisher", headers=publisher_headers("p"))
        await pub.send_str(msg("NodeAdded", node("a")))
        sub = await subscribe(http, analyzer, "s")
        await eventually(lambda: analyzer.graph.node("a"))
        await sub.send_str(msg("SyncRequest", {"GremlinFilter": None}, uuid="req"))
        reply = await receive(sub)
        assert (reply["Type"], reply["UUID"], reply["Status"]) == ("SyncReply", "req", 200)
        assert [n["ID"] for n in reply["Obj"]["Nodes"]] == ["a"]
        await pub.send_str(msg("NodeAdded", node("b")))
        await pub.send_str(msg("EdgeAdded", edge("ab", "a", "b")))
        await pub.send_str(msg("NodeDeleted", node("b")))
        got = [(m["Type"], m["Obj"]["ID"]) for m in [await receive(sub) for _ in range(4)]]
        assert got == [
            ("NodeAdded", "b"), ("EdgeAdded", "ab"), ("EdgeDeleted", "ab"), ("NodeDeleted", "b")
        ]  # fmt: skip
        await sub.send_str(msg("SyncRequest", {"GremlinFilter": "G.V().Count()"}, uuid="bad"))
        reply = await receive(sub)
        assert reply["Status"] == 400 and "graph" in reply["Obj"]


async def test_filtered_subscriber_sees_only_its_view():
    async with Analyzer(settings()) as analyzer, aiohttp.ClientSession() as http:
        pub = await http.ws_connect(analyzer.url + "/ws/publisher", headers=publisher_headers("p"))
        sub = await subscribe(
            http, analyzer, "f", **{"X-Gremlin-Filter": "G.V().Has('Zone', 'blue').SubGraph()"}
        )
        await pub.send_str(msg("NodeAdded", node("red1", Zone="red")))
        await pub.send_str(msg("NodeAdded", node("blue1", Zone="blue")))
        first = await receive(sub)
        assert (first["Type"], first["Obj"]["ID"]) == ("NodeAdded", "blue1")
        await pub.send_str(msg("NodeUpdated", {**node("red1", Zone="blue"), "Revision": 1}))
        entered = await receive(sub)
        assert (entered["Type"], entered["Obj"]["ID"]) == ("NodeAdded", "red1")
        await pub.send_str(msg("NodeUpdated", {**node("blue1", Zone="blue", X=1), "Revision": 1}))
        updated = await receive(sub)
        assert (updated["Type"], updated["Obj"]["Metadata"]["X"]) == ("NodeUpdated", 1)
        await pub.send_str(msg("NodeUpdated", {**node("blue1", Zone="red"), "Revision": 2}))
        left = await receive(sub)
        assert (left["Type"], left["Obj"]["ID"]) == ("NodeDeleted", "blue1")
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await subscribe(http, analyzer, "g", **{"X-Gremlin-Filter": "G.V()"})
        assert refused.value.status == 400


async def test_partial_policy_sends_ops():
    async with Analyzer(settings()) as analyzer, aiohttp.ClientSession() as http:
        analyzer.store.add_node(_node("n"), "t.x")
        sub = await subscribe(http, analyzer, "p", **{"X-Update-Policy": "partial"})
        n = analyzer.graph.node("n")
        analyzer.store.set_metadata(n, {**n.metadata, "State": "UP"})
        update = await receive(sub)
        assert update["Type"] == "NodePartiallyUpdated"
        assert update["Obj"]["Ops"] == [{"Type": 1, "Key": "State", "Value": "UP"}]
        with pytest.raises(aiohttp.WSServerHandshakeError):
            await subscribe(http, analyzer, "q", **{"X-Update-Policy": "sometimes"})


def _node(node_id):
    from dragonscope.graph.model import Node

    return Node(node_id, {"Name": node_id, "Type": "fabric"})


def _stalled_subscriber(port: int) -> socket.socket:
    """A subscriber that completes the handshake and then never reads."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            "GET /ws/subscriber HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            "X-Host-ID: stalled\r\nX-Client-Type: t\r\n\r\n"
        ).encode()
    )
    return sock


async def test_slow_subscriber_never_slows_publishers_or_others():
    async with (
        Analyzer(settings(subscriber_queue=200)) as analyzer,
        aiohttp.ClientSession() as http,
    ):
        stalled = await asyncio.to_thread(_stalled_subscriber, analyzer.port)
        try:
            await eventually(lambda: len(analyzer.hub.subscribers) == 1)
            healthy = await subscribe(http, analyzer, "healthy")
            pub = await http.ws_connect(
                analyzer.url + "/ws/publisher", headers=publisher_headers("p")
            )
            count = 6000
            padding = "x" * 400
            started = time.monotonic()
            for i in range(count):
                await pub.send_str(msg("NodeAdded", node(f"n{i}", Pad=padding)))
            received = 0
            while received < count:
                frame = await receive(healthy, timeout=20)
                if frame["Type"] == "NodeAdded":
                    received += 1
            elapsed = time.monotonic() - started
            assert analyzer.graph.node_count() == count
            slow = next(s for s in analyzer.hub.subscribers if s.host_id == "stalled")
            assert len(slow.queue) <= 200
            assert slow.dropped > 0 or slow.resync or slow.closed
            assert elapsed < 20
        finally:
            stalled.close()


async def test_stop_says_goodbye_to_connected_peers():
    analyzer = Analyzer(settings())
    await analyzer.start()
    async with aiohttp.ClientSession() as http:
        sub = await subscribe(http, analyzer, "bye")
        pub = await http.ws_connect(analyzer.url + "/ws/publisher", headers=publisher_headers("p"))
        started = time.monotonic()
        await analyzer.stop()
        assert time.monotonic() - started < 3
        for ws in (sub, pub):
            closing = await ws.receive(timeout=3)
            assert (closing.type, closing.data) == (aiohttp.WSMsgType.CLOSE, 1001)


async def test_concurrent_sync_requests_hold_at_most_their_slots():
    """Many subscribers asking for the whole graph at once: at most ``sync_encodings``
    answers are held (encoding or unsent) at a time, and every one is complete."""
    async with (
        Analyzer(settings(sync_encodings=2)) as analyzer,
        aiohttp.ClientSession() as http,
    ):
        pub = await http.ws_connect(analyzer.url + "/ws/publisher", headers=publisher_headers("p"))
        for i in range(3000):
            await pub.send_str(msg("NodeAdded", node(f"n{i}", Pad="x" * 200)))
        await eventually(lambda: analyzer.graph.node_count() == 3000, timeout=30)
        subs = [await subscribe(http, analyzer, f"s{i}") for i in range(12)]

        async def sync(ws, i):
            await ws.send_str(msg("SyncRequest", {}, uuid=f"r{i}"))
            while True:
                reply = json.loads(await ws.receive_str(timeout=60))
                if reply["Type"] == "SyncReply":
                    return reply

        replies = await asyncio.gather(*(sync(ws, i) for i, ws in enumerate(subs)))
        assert [r["UUID"] for r in replies] == [f"r{i}" for i in range(12)]
        assert all(len(r["Obj"]["Nodes"]) == 3000 for r in replies)
        assert 1 <= analyzer.hub.graphs_held_max <= 2
        # A subscriber that leaves while its answer waits gives its slot back.
        await subs[0].send_str(msg("SyncRequest", {}, uuid="gone"))
        await subs[0].close()
        replies = await asyncio.gather(*(sync(ws, i) for i, ws in enumerate(subs[1:4])))
        assert all(len(r["Obj"]["Nodes"]) == 3000 for r in replies)
        await eventually(lambda: analyzer.hub.graphs_held == 0)
        async with http.get(analyzer.url + "/metrics") as reply:
            assert "dragonscope_subscriber_graph_answers_held 0.0" in await reply.text()
        for ws in [pub, *subs]:
            await ws.close()
