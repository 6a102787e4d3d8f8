"""``/ws/subscriber``: live graph events, optionally restricted by a Gremlin filter.

Nothing is sent on connect (Skydive's behaviour): the client asks for the
initial state with ``SyncRequest``, while live events flow from the handshake
on. ``GremlinFilter`` null keeps the current view, ``""`` resets to the whole
graph (at ``Time`` if given, from history), anything else must be a query
returning a graph and becomes the subscriber's filter.

Filters run and replies are encoded in slices (see ``subscribers``); the reply
takes its place in the subscriber's queue when its content is fixed, so live
events are never sent before the reply they follow, nor lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from dataclasses import dataclass
from typing import Protocol

from aiohttp import WSCloseCode, WSMsgType, web

from dragonscope import skydive as m
from dragonscope.analyzer import auth, bounds
from dragonscope.analyzer.auth import Authenticator
from dragonscope.analyzer.endpoints.handshake import (
    Admission,
    BoundedSocket,
    Connection,
    HandshakeError,
    Pool,
    accept,
    header,
    identify,
    refuse,
    refused,
)
from dragonscope.analyzer.endpoints.publisher import CLOSE_TIMEOUT_S
from dragonscope.analyzer.past import Past
from dragonscope.analyzer.query import (
    FILTER,
    QueryBudget,
    QueryError,
    compile_query,
    graph_ids_async,
)
from dragonscope.analyzer.services import Live, Sockets
from dragonscope.analyzer.settings import AnalyzerSettings
from dragonscope.analyzer.subscribers import (
    FULL,
    PARTIAL,
    Subscriber,
    SubscriberHub,
    ViewFilter,
    encode,
)
from dragonscope.graph import Graph, HistoryError
from dragonscope.history import StoreUnavailable
from dragonscope.tasks import cancel_and_wait

log = logging.getLogger(__name__)


class Views(Protocol):
    """What a change of view reads: the live graph, its past and the subscribers' hub."""

    @property
    def graph(self) -> Graph: ...

    @property
    def past(self) -> Past: ...

    @property
    def hub(self) -> SubscriberHub: ...

    @property
    def query_budget(self) -> QueryBudget: ...


@dataclass(frozen=True, slots=True)
class LiveViews:
    """The live services behind subscribers' views, and what a filter run may cost."""

    graph: Graph
    past: Past
    hub: SubscriberHub
    query_budget: QueryBudget


async def make_filter(views: Views, text: str) -> tuple[ViewFilter, tuple[set[str], set[str]]]:
    """Compile a subscriber filter and run it once; raises QueryError unless it
    yields a graph. Returns the filter and the IDs it gave."""
    compiled = compile_query(text)
    past = views.past

    async def view_filter(graph: Graph) -> tuple[set[str], set[str]]:
        return await graph_ids_async(compiled, graph, past, views.query_budget, FILTER)

    return view_filter, await view_filter(views.graph)


async def _sync_reply(views: Views, sub: Subscriber, msg: m.Message) -> None:
    """Answer a SyncRequest: change the view as asked, then queue the SyncReply."""
    async with sub.view_lock:
        await _change_view_and_reply(views, sub, msg)


async def _change_view_and_reply(views: Views, sub: Subscriber, msg: m.Message) -> None:
    obj = msg.obj if isinstance(msg.obj, dict) else {}
    wanted = obj.get(m.SYNC_FILTER)
    at = obj.get(m.SYNC_TIME)
    hub = views.hub
    try:
        if wanted is None:
            nodes, edges = hub.view_lists(sub)
        elif not isinstance(wanted, str):
            raise QueryError(f"{m.SYNC_FILTER} must be a string")
        elif wanted == "":
            sub.view_filter, sub.filter_text = None, ""
            if isinstance(at, int) and not isinstance(at, bool) and at > 0:
                past = await views.past.view_at(at)
                nodes, edges = list(past.nodes()), list(past.edges())
            else:
                nodes, edges = hub.view_lists(sub)
        else:
            version = hub.version
            sub.view_filter, ids = await make_filter(views, wanted)
            sub.filter_text = wanted
            hub.adopt_view(sub, *ids, version)
            nodes, edges = hub.view_lists(sub)
    except (QueryError, HistoryError) as exc:
        sub.push(encode(m.SYNC_REPLY, str(exc), uuid=msg.uuid, status=400))
        return
    except StoreUnavailable as exc:
        sub.push(encode(m.SYNC_REPLY, f"history unavailable: {exc}", uuid=msg.uuid, status=503))
        return
    await hub.send_graph(sub, m.SYNC_REPLY, nodes, edges, uuid=msg.uuid)


class SubscriberEndpoint:
    """``/ws/subscriber`` with the services it reads."""

    def __init__(
        self,
        auth: Authenticator,
        settings: AnalyzerSettings,
        live: Live,
        hub: SubscriberHub,
        pool: Pool[tuple[Connection, Subscriber]],
        sockets: Sockets,
        refused: Counter[str],
        budget: QueryBudget,
    ) -> None:
        self.auth, self.settings = auth, settings
        self.views = LiveViews(live.graph, live.past, hub, budget)
        self.pool, self.sockets = pool, sockets
        self.admission = Admission(
            "subscriber", settings.max_subscribers, settings.max_subscribers_per_user, refused
        )

    def mount(self, router: web.UrlDispatcher) -> None:
        router.add_get("/ws/subscriber", self.handle)

    async def _subscriber(
        self, request: web.Request, conn: Connection
    ) -> tuple[Subscriber, tuple[set[str], set[str]], int]:
        """The subscriber the handshake asks for, with what its filter gave on a first
        run and the hub's version before that run; HandshakeError if it cannot be."""
        policy = (header(request, m.HDR_UPDATE_POLICY) or FULL).lower()
        if policy not in (FULL, PARTIAL):
            raise HandshakeError(400, f"{m.HDR_UPDATE_POLICY} {policy!r}: use full or partial")
        namespaces = frozenset(
            request.headers.getall(m.HDR_WS_NAMESPACE, [])
            or request.query.getall(m.HDR_WS_NAMESPACE.lower(), [])
            or ["*"]
        )
        filter_text = header(request, m.HDR_GREMLIN_FILTER) or ""
        view_filter = None
        version = self.views.hub.version
        first_ids: tuple[set[str], set[str]] = (set(), set())
        if filter_text:
            try:
                view_filter, first_ids = await make_filter(self.views, filter_text)
            except QueryError as exc:
                raise HandshakeError(400, f"{m.HDR_GREMLIN_FILTER}: {exc}") from None
        sub = Subscriber(
            ws=BoundedSocket(
                heartbeat=self.settings.ping_interval,
                compress=False,
                timeout=CLOSE_TIMEOUT_S,
                max_msg_size=self.settings.max_body_bytes,  # its frames are requests
            ),
            host_id=conn.host_id,
            client_type=conn.client_type,
            policy=policy,
            namespaces=namespaces,
            queue_max=self.settings.subscriber_queue,
            queue_max_bytes=self.settings.subscriber_queue_bytes,
            remote=f"{conn.addr}:{conn.port}",
            view_filter=view_filter,
            filter_text=filter_text,
        )
        return sub, first_ids, version

    async def handle(self, request: web.Request) -> web.StreamResponse:
        principal = refuse(request, self.auth, auth.READ)
        if isinstance(principal, web.Response):
            return principal
        hub = self.views.hub
        try:
            self.admission.enter(principal.name)
        except HandshakeError as exc:
            return refused(exc)
        try:
            conn = identify(request)
            sub, first_ids, version = await self._subscriber(request, conn)
            entry = (conn, sub)
            self.pool.claim(conn.host_id, entry)
        except HandshakeError as exc:
            self.admission.leave(principal.name)
            return refused(exc)
        writer: asyncio.Task[None] | None = None
        try:
            await accept(sub.ws, request, self.settings.host_id)
            self.sockets.add(sub.ws)
            transport = request.transport
            if transport is not None:
                sub.abort = lambda reason: _cut_off(sub.ws, transport, reason)
            hub.add(sub)
            if sub.view_filter is not None:
                hub.adopt_view(sub, *first_ids, version)
            writer = asyncio.create_task(hub.writer(sub))
            async for frame in sub.ws:
                if frame.type != WSMsgType.TEXT:
                    continue
                conn.messages_in += 1
                try:
                    raw = bounds.loads(frame.data, self.settings.max_json_depth)
                    msg = m.from_json(raw)
                except (bounds.InputRefused, m.MessageError) as exc:
                    sub.push(encode("Error", str(exc), status=400))
                    continue
                if msg.namespace == m.GRAPH and msg.type == m.SYNC_REQUEST:
                    await _sync_reply(self.views, sub, msg)
            return sub.ws
        finally:
            self.admission.leave(principal.name)
            self.sockets.discard(sub.ws)
            hub.remove(sub)
            self.pool.release(conn.host_id, entry)
            await cancel_and_wait(writer)


_cutting: set[asyncio.Task[None]] = set()


def _cut_off(ws: web.WebSocketResponse, transport: asyncio.BaseTransport, reason: str) -> None:
    """Disconnect a subscriber that does not read: a close frame naming the reason if
    it can still be written within a second, then the socket goes either way."""

    async def cut() -> None:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(1.0):
                await ws.close(code=WSCloseCode.POLICY_VIOLATION, message=reason.encode()[:120])
        transport.close()

    task = asyncio.get_running_loop().create_task(cut())
    _cutting.add(task)
    task.add_done_callback(_cutting.discard)
