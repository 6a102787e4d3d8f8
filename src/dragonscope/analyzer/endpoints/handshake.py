"""The WebSocket handshake rules both endpoints share: refusal, identity, host-id pools.

Skydive identifies a peer by ``X-Host-ID`` (or the ``x-host-id`` query
parameter, or its address), refuses a second live connection with the same
host id on the same endpoint (409), and names the peer's graph Origin
``<X-Client-Type>.<X-Host-ID>``.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from aiohttp import WSCloseCode, web

from dragonscope.analyzer.auth import Authenticator, Forbidden, Principal, Unauthenticated
from dragonscope.analyzer.bounds import FRAME
from dragonscope.skydive import (
    HDR_CLIENT_TYPE,
    HDR_HOST_ID,
    HDR_PROTOCOL,
    HDR_SERVICE_TYPE,
)

T = TypeVar("T")
# Set by ``refuse`` once a handshake is authorized: who watches the socket's credentials.
_WATCH = web.RequestKey("dragonscope.watch", tuple)


# The response header naming the bound a refused handshake hit: WebSocket client
# libraries often report only the status of a failed upgrade, not its text.
HDR_REFUSED = "X-Refused"
RETRY_AFTER_S = 5


class HandshakeError(Exception):
    """An upgrade request that must be refused; ``status`` is the HTTP answer and
    ``bound`` the connection bound it hit, if any."""

    def __init__(self, status: int, message: str, bound: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.bound = bound


def header(request: web.Request, name: str, *, query: bool = True) -> str | None:
    value = request.headers.get(name)
    if value is None and query:
        value = request.query.get(name.lower())
    return value


def peer_address(request: web.Request) -> tuple[str, int]:
    peer = request.transport.get_extra_info("peername") if request.transport else None
    if isinstance(peer, tuple) and len(peer) >= 2:
        return str(peer[0]), int(peer[1])
    return request.remote or "unknown", 0


def refuse(request: web.Request, auth: Authenticator, action: str) -> web.Response | Principal:
    """The answer to a WebSocket handshake that may not go on (auth, role, not a
    WebSocket), or who asks: the checks both endpoints make before their own."""
    try:
        principal = auth.authorize(request, action)
        request[_WATCH] = (auth, action)
    except Unauthenticated as exc:
        return web.Response(status=401, text=str(exc))
    except Forbidden as exc:
        return web.Response(status=403, text=str(exc), headers={"Connection": "close"})
    if not web.WebSocketResponse().can_prepare(request).ok:
        return web.Response(status=426, text="this endpoint speaks WebSocket only")
    return principal


def refused(exc: HandshakeError) -> web.Response:
    """The HTTP answer to a handshake that cannot go on; a bound is also named in
    ``X-Refused``, with ``Retry-After``."""
    headers = {"Connection": "close"}
    if exc.bound:
        headers[HDR_REFUSED] = exc.bound
        headers["Retry-After"] = str(RETRY_AFTER_S)
    return web.Response(status=exc.status, text=str(exc), headers=headers)


async def accept(ws: web.WebSocketResponse, request: web.Request, host_id: str) -> None:
    """Complete the upgrade, telling the peer who answers (Skydive's response headers)."""
    ws.headers[HDR_HOST_ID] = host_id
    ws.headers[HDR_SERVICE_TYPE] = "analyzer"
    await ws.prepare(request)
    watcher = request.get(_WATCH)
    if watcher is not None:  # closed when its credentials expire or are revoked
        auth, action = watcher
        auth.watch(ws, request, action)


@dataclass(eq=False)
class Connection:
    host_id: str
    client_type: str
    protocol: str
    addr: str
    port: int
    persistence: str = ""
    connected_at: float = field(default_factory=time.time)
    messages_in: int = 0

    @property
    def origin(self) -> str:
        return f"{self.client_type}.{self.host_id}"

    def status(self) -> dict[str, Any]:
        """Skydive's ConnStatus shape."""
        return {
            "ServiceType": self.client_type,
            "ClientProtocol": self.protocol,
            "Addr": self.addr,
            "Port": self.port,
            "IsConnected": True,
            "ConnectTime": datetime.fromtimestamp(self.connected_at, UTC).isoformat(),
        }


def identify(request: web.Request) -> Connection:
    """Read the handshake headers; refuses what the analyzer cannot serve."""
    addr, port = peer_address(request)
    host_id = header(request, HDR_HOST_ID) or f"{addr}:{port}"
    client_type = header(request, HDR_CLIENT_TYPE)
    if not client_type:
        raise HandshakeError(400, "X-Client-Type header (or x-client-type parameter) is required")
    protocol = (header(request, HDR_PROTOCOL) or "json").lower()
    if protocol != "json":
        raise HandshakeError(400, f"X-Client-Protocol {protocol!r} is not supported: use json")
    return Connection(host_id, client_type, protocol, addr, port)


class BoundedSocket(web.WebSocketResponse):
    """A WebSocket whose close for an oversized frame says which bound it broke
    (aiohttp closes with code 1009 and no text), and whose heartbeat does not
    drop a peer still reading what we sent before the ping: a pong cannot come
    back before the peer has read a SyncReply of 50 MB queued ahead of the ping
    (seconds on a slow link or a busy host), nor while we leave the peer's own
    frames unread (flow control paused reading: its pong waits behind them). Then
    the ping is renewed; a peer that reads nothing is dropped as usual.

    One missing pong is forgiven, not two in a row: a peer whose event loop was held
    for a few seconds (a collector translating a slice of a large NB between two turns)
    answers late, and dropping it then would cost it a resync of its whole graph (Skydive
    itself waits 7 s for a pong)."""

    def __init__(self, *, max_msg_size: int, **kwargs: Any) -> None:
        super().__init__(max_msg_size=max_msg_size, **kwargs)
        self._too_big = f"frame over {max_msg_size} bytes ({FRAME})".encode()
        self._unsent = (0.0, 0)  # when the last missing pong was seen, bytes unsent then
        self._forgiven_at = 0.0  # when a missing pong was last forgiven

    def _pong_not_received(self) -> None:
        # aiohttp's own hook (tests/test_analyzer_storm.py notices if it goes away).
        request = self._req
        transport = request.transport if request is not None else None
        unsent = transport.get_write_buffer_size() if transport is not None else 0
        now = time.monotonic()
        seen_at, before = self._unsent
        fresh = now - seen_at > 2 * (self._heartbeat or 0.0)  # not the same episode
        draining = unsent > 0 and (fresh or unsent < before)
        self._unsent = (now, unsent)
        # Reading paused by flow control: we have not read the peer's frames yet
        # (a publisher writing faster than we apply), so not its pong either.
        unread = transport is not None and not transport.is_reading()
        late = now - self._forgiven_at > 2 * (self._heartbeat or 0.0)  # not twice in a row
        if late:
            self._forgiven_at = now
        if draining or unread or late:
            self._reset_heartbeat()
            return
        super()._pong_not_received()

    async def close(
        self, *, code: int = WSCloseCode.OK, message: bytes = b"", drain: bool = True
    ) -> bool:
        if code == WSCloseCode.MESSAGE_TOO_BIG and not message:
            message = self._too_big
        return await super().close(code=code, message=message, drain=drain)


class Admission:
    """How many connections an endpoint holds, in all and per user, under its bounds."""

    def __init__(self, what: str, total: int, per_user: int, refused: Counter[str]) -> None:
        self.what, self.total, self.per_user = what, total, per_user
        self.by_user: dict[str, int] = {}
        self.refused = refused  # by bound name, for /metrics

    def enter(self, user: str) -> None:
        """Count one more connection of ``user``; HandshakeError (503/429) past a bound."""
        if sum(self.by_user.values()) >= self.total:
            bound = f"max-{self.what}s"
            self.refused[bound] += 1
            raise HandshakeError(
                503, f"{self.total} {self.what}s are connected ({bound}); try later", bound
            )
        if self.by_user.get(user, 0) >= self.per_user:
            bound = f"max-{self.what}s-per-user"
            self.refused[bound] += 1
            raise HandshakeError(
                429, f"user {user!r} has {self.per_user} {self.what}s ({bound})", bound
            )
        self.by_user[user] = self.by_user.get(user, 0) + 1

    def leave(self, user: str) -> None:
        left = self.by_user.get(user, 0) - 1
        if left > 0:
            self.by_user[user] = left
        else:
            self.by_user.pop(user, None)


class Pool(Generic[T]):
    """Live connections of one endpoint, keyed by host id."""

    def __init__(self) -> None:
        self.by_host: dict[str, T] = {}

    def claim(self, host_id: str, value: T) -> None:
        if host_id in self.by_host:
            raise HandshakeError(409, f"host id {host_id!r} is already connected")
        self.by_host[host_id] = value

    def release(self, host_id: str, value: T) -> None:
        if self.by_host.get(host_id) is value:
            del self.by_host[host_id]

    def __len__(self) -> int:
        return len(self.by_host)
