"""Write a generated cloud, and then its churn, into a real NB store.

Each writer lays the data out exactly as Dragonflow's own drivers do, so the
read-only backends see what they would see in production:

- etcd: ``/<table>/<id>`` → the JSON text, ``/unique_key/<table>`` → the decimal
  counter as text;
- redis: ``{<table>.<topic>}<id>`` → the JSON text (empty topic for chassis and
  other topic-less tables), ``{unique_key.}<table>`` → the integer counter;
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
from urllib.parse import unquote

from dragonscope.demo.churn import Change
from dragonscope.demo.generate import TABLES, Dump, dump_json, encode
from dragonscope.nb.backends import BackendError, MemoryBackend, parse_hosts

OUT_FORMS = "etcd://host:port, redis://[:password@]host:port[/db], file:///path/dump.json"
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
    url = target.strip()
    kind, where = parse_out_url(url)
    if kind == "etcd":
        host, port, _, _ = where
        return EtcdWriter(url, host, port)
    if kind == "redis":
        host, port, db, password = where
        return RedisWriter(url, host, port, db, password)
    return FileWriter(url, Path(where))


def parse_out_url(url: str) -> tuple[str, Any]:
    """``(kind, where)`` for an output URL: ("etcd", (host, port, 0, None)),
    ("redis", (host, port, db, password)) or ("file", path); WriterError if malformed."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        if url.endswith(".json"):
            return "file", url
        raise WriterError(f"{shown_url(url)!r} is not an output URL; expected one of {OUT_FORMS}")
    scheme = scheme.lower()
    try:
        if scheme == "etcd":
            ((host, port),) = parse_hosts(url, rest, 2379)[:1]
            return "etcd", (host, port, 0, None)
        if scheme == "redis":
            return "redis", _redis_target(url, rest)
    except BackendError as exc:
        raise WriterError(str(exc)) from None
    if scheme == "file":
        path = unquote(rest[len("localhost") :] if rest.startswith("localhost/") else rest)
        if not path:
            raise WriterError(f"{url!r} names no file; write file:///path/to/dump.json")
        return "file", path
    raise WriterError(f"{shown_url(url)!r}: unknown scheme {scheme!r}; expected one of {OUT_FORMS}")


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


def _objects(dump: Dump) -> Iterable[tuple[str, dict[str, Any]]]:
    for table, rows in dump.items():
        if table != "unique_key":
            for obj in rows:
                yield table, obj


def _counters(dump: Dump) -> dict[str, int]:
    return {row["id"]: int(row["unique_key"]) for row in dump.get("unique_key", [])}


class MemoryWriter:
    def __init__(self, backend: MemoryBackend) -> None:
        self.backend = backend
        self.url = backend.url

    async def is_empty(self) -> bool:
        entries, _ = await self.backend.snapshot()
        return not entries

    async def write_dump(self, dump: Dump) -> int:
        self.backend.load_dump(dump)
        return sum(1 for _ in _objects(dump))

    async def apply(self, changes: Iterable[Change]) -> None:
        for table, obj_id, obj in changes:
            if table == "unique_key":
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
        request = rpc.RangeRequest(key=b"/", range_end=b"0", count_only=True)
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
        size = count = 0
        pairs = [(f"/{t}/{o['id']}".encode(), encode(o)) for t, o in _objects(dump)]
        pairs += [
            (f"/unique_key/{t}".encode(), str(n).encode()) for t, n in _counters(dump).items()
        ]
        for key, value in pairs:
            if batch and (len(batch) == ETCD_TXN_OPS or size + len(value) > ETCD_TXN_BYTES):
                await self._transaction(batch)
                batch, size = [], 0
            batch.append((key, value))
            size += len(key) + len(value)
            count += not key.startswith(b"/unique_key/")
        if batch:
            await self._transaction(batch)
        return count

    async def apply(self, changes: Iterable[Change]) -> None:
        for table, obj_id, obj in changes:
            key = f"/{table}/{obj_id}".encode()
            if obj is None:
                await self._call("delete", self.client.delete(key))
            elif table == "unique_key":
                await self._call("write", self.client.put(key, str(obj["unique_key"]).encode()))
            else:
                await self._call("write", self.client.put(key, encode(obj)))

    async def close(self) -> None:
        await self.client.close()


def shown_url(url: str) -> str:
    """The URL as it may appear in logs and messages: a password becomes ``***``."""
    scheme, sep, rest = url.partition("://")
    netloc, slash, path = rest.partition("/")
    if not sep or "@" not in netloc:
        return url
    auth, _, hosts = netloc.rpartition("@")
    user = auth.partition(":")[0] if ":" in auth else ""
    return f"{scheme}://{user}:***@{hosts}{slash}{path}"


def _redis_target(url: str, rest: str) -> tuple[str, int, int, str | None]:
    password = None
    if "@" in rest:
        auth, rest = rest.rsplit("@", 1)
        password = unquote(auth.partition(":")[2] if ":" in auth else auth) or None
    netloc, _, path = rest.partition("/")
    url = shown_url(url)
    ((host, port),) = parse_hosts(url, netloc, 6379)[:1]
    db = path.strip("/") or "0"
    if not db.isdigit():
        raise WriterError(f"{url!r}: the database after / must be a number, not {db!r}")
    return host, port, int(db), password


class RedisWriter:
    def __init__(self, url: str, host: str, port: int, db: int, password: str | None) -> None:
        import redis.asyncio

        self.url = shown_url(url)
        self.where = f"redis at {host}:{port}/{db}"
        self.client = redis.asyncio.Redis(host=host, port=port, db=db, password=password)
        self.topics: dict[tuple[str, str], str] = {}

    async def _call(self, what: str, operation: Any) -> Any:
        import redis.exceptions

        try:
            return await operation
        except redis.exceptions.RedisError as exc:
            raise WriterError(f"{self.where}: cannot {what} ({exc})") from exc

    @staticmethod
    def key(table: str, topic: str, obj_id: str) -> str:
        return "{" + f"{table}.{topic}" + "}" + obj_id

    async def is_empty(self) -> bool:
        import redis.exceptions

        try:
            for table in TABLES:
                pattern = self.key(table, "*", "*")
                async for _ in self.client.scan_iter(match=pattern, count=1000):
                    return False
        except redis.exceptions.RedisError as exc:
            raise WriterError(f"{self.where}: cannot read ({exc})") from exc
        return True

    async def write_dump(self, dump: Dump) -> int:
        count = 0
        pipe = self.client.pipeline(transaction=False)
        for table, obj in _objects(dump):
            topic = obj.get("topic") or ""
            self.topics[(table, obj["id"])] = topic
            pipe.set(self.key(table, topic, obj["id"]), encode(obj))
            count += 1
            if len(pipe) >= 1000:
                await self._call("write", pipe.execute())
        for table, value in _counters(dump).items():
            pipe.set(self.key("unique_key", "", table), value)
        await self._call("write", pipe.execute())
        return count

    async def apply(self, changes: Iterable[Change]) -> None:
        for table, obj_id, obj in changes:
            if table == "unique_key" and obj is not None:
                key = self.key("unique_key", "", obj_id)
                await self._call("write", self.client.set(key, int(obj["unique_key"])))
                continue
            old = await self._stored_keys(table, obj_id)
            if obj is None:
                if old:
                    await self._call("delete", self.client.delete(*old))
                self.topics.pop((table, obj_id), None)
                continue
            topic = obj.get("topic") or ""
            new = self.key(table, topic, obj_id)
            await self._call("write", self.client.set(new, encode(obj)))
            self.topics[(table, obj_id)] = topic
            stale = [k for k in old if k != new]
            if stale:  # the topic changed: Dragonflow's driver would leave the old key behind
                await self._call("delete", self.client.delete(*stale))

    async def _stored_keys(self, table: str, obj_id: str) -> list[str]:
        topic = self.topics.get((table, obj_id))
        if topic is not None:
            return [self.key(table, topic, obj_id)]
        import redis.exceptions

        pattern = self.key(table, "*", obj_id.replace("*", r"\*"))
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
        return sum(1 for _ in _objects(dump))

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
