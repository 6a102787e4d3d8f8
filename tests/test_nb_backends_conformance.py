"""The one contract every NB backend keeps, checked against all four (real etcd and redis).

Snapshot at a revision; then every create, update and delete after it, in
order, to any number of followers; counters never show up as objects.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path

import aetcd
import pytest
import redis.asyncio as aioredis

from dragonscope.nb.backends import open_backend
from dragonscope.nb.backends.base import Backend
from dragonscope.nb.backends.memory import MemoryBackend
from nb_follow import Follower, eventually
from servers import EtcdServer, RedisServer

TOPIC = "3f6a2c1e9b8d4f7a8e5c2b1a0d9e8f7c"
CHASSIS = b'{"id": "compute-1", "ip": "192.168.100.11", "tunnel_types": ["vxlan"]}'


def lport(id_: str, version: int) -> bytes:
    return json.dumps({"id": id_, "topic": TOPIC, "version": version}).encode()


class Store:
    """Writes in the store's own layout, as Dragonflow would; ``backend`` only reads."""

    backend: Backend

    async def put(self, table: str, id_: str, value: bytes) -> None:
        raise NotImplementedError

    async def delete(self, table: str, id_: str) -> None:
        raise NotImplementedError

    async def counter(self, table: str, value: int) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        await self.backend.close()


class MemoryStore(Store):
    def __init__(self) -> None:
        self.backend = self.memory = MemoryBackend()

    async def put(self, table: str, id_: str, value: bytes) -> None:
        self.memory.put(table, id_, value)

    async def delete(self, table: str, id_: str) -> None:
        self.memory.delete(table, id_)

    async def counter(self, table: str, value: int) -> None:
        """Counters reach the memory store only inside dumps: reload it with one."""
        entries, _ = await self.memory.snapshot()
        dump: dict[str, list[dict]] = {"unique_key": [{"id": table, "unique_key": value}]}
        for entry in entries:
            dump.setdefault(entry.table, []).append(json.loads(entry.value))
        self.memory.load_dump(dump)


class EtcdStore(Store):
    def __init__(self, server: EtcdServer) -> None:
        self.client = aetcd.Client(port=server.port)
        self.backend = open_backend(server.url)

    async def put(self, table: str, id_: str, value: bytes) -> None:
        await self.client.put(f"/{table}/{id_}".encode(), value)

    async def delete(self, table: str, id_: str) -> None:
        await self.client.delete(f"/{table}/{id_}".encode())

    async def counter(self, table: str, value: int) -> None:
        await self.client.put(f"/unique_key/{table}".encode(), str(value).encode())

    async def close(self) -> None:
        await super().close()
        await self.client.close()


class RedisStore(Store):
    def __init__(self, server: RedisServer) -> None:
        self.client = aioredis.Redis(port=server.port)
        self.backend = open_backend(f"{server.url}?reconcile=0.1")

    @staticmethod
    def key(table: str, id_: str) -> str:
        return f"{{{table}.{'' if table == 'chassis' else TOPIC}}}{id_}"

    async def put(self, table: str, id_: str, value: bytes) -> None:
        await self.client.set(self.key(table, id_), value)

    async def delete(self, table: str, id_: str) -> None:
        await self.client.delete(self.key(table, id_))

    async def counter(self, table: str, value: int) -> None:
        await self.client.set(f"{{unique_key.}}{table}", value)

    async def close(self) -> None:
        await super().close()
        await self.client.aclose()


class FileStore(Store):
    def __init__(self, path: Path) -> None:
        self.path = path
        self.dump: dict[str, dict[str, dict]] = {}
        self._write()
        self.backend = open_backend(f"file://{path}?interval=0.05")

    def _write(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({t: list(rows.values()) for t, rows in self.dump.items()}))
        os.replace(tmp, self.path)

    async def put(self, table: str, id_: str, value: bytes) -> None:
        self.dump.setdefault(table, {})[id_] = json.loads(value)
        self._write()

    async def delete(self, table: str, id_: str) -> None:
        self.dump.get(table, {}).pop(id_, None)
        self._write()

    async def counter(self, table: str, value: int) -> None:
        self.dump.setdefault("unique_key", {})[table] = {"id": table, "unique_key": value}
        self._write()


@pytest.fixture(params=["memory", "etcd", "redis", "file"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    kind = request.param
    if kind == "memory":
        made: Store = MemoryStore()
    elif kind == "etcd":
        made = EtcdStore(request.getfixturevalue("etcd_server"))
    elif kind == "redis":
        made = RedisStore(request.getfixturevalue("redis_server"))
    else:
        made = FileStore(tmp_path / "nb.json")
    yield made
    await made.close()


async def test_snapshot_then_every_change_in_order(store: Store) -> None:
    await store.put("chassis", "compute-1", CHASSIS)
    await store.put("lport", "p1", lport("p1", 1))
    await store.counter("lport", 1)
    entries, revision = await store.backend.snapshot()
    assert {(e.table, e.id): e.value for e in entries} == {
        ("chassis", "compute-1"): CHASSIS,
        ("lport", "p1"): lport("p1", 1),
    }

    followers = [Follower(store.backend), Follower(store.backend)]
    for follower in followers:
        await follower.start()
    seen: list[tuple[str, bytes | None, int]] = []

    async def record() -> None:
        async for change in store.backend.changes(revision):
            seen.append((change.id, change.value, change.revision))
            if len(seen) == 3:
                return

    recorder = asyncio.create_task(record())
    await store.put("lport", "p2", lport("p2", 1))
    await eventually(lambda: len(seen) >= 1, timeout=10)
    await store.put("lport", "p1", lport("p1", 2))
    await eventually(lambda: len(seen) >= 2, timeout=10)
    await store.delete("chassis", "compute-1")
    await store.counter("lport", 2)
    await asyncio.wait_for(recorder, 10)

    assert [(id_, value) for id_, value, _ in seen] == [
        ("p2", lport("p2", 1)),
        ("p1", lport("p1", 2)),
        ("compute-1", None),
    ]
    revisions = [rev for _, _, rev in seen]
    assert revisions == sorted(revisions) and revisions[0] > revision
    final = {("lport", "p1"): lport("p1", 2), ("lport", "p2"): lport("p2", 1)}
    for follower in followers:
        await eventually(lambda f=follower: f.state == final, timeout=10)
    for follower in followers:
        assert follower.task is not None
        follower.task.cancel()
