"""A publisher storm at small scale (``bench/bench_storm.py`` runs the full one):
publishers past ``max-publishers-per-user`` are refused with the bound named, every
accepted publisher's graph is exactly in the analyzer, SyncReplies sent during the
storm hold what their publisher wrote before asking, and ``/healthz`` keeps
answering."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import aiohttp

from analyzer_support import edge, msg, node, publisher_headers, settings
from demo_snapshot import demo_snapshot
from dragonscope.analyzer import Analyzer
from dragonscope.graph import Node
from dragonscope.topology import translate

PUBLISHERS = 40
PER_USER = 30
SYNC_REQUESTS = 10
BASE = 2_000
HEALTHZ_MAX_S = 5.0  # generous: the suite runs on busy machines


def _node(node_id: str, padding: str) -> Node:
    return Node(node_id, {"Name": node_id, "Type": "lport", "Pad": padding})


def _cloud() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    snapshot = demo_snapshot("small", seed=0)
    nodes, edges = translate(snapshot, extensions=[])
    return (
        [{"ID": n.id, "Metadata": n.metadata} for n in nodes.values()],
        [
            {"ID": e.id, "Metadata": e.metadata, "Parent": e.parent, "Child": e.child}
            for e in edges.values()
        ],
    )


def _own(p: int, cloud: tuple[list[dict[str, Any]], list[dict[str, Any]]]) -> tuple[list, list]:
    """Publisher ``p``'s copy of the cloud, with IDs of its own."""
    nodes, edges = cloud

    def new(old: str) -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{p}/{old}"))

    return (
        [dict(n, ID=new(n["ID"]), Host=f"storm-{p}") for n in nodes],
        [
            dict(e, ID=new(e["ID"]), Parent=new(e["Parent"]), Child=new(e["Child"]), Host="h")
            for e in edges
        ],
    )


async def _load_base(http: aiohttp.ClientSession, url: str) -> None:
    ws = await http.ws_connect(url + "/ws/publisher", headers=publisher_headers("base"))
    nodes = [node(f"b{i}", type_="lport") for i in range(BASE)]
    edges = [edge(f"be{i}", f"b{i}", f"b{(i * 7 + 1) % BASE}") for i in range(BASE)]
    await ws.send_str(msg("Sync", {"Nodes": nodes, "Edges": edges}))
    await ws.close()


async def _probe(http: aiohttp.ClientSession, url: str, latencies: list[float]) -> None:
    while True:
        started = time.monotonic()
        async with http.get(url + "/healthz") as response:
            assert response.status == 200
        latencies.append(time.monotonic() - started)
        await asyncio.sleep(0.05)


async def _publish(
    http: aiohttp.ClientSession,
    url: str,
    p: int,
    graph: tuple[list, list],
    ask: bool,
    everyone: asyncio.Barrier,
) -> dict[str, Any]:
    """One publisher: what happened to it."""
    try:
        ws = await http.ws_connect(
            url + "/ws/publisher", headers=publisher_headers(f"storm-{p}"), max_msg_size=0
        )
    except aiohttp.WSServerHandshakeError as exc:
        await everyone.wait()
        return {"refused": (exc.status, (exc.headers or {}).get("X-Refused"))}
    nodes, edges = graph
    for n in nodes:
        await ws.send_str(msg("NodeAdded", n))
    for e in edges:
        await ws.send_str(msg("EdgeAdded", e))
    reply: dict[str, Any] | None = None
    if ask:
        await ws.send_str(msg("SyncRequest", None, uuid="sync"))
        while reply is None:
            frame = await ws.receive(timeout=60)
            assert frame.type == aiohttp.WSMsgType.TEXT, frame
            body = json.loads(frame.data)
            if body.get("UUID") == "sync":
                reply = body
    await everyone.wait()  # every handshake is answered before anyone leaves
    await ws.close()  # answered once every frame before it is applied
    return {"reply": reply}


async def test_a_publisher_storm_is_exact_bounded_and_refusals_are_clear() -> None:
    cloud = _cloud()
    graphs = [_own(p, cloud) for p in range(PUBLISHERS)]
    async with (
        Analyzer(settings(max_publishers_per_user=PER_USER)) as analyzer,
        aiohttp.ClientSession() as http,
    ):
        url = analyzer.url
        await _load_base(http, url)
        latencies: list[float] = []
        probe = asyncio.create_task(_probe(http, url, latencies))
        everyone = asyncio.Barrier(PUBLISHERS)
        outcomes = await asyncio.gather(
            *(
                _publish(http, url, p, graphs[p], p < SYNC_REQUESTS, everyone)
                for p in range(PUBLISHERS)
            )
        )
        probe.cancel()
        accepted = [p for p, o in enumerate(outcomes) if "reply" in o]
        refused = [o["refused"] for o in outcomes if "refused" in o]
        assert len(accepted) == PER_USER
        assert refused == [(429, "max-publishers-per-user")] * (PUBLISHERS - PER_USER)
        assert latencies and max(latencies) < HEALTHZ_MAX_S

        for p, outcome in enumerate(outcomes):
            origin = f"test.storm-{p}"
            nodes, edges = graphs[p]
            held_nodes = {n.id: n for n in analyzer.graph.nodes() if n.origin == origin}
            held_edges = {e.id: e for e in analyzer.graph.edges() if e.origin == origin}
            if p not in accepted:
                assert not held_nodes and not held_edges
                continue
            assert {i: n.metadata for i, n in held_nodes.items()} == {
                n["ID"]: n["Metadata"] for n in nodes
            }
            assert {i: (e.parent, e.child, e.metadata) for i, e in held_edges.items()} == {
                e["ID"]: (e["Parent"], e["Child"], e["Metadata"]) for e in edges
            }
            reply = outcome["reply"]
            if reply is not None:  # it holds the base and all the publisher sent before
                assert reply["Status"] == 200
                ids = {n["ID"] for n in reply["Obj"]["Nodes"]}
                assert {f"b{i}" for i in range(BASE)} <= ids
                assert {n["ID"] for n in nodes} <= ids
                assert {e["ID"] for e in edges} <= {e["ID"] for e in reply["Obj"]["Edges"]}
        asked = [p for p in accepted if p < SYNC_REQUESTS]
        assert asked
        assert sum(o["reply"] is not None for o in outcomes if "reply" in o) == len(asked)


async def test_a_publisher_writing_behind_a_big_sync_reply_is_not_dropped() -> None:
    """The reply takes longer to go out than a pong may take to come back: the
    connection must not be dropped while the publisher's frames keep coming."""
    async with (
        Analyzer(settings(ping_interval=0.2)) as analyzer,
        aiohttp.ClientSession() as http,
    ):
        padding = "x" * 1000
        for i in range(40_000):  # a reply of 45 MB: more than the sockets' buffers hold
            analyzer.store.add_node(_node(f"b{i}", padding), "o")
        ws = await http.ws_connect(
            analyzer.url + "/ws/publisher", headers=publisher_headers("p"), max_msg_size=0
        )
        await ws.send_str(msg("SyncRequest", None, uuid="big"))
        for i in range(3_000):
            await ws.send_str(msg("NodeAdded", node(f"p{i}", Pad=padding)))
        await asyncio.sleep(1.0)  # several pings go unanswered meanwhile: we do not read
        while True:
            frame = await ws.receive(timeout=30)
            assert frame.type == aiohttp.WSMsgType.TEXT, (frame.type, frame.data, frame.extra)
            if json.loads(frame.data[:200].split(',"Obj"', 1)[0] + "}").get("UUID") == "big":
                break
        await ws.close()
        assert analyzer.graph.node(f"p{2_999}") is not None


async def test_one_late_pong_is_forgiven_two_in_a_row_are_not() -> None:
    """A publisher whose loop was busy through one ping stays connected; one that
    answers no ping at all is dropped after the second."""
    async with (
        Analyzer(settings(ping_interval=0.2)) as analyzer,
        aiohttp.ClientSession() as http,
    ):
        url = analyzer.url + "/ws/publisher"
        late = await http.ws_connect(url, headers=publisher_headers("late"), autoping=False)
        mute = await http.ws_connect(url, headers=publisher_headers("mute"), autoping=False)
        pings = 0
        started = time.monotonic()
        while time.monotonic() - started < 1.5:
            frame = await late.receive(timeout=5)
            assert frame.type == aiohttp.WSMsgType.PING, frame
            pings += 1
            if pings > 1:  # the first one goes unanswered
                await late.pong(frame.data)
        assert not late.closed
        while (frame := await mute.receive(timeout=5)).type == aiohttp.WSMsgType.PING:
            pass
        assert frame.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED), frame
        assert time.monotonic() - started < 3
        await late.close()


async def test_subscribers_past_their_bound_are_told_which() -> None:
    async with (
        Analyzer(settings(max_subscribers_per_user=2, max_subscribers=3)) as analyzer,
        aiohttp.ClientSession() as http,
    ):
        url = analyzer.url + "/ws/subscriber"
        held = [await http.ws_connect(url, headers={"X-Client-Type": "t"}) for _ in range(2)]
        try:
            await http.ws_connect(url, headers={"X-Client-Type": "t"})
        except aiohttp.WSServerHandshakeError as exc:
            assert exc.status == 429
            assert exc.headers is not None
            assert exc.headers["X-Refused"] == "max-subscribers-per-user"
            assert int(exc.headers["Retry-After"]) > 0
        else:
            raise AssertionError("a third subscriber of one user was accepted")
        for ws in held:
            await ws.close()
