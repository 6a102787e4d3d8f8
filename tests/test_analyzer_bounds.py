"""Regressions of issue 19's findings 2-9: every hostile input gets a precise 4xx,
a rejection or a close naming the bound, never a 500, a stall or a crash, and the
analyzer never writes invalid JSON."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aiohttp
import pytest

from analyzer_support import edge, msg, node, publisher_headers, reply_to, settings
from dragonscope.analyzer import Analyzer, bounds

SUBSCRIBER = {"X-Client-Type": "test"}


@pytest.fixture
async def analyzer():  # type: ignore[no-untyped-def]
    async with Analyzer(
        settings(
            max_body_bytes=2**20,
            max_frame_bytes=2**20,
            max_element_bytes=64 * 1024,
            gremlin_max_elements=5_000,
            gremlin_timeout=2.0,
            rejections_kept=50,
            rejections_bytes=64 * 1024,
            max_publishers_per_user=3,
        )
    ) as running:
        yield running


@pytest.fixture
async def http():  # type: ignore[no-untyped-def]
    async with aiohttp.ClientSession() as session:
        yield session


async def _publisher(http: aiohttp.ClientSession, url: str, host: str) -> Any:
    return await http.ws_connect(url + "/ws/publisher", headers=publisher_headers(host))


async def _dense_graph(http: aiohttp.ClientSession, url: str, size: int = 60) -> None:
    ws = await _publisher(http, url, "dense")
    ids = [f"d{i}" for i in range(size)]
    for i in ids:
        await ws.send_str(msg("NodeAdded", node(i)))
    for a in range(size):
        for b in range(a + 1, min(size, a + 6)):
            await ws.send_str(msg("EdgeAdded", edge(f"e{a}-{b}", ids[a], ids[b])))
    await ws.send_str(msg("SyncRequest", None, uuid="done"))
    await reply_to(ws, "done")
    await ws.close()


async def test_queries_have_an_element_and_time_budget_and_re2_only(analyzer, http):
    await _dense_graph(http, analyzer.url)
    started = time.monotonic()
    query = "G.V().Both().Both().Both().Both().Both().Both()"
    async with http.post(analyzer.url + "/api/topology", json={"GremlinQuery": query}) as r:
        assert r.status == 400
        assert "gremlin-max-elements" in await r.text()
    assert time.monotonic() - started < 5
    for pattern in ("(?x)(a+) +", "(?x)(.*) *x", "x(?=y)"):
        q = f"G.V().Has('Name', Regex('{pattern}'))"
        async with http.post(analyzer.url + "/api/topology", json={"GremlinQuery": q}) as r:
            assert r.status == 400, pattern
            assert "RE2" in await r.text()
    # a pattern that backtracks exponentially in Python runs linearly on RE2
    q = "G.V().Has('Name', Regex('(a|aa)+b'))"
    started = time.monotonic()
    async with http.post(analyzer.url + "/api/topology", json={"GremlinQuery": q}) as r:
        assert r.status == 200
    assert time.monotonic() - started < 2


async def test_rejections_are_bounded_and_cut(analyzer, http):
    ws = await _publisher(http, analyzer.url, "rejected")
    huge_type = "T" * 200_000
    for i in range(200):
        await ws.send_str(json.dumps({"Namespace": "Graph", "Type": huge_type, "UUID": str(i)}))
    await ws.send_str(msg("SyncRequest", None, uuid="end"))
    await reply_to(ws, "end")
    log = analyzer.rejections
    assert log.bytes <= 64 * 1024
    assert len(log.recent("test.rejected")) <= 50
    assert all(len(r.type) <= 257 for r in log.recent())
    async with http.get(analyzer.url + "/api/rejections") as r:
        assert r.status == 200 and len(await r.read()) < 128 * 1024
    await ws.close()


async def test_sync_requests_share_one_sliced_encoding(analyzer, http):
    await _dense_graph(http, analyzer.url, 200)
    sockets = [await _publisher(http, analyzer.url, f"sync{i}") for i in range(3)]
    for i, ws in enumerate(sockets):
        await ws.send_str(msg("SyncRequest", None, uuid=f"s{i}"))
    replies = [await reply_to(ws, f"s{i}") for i, ws in enumerate(sockets)]
    assert all(len(r["Obj"]["Nodes"]) == 200 for r in replies)
    assert analyzer.graph_json.encodings <= 2  # one, unless the graph moved meanwhile
    for ws in sockets:
        await ws.close()


async def test_json_patch_copy_cannot_amplify(analyzer, http):
    async with http.post(analyzer.url + "/api/node", json=node("p1", Big="x" * 1000)) as r:
        assert r.status == 201
    patch = [{"op": "copy", "from": "/Metadata", "path": f"/Metadata/c{i}"} for i in range(30)]
    async with http.patch(analyzer.url + "/api/node/p1", json=patch) as r:
        assert r.status == 400
        assert "bytes" in await r.text()
    ws = await _publisher(http, analyzer.url, "big")
    await ws.send_str(msg("NodeAdded", node("big", Blob="y" * 100_000), uuid="b"))
    reply = await reply_to(ws, "b")
    assert reply["Status"] == 400 and reply["Obj"]["Rule"] == "max-element-bytes"
    await ws.close()


async def test_partial_updates_cannot_grow_an_element_past_the_bound(analyzer, http):
    ws = await _publisher(http, analyzer.url, "grow")
    # One element measured exactly by orjson, one holding an integer past 64 bits (which
    # orjson does not write) measured by the walk: both are bound alike.
    for node_id, extra in (("g1", {}), ("g2", {"Huge": 2**70})):
        await ws.send_str(msg("NodeAdded", node(node_id, Blob="y" * 40_000, **extra)))
        more = {"Type": 1, "Key": "More", "Value": "z" * 20_000}
        grow = {"ID": node_id, "Revision": 1, "Ops": [more]}
        await ws.send_str(msg("NodePartiallyUpdated", grow, uuid=f"{node_id}-fits"))
        beyond = {"Type": 1, "Key": "Past", "Value": "w" * 10_000}
        past = {"ID": node_id, "Revision": 2, "Ops": [beyond]}
        await ws.send_str(msg("NodePartiallyUpdated", past, uuid=f"{node_id}-past"))
        reply = await reply_to(ws, f"{node_id}-past")  # the first one was not refused
        assert reply["Status"] == 400 and reply["Obj"]["Rule"] == "max-element-bytes"
        async with http.get(f"{analyzer.url}/api/node/{node_id}") as r:
            metadata = (await r.json())["Metadata"]
        assert len(metadata["More"]) == 20_000 and "Past" not in metadata
    await ws.close()


@pytest.mark.parametrize(
    "path", ["/api/topology", "/api/node", "/api/edge", "/api/alert", "/api/noderule", "/api/trace"]
)
async def test_deep_nesting_is_a_400_on_rest(analyzer, http, path):
    deep = "[" * 100_000 + "]" * 100_000
    headers = {"Content-Type": "application/json"}  # writes take JSON only (CSRF guard)
    async with http.post(analyzer.url + path, data=deep, headers=headers) as r:
        assert r.status == 400, await r.text()
        assert "max-json-depth" in await r.text()


async def test_deep_nesting_and_non_finite_numbers_on_websockets(analyzer, http):
    ws = await _publisher(http, analyzer.url, "deep")
    deep = '{"Namespace":"Graph","Type":"NodeAdded","UUID":"d","Obj":' + "[" * 50_000
    await ws.send_str(deep + "]" * 50_000 + "}")
    assert (await reply_to(ws, ""))["Obj"]["Rule"] == "max-json-depth"
    for token in ("NaN", "Infinity", "-Infinity", "1e999"):
        text = msg("NodeAdded", node("nan"), uuid=token).replace('"Name": "nan"', f'"X": {token}')
        await ws.send_str(text)
        reply = await reply_to(ws, "")  # the frame was not decoded: no UUID to answer with
        assert reply["Obj"]["Rule"] == "finite-numbers", token
    await ws.send_str(msg("SyncRequest", None, uuid="sync"))
    reply = await reply_to(ws, "sync")  # json.loads above would accept NaN: check the text
    assert "NaN" not in json.dumps(reply) and "Infinity" not in json.dumps(reply)
    sub = await http.ws_connect(analyzer.url + "/ws/subscriber", headers=SUBSCRIBER)
    await sub.send_str("[" * 10_000 + "]" * 10_000)
    frame = await sub.receive(timeout=5)
    assert frame.type == aiohttp.WSMsgType.TEXT and "max-json-depth" in frame.data
    await sub.close()
    await ws.close()


async def test_oversized_frame_and_body_name_their_bound(analyzer, http):
    ws = await _publisher(http, analyzer.url, "frame")
    await ws.send_str(msg("NodeAdded", node("f", Blob="z" * (2 * 2**20))))
    frame = await ws.receive(timeout=10)
    assert frame.type == aiohttp.WSMsgType.CLOSE
    assert "max-frame-bytes" in (frame.extra or "")
    async with http.post(analyzer.url + "/api/topology", data=b" " * (2 * 2**20)) as r:
        assert r.status == 413
        assert "max-body-bytes" in await r.text()


async def test_publishers_per_user_are_bounded(analyzer, http):
    sockets = [await _publisher(http, analyzer.url, f"pp{i}") for i in range(3)]
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await _publisher(http, analyzer.url, "pp-extra")
    assert refused.value.status == 429
    for ws in sockets:
        await ws.close()
    async with http.get(analyzer.url + "/metrics") as r:
        text = await r.text()
    assert 'dragonscope_connections_refused_total{bound="max-publishers-per-user"} 1' in text
    assert 'dragonscope_limit{limit="max_json_depth"} 64' in text


async def test_small_500s_are_4xx(analyzer, http):
    cases = [
        ("GET", "/api/changes?from=-99999999999999999999h", None),
        ("POST", "/api/topology", {"GremlinQuery": "G.At('-99999999999999999999h').V()"}),
        ("GET", "/static/" + "a" * 5000, None),
        ("GET", "/static/../../../etc/passwd", None),
    ]
    for method, path, body in cases:
        async with http.request(method, analyzer.url + path, json=body) as r:
            assert 400 <= r.status < 500, (path, r.status)
    form = aiohttp.FormData()
    form.add_field("username", "x")
    form.add_field("file", b"\0" * 100, filename="f.bin")
    async with http.post(analyzer.url + "/login", data=form) as r:
        assert r.status < 500
    async with http.get(analyzer.url + "/static/js/wire.js") as r:
        assert r.status == 200


async def test_a_subscriber_that_does_not_read_is_closed_with_a_reason():
    slow = settings(subscriber_queue=5, subscriber_queue_bytes=4096)
    async with Analyzer(slow) as running, aiohttp.ClientSession() as http:
        sub = await http.ws_connect(running.url + "/ws/subscriber", headers=SUBSCRIBER)
        ws = await _publisher(http, running.url, "flood")
        for i in range(3000):
            await ws.send_str(msg("NodeAdded", node(f"q{i}", Pad="p" * 500)))
        await asyncio.sleep(0.5)
        while True:
            frame = await sub.receive(timeout=10)
            if frame.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
                break
        assert frame.type == aiohttp.WSMsgType.CLOSE
        assert "subscriber-queue" in (frame.extra or "")
        await ws.close()


def _nested(levels: int, leaf: Any = 1) -> Any:
    value = leaf
    for level in range(levels):
        value = [value] if level % 2 else {"k": value}
    return value


@pytest.mark.parametrize("levels", [1, 2, 63, 64, 65, 200])
def test_the_depth_walk_counts_levels_exactly(levels: int) -> None:
    """The top container is level 1; the bound itself is allowed, one more is not.
    Siblings of every depth sit beside the deep branch, as in a batch frame."""
    wide = {"Obj": [_nested(3), _nested(levels), [], {}, "x", 2.5]}
    assert bounds.depth_over(_nested(levels), 64) is (levels > 64)
    assert bounds.depth_over(wide, 64) is (levels + 2 > 64)
    assert bounds.depth_over("scalar", 0) is False
    assert bounds.depth_over([], 0) is True


def test_the_metadata_walk_finds_long_keys_deep_levels_and_floats() -> None:
    limit_key, limit_depth = 8, 4
    check = lambda value: bounds.check_metadata(value, limit_key, limit_depth)  # noqa: E731
    assert check({"a" * 8: {"b": [1, "x", {"c": True}]}}) is False
    assert check({"a": [[{"b": 1.5}]]}) is True  # a float four levels down
    assert check(2.5) is True and check("2.5") is False and check(None) is False
    assert check(_nested(4)) is False
    with pytest.raises(bounds.InputRefused) as deep:
        check(_nested(5))
    assert deep.value.bound == bounds.METADATA_DEPTH
    with pytest.raises(bounds.InputRefused) as long_key:
        check({"ok": [{"fine": 1, "b" * 9: 2}]})
    assert long_key.value.bound == bounds.KEY and "bbbbbbbbb" in long_key.value.detail
