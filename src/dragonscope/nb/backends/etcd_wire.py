"""The wire side of the etcd backend: etcd's v3 HTTP/JSON gateway over one endpoint at a time,
and what each failure means for the reader (compacted, unreachable, rewound, refused).

etcd serves its v3 API as JSON on the client port (``/v3/kv/range``, ``/v3/watch``: keys and
values in base64, 64-bit numbers as strings). Speaking it with aiohttp, which the collector
loads anyway for its analyzer link, spares every collector the gRPC runtime (about 20 MiB of
resident memory, a third of a chassis collector's budget) for the same reads and watches.
Answers are decoded with orjson: a snapshot page is a few megabytes of JSON.

Kept apart from ``etcd.py`` so that the reading logic there says what it does with a
failure, not how the wire spells it.
"""

from __future__ import annotations

import asyncio
import base64
import weakref
from binascii import a2b_base64
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson

from dragonscope.nb.backends.base import BackendError

# Ask etcd to cancel a watch when its member loses the cluster leader, so that a
# partitioned member cannot keep us on stale data (etcd clientv3's WithRequireLeader;
# the gateway passes Grpc-Metadata-* headers on as gRPC metadata).
WATCH_HEADERS = {"Grpc-Metadata-hasleader": "true"}
# The largest answer read (a page of values, or one watch response): gRPC's bound before.
MAX_MESSAGE = 256 * 2**20
# Fail fast on a dead endpoint: an operator watching an outage wants the picture back
# within seconds of etcd's return.
CONNECT_TIMEOUT = 2.0

# gRPC status codes etcd answers with (in the JSON error's ``code``).
_CANCELLED, _UNKNOWN, _DEADLINE, _EXHAUSTED, _OUT_OF_RANGE, _INTERNAL, _UNAVAILABLE = (
    1, 2, 4, 8, 11, 13, 14,
)  # fmt: skip
RETRYABLE = frozenset({_CANCELLED, _UNKNOWN, _DEADLINE, _EXHAUSTED, _INTERNAL, _UNAVAILABLE})


class Compacted(Exception):
    """The revision asked for is no longer in etcd's history."""


class Unreachable(Exception):
    """The current endpoint failed; another one (or a later try) may work."""


class Rewound(Exception):
    """The store's history is not the one followed so far (restore, wipe); the text says how."""


@dataclass(slots=True)
class Header:
    revision: int = 0
    cluster_id: int = 0


@dataclass(slots=True)
class Kv:
    key: bytes
    value: bytes
    mod_revision: int


@dataclass(slots=True)
class RangeResponse:
    header: Header
    kvs: list[Kv]
    more: bool


@dataclass(slots=True)
class Event:
    deleted: bool
    kv: Kv


@dataclass(slots=True)
class WatchResponse:
    header: Header
    events: list[Event] = field(default_factory=list)
    compact_revision: int = 0
    canceled: bool = False
    cancel_reason: str = ""


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


def _header(raw: Mapping[str, Any]) -> Header:
    header = raw.get("header") or {}
    return Header(int(header.get("revision") or 0), int(header.get("cluster_id") or 0))


def _kv(raw: Mapping[str, Any]) -> Kv:
    return Kv(
        a2b_base64(raw.get("key") or ""),
        a2b_base64(raw.get("value") or ""),
        int(raw.get("mod_revision") or 0),
    )


def refusal(error: Mapping[str, Any]) -> Exception:
    """What an error answer of etcd means for the reader."""
    code = error.get("code")
    details = str(error.get("message") or error.get("error") or "")
    if code == _OUT_OF_RANGE and "compacted" in details:
        return Compacted(details)
    if code == _OUT_OF_RANGE and "future" in details:
        return Rewound("the store is behind the revision followed (restored from a backup?)")
    if code in RETRYABLE:
        return Unreachable(details or f"etcd error code {code}")
    return BackendError(f"etcd refused the request (code {code}: {details})")


def _failure(exc: BaseException) -> Unreachable:
    """A transport failure: a refused or lost connection, a timeout."""
    if isinstance(exc, TimeoutError):
        return Unreachable("timed out")
    if isinstance(exc, aiohttp.ClientConnectorError):
        return Unreachable(str(exc.os_error).lower() or "cannot connect")
    return Unreachable(str(exc).lower() or type(exc).__name__)


TRANSPORT_ERRORS = (aiohttp.ClientError, OSError, TimeoutError)


class WatchCall:
    """One watch stream: ``read()`` its responses in order, None once the server ended it."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response
        self._buffer = b""

    async def read(self) -> WatchResponse | None:
        while b"\n" not in self._buffer:
            try:
                chunk = await self._response.content.readany()
            except TRANSPORT_ERRORS as exc:
                raise _failure(exc) from exc
            if not chunk:
                return None
            self._buffer += chunk
            if len(self._buffer) > MAX_MESSAGE:
                raise Unreachable("watch response too large")
        line, self._buffer = self._buffer.split(b"\n", 1)
        if not line.strip():
            return await self.read()
        message = orjson.loads(line)
        if "error" in message:
            error = message["error"]
            raise refusal(error if isinstance(error, dict) else message)
        result = message.get("result") or {}
        return WatchResponse(
            _header(result),
            [
                Event(event.get("type") == "DELETE", _kv(event.get("kv") or {}))
                for event in result.get("events") or ()
            ],
            int(result.get("compact_revision") or 0),
            bool(result.get("canceled")),
            str(result.get("cancel_reason") or ""),
        )

    def cancel(self) -> None:
        """End the stream; a ``read`` waiting on it raises Unreachable."""
        self._response.content.set_exception(Unreachable("watch closed"))
        self._response.close()


class Connection:
    """HTTP to one endpoint at a time; ``rotate`` moves to the next one."""

    def __init__(self, endpoints: list[tuple[str, int]], timeout: float = 10.0) -> None:
        self.endpoints = endpoints
        self.index = 0
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None
        self._calls: weakref.WeakSet[WatchCall] = weakref.WeakSet()

    @property
    def target(self) -> str:
        host, port = self.endpoints[self.index]
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                base_url=f"http://{self.target}",
                timeout=aiohttp.ClientTimeout(sock_connect=CONNECT_TIMEOUT),
                read_bufsize=2**20,
            )
        return self._session

    async def range(
        self,
        key: bytes,
        range_end: bytes = b"",
        *,
        limit: int = 0,
        revision: int = 0,
        keys_only: bool = False,
        timeout: float | None = None,
    ) -> RangeResponse:
        """One Range call: the keys from ``key`` (to ``range_end``) at ``revision`` (0 = now)."""
        body: dict[str, Any] = {"key": _b64(key)}
        if range_end:
            body["range_end"] = _b64(range_end)
        if limit:
            body["limit"] = str(limit)
        if revision:
            body["revision"] = str(revision)
        if keys_only:
            body["keys_only"] = True
        message = await self._post("/v3/kv/range", body, timeout)
        return RangeResponse(
            _header(message),
            [_kv(kv) for kv in message.get("kvs") or ()],
            bool(message.get("more")),
        )

    async def get_many(self, keys: list[bytes], revision: int = 0) -> list[bytes | None]:
        """The values of ``keys`` at ``revision`` (0 = now), None where absent: one Txn of
        Range calls, one round trip for them all (etcd allows 128 operations per Txn)."""
        at = {"revision": str(revision)} if revision else {}
        ranges = [{"request_range": {"key": _b64(key), **at}} for key in keys]
        message = await self._post("/v3/kv/txn", {"success": ranges})
        answers = message.get("responses") or ()
        if len(answers) != len(keys):
            raise Unreachable("etcd answered a Txn with the wrong number of responses")
        values: list[bytes | None] = []
        for answer in answers:
            kvs = (answer.get("response_range") or {}).get("kvs") or ()
            values.append(_kv(kvs[0]).value if kvs else None)
        return values

    async def _post(
        self, path: str, body: dict[str, Any], timeout: float | None = None
    ) -> dict[str, Any]:
        """One call of the gateway: its JSON answer, or the failure it means."""
        try:
            async with self._open().post(
                path,
                json=body,
                timeout=aiohttp.ClientTimeout(
                    total=timeout or self.timeout, sock_connect=CONNECT_TIMEOUT
                ),
            ) as response:
                if response.content_length and response.content_length > MAX_MESSAGE:
                    raise BackendError("etcd answer too large")
                answer = await response.read()
                status = response.status
        except TRANSPORT_ERRORS as exc:
            raise _failure(exc) from exc
        try:
            message = orjson.loads(answer)
        except ValueError:
            raise Unreachable(f"HTTP {status}: not an etcd answer") from None
        if status != 200 or not isinstance(message, dict) or "error" in message:
            raise refusal(message if isinstance(message, dict) else {})
        return message

    async def watch(self, key: bytes, range_end: bytes, start_revision: int) -> WatchCall:
        """Open a watch of ``[key, range_end)`` from ``start_revision``."""
        create = {
            "key": _b64(key),
            "range_end": _b64(range_end),
            "start_revision": str(start_revision),
        }
        try:
            response = await self._open().post(
                "/v3/watch",
                json={"create_request": create},
                headers=WATCH_HEADERS,
                timeout=aiohttp.ClientTimeout(sock_connect=CONNECT_TIMEOUT, connect=self.timeout),
            )
        except TRANSPORT_ERRORS as exc:
            raise _failure(exc) from exc
        if response.status != 200:
            try:
                message = await response.json(content_type=None)
            except (ValueError, *TRANSPORT_ERRORS):
                message = {}
            finally:
                response.close()
            raise refusal(message if isinstance(message, dict) else {})
        call = WatchCall(response)
        self._calls.add(call)
        return call

    async def rotate(self) -> None:
        # The next endpoint is chosen before the first await: a reader that failed on the
        # same endpoint meanwhile sees that it has moved already.
        self.index = (self.index + 1) % len(self.endpoints)
        await self.close()

    async def close(self) -> None:
        for call in list(self._calls):
            call.cancel()
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()
            # Let the connector close its sockets before the loop moves on.
            await asyncio.sleep(0)
