"""The memory and dump-file backends, NB URLs, and the reader that parses their output."""

from __future__ import annotations

import asyncio
import json
import logging
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dragonscope.demo import sample_backend
from dragonscope.nb.backends import BackendError, open_backend
from dragonscope.nb.backends.dumpfile import DumpFileBackend
from dragonscope.nb.backends.etcd import EtcdBackend
from dragonscope.nb.backends.memory import MemoryBackend
from dragonscope.nb.backends.redis import RedisBackend
from dragonscope.nb.backends.store import LocalStore
from dragonscope.nb.reader import NbReader, open_reader
from nb_follow import Follower, eventually
from nb_samples import SAMPLES, stored_objects

CHASSIS = {"id": "compute-1", "ip": "192.168.100.11", "tunnel_types": ["vxlan"]}


def sample_dump() -> dict[str, list[dict]]:
    dump: dict[str, list[dict]] = {}
    for table, _, value in stored_objects():
        dump.setdefault(table, []).append(json.loads(value))
    dump["unique_key"] = [{"id": "lport", "unique_key": 14}]
    return dump


async def take(stream, count: int, timeout: float = 5.0) -> list:
    return [await asyncio.wait_for(anext(stream), timeout) for _ in range(count)]


# -- memory ---------------------------------------------------------------------------------------


async def test_memory_snapshot_and_gap_free_changes() -> None:
    backend = MemoryBackend()
    backend.put("chassis", "compute-1", CHASSIS)
    entries, revision = await backend.snapshot()
    assert [(e.table, e.id, json.loads(e.value)) for e in entries] == [
        ("chassis", "compute-1", CHASSIS)
    ]
    stream = backend.changes(revision)
    backend.put("lport", "p", '{"id": "p"}')
    backend.put("lport", "p", '{"id": "p"}')  # unchanged: no change, no revision
    backend.delete("chassis", "compute-1")
    backend.delete("chassis", "absent")
    got = await take(stream, 2)
    assert [(c.table, c.id, c.value, c.revision) for c in got] == [
        ("lport", "p", b'{"id": "p"}', revision + 1),
        ("chassis", "compute-1", None, revision + 2),
    ]
    assert backend.revision == revision + 2
    await stream.aclose()
    await backend.close()


async def test_memory_serves_many_followers_the_same_changes() -> None:
    backend = MemoryBackend()
    followers = [Follower(backend) for _ in range(3)]
    for follower in followers:
        await follower.start()
    for n in range(200):
        backend.put("lport", f"p{n % 17}", {"id": f"p{n % 17}", "version": n})
        if n % 5 == 0:
            backend.delete("lport", f"p{(n * 7) % 17}")
        if n % 50 == 0:
            await asyncio.sleep(0)  # let followers interleave with the writer
    expected = {(e.table, e.id): e.value for e in (await backend.snapshot())[0]}
    for follower in followers:
        await eventually(lambda f=follower: f.state == expected, timeout=5)
    await followers[0].stop()


async def test_memory_load_dump_replaces_content_and_streams_the_difference() -> None:
    backend = MemoryBackend()
    backend.load_dump(sample_dump())
    entries, revision = await backend.snapshot()
    assert len(entries) == len(stored_objects())  # unique_key counters are not objects
    assert not any(e.table == "unique_key" for e in entries)
    smaller = sample_dump()
    removed = smaller["lport"].pop()
    smaller["chassis"][0]["ip"] = "192.168.100.99"
    stream = backend.changes(revision)
    backend.load_dump(smaller)
    got = await take(stream, 2)
    assert {(c.table, c.id, c.value is None) for c in got} == {
        ("lport", removed["id"], True),
        ("chassis", smaller["chassis"][0]["id"], False),
    }
    await stream.aclose()


async def test_memory_load_dump_keeps_bad_rows_for_the_parser() -> None:
    backend = MemoryBackend()
    backend.load_dump({"lport": [{"name": "no id"}, "not an object"], "chassis": {"x": 1}})
    reader = NbReader(backend)
    snapshot, _ = await reader.snapshot()
    assert set(snapshot) == {("lport", "#0"), ("lport", "#1")}
    assert snapshot[("lport", "#1")].problems[0].kind == "not-an-object"
    assert reader.invalid_objects == 2


async def test_a_late_follower_gets_the_latest_value_of_each_changed_key() -> None:
    backend = MemoryBackend()
    _, start = await backend.snapshot()
    for n in range(10):
        backend.put("lport", "p", {"id": "p", "version": n})
    backend.put("lport", "q", {"id": "q"})
    backend.delete("lport", "q")
    got = await take(backend.changes(start), 2)
    assert [(c.id, c.value) for c in got] == [
        ("p", json.dumps({"id": "p", "version": 9}).encode()),
        ("q", None),
    ]


async def test_forgotten_deletions_make_old_revisions_an_error() -> None:
    store = LocalStore(max_tombstones=4)
    for n in range(10):
        store.set("lport", str(n), b"{}")
    for n in range(10):
        store.set("lport", str(n), None)
    with pytest.raises(BackendError, match="take a new snapshot"):
        await anext(store.follow(0))
    assert store.changes_after(store.revision - 1)[0].value is None


async def test_a_revision_from_elsewhere_is_refused() -> None:
    backend = MemoryBackend()
    backend.put("lport", "p", "{}")
    with pytest.raises(BackendError, match="revision 99 is ahead of this store"):
        await anext(backend.changes(99))


ops = st.lists(
    st.tuples(st.sampled_from(["a", "b", "c", "d"]), st.one_of(st.none(), st.binary(max_size=2))),
    max_size=60,
)


@settings(max_examples=200, deadline=None)
@given(ops=ops, max_tombstones=st.integers(1, 8))
def test_replaying_from_any_revision_reaches_the_current_state(ops, max_tombstones) -> None:
    store = LocalStore(max_tombstones=max_tombstones)
    states = {0: {}}
    for id_, value in ops:
        store.set("t", id_, value)
        states[store.revision] = {(e.table, e.id): e.value for e in store.snapshot()[0]}
    current = states[store.revision]
    for since, state in states.items():
        try:
            changes = store.changes_after(since)
        except BackendError:
            continue  # forgotten deletions: the follower is told to resync
        replayed = dict(state)
        for change in changes:
            if change.value is None:
                replayed.pop((change.table, change.id), None)
            else:
                replayed[(change.table, change.id)] = change.value
        assert replayed == current
        assert [c.revision for c in changes] == sorted({c.revision for c in changes})


async def test_memory_sample_is_the_demo_cloud() -> None:
    backend = sample_backend("memory://sample")
    entries, revision = await backend.snapshot()
    tables = {e.table for e in entries}
    assert {"chassis", "lport", "lswitch", "lrouter"} <= tables
    assert revision == len(entries)
    await backend.close()


# -- dump file ------------------------------------------------------------------------------------


def write_dump(path: Path, dump: object) -> None:
    """Replace the file atomically, as an editor or ``df-db dump > x && mv`` would."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(dump))
    os.replace(tmp, path)


async def test_dump_file_snapshot_skips_counters(tmp_path: Path) -> None:
    path = tmp_path / "dump.json"
    write_dump(path, sample_dump())
    backend = open_backend(f"file://{path}")
    assert isinstance(backend, DumpFileBackend)
    entries, _ = await backend.snapshot()
    got = {(e.table, e.id): json.loads(e.value) for e in entries}
    expected = {(t, i): json.loads(v) for t, i, v in stored_objects()}
    assert got == expected


async def test_dump_file_rewrite_streams_the_difference(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="dragonscope.nb.backends.dumpfile")
    path = tmp_path / "dump.json"
    dump = sample_dump()
    write_dump(path, dump)
    backend = open_backend(f"file://{path}?interval=0.05")
    follower = Follower(backend)
    await follower.start()
    assert "changed" not in caplog.text  # reading the file is not a change of it
    gone = dump["lport"].pop(0)
    dump["chassis"].append({"id": "compute-9", "ip": "192.168.100.19", "tunnel_types": []})
    write_dump(path, dump)
    await eventually(lambda: ("chassis", "compute-9") in follower.state, timeout=5)
    assert ("lport", gone["id"]) not in follower.state
    assert follower.revision > 0
    assert "changed: 2 objects differ" in caplog.text
    await follower.stop()


async def test_broken_rewrite_keeps_the_last_good_content(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "dump.json"
    write_dump(path, {"chassis": [CHASSIS]})
    backend = open_backend(f"file://{path}?interval=0.05")
    follower = Follower(backend)
    await follower.start()
    path.write_text('{"chassis": [{"id": "compute-1", ')  # a writer caught mid-way
    await eventually(lambda: "is not valid JSON" in caplog.text, timeout=5)
    assert ("chassis", "compute-1") in follower.state
    write_dump(path, {"chassis": []})
    await eventually(lambda: not follower.state, timeout=5)
    assert caplog.text.count("is not valid JSON") == 1  # reported once, not every poll
    await follower.stop()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "is not valid JSON"),
        ("[1, 2]", "is not a df-db dump: expected a JSON object"),
    ],
)
async def test_unusable_dump_file_is_one_clear_error(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "dump.json"
    path.write_text(content)
    with pytest.raises(BackendError, match=message):
        await open_backend(str(path)).snapshot()


async def test_missing_dump_file_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(BackendError, match=r"cannot read .*nowhere\.json: No such file"):
        await open_backend(f"file://{tmp_path}/nowhere.json").snapshot()


async def test_bad_rows_in_a_dump_reach_the_parser(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    path = tmp_path / "dump.json"
    lport_id, lport = SAMPLES["lport"]
    newer = {**json.loads(lport), "version": 99, "name": "newer"}
    write_dump(
        path,
        {
            "lport": [newer, json.loads(lport), {"name": "no id"}],
            "chassis": "not a list",
            "mystery": [{"id": "m"}],
        },
    )
    reader = open_reader(f"file://{path}")
    snapshot, _ = await reader.snapshot()
    assert snapshot[("lport", lport_id)].data["name"] == "newer"  # highest version wins
    kinds = {key: sorted(p.kind for p in obj.problems) for key, obj in snapshot.items()}
    assert kinds[("lport", lport_id)] == ["duplicate-id"]
    assert "lport[0], lport[1]" in str(snapshot[("lport", lport_id)].problems[0])
    assert "missing-field" in kinds[("lport", "#2")]
    assert kinds[("mystery", "m")] == ["unknown-table"]
    assert "table 'chassis' is a str, not a list of objects" in caplog.text
    assert reader.invalid_objects == 3
    assert reader.problem_counts["duplicate-id"] == 1
    await reader.close()


# -- reader ---------------------------------------------------------------------------------------


async def test_reader_parses_snapshot_and_changes_and_counts_problems() -> None:
    backend = MemoryBackend()
    for table, id_, value in stored_objects():
        backend.put(table, id_, value)
    reader = NbReader(backend)
    snapshot, revision = await reader.snapshot()
    assert len(snapshot) == len(stored_objects())
    assert all(obj.valid for obj in snapshot.values())
    stream = reader.changes(revision)
    backend.put("chassis", "compute-7", b'{"id": "compute-7", "ip": "not-an-ip"}')
    (bad_ip,) = await take(stream, 1)
    backend.put("lport", "broken", b"{not json")
    (bad_json,) = await take(stream, 1)
    backend.delete("chassis", "compute-7")
    (deleted,) = await take(stream, 1)
    assert bad_ip.obj is not None and [p.field for p in bad_ip.obj.problems] == ["ip"]
    assert bad_json.obj is not None and bad_json.obj.problems[0].kind == "invalid-json"
    assert deleted.deleted and deleted.key == ("chassis", "compute-7")
    assert reader.stats()["invalid_objects"] == 2
    assert reader.problem_counts["invalid-json"] == 1
    await stream.aclose()
    await reader.close()


# -- URLs -----------------------------------------------------------------------------------------


def test_urls_pick_backends_and_options() -> None:
    etcd = open_backend("etcd://10.0.0.1:2379,10.0.0.2,[::1]:4001?timeout=3")
    assert isinstance(etcd, EtcdBackend)
    assert etcd.endpoints == "10.0.0.1:2379,10.0.0.2:2379,::1:4001"
    assert etcd.timeout == 3
    redis = open_backend("redis://:s3cret@10.0.0.5/2?reconcile=5")
    assert isinstance(redis, RedisBackend)
    assert (redis.reconcile_interval, redis.url) == (5, "redis://:***@10.0.0.5/2")
    acl = open_backend("redis://reader:s3cret@10.0.0.5:6380")
    assert acl.url == "redis://reader:***@10.0.0.5:6380/0"
    assert (acl._username, acl._password) == ("reader", "s3cret")
    assert isinstance(open_backend("memory://"), MemoryBackend)
    assert isinstance(open_backend("file:///var/tmp/dump.json"), DumpFileBackend)
    assert open_backend("file:///var/tmp/dump.json").path == Path("/var/tmp/dump.json")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("etcd://", "names no host"),
        ("etcd://h:99999", "bad port '99999'"),
        ("etcd://h:2379?timeout=-1", "timeout must be a positive number"),
        ("etcd://h:2379?colour=red", r"unknown option\(s\) colour"),
        ("redis://h:6379/x", "database after / must be a number"),
        ("redis://a:1,b:2", "redis takes one host:port"),
        ("mysql://h", "unknown scheme 'mysql'"),
        ("memory://other", "unknown memory store"),
        ("file://", "names no file"),
        ("nonsense", "is not an NB URL"),
        ("etcd://[zz]:1", "is not an IPv6 address"),
    ],
)
def test_bad_urls_say_what_is_wrong(url: str, message: str) -> None:
    with pytest.raises(BackendError, match=message):
        open_backend(url)
