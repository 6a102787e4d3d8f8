"""The redis backend against a real redis-server: Dragonflow's key layout, both
change-detection modes, restarts, topic changes, and no writes ever."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from dragonscope.nb.backends import BackendError, open_backend
from dragonscope.nb.backends import redis as redis_backend
from dragonscope.nb.backends.keys import split_redis_key as split_key
from dragonscope.nb.backends.redis import NOTIFICATIONS, SCAN_ONLY
from nb_follow import Follower, State, eventually
from servers import RedisServer, free_port

TABLES = ("lport", "lswitch", "lrouter", "chassis")
TOPICS = ("3f6a2c1e9b8d4f7a8e5c2b1a0d9e8f7c", "b7e21a9c4d3f4e6b8a1c0d2e3f4a5b6c", "")


def writer(server: RedisServer) -> aioredis.Redis:
    return aioredis.Redis(port=server.port, socket_connect_timeout=1, socket_timeout=5)


async def enable_notifications(client: aioredis.Redis) -> None:
    """The test's own server: the backend itself must never do this."""
    await client.config_set("notify-keyspace-events", "K$g")


async def store_state(client: aioredis.Redis) -> State:
    state = {}
    async for key in client.scan_iter(match="{*}*"):
        parts = split_key(key)
        if parts:
            value = await client.get(key)
            if value is not None:
                state[(parts[0], parts[2])] = value
    return state


async def retrying(op: Callable[[], Awaitable[object]]) -> None:
    while True:
        try:
            await op()
            return
        except (RedisConnectionError, RedisTimeoutError, OSError):
            await asyncio.sleep(0.05)


async def random_writes(client: aioredis.Redis, ops: int, seed: int, on_progress=None) -> None:
    """``ops`` random creates/updates/deletes in Dragonflow's layout, 8 writers at once."""
    workers = 8

    async def work(worker: int) -> None:
        rng = random.Random(seed * 100 + worker)
        live: set[str] = set()
        for n in range(ops // workers):
            table = rng.choice(TABLES)
            number = rng.randrange(60)
            topic = TOPICS[number % len(TOPICS)]  # one topic per object
            id_ = f"{worker}-{number}"
            key = f"{{{table}.{topic}}}{id_}"
            if key in live and rng.random() < 0.3:
                await retrying(lambda key=key: client.delete(key))
                live.discard(key)
            else:
                value = json.dumps({"id": id_, "topic": topic, "version": n})
                await retrying(lambda key=key, value=value: client.set(key, value))
                live.add(key)
            if rng.random() < 0.02:
                await retrying(lambda table=table: client.incr(f"{{unique_key.}}{table}"))
            if on_progress and worker == 0:
                await on_progress(n * workers)

    await asyncio.gather(*(work(w) for w in range(workers)))


async def converge(follower: Follower, client: aioredis.Redis) -> None:
    final = await store_state(client)
    await eventually(lambda: follower.state == final)
    assert follower.state == final


async def test_reads_dragonflow_layout_and_skips_the_rest(redis_server: RedisServer) -> None:
    client = writer(redis_server)
    await client.set("{lport.3f6a2c1e9b8d4f7a8e5c2b1a0d9e8f7c}p1", '{"id": "p1"}')
    await client.set("{chassis.}compute-1", '{"id": "compute-1"}')
    await client.set("{listener.listener_ctl-1.example.org}ctl-1.example.org", '{"id": "x"}')
    await client.incr("{unique_key.}lport")
    await client.set("unrelated", "x")
    await client.hset("{lport.t}hash", "a", "b")  # not a string: not an NB object
    backend = open_backend(redis_server.url)
    entries, revision = await backend.snapshot()
    assert sorted((e.table, e.id, e.value) for e in entries) == [
        ("chassis", "compute-1", b'{"id": "compute-1"}'),
        ("listener", "ctl-1.example.org", b'{"id": "x"}'),
        ("lport", "p1", b'{"id": "p1"}'),
    ]
    assert revision > 0
    await backend.close()
    await client.aclose()


async def test_mode_without_notifications_is_reported_with_the_fix(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    backend = open_backend(f"{redis_server.url}?reconcile=0.2")
    follower = Follower(backend)
    await follower.start()
    await eventually(lambda: "keyspace notifications are off" in caplog.text)
    assert backend.mode == SCAN_ONLY
    assert "CONFIG SET notify-keyspace-events" in caplog.text
    client = writer(redis_server)
    await client.set("{lport.t}a", '{"id": "a"}')
    await eventually(lambda: ("lport", "a") in follower.state, timeout=5)
    await follower.stop()
    await client.aclose()


async def test_notifications_deliver_changes_without_waiting_for_a_scan(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    client = writer(redis_server)
    await enable_notifications(client)
    backend = open_backend(f"{redis_server.url}?reconcile=600")
    follower = Follower(backend)
    await follower.start()
    await eventually(lambda: backend.mode == NOTIFICATIONS)
    await asyncio.sleep(0.2)
    started = time.monotonic()
    await client.set("{lport.t}a", '{"id": "a"}')
    await eventually(lambda: ("lport", "a") in follower.state, timeout=5)
    await client.delete("{lport.t}a")
    await eventually(lambda: ("lport", "a") not in follower.state, timeout=5)
    assert time.monotonic() - started < 3
    assert "following keyspace notifications" in caplog.text
    await follower.stop()
    await client.aclose()


async def test_notifications_switched_on_later_are_picked_up(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(redis_backend, "CONFIG_CHECK", 0.2)
    backend = open_backend(f"{redis_server.url}?reconcile=600")
    follower = Follower(backend)
    await follower.start()
    await eventually(lambda: backend.mode == SCAN_ONLY, timeout=5)
    client = writer(redis_server)
    await enable_notifications(client)  # the operator's decision, at run time
    await eventually(lambda: backend.mode == NOTIFICATIONS, timeout=5)
    await client.set("{lport.t}late", '{"id": "late"}')
    await eventually(lambda: ("lport", "late") in follower.state, timeout=3)
    await follower.stop()
    await client.aclose()


async def test_topic_change_leaves_two_keys_and_the_newest_version_wins(
    redis_server: RedisServer,
) -> None:
    client = writer(redis_server)
    await enable_notifications(client)
    await client.set("{lport.old}p", '{"id": "p", "topic": "old", "version": 3}')
    backend = open_backend(f"{redis_server.url}?reconcile=600")
    follower = Follower(backend)
    await follower.start()
    await eventually(lambda: backend.mode == NOTIFICATIONS)
    await asyncio.sleep(0.2)
    await client.set("{lport.new}p", '{"id": "p", "topic": "new", "version": 4}')
    await eventually(lambda: b'"new"' in follower.state.get(("lport", "p"), b""), timeout=5)
    assert backend.duplicates[("lport", "p")] == ("{lport.old}p", "{lport.new}p")
    await client.delete("{lport.old}p")  # the stale key is cleaned up by hand
    await eventually(lambda: ("lport", "p") not in backend.duplicates, timeout=5)
    assert b'"new"' in follower.state[("lport", "p")]
    await client.delete("{lport.new}p")
    await eventually(lambda: ("lport", "p") not in follower.state, timeout=5)
    await follower.stop()
    await client.aclose()


@pytest.mark.parametrize("notifications", [True, False], ids=["notifications", "scan-only"])
async def test_ten_thousand_random_changes_through_a_restart(
    redis_server: RedisServer, notifications: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(redis_backend, "CONFIG_CHECK", 0.5)
    client = writer(redis_server)
    if notifications:
        await enable_notifications(client)
    backend = open_backend(f"{redis_server.url}?reconcile={600 if notifications else 0.3}")
    backend._retry_delay = backend._max_retry_delay = 0.2
    follower = Follower(backend)
    await follower.start()
    restarts = [3_000, 7_000]

    async def restart_at(done: int) -> None:
        if restarts and done >= restarts[0]:
            restarts.pop(0)
            redis_server.kill()
            await asyncio.sleep(0.3)
            redis_server.start()
            if notifications:  # a restart forgets CONFIG SET; the test's server, set it again
                await retrying(lambda: enable_notifications(client))

    await random_writes(client, 10_000, seed=7, on_progress=restart_at)
    assert not restarts
    await converge(follower, client)
    if notifications:
        assert backend.mode == NOTIFICATIONS
    await follower.stop()
    await client.aclose()


async def test_backend_never_writes(redis_server: RedisServer) -> None:
    client = writer(redis_server)
    await client.set("{lport.t}a", '{"id": "a"}')
    await client.config_resetstat()
    backend = open_backend(f"{redis_server.url}?reconcile=0.1")
    follower = Follower(backend)
    await follower.start()
    await asyncio.sleep(0.5)
    await follower.stop()
    stats = await client.info("commandstats")
    used = sorted(name.removeprefix("cmdstat_") for name in stats)
    assert "scan" in used and "mget" in used
    assert "config|set" not in used
    described = await client.execute_command("COMMAND", "INFO", *used)
    writes = [name for name, info in described.items() if "write" in info["flags"]]
    assert not writes, f"the backend wrote with {writes}"
    await client.aclose()


async def test_unreachable_redis_is_one_clear_error() -> None:
    dead = free_port()
    backend = open_backend(f"redis://127.0.0.1:{dead}")
    started = time.monotonic()
    with pytest.raises(BackendError, match=rf"redis at 127\.0\.0\.1:{dead} unreachable"):
        await backend.snapshot()
    assert time.monotonic() - started < 3
    await backend.close()


async def test_wrong_password_is_named_as_such_and_never_shown(redis_server: RedisServer) -> None:
    client = writer(redis_server)
    await client.config_set("requirepass", "right-one")
    backend = open_backend(f"redis://:wrong-one@127.0.0.1:{redis_server.port}")
    with pytest.raises(BackendError, match="refused our credentials") as raised:
        await backend.snapshot()
    assert "wrong-one" not in str(raised.value) and "wrong-one" not in backend.url
    await backend.close()
    good = open_backend(f"redis://:right-one@127.0.0.1:{redis_server.port}")
    await good.snapshot()
    await good.close()
    await client.aclose()


class ClusterNode(RedisServer):
    def __init__(self) -> None:
        super().__init__()
        self.bus_port = free_port()  # else port + 10000, which may not exist

    def command(self) -> list[str]:
        return [*super().command(), "--cluster-enabled", "yes",
                "--cluster-port", str(self.bus_port),
                "--cluster-config-file", str(self.dir / "nodes.conf")]  # fmt: skip


async def test_a_cluster_node_is_refused_clearly() -> None:
    node = ClusterNode()
    node.start()
    try:
        backend = open_backend(node.url)
        with pytest.raises(BackendError, match="is a Redis Cluster node"):
            await backend.snapshot()
        await backend.close()
    finally:
        node.cleanup()
