"""The etcd backend against a real etcd: consistent snapshots and a change stream
that never loses a change, through restarts, compaction and endpoint failover."""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import aetcd
import pytest

from dragonscope.nb.backends import BackendError, open_backend
from dragonscope.nb.reader import open_reader
from nb_follow import Follower, ReaderFollower, State, eventually
from servers import EtcdServer, free_port

TABLES = ("lport", "lswitch", "lrouter", "secgroup")
FAST_RECONNECT = {
    "grpc.initial_reconnect_backoff_ms": 100,
    "grpc.max_reconnect_backoff_ms": 500,
}


def writer(server: EtcdServer) -> aetcd.Client:
    return aetcd.Client(port=server.port, timeout=5, options=FAST_RECONNECT)


async def store_state(client: aetcd.Client) -> State:
    """What etcd holds for the NB tables, read independently of the backend."""
    state = {}
    for table in TABLES:
        for kv in await client.get_prefix(f"/{table}/".encode()):
            state[(table, kv.key.decode().split("/", 2)[2])] = kv.value
    return state


async def retrying(op: Callable[[], Awaitable[object]]) -> None:
    """The test's own writes survive the outages it causes."""
    while True:
        try:
            await op()
            return
        except (TimeoutError, aetcd.ClientError):
            await asyncio.sleep(0.05)


async def random_writes(client: aetcd.Client, ops: int, seed: int, on_progress=None) -> None:
    """``ops`` random creates/updates/deletes over a few hundred keys, 8 writers at once."""
    workers = 8

    async def work(worker: int) -> None:
        rng = random.Random(seed * 100 + worker)
        live: set[str] = set()
        for n in range(ops // workers):
            table = rng.choice(TABLES)
            key = f"/{table}/{worker}-{rng.randrange(60)}"
            if key in live and rng.random() < 0.3:
                await retrying(lambda key=key: client.delete(key.encode()))
                live.discard(key)
            else:
                obj = {"id": key.split("/")[2], "name": f"n{rng.randrange(10**6)}", "version": n}
                value = json.dumps(obj).encode()
                await retrying(lambda key=key, value=value: client.put(key.encode(), value))
                live.add(key)
            if rng.random() < 0.02:  # Dragonflow's counters share the keyspace
                counter = f"/unique_key/{table}".encode()
                await retrying(lambda counter=counter: client.put(counter, b"7"))
            if on_progress and worker == 0:
                await on_progress(n * workers)

    await asyncio.gather(*(work(w) for w in range(workers)))


async def converge(follower: Follower, client: aetcd.Client) -> None:
    final = await store_state(client)
    await eventually(lambda: follower.state == final)
    assert follower.state == final


async def test_snapshot_skips_control_keys_and_reads_one_revision(etcd_server: EtcdServer) -> None:
    client = writer(etcd_server)
    await client.put(b"/lport/p1", b'{"id": "p1"}')
    await client.put(b"/chassis/compute-1", b'{"id": "compute-1", "ip": "192.168.100.11"}')
    await client.put(b"/unique_key/lport", b"14")
    await client.put(b"/pubsub/D", b"\x83\xa5table\xa5lport")
    await client.put(b"/lport/", b"no id")
    await client.put(b"unrelated", b"x")
    backend = open_backend(etcd_server.url)
    backend.page_size = 1  # every key its own page: still one consistent revision
    entries, revision = await backend.snapshot()
    assert sorted((e.table, e.id, e.value) for e in entries) == [
        ("chassis", "compute-1", b'{"id": "compute-1", "ip": "192.168.100.11"}'),
        ("lport", "p1", b'{"id": "p1"}'),
    ]
    status = await client.get(b"/lport/p1")
    assert revision >= status.mod_revision
    await backend.close()
    await client.close()


async def test_a_paged_snapshot_reads_tables_in_the_order_asked_at_one_revision(
    etcd_server: EtcdServer,
) -> None:
    """Referenced tables first (a port read after its network is translated once); every
    other key still read once, extension tables included, and all at one revision."""
    client = writer(etcd_server)
    for table in ("aaa_ext", "floatingip", "lport", "lrouter", "lswitch", "lsubnet", "zzz_ext"):
        for n in range(3):
            await client.put(f"/{table}/{n}".encode(), f'{{"id": "{n}"}}'.encode())
    await client.put(b"/lport_x/0", b'{"id": "0"}')  # a table whose name starts like lport's
    backend = open_backend(etcd_server.url)
    backend.page_size = 2  # tables span pages and pages never span tables
    pages = backend.snapshot_pages(("lswitch", "lsubnet", "lport"))
    seen: list[tuple[str, str]] = []
    revisions = set()
    async for page, revision in pages:
        if not seen:
            await client.put(b"/lswitch/late", b'{"id": "late"}')  # after the snapshot's cut
        seen += [(entry.table, entry.id) for entry in page]
        revisions.add(revision)
    tables = [table for table, _ in seen]
    assert tables[:9] == ["lswitch"] * 3 + ["lsubnet"] * 3 + ["lport"] * 3
    rest = ["aaa_ext"] * 3 + ["floatingip"] * 3 + ["lport_x"] + ["lrouter"] * 3 + ["zzz_ext"] * 3
    assert tables[9:] == rest  # the other tables in key order
    assert len(seen) == len(set(seen)) == 22
    assert ("lswitch", "late") not in seen
    assert len(revisions) == 1
    await backend.close()
    await client.close()


async def test_a_table_longer_than_a_page_is_read_in_parts_each_key_once(
    etcd_server: EtcdServer,
) -> None:
    """A large table is read in parts at once (cut at hexadecimal digits, as UUIDs are):
    IDs of any shape are each read once, all at the snapshot's revision, and the table's
    pages still come before the next table's."""
    client = writer(etcd_server)
    ids = [str(uuid.UUID(int=n * 0x0123456789ABCDEF0123456789ABCDEF % 2**128)) for n in range(60)]
    ids += ["", "-", "4", "8", "c", "cz", "zz", "ZZ", "Ä", "port 1"]
    ids = [i for i in ids if i]
    for object_id in ids:
        await client.put(f"/lport/{object_id}".encode(), b"{}")
    for n in range(5):
        await client.put(f"/lswitch/{n}".encode(), b"{}")
    backend = open_backend(etcd_server.url)
    backend.page_size = 7
    seen: list[tuple[str, str]] = []
    revisions = set()
    async for page, revision in backend.snapshot_pages(("lport", "lswitch")):
        if not seen:
            await client.put(b"/lport/late", b"{}")  # after the snapshot's cut
        seen += [(entry.table, entry.id) for entry in page]
        revisions.add(revision)
    assert [t for t, _ in seen] == ["lport"] * len(ids) + ["lswitch"] * 5
    assert sorted(i for t, i in seen if t == "lport") == sorted(ids)
    assert len(revisions) == 1
    await backend.close()
    await client.close()


async def test_changes_are_ordered_puts_and_deletes(etcd_server: EtcdServer) -> None:
    client = writer(etcd_server)
    await client.put(b"/lport/a", b"1")
    backend = open_backend(etcd_server.url)
    _, revision = await backend.snapshot()
    await client.put(b"/lport/b", b"2")
    await client.delete(b"/lport/a")
    await client.put(b"/unique_key/lport", b"3")
    await client.put(b"/lswitch/s", b"4")
    stream = backend.changes(revision)
    got = [await anext(stream) for _ in range(3)]
    assert [(c.table, c.id, c.value) for c in got] == [
        ("lport", "b", b"2"),
        ("lport", "a", None),
        ("lswitch", "s", b"4"),
    ]
    assert [c.revision for c in got] == sorted(c.revision for c in got)
    assert got[0].revision == revision + 1
    await stream.aclose()
    await backend.close()
    await client.close()


async def test_changes_from_an_older_revision_start_where_asked(etcd_server: EtcdServer) -> None:
    client = writer(etcd_server)
    first = await client.put(b"/lport/a", b"1")
    await client.put(b"/lport/a", b"2")
    backend = open_backend(etcd_server.url)
    stream = backend.changes(first.header.revision)
    change = await anext(stream)
    assert (change.id, change.value) == ("a", b"2")
    await stream.aclose()
    await backend.close()
    await client.close()


async def test_ten_thousand_random_changes_reconstruct_the_store(etcd_server: EtcdServer) -> None:
    client = writer(etcd_server)
    follower = Follower(open_backend(etcd_server.url))
    await follower.start()
    await random_writes(client, 10_000, seed=1)
    await converge(follower, client)
    assert follower.count >= 9_000
    await follower.stop()
    await client.close()


async def test_the_parsed_state_of_the_reader_equals_the_store(etcd_server: EtcdServer) -> None:
    client = writer(etcd_server)
    await random_writes(client, 2_000, seed=10)
    follower = ReaderFollower(open_reader(etcd_server.url))
    await follower.start()
    await random_writes(client, 10_000, seed=11)
    final = {key: json.loads(value) for key, value in (await store_state(client)).items()}
    await eventually(lambda: follower.state == final)
    assert follower.state == final
    await follower.stop()
    await client.close()


async def test_equality_survives_etcd_restarts(etcd_server: EtcdServer) -> None:
    client = writer(etcd_server)
    follower = Follower(open_backend(etcd_server.url))
    await follower.start()
    restarts = [2_000, 4_500, 7_000]

    async def restart_at(done: int) -> None:
        if restarts and done >= restarts[0]:
            restarts.pop(0)
            etcd_server.kill()
            await asyncio.sleep(0.5)
            etcd_server.start()

    await random_writes(client, 10_000, seed=2, on_progress=restart_at)
    assert not restarts
    await converge(follower, client)
    await follower.stop()
    await client.close()


class CuttableProxy:
    """A TCP relay the test can cut, to give the reader (only) an outage."""

    def __init__(self, target_port: int) -> None:
        self.port = free_port()
        self.target_port = target_port
        self.server: asyncio.Server | None = None
        self.pipes: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)

    async def cut(self) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()
        for pipe in list(self.pipes):
            pipe.cancel()
        self.pipes.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return
        for src, dst in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(self._pipe(src, dst, (writer, up_writer)))
            self.pipes.add(task)
            task.add_done_callback(self.pipes.discard)

    @staticmethod
    async def _pipe(src, dst, both) -> None:
        try:
            while data := await src.read(65536):
                dst.write(data)
                await dst.drain()
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            for w in both:
                w.close()


async def test_compaction_during_an_outage_resyncs_by_difference(
    etcd_server: EtcdServer, caplog: pytest.LogCaptureFixture
) -> None:
    client = writer(etcd_server)
    proxy = CuttableProxy(etcd_server.port)
    await proxy.start()
    backend = open_backend(f"etcd://127.0.0.1:{proxy.port}")
    backend.retry_delay = backend.max_retry_delay = 0.2
    follower = Follower(backend)
    await follower.start()
    await random_writes(client, 2_000, seed=3)
    await converge(follower, client)

    await proxy.cut()
    await random_writes(client, 3_000, seed=4)  # updates, creations and deletions unseen
    deleted_while_away = next(iter(follower.state))
    await client.delete(f"/{deleted_while_away[0]}/{deleted_while_away[1]}".encode())
    marker = await client.put(b"/lport/after", b"{}")
    await client.compact(marker.header.revision, physical=True)
    seen_before = follower.revision
    await proxy.start()

    await converge(follower, client)
    assert "was compacted; re-reading the NB" in caplog.text
    assert deleted_while_away not in follower.state
    assert follower.revision > seen_before
    await random_writes(client, 1_000, seed=5)  # and the watch goes on after the resync
    await converge(follower, client)
    await follower.stop()
    await proxy.cut()
    await client.close()


async def test_fails_over_to_the_next_endpoint(etcd_server: EtcdServer) -> None:
    client = writer(etcd_server)
    await client.put(b"/lport/a", b"1")
    dead = free_port()
    backend = open_backend(f"etcd://127.0.0.1:{dead},127.0.0.1:{etcd_server.port}")
    entries, _ = await backend.snapshot()
    assert [e.id for e in entries] == ["a"]
    await backend.close()
    await client.close()


async def test_a_snapshot_read_in_parts_fails_over_once_when_its_endpoint_goes_away(
    etcd_server: EtcdServer,
) -> None:
    """The parts of a table read at once fail together when their endpoint goes: they move
    to the next one together (one move, not one each, which would lead some back to the
    endpoint that is gone), and every key is still read once, at one revision."""
    client = writer(etcd_server)
    ids = [str(uuid.UUID(int=n * 0x0123456789ABCDEF0123456789ABCDEF % 2**128)) for n in range(200)]
    for object_id in ids:
        await client.put(f"/lport/{object_id}".encode(), b"{}")
    proxies = [CuttableProxy(etcd_server.port) for _ in range(5)]
    for proxy in proxies:
        await proxy.start()
    first = proxies[0]
    ports = ",".join(f"127.0.0.1:{proxy.port}" for proxy in proxies)
    backend = open_backend(f"etcd://{ports}")
    backend.page_size = 5
    seen: list[str] = []
    revisions = set()
    async for page, revision in backend.snapshot_pages(("lport",)):
        if len(seen) == 10:
            await first.cut()  # gone for good, with the parts' next pages on their way
        seen += [entry.id for entry in page]
        revisions.add(revision)
    assert sorted(seen) == sorted(ids)
    assert len(revisions) == 1
    assert backend._conn.index == 1  # moved once, to the next endpoint
    await backend.close()
    for proxy in proxies[1:]:
        await proxy.cut()
    await client.close()


async def test_watch_fails_over_when_its_endpoint_goes_away(etcd_server: EtcdServer) -> None:
    """Two endpoints to one cluster; the one in use disappears mid-stream."""
    client = writer(etcd_server)
    first, second = CuttableProxy(etcd_server.port), CuttableProxy(etcd_server.port)
    await first.start()
    await second.start()
    backend = open_backend(f"etcd://127.0.0.1:{first.port},127.0.0.1:{second.port}")
    backend.retry_delay = backend.max_retry_delay = 0.2
    follower = Follower(backend)
    await follower.start()
    await random_writes(client, 800, seed=8)
    await converge(follower, client)
    await first.cut()  # gone for good
    await random_writes(client, 800, seed=9)
    await converge(follower, client)
    await follower.stop()
    await second.cut()
    await client.close()


async def test_unreachable_etcd_is_one_clear_error() -> None:
    dead = free_port()
    backend = open_backend(f"etcd://127.0.0.1:{dead}?timeout=2")
    started = time.monotonic()
    with pytest.raises(BackendError, match=rf"etcd unreachable .*127\.0\.0\.1:{dead}"):
        await backend.snapshot()
    assert time.monotonic() - started < 5
    await backend.close()


async def test_compacted_start_revision_is_reported(etcd_server: EtcdServer) -> None:
    client = writer(etcd_server)
    first = await client.put(b"/lport/a", b"1")
    last = await client.put(b"/lport/a", b"2")
    await client.compact(last.header.revision)
    backend = open_backend(etcd_server.url)
    stream: AsyncIterator = backend.changes(first.header.revision)
    with pytest.raises(BackendError, match="compacted; take a new snapshot"):
        await anext(stream)
    await backend.close()
    await client.close()


async def test_fetch_reads_many_keys_at_a_revision_in_a_few_transactions(
    etcd_server: EtcdServer,
) -> None:
    client = writer(etcd_server)
    for n in range(250):
        await client.put(f"/lport/p{n}".encode(), f"old{n}".encode())
    before = (await client.put(b"/lport/p0", b"new0")).header.revision - 1
    keys = [("lport", f"p{n}") for n in range(250)] + [("lport", "absent")]
    backend = open_backend(etcd_server.url)
    then = await backend.fetch(keys, before)  # type: ignore[attr-defined]
    assert then == {**{("lport", f"p{n}"): f"old{n}".encode() for n in range(250)},
                    ("lport", "absent"): None}  # fmt: skip
    # A compacted revision reads the present instead.
    await client.compact(before + 1)
    now = await backend.fetch(keys[:2], before)  # type: ignore[attr-defined]
    assert now == {("lport", "p0"): b"new0", ("lport", "p1"): b"old1"}
    await backend.close()
    await client.close()


async def test_closing_the_backend_ends_its_change_streams(etcd_server: EtcdServer) -> None:
    backend = open_backend(etcd_server.url)
    _, revision = await backend.snapshot()
    stream = backend.changes(revision)
    pending = asyncio.ensure_future(anext(stream))
    await asyncio.sleep(0.3)
    await backend.close()
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(pending, 5)


async def test_a_new_stream_resumes_where_the_last_one_stopped_even_after_compaction(
    etcd_server: EtcdServer,
) -> None:
    client = writer(etcd_server)
    await client.put(b"/lport/a", b"1")
    await client.put(b"/lport/b", b"1")
    backend = open_backend(etcd_server.url)
    _, revision = await backend.snapshot()
    await client.put(b"/lport/a", b"2")
    stream = backend.changes(revision)
    seen = await anext(stream)
    await stream.aclose()  # the consumer stops here (e.g. its own restart)
    await client.delete(b"/lport/b")
    await client.put(b"/lport/c", b"3")
    latest = await client.put(b"/unique_key/lport", b"9")
    await client.compact(latest.header.revision)

    stream = backend.changes(seen.revision)
    got = {(c.id, c.value) for c in [await anext(stream), await anext(stream)]}
    assert got == {("b", None), ("c", b"3")}
    await stream.aclose()
    await backend.close()
    await client.close()
