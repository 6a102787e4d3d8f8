"""``/ws/publisher``: turns publishers' Graph messages into graph writes.

Messages of one connection are applied strictly in order. A message that
breaks a rule changes nothing, is recorded (metrics, log, ``/api/rejections``)
and answered on the same connection with a reply carrying the request's UUID,
``Status: 400`` and ``Obj: {"Rule", "Error", "ID"}``; the connection and the
rest of the graph carry on.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import Counter
from collections.abc import Callable
from typing import Any

from aiohttp import WSMsgType, web

from dragonscope import skydive as m
from dragonscope.analyzer import auth
from dragonscope.analyzer.auth import Authenticator
from dragonscope.analyzer.chassis_calls import ChassisCalls
from dragonscope.analyzer.endpoints.handshake import (
    Connection,
    HandshakeError,
    Pool,
    accept,
    identify,
    refuse,
    refused,
)
from dragonscope.analyzer.rejections import Rejection, RejectionLog
from dragonscope.analyzer.services import Sockets
from dragonscope.analyzer.settings import AnalyzerSettings
from dragonscope.analyzer.subscribers import encode
from dragonscope.graph import (
    GraphError,
    GraphStore,
    Rejected,
    ValidationError,
    check_edge,
    check_node,
    decode_edge,
    decode_node,
    now_ms,
)

log = logging.getLogger(__name__)

MAX_FRAME = 512 * 2**20  # a full Sync of a large cloud fits
CLOSE_TIMEOUT_S = 2.0  # how long a closing handshake may take
YIELD_EVERY = 32  # frames applied before other tasks get a turn
# A JSON number with a fraction or exponent: it follows ':', '[' or ',' (a false
# positive inside a string only costs a normalization pass).
FLOAT_TOKEN = re.compile(r"[:\[,]\s*-?\d+(?:\.\d|[eE][-+]?\d)")


class PublisherSession:
    """One publisher connection: its origin and the dispatch of its messages."""

    def __init__(
        self,
        store: GraphStore,
        rejections: RejectionLog,
        counters: Counter[str],
        conn: Connection,
    ) -> None:
        self.store = store
        self.rejections = rejections
        self.counters = counters
        self.conn = conn
        self.origin = conn.origin
        self.authored = False
        # dragonscope's own messages (not Graph): a chassis collector's (analyzer.chassis_calls).
        self.side: Callable[[m.Message], None] | None = None
        self._floats = True
        self._handlers: dict[str, Callable[[m.Message], str | None]] = {
            m.NODE_ADDED: lambda msg: self._node(msg, self.store.add_node),
            m.NODE_UPDATED: lambda msg: self._node(msg, self.store.update_node),
            m.NODE_DELETED: self._node_deleted,
            m.NODE_PARTIALLY_UPDATED: lambda msg: self._partial(msg, self.store.patch_node),
            m.EDGE_ADDED: lambda msg: self._edge(msg, self.store.add_edge),
            m.EDGE_UPDATED: lambda msg: self._edge(msg, self.store.update_edge),
            m.EDGE_DELETED: self._edge_deleted,
            m.EDGE_PARTIALLY_UPDATED: lambda msg: self._partial(msg, self.store.patch_edge),
            m.SYNC: self._sync,
            m.SYNC_REPLY: self._sync,
            m.SYNC_REQUEST: self._sync_request,
        }

    def handle_frame(self, frame: str | bytes) -> list[str]:
        """Apply one frame; returns the frames to send back (replies, rejections)."""
        self.conn.messages_in += 1
        self.counters["messages_in"] += 1
        # Integral floats in metadata become integers (Skydive does); most frames
        # carry no float token at all, and then there is nothing to walk.
        text = frame if isinstance(frame, str) else frame.decode("utf-8", "replace")
        self._floats = FLOAT_TOKEN.search(text) is not None
        try:
            msg = m.decode(frame)
        except m.MessageError as exc:
            return [self.reject(None, Rejected("decode", str(exc)))]
        if msg.namespace != m.GRAPH:
            if self.side is not None:
                self.side(msg)
            return []  # other namespaces are not for the graph (Skydive ignores them)
        self.authored = True
        handler = self._handlers.get(msg.type)
        if handler is None:
            return [
                self.reject(msg, Rejected("unknown-type", f"unknown message type {msg.type!r}"))
            ]
        try:
            reply = handler(msg)
        except Rejected as exc:
            return [self.reject(msg, exc)]
        except GraphError as exc:  # the graph's own invariant: nothing was changed
            return [self.reject(msg, Rejected("graph", str(exc)))]
        return [reply] if reply is not None else []

    # -- handlers ----------------------------------------------------------------
    def _node(self, msg: m.Message, apply: Callable[..., bool]) -> None:
        apply(decode_node(msg.obj, floats=self._floats), self.origin)

    def _edge(self, msg: m.Message, apply: Callable[..., bool]) -> None:
        apply(decode_edge(msg.obj, floats=self._floats), self.origin)

    def _node_deleted(self, msg: m.Message) -> None:
        node = decode_node(msg.obj)
        _check(check_node, node)
        self.store.delete_node(node, self.origin)

    def _edge_deleted(self, msg: m.Message) -> None:
        edge = decode_edge(msg.obj)
        _check(check_edge, edge)
        if self.store.graph.edge(edge.id) is not None:  # unknown edge: ignored, as in Skydive
            self.store.delete_edge(edge, self.origin)

    def _partial(self, msg: m.Message, apply: Callable[[Any, str], bool]) -> None:
        apply(msg.obj, self.origin)

    def _sync(self, msg: m.Message) -> None:
        for exc in self.store.sync(msg.obj, self.origin):
            self.rejections.record(self._rejection(msg, exc))

    def _sync_request(self, msg: m.Message) -> str:
        return encode(m.SYNC_REPLY, self.store.graph.to_json(), uuid=msg.uuid)

    # -- rejections ---------------------------------------------------------------
    def _rejection(self, msg: m.Message | None, exc: Rejected) -> Rejection:
        element_id = exc.element_id
        if element_id is None and msg is not None and isinstance(msg.obj, dict):
            candidate = msg.obj.get("ID")
            element_id = candidate if isinstance(candidate, str) else None
        return Rejection(
            at=now_ms(),
            origin=self.origin,
            type=msg.type if msg else "",
            uuid=msg.uuid if msg else "",
            element_id=element_id,
            rule=exc.rule,
            error=exc.detail,
        )

    def reject(self, msg: m.Message | None, exc: Rejected) -> str:
        rejection = self._rejection(msg, exc)
        self.rejections.record(rejection)
        return encode(
            msg.type if msg else "Error",
            {"Rule": rejection.rule, "Error": rejection.error, "ID": rejection.element_id},
            namespace=msg.namespace if msg else m.GRAPH,
            uuid=rejection.uuid,
            status=400,
        )


def _check(check: Callable[[Any], None], element: Any) -> None:
    try:
        check(element)
    except ValidationError as exc:
        raise Rejected(exc.rule, exc.detail, element.id) from None


class PublisherEndpoint:
    """``/ws/publisher`` with the services it writes to."""

    def __init__(
        self,
        auth: Authenticator,
        settings: AnalyzerSettings,
        store: GraphStore,
        rejections: RejectionLog,
        pool: Pool[Connection],
        counters: Counter[str],
        sockets: Sockets,
        calls: ChassisCalls,
    ) -> None:
        self.auth, self.settings, self.store, self.calls = auth, settings, store, calls
        self.rejections, self.pool, self.counters, self.sockets = (
            rejections,
            pool,
            counters,
            sockets,
        )

    def mount(self, router: web.UrlDispatcher) -> None:
        router.add_get("/ws/publisher", self.handle)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        refusal = refuse(request, self.auth, auth.PUBLISH)
        if refusal is not None:
            return refusal
        try:
            conn = identify(request)
            conn.persistence = request.headers.get(m.HDR_PERSISTENCE, "")
            self.pool.claim(conn.host_id, conn)
        except HandshakeError as exc:
            return refused(exc)
        session = PublisherSession(self.store, self.rejections, self.counters, conn)
        ws = web.WebSocketResponse(
            heartbeat=self.settings.ping_interval,
            max_msg_size=MAX_FRAME,
            compress=False,
            timeout=CLOSE_TIMEOUT_S,
        )
        session.side = self.calls.listener(ws, conn.origin)
        try:
            await accept(ws, request, self.settings.host_id)
            self.sockets.add(ws)
            self.store.begin_session(session.origin)
            log.info(
                "publisher %s connected from %s (%s)", conn.origin, conn.addr, conn.persistence
            )
            async for frame in ws:
                if conn.messages_in % YIELD_EVERY == 0:
                    await asyncio.sleep(0)  # a burst must not starve subscribers' writers
                if frame.type == WSMsgType.TEXT:
                    replies = session.handle_frame(frame.data)
                elif frame.type == WSMsgType.BINARY:
                    conn.messages_in += 1
                    binary = Rejected("decode", "binary frames are not JSON")
                    replies = [session.reject(None, binary)]
                else:
                    continue
                for reply in replies:
                    await ws.send_str(reply)
                    self.counters["messages_out"] += 1
            return ws
        finally:
            self.calls.forget(ws)
            self.sockets.discard(ws)
            self.pool.release(conn.host_id, conn)
            if session.authored and conn.persistence == m.DELETE_ON_DISCONNECT:
                removed = self.store.release_origin(session.origin)
                log.info("publisher %s left: %d elements removed", session.origin, removed)
            else:
                log.info("publisher %s left", session.origin)
