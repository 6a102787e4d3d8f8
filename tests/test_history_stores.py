"""The durable history's conformance suite, run against SQLite and a real PostgreSQL.

Each test drives real analyzers over HTTP: the past survives a restart exactly,
retention forgets the old and keeps the new, a database outage leaves the live
graph working and the hole reported, and two analyzers sharing PostgreSQL store
each change once and answer the same past.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from analyzer_support import edge, eventually, msg, node, publisher_headers, settings
from dragonscope.analyzer import Analyzer
from dragonscope.graph import now_ms
from dragonscope.history import PostgresStore, SqliteStore
from postgres_server import PostgresServer

pytestmark = pytest.mark.timeout(120)
_databases = itertools.count()


class Backend:
    """A history URL and a way to make its database unreachable for a while."""

    def __init__(self, kind: str, url: str, server: PostgresServer | None) -> None:
        self.kind, self.url, self.server = kind, url, server

    @contextlib.asynccontextmanager
    async def outage(self, analyzer: Analyzer) -> AsyncIterator[None]:
        store = analyzer.recorder.store if analyzer.recorder else None
        if isinstance(store, PostgresStore):
            assert self.server is not None
            await asyncio.to_thread(self.server.stop)
            try:
                yield
            finally:
                await asyncio.to_thread(self.server.start)
        else:
            assert isinstance(store, SqliteStore)
            # Another program holds the file locked: writes wait, then fail.
            other = sqlite3.connect(store.path, isolation_level=None)
            other.execute("BEGIN EXCLUSIVE")
            try:
                yield
            finally:
                other.execute("ROLLBACK")
                other.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "sqlite":
        return Backend("sqlite", f"sqlite://{tmp_path}/history.db", None)
    server: PostgresServer = request.getfixturevalue("postgres")
    name = f"h{next(_databases)}"
    server.execute(f"CREATE DATABASE {name}")
    return Backend("postgresql", server.url(name), server)


def analyzer_for(url: str, **overrides: object) -> Analyzer:
    analyzer = Analyzer(settings(history=url, **overrides))
    assert analyzer.recorder is not None
    if isinstance(analyzer.recorder.store, PostgresStore):
        analyzer.recorder.store.partition_ms = 1000  # retention can drop partitions in a test
    return analyzer


async def query(http: aiohttp.ClientSession, analyzer: Analyzer, gremlin: str) -> object:
    response = await http.post(analyzer.url + "/api/topology", json={"GremlinQuery": gremlin})
    assert response.status == 200, await response.text()
    return await response.json()


async def tick() -> int:
    await asyncio.sleep(0.03)
    t = now_ms()
    await asyncio.sleep(0.03)
    return t


async def flushed(analyzer: Analyzer) -> None:
    recorder = analyzer.recorder
    assert recorder is not None
    await eventually(lambda: recorder.buffered == 0 and recorder.stats.down_since is None, 20)


def add(analyzer: Analyzer, *node_ids: str) -> None:
    from dragonscope.graph import decode_node

    for node_id in node_ids:
        analyzer.store.add_node(decode_node(node(node_id)), "test.history")


def past_queries(times: list[int]) -> list[str]:
    return [q for t in times for q in (f"G.At({t}).V()", f"G.At({t}).E()")]


async def answers(http: aiohttp.ClientSession, analyzer: Analyzer, queries: list[str]) -> list:
    """Each query's elements, in ID order (a rebuilt past lists them in its own order)."""
    return [sorted(await query(http, analyzer, q), key=lambda e: e["ID"]) for q in queries]


async def test_restart_keeps_the_past_exact(backend: Backend) -> None:
    async with aiohttp.ClientSession() as http:
        first = analyzer_for(backend.url)
        async with first:
            pub = await http.ws_connect(first.url + "/ws/publisher", headers=publisher_headers("p"))
            await pub.send_str(msg("NodeAdded", node("a", Secret="no")))
            await pub.send_str(msg("NodeAdded", node("b")))
            await pub.send_str(msg("EdgeAdded", edge("ab", "a", "b")))
            await eventually(lambda: first.graph.edge("ab"))
            t1 = await tick()
            await pub.send_str(msg("NodeUpdated", {**node("a", "A"), "Revision": 2}))
            await pub.send_str(msg("NodeDeleted", node("b")))
            await eventually(lambda: first.graph.node("b") is None)
            t2 = await tick()
            queries = past_queries([t1, t2])
            before = await answers(http, first, queries)
            window = {"from": str(t1), "to": str(t2)}
            changes = await (await http.get(first.url + "/api/changes", params=window)).json()
            await pub.close()
            await flushed(first)
        second = analyzer_for(backend.url)
        async with second:
            assert not second.history.covers(t2)  # the answers come from the store
            assert await answers(http, second, queries) == before
            again = await (await http.get(second.url + "/api/changes", params=window)).json()
            assert again == changes
            # Streamed as it is encoded, with the headers the middleware gives the others.
            streamed = await http.get(
                second.url + "/api/changes", params=window, headers={"Origin": "http://ui.example"}
            )
            assert streamed.headers["Transfer-Encoding"] == "chunked"
            assert streamed.headers["Access-Control-Allow-Origin"] == "*"
            assert await streamed.json() == changes
            assert [n["ID"] for n in changes["Removed"]["Nodes"]] == ["b"]
            assert changes["Changed"]["Nodes"][0]["After"]["Metadata"]["Name"] == "A"
            # The restart is a hole: the analyzer was not recording while it was down.
            whole = await (await http.get(second.url + "/api/changes", params={"from": "1"})).json()
            assert [g["Reason"] for g in whole["Gaps"]] == ["no analyzer was recording"]


async def test_retention_forgets_old_changes_and_keeps_new_ones(backend: Backend) -> None:
    async with analyzer_for(backend.url) as analyzer:
        recorder = analyzer.recorder
        assert recorder is not None
        recorder.settings.checkpoint_changes = 5
        add(analyzer, *(f"old{i}" for i in range(10)))
        await flushed(analyzer)
        t_old = await tick()
        await asyncio.sleep(1.1)  # what follows is in later partitions
        # A checkpoint after them: the graph doubled since the last one.
        add(analyzer, *(f"mid{i}" for i in range(10)))
        await flushed(analyzer)
        cutoff = await tick()
        add(analyzer, *(f"new{i}" for i in range(10)))
        await flushed(analyzer)
        t_new = await tick()
        store = recorder.store
        assert await store.count_changes() == 30
        recorder.settings.retention_ms = now_ms() - cutoff
        await recorder.enforce_retention(now_ms())
        assert 10 <= await store.count_changes() <= 20  # old gone, new all there
        assert t_old < (await store.checkpoint_times())[0] < cutoff
        everything = sorted(
            f"{kind}{i}" for kind, n in (("old", 10), ("mid", 10), ("new", 10)) for i in range(n)
        )
        assert sorted(await recorder_view(analyzer, t_new)) == everything
        # Before what is kept: the earliest state known (all but the new), not an error.
        assert len(await recorder_view(analyzer, t_old)) == 20


async def recorder_view(analyzer: Analyzer, at: int) -> list[str]:
    durable = analyzer.past.durable
    assert durable is not None
    view = await durable.view_at(at)
    return [n.id for n in view.nodes()]


async def test_outage_keeps_the_live_graph_and_reports_the_gap(backend: Backend) -> None:
    async with aiohttp.ClientSession() as http:
        analyzer = analyzer_for(backend.url)
        async with analyzer:
            recorder = analyzer.recorder
            assert recorder is not None
            recorder.settings.max_buffer = 20
            add(analyzer, "before")
            await flushed(analyzer)
            t_before = await tick()
            async with backend.outage(analyzer):
                add(analyzer, "lost0")
                await eventually(lambda: recorder.stats.down_since is not None, 20)
                add(analyzer, *(f"lost{i}" for i in range(1, 40)))
                assert await query(http, analyzer, "G.V().Count()") == 41  # live graph works
                assert recorder.stats.dropped > 0
                status = await (await http.get(analyzer.url + "/api/status")).json()
                assert status["History"]["Store"]["DownSince"] is not None
                # What memory holds is served; what only the database holds is a clear 503.
                recent = await http.get(
                    analyzer.url + "/api/changes", params={"from": str(t_before)}
                )
                assert recent.status == 200
                added = (await recent.json())["Added"]["Nodes"]
                assert len(added) == 40
                older = await http.get(analyzer.url + "/api/changes", params={"from": "1"})
                if backend.kind == "postgresql":
                    assert older.status == 503
                    assert "history unavailable" in (await older.json())["error"]
                else:  # a locked SQLite file still reads
                    assert older.status == 200
            await flushed(analyzer)
            add(analyzer, "after")
            await flushed(analyzer)
            t_after = await tick()
            expected = sorted(await query(http, analyzer, "G.V().Values('Name')"))
        again = analyzer_for(backend.url)
        async with again:
            window = {"from": str(t_before), "to": str(t_after)}
            diff = await (await http.get(again.url + "/api/changes", params=window)).json()
            reasons = [g["Reason"] for g in diff["Gaps"]]
            assert "history database unreachable" in reasons
            gap = diff["Gaps"][reasons.index("history database unreachable")]
            # Nothing after the hole is lost: the state after it is exact.
            got = await query(http, again, f"G.At({t_after}).V().Values('Name')")
            assert sorted(got) == expected and "after" in got
            inside = (gap["From"] + gap["To"]) // 2
            response = await http.post(again.url + "/api/topology",
                                       json={"GremlinQuery": f"G.At({inside}).V()"})  # fmt: skip
            assert response.status == 400 and "hole" in await response.text()


async def test_two_analyzers_share_postgres(postgres: PostgresServer) -> None:
    name = f"h{next(_databases)}"
    postgres.execute(f"CREATE DATABASE {name}")
    url = postgres.url(name)
    async with aiohttp.ClientSession() as http, analyzer_for(url) as a1, analyzer_for(url) as a2:
        pubs = [
            await http.ws_connect(a.url + "/ws/publisher", headers=publisher_headers("c"))
            for a in (a1, a2)
        ]
        frames = [
            msg("NodeAdded", {**node("a"), "Revision": 1, "CreatedAt": 10, "UpdatedAt": 10}),
            msg("NodeAdded", {**node("b"), "Revision": 1, "CreatedAt": 10, "UpdatedAt": 10}),
            msg(
                "EdgeAdded",
                {**edge("ab", "a", "b"), "Revision": 1, "CreatedAt": 10, "UpdatedAt": 10},
            ),
            msg("NodeUpdated", {**node("a", "A"), "Revision": 2, "UpdatedAt": 20}),
        ]
        for frame in frames:
            for pub in pubs:
                await pub.send_str(frame)
        for a in (a1, a2):
            await eventually(lambda a=a: a.graph.node("a") and a.graph.node("a").revision == 2)
        t = await tick()
        await pubs[0].send_str(msg("NodeDeleted", node("b")))
        await pubs[1].send_str(msg("NodeDeleted", node("b")))
        await eventually(lambda: a1.graph.node("b") is None and a2.graph.node("b") is None)
        for a in (a1, a2):
            await flushed(a)
        assert a1.recorder is not None and a2.recorder is not None
        store = a1.recorder.store
        assert await store.count_changes() == 6  # 4 frames + the deletion and its edge, once
        assert a1.recorder.stats.written + a2.recorder.stats.written == 6
        for gremlin in (f"G.At({t}).V()", f"G.At({t}).E()"):
            assert await query(http, a1, gremlin) == await query(http, a2, gremlin)
        views = [await a.past.durable.view_at(t) for a in (a1, a2)]  # type: ignore[union-attr]
        assert views[0].to_json() == views[1].to_json()
        assert sorted(n.id for n in views[1].nodes()) == ["a", "b"]
        for pub in pubs:
            await pub.close()


async def test_checkpoints_include_what_another_analyzer_stored(postgres: PostgresServer) -> None:
    """The checkpoint writer's own graph lacks a change only the other analyzer got;
    its checkpoint still holds it, and the past after the checkpoint is exact."""
    name = f"h{next(_databases)}"
    postgres.execute(f"CREATE DATABASE {name}")
    url = postgres.url(name)
    async with analyzer_for(url) as a1, analyzer_for(url) as a2:
        assert a1.recorder is not None and a2.recorder is not None
        await eventually(lambda: a1.recorder._leader != a2.recorder._leader, 10)  # type: ignore[union-attr]
        leader, other = (a1, a2) if a1.recorder._leader else (a2, a1)
        assert leader.recorder is not None
        leader.recorder.settings.checkpoint_changes = 1
        add(other, "only-other")
        await flushed(other)
        add(leader, "mine")
        await flushed(leader)
        await eventually(lambda: leader.recorder.stats.checkpoints >= 1, 10)  # type: ignore[union-attr]
        t = await tick()
        for analyzer in (a1, a2):
            view = await analyzer.past.durable.view_at(t)  # type: ignore[union-attr]
            assert sorted(n.id for n in view.nodes()) == ["mine", "only-other"]
        assert leader.graph.node("only-other") is None  # only the store has it


async def test_a_slow_driver_is_named_at_open(
    postgres: PostgresServer, caplog: pytest.LogCaptureFixture
) -> None:
    """psycopg's pure-Python implementation reads the past several times slower: said
    at open. The one installed with the package is the C implementation, and is quiet."""
    name = f"h{next(_databases)}"
    postgres.execute(f"CREATE DATABASE {name}")
    url = postgres.url(name)
    with caplog.at_level(logging.WARNING, logger="dragonscope.history.postgres"):
        store = PostgresStore(url)
        await store.open()
        await store.close()
    assert not [r for r in caplog.records if "pure-Python" in r.getMessage()]
    opener = (
        "import asyncio, logging, sys\n"
        "from dragonscope.history import PostgresStore\n"
        "logging.basicConfig()\n"
        "async def main():\n"
        "    store = PostgresStore(sys.argv[1])\n"
        "    await store.open()\n"
        "    await store.close()\n"
        "asyncio.run(main())\n"
    )
    opened = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-c", opener, url],
        env={**os.environ, "PSYCOPG_IMPL": "python"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert opened.returncode == 0, opened.stderr
    assert "psycopg runs its pure-Python implementation" in opened.stderr
