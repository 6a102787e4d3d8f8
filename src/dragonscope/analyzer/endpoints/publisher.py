"""``/ws/publisher``: turns publishers' Graph messages into graph writes.

Messages of one connection are applied strictly in order. A message that
breaks a rule changes nothing, is recorded (metrics, log, ``/api/rejections``)
and answered on the same connection with a reply carrying the request's UUID,
``Status: 400`` and ``Obj: {"Rule", "Error", "ID"}``; the connection and the
rest of the graph carry on. Frames are decoded under the input bounds
(``bounds``): depth, finite numbers, metadata keys and depth, element size (also
after a partial update); a frame over ``max-frame-bytes`` closes the connection
with a reason naming it. A ``SyncRequest`` is answered with the graph as it was
when the request came (``SharedGraphJson``: encoded in slices, shared by the
requests in flight, bounded in memory), sent by a task of its own while the
connection goes on reading; replies to later frames may overtake it (each
carries its request's UUID). Publishers take the event loop in turns
(``chunked.PACER``), so a storm of them leaves it free to serve everyone else.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import WSMsgType, web

from dragonscope import skydive as m
from dragonscope.analyzer import auth, bounds
from dragonscope.analyzer.auth import Authenticator
from dragonscope.analyzer.bounds import InputRefused
from dragonscope.analyzer.chassis_calls import ChassisCalls
from dragonscope.analyzer.chunked import PACER, GraphCapture, SharedGraphJson
from dragonscope.analyzer.endpoints.handshake import (
    Admission,
    BoundedSocket,
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

CLOSE_TIMEOUT_S = 2.0  # how long a closing handshake may take
# Frames applied at most before subscribers' writers get a turn (their queues are
# bounded in frames); with many publishers, their time share is the tighter bound.
YIELD_EVERY = 32
# bounds.size_over counts 8 for a number, which takes 2 characters of text at least ("0,").
SIZE_PER_CHAR = 5


class PublisherSession:
    """One publisher connection: its origin and the dispatch of its messages."""

    def __init__(
        self,
        store: GraphStore,
        rejections: RejectionLog,
        counters: Counter[str],
        conn: Connection,
        settings: AnalyzerSettings,
    ) -> None:
        self.settings = settings
        self.sync_requests: list[str] = []  # UUIDs of SyncRequests to answer
        self.store = store
        self.rejections = rejections
        self.counters = counters
        self.conn = conn
        self.origin = conn.origin
        self.authored = False
        self.last_count = 1  # messages the last frame carried (a Batch carries many)
        self._frame_bound = 0  # what ``size_over`` can count of any element of the frame
        # dragonscope's own messages (not Graph): a chassis collector's (analyzer.chassis_calls).
        self.side: Callable[[m.Message], None] | None = None
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
        self.last_count = 1
        # What ``size_over`` counts is at most SIZE_PER_CHAR times the text it was decoded
        # from: no element of a frame that short can be over the bound (most frames).
        self._frame_bound = SIZE_PER_CHAR * len(frame) + 64
        try:
            msg = m.from_json(bounds.loads(frame, self.settings.max_json_depth))
        except InputRefused as exc:
            self._count(1)
            return [self.reject(None, Rejected(exc.bound, exc.detail))]
        except m.MessageError as exc:
            self._count(1)
            return [self.reject(None, Rejected("decode", str(exc)))]
        if msg.namespace != m.GRAPH:
            self._count(1)
            if self.side is not None:
                self.side(msg)
            return []  # other namespaces are not for the graph (Skydive ignores them)
        self.authored = True
        if msg.type != m.BATCH:
            self._count(1)
            return self._apply(msg)
        try:
            messages = m.unbatch(msg)
        except m.MessageError as exc:
            self._count(1)
            return [self.reject(msg, Rejected("decode", str(exc)))]
        # Each message of a batch counts, and is applied and answered, as if it came alone.
        self._count(len(messages))
        self.last_count = len(messages)
        replies: list[str] = []
        for item in messages:
            replies += self._apply(item)
        return replies

    def _count(self, messages: int) -> None:
        self.conn.messages_in += messages
        self.counters["messages_in"] += messages

    def _apply(self, msg: m.Message) -> list[str]:
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

    # -- bounds --------------------------------------------------------------------
    def _bounded(self, obj: Any, before: Any = None) -> bool:
        """Refuse an element (or partial update, with the element it applies to)
        past the metadata or size bounds; returns whether its metadata hold a float."""
        s = self.settings
        floats = False
        try:
            if isinstance(obj, dict):
                floats = bounds.check_metadata(
                    obj.get("Metadata"), s.max_metadata_key_length, s.max_metadata_depth
                )
                ops = obj.get("Ops")
                for op in ops if isinstance(ops, list) else ():
                    if isinstance(op, dict) and isinstance(op.get("Key"), str):
                        bounds.check_metadata(
                            {op["Key"]: op.get("Value")},
                            s.max_metadata_key_length,
                            s.max_metadata_depth,
                        )
            room = s.max_element_bytes
            if before is not None:  # a partial update: the element it applies to counts
                room -= bounds.stored_size(before, room)
            if room < 0 or (self._frame_bound > room and bounds.size_over(obj, room)):
                raise InputRefused(bounds.ELEMENT, f"element over {s.max_element_bytes} bytes")
        except InputRefused as exc:
            element_id = obj.get("ID") if isinstance(obj, dict) else None
            raise Rejected(
                exc.bound, exc.detail, element_id if isinstance(element_id, str) else None
            ) from None
        return floats

    # -- handlers ----------------------------------------------------------------
    def _node(self, msg: m.Message, apply: Callable[..., bool]) -> None:
        floats = self._bounded(msg.obj)
        apply(decode_node(msg.obj, floats=floats), self.origin)

    def _edge(self, msg: m.Message, apply: Callable[..., bool]) -> None:
        floats = self._bounded(msg.obj)
        apply(decode_edge(msg.obj, floats=floats), self.origin)

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
        obj = msg.obj
        element_id = obj.get("ID") if isinstance(obj, dict) else None
        if isinstance(obj, dict) and isinstance(element_id, str):
            graph = self.store.graph
            nodes = msg.type == m.NODE_PARTIALLY_UPDATED
            current = graph.node(element_id) if nodes else graph.edge(element_id)
            self._bounded(obj, current.metadata if current is not None else None)
        apply(obj, self.origin)

    def _sync(self, msg: m.Message) -> None:
        obj = msg.obj
        if isinstance(obj, dict):  # elements past a bound are left out, each rejected
            obj = dict(obj)
            for key in ("Nodes", "Edges"):
                elements = obj.get(key)
                if isinstance(elements, list):
                    obj[key] = [e for e in elements if self._within(msg, e)]
        for exc in self.store.sync(obj, self.origin):
            self.rejections.record(self._rejection(msg, exc))

    def _within(self, msg: m.Message, element: Any) -> bool:
        try:
            self._bounded(element)
        except Rejected as exc:
            self.rejections.record(self._rejection(msg, exc))
            return False
        return True

    def _sync_request(self, msg: m.Message) -> None:
        self.sync_requests.append(msg.uuid)  # answered by the endpoint, off this step

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
        rejection = self.rejections.record(self._rejection(msg, exc))
        return encode(
            rejection.type if msg else "Error",  # cut like the sample: replies stay small
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
        graph_json: SharedGraphJson,
        backpressure: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.graph_json = graph_json
        self.admission = Admission(
            "publisher", settings.max_publishers, settings.max_publishers_per_user, counters
        )
        self.auth, self.settings, self.store, self.calls = auth, settings, store, calls
        self.backpressure = backpressure  # e.g. the history recorder's room()
        self.rejections, self.pool, self.counters, self.sockets = (
            rejections,
            pool,
            counters,
            sockets,
        )

    def mount(self, router: web.UrlDispatcher) -> None:
        router.add_get("/ws/publisher", self.handle)

    async def _sync_reply(
        self, capture: GraphCapture, uuid: str, deliver: Callable[[bytes], Awaitable[None]]
    ) -> None:
        """Answer a SyncRequest with the graph captured when it arrived."""
        with contextlib.suppress(ConnectionResetError):  # the publisher left meanwhile
            await self.graph_json.send(capture, m.SYNC_REPLY, m.GRAPH, uuid, deliver)
            self.counters["messages_out"] += 1

    async def handle(self, request: web.Request) -> web.StreamResponse:
        principal = refuse(request, self.auth, auth.PUBLISH)
        if isinstance(principal, web.Response):
            return principal
        try:
            conn = identify(request)
            conn.persistence = request.headers.get(m.HDR_PERSISTENCE, "")
            self.pool.claim(conn.host_id, conn)
        except HandshakeError as exc:
            return refused(exc)
        try:
            self.admission.enter(principal.name)
        except HandshakeError as exc:
            self.pool.release(conn.host_id, conn)
            return refused(exc)
        session = PublisherSession(self.store, self.rejections, self.counters, conn, self.settings)
        ws = BoundedSocket(
            heartbeat=self.settings.ping_interval,
            max_msg_size=self.settings.max_frame_bytes,
            compress=False,
            timeout=CLOSE_TIMEOUT_S,
        )
        session.side = self.calls.listener(ws, conn.origin)

        async def deliver(text: bytes) -> None:
            # send_frame returns once the transport has taken the frame down to its
            # high-water mark: the reply's memory is held until then, not longer.
            await ws.send_frame(memoryview(text), WSMsgType.TEXT)  # type: ignore[arg-type]

        # A SyncReply is sent while the connection goes on reading: a publisher
        # that keeps writing behind its SyncRequest is not left unread (and its
        # pongs with it) while a reply of many megabytes makes its way.
        replying: asyncio.Task[None] | None = None

        # This analyzer takes many messages in one frame (skydive.BATCH), up to its frame bound.
        ws.headers[m.HDR_BATCH] = str(self.settings.max_frame_bytes)
        try:
            await accept(ws, request, self.settings.host_id)
            self.sockets.add(ws)
            self.store.begin_session(session.origin)
            log.info(
                "publisher %s connected from %s (%s)", conn.origin, conn.addr, conn.persistence
            )
            deadline, applied = 0.0, 0
            async for frame in ws:
                applied += session.last_count
                if applied >= YIELD_EVERY or time.monotonic() >= deadline:
                    await asyncio.sleep(0)  # a burst must not starve everyone else
                    if self.backpressure is not None:
                        await self.backpressure()
                    deadline, applied = time.monotonic() + PACER.share(session), 0
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
                while session.sync_requests:
                    uuid = session.sync_requests.pop(0)
                    if replying is not None:
                        await replying  # one reply in flight per publisher
                    replying = asyncio.create_task(
                        self._sync_reply(self.graph_json.capture(), uuid, deliver)
                    )
            return ws
        finally:
            if replying is not None:
                replying.cancel()
            self.calls.forget(ws)
            self.admission.leave(principal.name)
            self.sockets.discard(ws)
            self.pool.release(conn.host_id, conn)
            if session.authored and conn.persistence == m.DELETE_ON_DISCONNECT:
                removed = self.store.release_origin(session.origin)
                log.info("publisher %s left: %d elements removed", session.origin, removed)
            else:
                log.info("publisher %s left", session.origin)
