"""Write a generated cloud, and then its churn, into a real NB store.

Each writer lays the data out exactly as Dragonflow's own drivers do, through
the key layouts, URLs and stored bytes the read-only backends use (``nb``), so
they see what they would see in production:

- etcd: every object at its key, each counter as decimal text;
- redis: every object at its key under its topic (empty for chassis and other
  topic-less tables), each counter as an integer;
- file: a ``df-db dump -f json`` file (rewritten atomically on every change);
- memory: a ``MemoryBackend`` (counters are not objects there and are skipped).

These are the only modules of dragonscope that write to an NB store: they serve
the demo, the tests and the benchmarks, never a production NB.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol

from dragonscope.demo.churn_state import Change
from dragonscope.nb import (
    COUNTER_VALUE,
    Dump,
    counters,
    dump_json,
    encode,
    object_count,
    stored_objects,
    tables,
)
from dragonscope.nb.backends import (
    ETCD_PREFIX,
    ETCD_PREFIX_END,
    REDIS_SCAN_PATTERN,
    URL_FORMS,
    BackendError,
    EtcdUrl,
    FileUrl,
    MemoryBackend,
    MemoryUrl,
    RedisUrl,
    etcd_counter_key,
    etcd_key,
    parse_url,
    redis_counter_key,
    redis_key,
    redis_pattern,
    shown_url,
)

# etcd refuses transactions of more than 128 operations (and requests over 1.5 MiB) by default.
ETCD_TXN_OPS = 128
ETCD_TXN_BYTES = 1 << 20


class WriterError(Exception):
    """The target cannot be written (bad URL, unreachable, refused). One clear line."""


class NbWriter(Protocol):
    url: str

    async def is_empty(self) -> bool:
        """True when the store holds no Dragonflow object yet."""
        ...

    async def write_dump(self, dump: Dump) -> int:
        """Store every object and counter of ``dump``; returns the number of objects."""
        ...

    async def apply(self, changes: Iterable[Change]) -> None:
        """Make each change, one write after the other, in order."""
        ...

    async def close(self) -> None: ...


def open_writer(target: str | MemoryBackend) -> NbWriter:
    """The writer for a URL (or a memory backend); raises WriterError for a bad URL.

    Nothing is contacted here: the first write connects."""
    if isinstance(target, MemoryBackend):
        return MemoryWriter(target)
    where = parse_out_url(target)
    if isinstance(where, EtcdUrl):
        host, port = where.endpoints[0]
        return EtcdWriter(where.url, host, port)
    if isinstance(where, RedisUrl):
        return RedisWriter(where)
    return FileWriter(where.url, where.path)


def parse_out_url(url: str) -> EtcdUrl | RedisUrl | FileUrl:
    """What an output URL names (etcd, redis or a dump file); WriterError if malformed."""
    url = url.strip()
    if "://" not in url and not url.endswith(".json"):
        raise WriterError(f"{shown_url(url)!r} is not an output URL; expected one of {URL_FORMS}")
    try:
        where = parse_url(url)
    except BackendError as exc:
        raise WriterError(str(exc)) from None
    if isinstance(where, MemoryUrl):
        raise WriterError(
            f"{where.url!r} lives only inside one process; expected one of {URL_FORMS}"
        )
    return where


async def write(dump: Dump, target: str | MemoryBackend, *, force: bool = True) -> int:
    """Write ``dump`` to ``target`` and close; returns the number of objects written.

    With ``force`` False a target that already holds data is refused (WriterError), so a
    mistyped address cannot mix a sample cloud into a real NB."""
    writer = open_writer(target)
    try:
        if not force and not await writer.is_empty():
            raise WriterError(
                f"{writer.url} already holds data; give --force to write the sample cloud "
                "into it anyway"
            )
        return await writer.write_dump(dump)
    finally:
        await writer.close()


class MemoryWriter:
    def __init__(self, backend: MemoryBackend) -> None:
        self.backend = backend
        self.url = backend.url

    async def is_empty(self) -> bool:
        entries, _ = await self.backend.snapshot()
        return not entries

    async def write_dump(self, dump: Dump) -> int:
        self.backend.load_dump(dump)
        return object_count(dump)

    async def apply(self, changes: Iterable[Change]) -> None:
        for table, obj_id, obj in changes:
            if table == tables.UNIQUE_KEY:
                continue
            if obj is None:
                self.backend.delete(table, obj_id)
            else:
                self.backend.put(table, obj_id, encode(obj))

    async def close(self) -> None:
        """The backend belongs to the caller, who closes it."""


class EtcdWriter:
    def __init__(self, url: str, host: str, port: int) -> None:
        import aetcd

        self.url = url
        self.where = f"etcd at {host}:{port}"
        self.client = aetcd.Client(host=host, port=port, timeout=10)

    async def _call(self, what: str, operation: Any) -> Any:
        import aetcd.exceptions
        import grpc

        try:
            return await operation
        except aetcd.exceptions.ClientError as exc:
            raise WriterError(f"{self.where}: cannot {what} ({type(exc).__name__})") from exc
        except grpc.RpcError as exc:  # raw stub calls are not translated by aetcd
            code = exc.code().name.lower() if hasattr(exc, "code") else "error"
            raise WriterError(f"{self.where}: cannot {what} ({code})") from exc

    async def is_empty(self) -> bool:
        from aetcd import rpc

        await self._call("connect", self.client.connect())
        request = rpc.RangeRequest(key=ETCD_PREFIX, range_end=ETCD_PREFIX_END, count_only=True)
        reply = await self._call(
            "read",
            self.client.kvstub.Range(request, timeout=10, metadata=self.client.metadata),
        )
        return int(reply.count) == 0

    async def _transaction(self, puts: list[tuple[bytes, bytes]]) -> None:
        ops = [self.client.transactions.put(key, value) for key, value in puts]
        await self._call("write", self.client.transaction(compare=[], success=ops, failure=[]))

    async def write_dump(self, dump: Dump) -> int:
        batch: list[tuple[bytes, bytes]] = []
        size = 0
        pairs = [(etcd_key(t, o["id"]), encode(o)) for t, o in stored_objects(dump)]
        counted = len(pairs)
        pairs += [(etcd_counter_key(t), str(n).encode()) for t, n in counters(dump).items()]
        for key, value in pairs:
            if batch and (len(batch) == ETCD_TXN_OPS or size + len(value) > ETCD_TXN_BYTES):
                await self._transaction(batch)
                batch, size = [], 0
            batch.append((key, value))
            size += len(key) + len(value)
        if batch:
            await self._transaction(batch)
        return counted

    async def apply(self, changes: Iterable[Change]) -> None:
        for table, obj_id, obj in changes:
            key = etcd_key(table, obj_id)
            if obj is None:
                await self._call("delete", self.client.delete(key))
            elif table == tables.UNIQUE_KEY:
                await self._call("write", self.client.put(key, str(obj[COUNTER_VALUE]).encode()))
            else:
                await self._call("write", self.client.put(key, encode(obj)))

    async def close(self) -> None:
        await self.client.close()


class RedisWriter:
    def __init__(self, where: RedisUrl) -> None:
        import redis.asyncio

        self.url = where.url
        self.where = f"redis at {where.host}:{where.port}/{where.db}"
        self.client = redis.asyncio.Redis(
            host=where.host,
            port=where.port,
            db=where.db,
            username=where.username,
            password=where.password,
        )
        self.topics: dict[tuple[str, str], str] = {}

    async def _call(self, what: str, operation: Any) -> Any:
        import redis.exceptions

        try:
            return await operation
        except redis.exceptions.RedisError as exc:
            raise WriterError(f"{self.where}: cannot {what} ({exc})") from exc

    async def is_empty(self) -> bool:
        import redis.exceptions

        try:
            async for _ in self.client.scan_iter(match=REDIS_SCAN_PATTERN, count=1000):
                return False
        except redis.exceptions.RedisError as exc:
            raise WriterError(f"{self.where}: cannot read ({exc})") from exc
        return True

    async def write_dump(self, dump: Dump) -> int:
        count = 0
        pipe = self.client.pipeline(transaction=False)
        for table, obj in stored_objects(dump):
            topic = obj.get("topic") or ""
            self.topics[(table, obj["id"])] = topic
            pipe.set(redis_key(table, topic, obj["id"]), encode(obj))
            count += 1
            if len(pipe) >= 1000:
                await self._call("write", pipe.execute())
        for table, value in counters(dump).items():
            pipe.set(redis_counter_key(table), value)
        await self._call("write", pipe.execute())
        return count

    async def apply(self, changes: Iterable[Change]) -> None:
        for table, obj_id, obj in changes:
            if table == tables.UNIQUE_KEY and obj is not None:
                key = redis_counter_key(obj_id)
                await self._call("write", self.client.set(key, int(obj[COUNTER_VALUE])))
                continue
            old = await self._stored_keys(table, obj_id)
            if obj is None:
                if old:
                    await self._call("delete", self.client.delete(*old))
                self.topics.pop((table, obj_id), None)
                continue
            topic = obj.get("topic") or ""
            new = redis_key(table, topic, obj_id)
            await self._call("write", self.client.set(new, encode(obj)))
            self.topics[(table, obj_id)] = topic
            stale = [k for k in old if k != new]
            if stale:  # the topic changed: Dragonflow's driver would leave the old key behind
                await self._call("delete", self.client.delete(*stale))

    async def _stored_keys(self, table: str, obj_id: str) -> list[str]:
        topic = self.topics.get((table, obj_id))
        if topic is not None:
            return [redis_key(table, topic, obj_id)]
        import redis.exceptions

        pattern = redis_pattern(table, obj_id)
        found = []
        try:
            async for key in self.client.scan_iter(match=pattern, count=1000):
                found.append(key.decode() if isinstance(key, bytes) else key)
        except redis.exceptions.RedisError as exc:
            raise WriterError(f"{self.where}: cannot read ({exc})") from exc
        return found

    async def close(self) -> None:
        await self.client.aclose()


class FileWriter:
    def __init__(self, url: str, path: Path) -> None:
        self.url = url
        self.path = path
        self.tables: dict[str, dict[str, dict[str, Any]]] | None = None

    async def is_empty(self) -> bool:
        return not self.path.exists() or self.path.stat().st_size == 0

    def _save(self) -> None:
        """Replace the file in one step, so a reader never sees half a dump."""
        assert self.tables is not None
        dump = {table: list(rows.values()) for table, rows in self.tables.items()}
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
        except OSError as exc:
            raise WriterError(f"cannot write {self.path}: {exc.strerror}") from exc
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(dump_json(dump))
            os.replace(tmp, self.path)
        except OSError as exc:
            Path(tmp).unlink(missing_ok=True)
            raise WriterError(f"cannot write {self.path}: {exc.strerror}") from exc

    async def write_dump(self, dump: Dump) -> int:
        self.tables = {table: {o["id"]: o for o in rows} for table, rows in dump.items()}
        self._save()
        return object_count(dump)

    async def apply(self, changes: Iterable[Change]) -> None:
        if self.tables is None:
            raise WriterError(f"{self.path}: write a dump before applying changes to it")
        for table, obj_id, obj in changes:
            rows = self.tables.setdefault(table, {})
            if obj is None:
                rows.pop(obj_id, None)
            else:
                rows[obj_id] = obj
        self._save()

    async def close(self) -> None:
        """Nothing is held open between writes."""
