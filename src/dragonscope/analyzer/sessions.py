"""Open WebSockets and the credential each was opened with.

A WebSocket outlives the request that authenticated it, so revocation must
reach it: when its token expires, is logged out, or its user is removed, changes
password or loses the permission the socket was opened for, the socket is
closed with code 1008 (policy violation) and the reason as close message. The
judge runs after every revocation and at the earliest expiry, on one timer.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import WSCloseCode, web


@dataclass(frozen=True, slots=True)
class Grant:
    """What a credential proved, and what it stays bound to: the user's password
    generation, and for a token its digest and expiry (basic auth has neither)."""

    name: str
    generation: str
    token: str | None = None
    expiry: float | None = None


Judge = Callable[[Grant, str], "str | None"]
"""Why a grant no longer allows an action (the close reason), or None."""


class SocketWatch:
    def __init__(self, judge: Judge, clock: Callable[[], float] = time.monotonic) -> None:
        self._judge = judge
        self._clock = clock
        self._open: dict[web.WebSocketResponse, tuple[Grant, str]] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._closing: set[asyncio.Task[None]] = set()

    def __len__(self) -> int:
        return len(self._open)

    def watch(self, ws: web.WebSocketResponse, grant: Grant, action: str) -> None:
        self._open[ws] = (grant, action)
        self._schedule()

    def sweep(self) -> None:
        """Close every socket whose grant no longer allows its action; forget closed ones."""
        for ws, (grant, action) in list(self._open.items()):
            reason = None if ws.closed else self._judge(grant, action)
            if ws.closed or reason is not None:
                del self._open[ws]
            if reason is not None and not ws.closed:
                task = asyncio.get_running_loop().create_task(_close(ws, reason))
                self._closing.add(task)
                task.add_done_callback(self._closing.discard)
        self._schedule()

    def _schedule(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        expiries = [g.expiry for g, _ in self._open.values() if g.expiry is not None]
        if expiries:
            delay = max(0.0, min(expiries) - self._clock()) + 0.01
            self._timer = asyncio.get_running_loop().call_later(delay, self.sweep)

    async def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._closing:  # what they end with is theirs (_close): never raised here
            await asyncio.wait(set(self._closing))
        self._open.clear()


async def _close(ws: web.WebSocketResponse, reason: str) -> None:
    with contextlib.suppress(ConnectionError, RuntimeError):
        await ws.close(code=WSCloseCode.POLICY_VIOLATION, message=reason.encode())
