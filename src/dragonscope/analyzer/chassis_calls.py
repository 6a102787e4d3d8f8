"""Questions to chassis collectors over the publisher connections they keep open.

A collector that can answer says so once connected (``ChassisReady`` with its chassis, in
dragonscope's own namespace); ``call(chassis, obj)`` sends it a ``ChassisRequest`` and waits
for the ``ChassisReply`` with the same UUID, bounded in time. A connection that goes fails
its calls at once. What is asked is the caller's business (``rest.real_trace``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web

from dragonscope import skydive as m
from dragonscope.graph import Json

log = logging.getLogger(__name__)

CALL_TIMEOUT = 15.0


class ChassisUnavailable(Exception):
    """No collector answers for the chassis, or it went, or it did not answer in time."""


class ChassisRefused(Exception):
    """The collector answered with an error (``status`` and its words)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass(slots=True)
class _Peer:
    ws: web.WebSocketResponse
    origin: str
    pending: dict[str, asyncio.Future[m.Message]] = field(default_factory=dict)


class ChassisCalls:
    """The chassis whose collectors answer, and the calls in flight."""

    def __init__(self) -> None:
        self._peers: dict[str, _Peer] = {}  # chassis -> its answering connection
        self.calls = 0

    def chassis(self) -> list[str]:
        return sorted(self._peers)

    def listener(self, ws: web.WebSocketResponse, origin: str) -> Callable[[m.Message], None]:
        """What a publisher connection does with its messages outside the Graph namespace."""

        def on_message(message: m.Message) -> None:
            if message.namespace != m.CHASSIS_NAMESPACE:
                return
            if message.type == m.CHASSIS_READY:
                name = message.obj.get("Chassis") if isinstance(message.obj, dict) else None
                if isinstance(name, str) and name:
                    old = self._peers.get(name)
                    if old is not None and old.ws is not ws:
                        _fail(old, f"chassis {name} now answers on another connection")
                    self._peers[name] = _Peer(ws, origin)
                    log.info("chassis %s answers requests through %s", name, origin)
            elif message.type == m.CHASSIS_REPLY:
                for peer in self._peers.values():
                    future = peer.pending.pop(message.uuid, None) if peer.ws is ws else None
                    if future is not None and not future.done():
                        future.set_result(message)

        return on_message

    def forget(self, ws: web.WebSocketResponse) -> None:
        """The connection is gone: its chassis no longer answer, its calls fail."""
        for name, peer in list(self._peers.items()):
            if peer.ws is ws:
                del self._peers[name]
                _fail(peer, f"the collector of chassis {name} disconnected")

    async def call(self, chassis: str, obj: Json, timeout: float = CALL_TIMEOUT) -> Json:
        """Ask ``chassis``'s collector; its reply's Obj."""
        peer = self._peers.get(chassis)
        if peer is None or peer.ws.closed:
            raise ChassisUnavailable(f"no collector answers for chassis {chassis}")
        request = m.new_message(m.CHASSIS_REQUEST, obj, namespace=m.CHASSIS_NAMESPACE)
        future: asyncio.Future[m.Message] = asyncio.get_running_loop().create_future()
        peer.pending[request.uuid] = future
        self.calls += 1
        try:
            await peer.ws.send_str(request.encode())
            async with asyncio.timeout(timeout):
                reply = await future
        except TimeoutError:
            raise ChassisUnavailable(
                f"the collector of chassis {chassis} did not answer within {timeout:g} s"
            ) from None
        except ConnectionError as exc:
            raise ChassisUnavailable(f"chassis {chassis}: {exc}") from None
        finally:
            peer.pending.pop(request.uuid, None)
        if reply.status >= 400:
            error = reply.obj.get("Error") if isinstance(reply.obj, dict) else None
            raise ChassisRefused(str(error or f"HTTP-like status {reply.status}"), reply.status)
        return reply.obj


def _fail(peer: _Peer, why: str) -> None:
    for future in peer.pending.values():
        if not future.done():
            future.set_exception(ChassisUnavailable(why))
    peer.pending.clear()
