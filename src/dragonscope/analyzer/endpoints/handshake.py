"""The WebSocket handshake rules both endpoints share: refusal, identity, host-id pools.

Skydive identifies a peer by ``X-Host-ID`` (or the ``x-host-id`` query
parameter, or its address), refuses a second live connection with the same
host id on the same endpoint (409), and names the peer's graph Origin
``<X-Client-Type>.<X-Host-ID>``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from aiohttp import web

from dragonscope.analyzer.auth import Authenticator, Forbidden, Unauthenticated
from dragonscope.skydive import (
    HDR_CLIENT_TYPE,
    HDR_HOST_ID,
    HDR_PROTOCOL,
    HDR_SERVICE_TYPE,
)

T = TypeVar("T")
# Set by ``refuse`` once a handshake is authorized: who watches the socket's credentials.
_WATCH = web.RequestKey("dragonscope.watch", tuple)


class HandshakeError(Exception):
    """An upgrade request that must be refused; ``status`` is the HTTP answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


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


def refuse(request: web.Request, auth: Authenticator, action: str) -> web.Response | None:
    """The answer to a WebSocket handshake that may not go on (auth, role, not a
    WebSocket), or None: the checks both endpoints make before their own."""
    try:
        auth.authorize(request, action)
        request[_WATCH] = (auth, action)
    except Unauthenticated as exc:
        return web.Response(status=401, text=str(exc))
    except Forbidden as exc:
        return web.Response(status=403, text=str(exc), headers={"Connection": "close"})
    if not web.WebSocketResponse().can_prepare(request).ok:
        return web.Response(status=426, text="this endpoint speaks WebSocket only")
    return None


def refused(exc: HandshakeError) -> web.Response:
    """The HTTP answer to a handshake that cannot go on."""
    return web.Response(status=exc.status, text=str(exc), headers={"Connection": "close"})


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
