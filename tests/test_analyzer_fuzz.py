"""Fuzzing: a bounded random campaign of >12,000 cases across REST and both WebSockets.

Random and mutated messages, hostile ones among them (deep nesting, NaN and
overflowing numbers, long keys, big values). The analyzer must never crash,
never answer 500, keep every connection open (or close it with a reason), keep
its graph consistent (every edge's ends exist, holds match the graph), answer
``/healthz`` within a second throughout, and stay under a stated memory bound.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import Any

import aiohttp
import psutil
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analyzer_support import ThreadedAnalyzer

pytestmark = pytest.mark.timeout(180)
RSS_BOUND = 1536 * 2**20  # the test process, analyzer included
HEALTHZ_BOUND_S = 1.0
# Texts that must be refused with a reason, never crash or stall anything.
HOSTILE = st.sampled_from([
    "[" * 5000 + "]" * 5000,
    '{"Namespace":"Graph","Type":"NodeAdded","Obj":' + '{"a":' * 3000 + "1" + "}" * 3001,
    '{"Namespace":"Graph","Type":"NodeAdded","Obj":{"ID":"n1","Metadata":{"X":NaN}}}',
    '{"Namespace":"Graph","Type":"NodeAdded","Obj":{"ID":"n1","Metadata":{"X":1e999}}}',
    '{"Namespace":"Graph","Type":"NodeAdded","Obj":{"ID":"n1","Metadata":{"X":-Infinity}}}',
    json.dumps({"Namespace": "Graph", "Type": "NodeAdded",
                "Obj": {"ID": "n2", "Metadata": {"k" * 5000: 1, "Name": "a", "Type": "host"}}}),
    json.dumps({"Namespace": "Graph", "Type": "NodeAdded",
                "Obj": {"ID": "n3", "Metadata": {"Name": "a", "Type": "host", "B": "x" * 2**21}}}),
    json.dumps({"Namespace": "Graph", "Type": "T" * 100_000}),
    "1" * 5000,
])  # fmt: skip

POOL = [f"n{i}" for i in range(8)] + ["e1", "e2", "e3"]
IDS = st.sampled_from(POOL)
JSON_LEAF = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
)
JSON = st.recursive(
    JSON_LEAF,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
# Mostly well-formed elements, so that many messages are applied and the graph
# churns; ``mutated`` then breaks one field at a time.
METADATA = st.fixed_dictionaries(
    {
        "Name": st.sampled_from(["a", "b", "c"]),
        "Type": st.sampled_from(["fabric", "host", "netns", "ovsport"]),
        "RelationType": st.sampled_from(["layer2", "ownership"]),
    },
    optional={"Path": st.just("/run/netns/x"), "UUID": st.just("u"), "Deep": JSON},
)
ELEMENT = st.fixed_dictionaries(
    {"ID": IDS, "Metadata": METADATA, "Host": st.just(""), "Parent": IDS, "Child": IDS},
    optional={
        "Revision": st.integers(min_value=0, max_value=6),
        "CreatedAt": st.integers(min_value=0, max_value=2**42),
    },
)
OP = st.fixed_dictionaries(
    {"Type": st.sampled_from([1, 2]), "Key": st.sampled_from(["Name", "Deep.X", "State", "Type"])},
    optional={"Value": JSON},
)
PARTIAL = st.fixed_dictionaries(
    {"ID": IDS, "Revision": st.integers(min_value=0, max_value=8), "Ops": st.lists(OP, max_size=3)}
)
TYPES = [
    "NodeAdded", "NodeUpdated", "NodeDeleted", "EdgeAdded", "EdgeUpdated", "EdgeDeleted",
]  # fmt: skip
OBJ = st.one_of(
    st.tuples(st.sampled_from(TYPES), ELEMENT),
    st.tuples(st.sampled_from(TYPES), ELEMENT),
    st.tuples(st.sampled_from(["NodePartiallyUpdated", "EdgePartiallyUpdated"]), PARTIAL),
    st.tuples(
        st.sampled_from(["Sync", "SyncReply"]),
        st.fixed_dictionaries(
            {},
            optional={
                "Nodes": st.lists(ELEMENT, max_size=4),
                "Edges": st.lists(ELEMENT, max_size=4),
            },
        ),
    ),
    st.tuples(st.sampled_from(["SyncRequest", "Bogus", ""]), JSON),
)


@st.composite
def mutated(draw: st.DrawFn, obj: Any) -> Any:
    """``obj`` with one field (possibly nested one level) replaced, removed or retyped."""
    if not isinstance(obj, dict) or not obj:
        return draw(JSON)
    obj = dict(obj)
    key = draw(st.sampled_from(sorted(obj)))
    action = draw(st.integers(min_value=0, max_value=2))
    if action == 0:
        del obj[key]
    elif action == 1 and isinstance(obj[key], dict) and obj[key]:
        inner = dict(obj[key])
        inner[draw(st.sampled_from(sorted(inner)))] = draw(JSON)
        obj[key] = inner
    else:
        obj[key] = draw(JSON)
    return obj


@st.composite
def frames(draw: st.DrawFn) -> str:
    kind = draw(st.integers(min_value=0, max_value=10))
    if kind == 0:  # raw garbage
        return draw(st.one_of(st.text(max_size=30), st.just("{"), st.just("[]"), st.just("null")))
    if kind == 10:
        return draw(HOSTILE)
    type_, obj = draw(OBJ)
    envelope: dict[str, Any] = {"Namespace": "Graph", "Type": type_, "UUID": "f", "Obj": obj}
    if kind in (1, 2):  # break the payload
        envelope["Obj"] = draw(mutated(obj))
    elif kind == 3:  # break the envelope
        envelope = draw(mutated(envelope))
    return json.dumps(envelope)


class Client:
    """A publisher connection on its own loop thread, reused by every example."""

    def __init__(self, url: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.url = url
        self.sent = 0
        self.rest_calls = 0
        self.subscriber_sent = 0
        self.healthz_worst = 0.0
        self.healthz_calls = 0
        self.call(self._open())
        self._prober = asyncio.run_coroutine_threadsafe(self._probe_healthz(), self.loop)

    def call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(60)

    async def _open(self) -> None:
        self.http = aiohttp.ClientSession()
        self.ws = await self.http.ws_connect(
            self.url + "/ws/publisher",
            headers={
                "X-Host-ID": "fuzz",
                "X-Client-Type": "fuzz",
                "X-Persistence-Policy": "Persistent",
            },
        )
        self.sub = await self.http.ws_connect(
            self.url + "/ws/subscriber", headers={"X-Host-ID": "fuzz-sub", "X-Client-Type": "fuzz"}
        )
        self.sub_end = asyncio.Event()
        self.subscriber_lost: Any = None
        self._drainer = asyncio.ensure_future(self._drain_subscriber())

    async def _probe_healthz(self) -> None:
        """/healthz, every 50 ms for the whole campaign, on a connection of its own."""
        async with aiohttp.ClientSession() as session:
            while True:
                started = time.monotonic()
                async with session.get(self.url + "/healthz") as response:
                    await response.read()
                took = time.monotonic() - started if response.status == 200 else float("inf")
                self.healthz_worst = max(self.healthz_worst, took)
                self.healthz_calls += 1
                await asyncio.sleep(0.05)

    async def _drain_subscriber(self) -> None:
        """Read the subscriber's frames as they come (live events included), noting
        each reply to an ``end`` SyncRequest; a lost connection is kept for the test."""
        while True:
            reply = await self.sub.receive()
            if reply.type != aiohttp.WSMsgType.TEXT:
                self.subscriber_lost = reply
                self.sub_end.set()
                return
            if json.loads(reply.data).get("UUID") == "end":
                self.sub_end.set()

    async def send_subscriber(self, batch: list[str]) -> None:
        """Frames to /ws/subscriber, then a SyncRequest whose reply must come back."""
        self.sub_end.clear()
        for frame in batch:
            await self.sub.send_str(frame)
        self.subscriber_sent += len(batch)
        end = {"Namespace": "Graph", "Type": "SyncRequest", "UUID": "end", "Obj": {}}
        await self.sub.send_str(json.dumps(end))
        await asyncio.wait_for(self.sub_end.wait(), 30)
        assert self.subscriber_lost is None, f"subscriber connection lost: {self.subscriber_lost}"

    async def send(self, batch: list[str]) -> None:
        for frame in batch:
            await self.ws.send_str(frame)
        self.sent += len(batch)
        await self.ws.send_str(
            json.dumps({"Namespace": "Graph", "Type": "SyncRequest", "UUID": "end"})
        )
        while True:
            reply = await self.ws.receive(timeout=30)
            assert reply.type == aiohttp.WSMsgType.TEXT, f"publisher connection lost: {reply}"
            if json.loads(reply.data).get("UUID") == "end":
                return

    async def rest(self, method: str, path: str, body: bytes) -> int:
        self.rest_calls += 1
        async with self.http.request(method, self.url + path, data=body) as response:
            await response.read()
            return response.status

    async def close(self) -> None:
        self._prober.cancel()
        self._drainer.cancel()
        await self.ws.close()
        await self.sub.close()
        await self.http.close()

    def stop(self) -> None:
        self.call(self.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


def check_consistent(analyzer: Any) -> None:
    graph, store = analyzer.graph, analyzer.store
    for e in graph.edges():
        assert graph.node(e.parent) is not None and graph.node(e.child) is not None, e.id
        assert e.id in {x.id for x in graph.out_edges(e.parent)}
    for node_id in store._nodes.by_element:
        assert graph.node(node_id) is not None, node_id
    for edge_id in store._edges.by_element:
        assert graph.edge(edge_id) is not None, edge_id
    for n in graph.nodes():
        assert isinstance(n.metadata, dict)


@pytest.fixture(scope="module")
def fuzz_target():
    threaded = ThreadedAnalyzer()
    analyzer = threaded.__enter__()
    client = Client(analyzer.url)
    yield threaded, analyzer, client
    client.stop()
    threaded.__exit__(None, None, None)


FUZZ = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@FUZZ
@given(batch=st.lists(frames(), min_size=50, max_size=50))
def test_websocket_messages(fuzz_target, batch):
    threaded, analyzer, client = fuzz_target
    client.call(client.send(batch))
    threaded.call(lambda: check_consistent(analyzer))


SUBSCRIBER_FRAMES = st.one_of(
    frames(),
    HOSTILE,
    st.fixed_dictionaries(
        {"Namespace": st.just("Graph"), "Type": st.just("SyncRequest")},
        optional={
            "Obj": st.fixed_dictionaries(
                {},
                optional={
                    "GremlinFilter": st.one_of(
                        st.sampled_from(["", "G.V()", "G.V().Has('Type', 'host')", "G.V(", "x"]),
                        JSON_LEAF,
                    ),
                    "Time": st.one_of(st.integers(min_value=-(2**70), max_value=2**70), JSON_LEAF),
                },
            )
        },
    ).map(json.dumps),
)


@FUZZ
@given(batch=st.lists(SUBSCRIBER_FRAMES, min_size=10, max_size=10))
def test_subscriber_messages(fuzz_target, batch):
    threaded, analyzer, client = fuzz_target
    client.call(client.send_subscriber(batch))
    threaded.call(lambda: check_consistent(analyzer))


PATHS = st.sampled_from([
    "/api/topology", "/api/node", "/api/edge", "/api/node/n1", "/api/edge/e1", "/api/noderule",
    "/api/edgerule", "/api/alert", "/api/changes?from=-1s", "/api/changes?from=x&to=y",
    "/api/node/n1?x=1", "/login", "/api/rejections?origin=fuzz.fuzz",
])  # fmt: skip
BODIES = st.one_of(
    st.binary(max_size=40),
    HOSTILE.map(str.encode),
    JSON.map(lambda v: json.dumps(v).encode()),
    ELEMENT.map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries({"GremlinQuery": st.one_of(st.text(max_size=20), JSON_LEAF)}).map(
        lambda v: json.dumps(v).encode()
    ),
    st.lists(
        st.fixed_dictionaries(
            {"op": st.sampled_from(["add", "remove", "replace", "move", "copy", "test", "x"])},
            optional={
                "path": st.sampled_from(["/Metadata/A", "/Metadata", "", "/x/0", "bad"]),
                "value": JSON,
                "from": st.sampled_from(["/Metadata/Name", "/ID"]),
            },
        ),
        max_size=3,
    ).map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries(
        {},
        optional={
            "Action": st.sampled_from(
                ["create", "update", "http://127.0.0.1:9/x", "file:///bin/sh"]
            ),
            "Metadata": st.one_of(METADATA, JSON),
            "Query": st.text(max_size=10),
            "Src": st.text(max_size=10),
            "Dst": st.text(max_size=10),
            "Expression": st.sampled_from(["G.V()", "G.V(", ""]),
        },
    ).map(lambda v: json.dumps(v).encode()),
)


@FUZZ
@given(
    calls=st.lists(
        st.tuples(st.sampled_from(["GET", "POST", "PATCH", "DELETE", "PUT"]), PATHS, BODIES),
        min_size=10,
        max_size=10,
    )
)
def test_rest_bodies(fuzz_target, calls):
    threaded, analyzer, client = fuzz_target
    for method, path, body in calls:
        status = client.call(client.rest(method, path, body))
        assert status < 500, (method, path, body)
    threaded.call(lambda: check_consistent(analyzer))


def test_fuzz_volume(fuzz_target):
    """Runs last in this module: the two fuzzers above sent enough."""
    _, analyzer, client = fuzz_target
    assert client.sent >= 10_000
    assert client.sent + client.rest_calls + client.subscriber_sent >= 14_000
    assert client.healthz_calls > 50
    assert client.healthz_worst < HEALTHZ_BOUND_S, client.healthz_worst
    assert psutil.Process().memory_info().rss < RSS_BOUND
    # the messages exercised both paths: many were applied, many rejected by a rule
    assert len(analyzer.history) > 500
    assert len(analyzer.rejections.by_rule) >= 5, analyzer.rejections.by_rule
