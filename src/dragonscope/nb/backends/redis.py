"""Dragonflow's redis NB (single node), read with redis-py's asyncio client.

Layout (``nb/backends/keys.py``): ``{<table>.<topic>}<id>`` -> JSON text (the
topic is the tenant, empty for chassis, service, migration...); counters are skipped.

Redis has no change feed and Dragonflow's own pub/sub is optional and lossy, so
changes are found two ways:

- **keyspace notifications**, when the server already publishes them
  (``notify-keyspace-events`` holds ``K`` or ``E`` plus ``$`` and ``g``, or
  ``A``): every notified key is read again at once. The setting is only read,
  never changed: reconfiguring a production server is the operator's call;
- **SCAN reconciliation**, always, every ``reconcile`` seconds and after every
  reconnection: the whole layout is read and the difference applied. Without
  notifications this alone finds every change, at most one interval late.

Every read-and-apply runs under one lock, so the newest read always wins.
A server whose run ID changed since the last connection was restarted (and
perhaps emptied or loaded from another dump): the reconcile that follows is a
resync, reported in ``resyncs``.
Revisions are a local counter (``LocalStore``): they restart with the process
and mean nothing to redis. An object whose topic changed is stored under two
keys by Dragonflow (the old one is left behind); the value with the highest
``version`` is used and the object is listed in ``duplicates``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterable

import redis.asyncio as aioredis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import AuthenticationError, RedisError, ResponseError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from dragonscope.nb.backends.base import BackendError, RawChange, RawEntry, Resyncs
from dragonscope.nb.backends.keys import REDIS_SCAN_PATTERN, split_redis_key
from dragonscope.nb.backends.store import LocalStore, pick
from dragonscope.tasks import cancel_and_wait

log = logging.getLogger(__name__)

BATCH = 1000
NOTIFICATIONS = "keyspace-notifications"
SCAN_ONLY = "scan"
# How often the notification setting is read again, so that an operator switching
# notifications on (or off) is noticed within seconds, whatever the reconcile interval.
CONFIG_CHECK = 5.0
ENABLE_HINT = "enable with: CONFIG SET notify-keyspace-events K$g (and in redis.conf)"


def notification_channel(flags: str, db: int) -> str | None:
    """The pattern to subscribe to for ``notify-keyspace-events`` = ``flags``, if usable."""
    has_events = "A" in flags or ("$" in flags and "g" in flags)
    if not has_events:
        return None
    if "K" in flags:
        return f"__keyspace@{db}__:{{*"
    if "E" in flags:
        return f"__keyevent@{db}__:*"
    return None


class RedisBackend:
    """Read-only view of Dragonflow's NB in redis."""

    def __init__(
        self,
        url: str,
        host: str,
        port: int,
        *,
        db: int = 0,
        username: str | None = None,
        password: str | None = None,
        reconcile: float = 30.0,
        timeout: float = 5.0,
        retry_delay: float = 0.2,
        max_retry_delay: float = 5.0,
    ) -> None:
        self.url = url
        self.reconcile_interval = reconcile
        self.mode = SCAN_ONLY
        # (table, id) stored under several keys -> those keys.
        self.duplicates: dict[tuple[str, str], tuple[str, ...]] = {}
        self._host, self._port, self._db = host, port, db
        self._username, self._password = username, password
        self._timeout = timeout
        self._retry_delay = retry_delay
        self._max_retry_delay = max_retry_delay
        self._store = LocalStore()
        self._raw: dict[bytes, bytes] = {}
        self._keys_of: dict[tuple[str, str], dict[bytes, int]] = {}
        self._sequence = 0
        self._lock = asyncio.Lock()
        self._client: aioredis.Redis | None = None
        self._follower: asyncio.Task[None] | None = None
        self._mode_reported = False
        self.resyncs = Resyncs()
        self._run_id: str | None = None

    @property
    def address(self) -> str:
        return f"{self._host}:{self._port}"

    async def snapshot(self) -> tuple[list[RawEntry], int]:
        try:
            client = self._commands()
            if (await client.info("cluster")).get("cluster_enabled"):
                raise BackendError(
                    f"redis at {self.address} is a Redis Cluster node; dragonscope reads "
                    "Dragonflow's NB from a single redis server (clusters are not supported)"
                )
            await self._reconcile(client)
        except AuthenticationError as exc:
            raise BackendError(f"redis at {self.address} refused our credentials: {exc}") from exc
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            raise BackendError(
                f"redis at {self.address} unreachable ({_reason(exc)}); check that redis "
                f"runs and that the URL matches [df] remote_db_hosts"
            ) from exc
        except RedisError as exc:  # refused: credentials, ACL, wrong database...
            raise BackendError(f"redis at {self.address} refused the read: {_reason(exc)}") from exc
        return self._store.snapshot()

    async def changes(self, since: int) -> AsyncIterator[RawChange]:
        if self._follower is None or self._follower.done():
            self._follower = asyncio.create_task(self._follow(), name=f"follow {self.url}")
        async for change in self._store.follow(since):
            yield change

    async def close(self) -> None:
        await cancel_and_wait(self._follower)
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        self._store.close()

    # -- connections -------------------------------------------------------------------------

    def _connect(self, *, socket_timeout: float | None) -> aioredis.Redis:
        # No client-side retries: outages are handled (and logged) here, once.
        return aioredis.Redis(
            host=self._host,
            port=self._port,
            db=self._db,
            username=self._username,
            password=self._password,
            socket_connect_timeout=self._timeout,
            socket_timeout=socket_timeout,
            retry=Retry(NoBackoff(), 0),
            health_check_interval=10,
        )

    def _commands(self) -> aioredis.Redis:
        if self._client is None:
            self._client = self._connect(socket_timeout=self._timeout * 4)
        return self._client

    # -- reading -----------------------------------------------------------------------------

    async def _reconcile(self, client: aioredis.Redis) -> None:
        """Read every NB key and apply the difference (a resync if the server restarted)."""
        async with self._lock:
            await self._check_run_id(client)
            keys = [key async for key in client.scan_iter(match=REDIS_SCAN_PATTERN, count=BATCH)]
            content: dict[bytes, bytes] = {}
            for values, batch in await self._mget(client, keys):
                content.update((k, v) for k, v in zip(batch, values, strict=True) if v is not None)
            for key in [k for k in self._raw if k not in content]:
                self._apply(key, None)
            for key, value in content.items():
                self._apply(key, value)
            self.resyncs.end()

    async def _refresh(self, client: aioredis.Redis, keys: Iterable[bytes]) -> None:
        """Read these keys again (they were notified) and apply what they hold now."""
        async with self._lock:
            for values, batch in await self._mget(client, list(keys)):
                for key, value in zip(batch, values, strict=True):
                    self._apply(key, value)

    @staticmethod
    async def _mget(
        client: aioredis.Redis, keys: list[bytes]
    ) -> list[tuple[list[bytes | None], list[bytes]]]:
        keys = [k for k in keys if split_redis_key(k) is not None]
        results = []
        for start in range(0, len(keys), BATCH):
            batch = keys[start : start + BATCH]
            values = await client.mget(batch)  # bytes: the client does not decode
            results.append(([v.encode() if isinstance(v, str) else v for v in values], batch))
        return results

    def _apply(self, key: bytes, value: bytes | None) -> None:
        """Record what ``key`` holds and update the object it belongs to."""
        parts = split_redis_key(key)
        if parts is None or self._raw.get(key) == value:
            return
        table, _, id_ = parts
        stored = self._keys_of.setdefault((table, id_), {})
        if value is None:
            self._raw.pop(key, None)
            stored.pop(key, None)
        else:
            self._raw[key] = value
            self._sequence += 1
            stored[key] = self._sequence
        if not stored:
            del self._keys_of[(table, id_)]
            self.duplicates.pop((table, id_), None)
            self._store.set(table, id_, None)
            return
        in_order = sorted(stored, key=stored.__getitem__)
        if len(in_order) > 1:
            names = tuple(k.decode("utf-8", "replace") for k in in_order)
            if self.duplicates.get((table, id_)) != names:
                log.warning("redis: %s/%s is stored under %s", table, id_, ", ".join(names))
            self.duplicates[(table, id_)] = names
        else:
            self.duplicates.pop((table, id_), None)
        self._store.set(table, id_, pick([self._raw[k] for k in in_order]))

    # -- following ---------------------------------------------------------------------------

    async def _follow(self) -> None:
        delay = self._retry_delay
        outage: str | None = None
        while True:
            client = self._connect(socket_timeout=self._timeout * 4)
            try:
                async for _ in self._session(client):
                    if outage is not None:
                        log.info("redis at %s is back; NB re-read", self.address)
                        outage = None
                    delay = self._retry_delay
            except (RedisError, OSError) as exc:
                if outage is None:
                    outage = _reason(exc)
                    log.warning("redis at %s: %s; reconnecting", self.address, outage)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._max_retry_delay)
            except Exception:  # a bug must not silently freeze every follower
                log.exception("redis at %s: unexpected error; starting over", self.address)
                await asyncio.sleep(self._max_retry_delay)
            finally:
                await client.aclose()

    async def _session(self, client: aioredis.Redis) -> AsyncIterator[None]:
        """One connection's life: subscribe if possible, reconcile, then follow.

        Yields after each successful reconcile (the caller logs recoveries).
        """
        loop = asyncio.get_running_loop()
        channel, flags = await self._notification_channel(client)
        pubsub = client.pubsub(ignore_subscribe_messages=True) if channel else None
        try:
            if pubsub is not None and channel is not None:
                await pubsub.psubscribe(channel)  # before the reconcile: nothing falls between
            self._report_mode(NOTIFICATIONS if pubsub else SCAN_ONLY, flags)
            while True:
                await self._reconcile(client)
                yield
                due = loop.time() + self.reconcile_interval
                check_at = loop.time() + CONFIG_CHECK
                while (left := due - loop.time()) > 0:
                    wait = max(0.0, min(left, check_at - loop.time()))
                    if pubsub is None:
                        await asyncio.sleep(wait)
                    else:
                        keys = await self._notified_keys(pubsub, channel or "", wait)
                        if keys:
                            await self._refresh(client, keys)
                    if loop.time() >= check_at:
                        current, _ = await self._notification_channel(client)
                        if current != channel:
                            return  # notifications were switched on or off: start over
                        check_at = loop.time() + CONFIG_CHECK
        finally:
            if pubsub is not None:
                await pubsub.aclose()

    async def _check_run_id(self, client: aioredis.Redis) -> None:
        """A new run ID is another life of the server: what it holds is re-read as a resync."""
        run_id = str((await client.info("server")).get("run_id", ""))
        if self._run_id is not None and run_id != self._run_id:
            reason = f"redis run ID changed ({self._run_id[:8]} -> {run_id[:8]}): server restarted"
            log.warning("redis at %s: %s; re-reading the whole NB", self.address, reason)
            self.resyncs.begin(reason)
        self._run_id = run_id

    @staticmethod
    async def _notified_keys(pubsub: PubSub, channel: str, timeout: float) -> set[bytes]:
        """Keys named by the notifications that arrive within ``timeout`` (a batch)."""
        message = await pubsub.get_message(timeout=timeout)
        keys: set[bytes] = set()
        while message is not None:
            if message.get("type") == "pmessage":
                name: bytes = message["channel"]
                if channel.startswith("__keyspace@"):
                    keys.add(name.split(b":", 1)[1])
                else:
                    keys.add(message["data"])
            if len(keys) >= BATCH:
                break
            message = await pubsub.get_message(timeout=0)
        return keys

    async def _notification_channel(self, client: aioredis.Redis) -> tuple[str | None, str]:
        try:
            config = await client.config_get("notify-keyspace-events")
        except ResponseError as exc:  # CONFIG renamed or forbidden: notifications unknowable
            return None, f"unreadable ({exc})"
        flags = next(iter(config.values()), b"")
        flags = flags.decode() if isinstance(flags, bytes) else str(flags)
        return notification_channel(flags, self._db), flags

    def _report_mode(self, mode: str, flags: str) -> None:
        if self._mode_reported and mode == self.mode:
            return
        self._mode_reported = True
        self.mode = mode
        every = f"SCAN every {self.reconcile_interval:g} s"
        if mode == NOTIFICATIONS:
            log.info("redis at %s: following keyspace notifications, plus %s", self.address, every)
        else:
            log.warning(
                "redis at %s: keyspace notifications are off (notify-keyspace-events=%r); "
                "changes are found by %s; %s",
                self.address, flags, every, ENABLE_HINT,
            )  # fmt: skip


def _reason(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__
