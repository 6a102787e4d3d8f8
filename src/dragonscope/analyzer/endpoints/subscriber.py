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
from typing import TYPE_CHECKING

from aiohttp import WSMsgType, web

from dragonscope import skydive as m
from dragonscope.analyzer import auth
from dragonscope.analyzer.chunked import drive
from dragonscope.analyzer.connections import HandshakeError, header, identify, refuse
from dragonscope.analyzer.endpoints.publisher import CLOSE_TIMEOUT_S
from dragonscope.analyzer.keys import ANALYZER
from dragonscope.analyzer.query import QueryError, compile_query, graph_ids_async
from dragonscope.analyzer.subscribers import FULL, PARTIAL, Subscriber, ViewFilter, encode
from dragonscope.graph import Graph, HistoryError

if TYPE_CHECKING:
    from dragonscope.analyzer.app import Analyzer

log = logging.getLogger(__name__)


async def make_filter(
    analyzer: Analyzer, text: str
) -> tuple[ViewFilter, tuple[set[str], set[str]]]:
    """Compile a subscriber filter and run it once; raises QueryError unless it
    yields a graph. Returns the filter and the IDs it gave."""
    compiled = compile_query(text)

    async def view_filter(graph: Graph) -> tuple[set[str], set[str]]:
        return await graph_ids_async(compiled, graph, analyzer.history)

    return view_filter, await view_filter(analyzer.graph)


async def _sync_reply(analyzer: Analyzer, sub: Subscriber, msg: m.Message) -> None:
    """Answer a SyncRequest: change the view as asked, then queue the SyncReply."""
    async with sub.view_lock:
        await _change_view_and_reply(analyzer, sub, msg)


async def _change_view_and_reply(analyzer: Analyzer, sub: Subscriber, msg: m.Message) -> None:
    obj = msg.obj if isinstance(msg.obj, dict) else {}
    wanted = obj.get("GremlinFilter")
    at = obj.get("Time")
    hub = analyzer.hub
    try:
        if wanted is None:
            nodes, edges = hub.view_lists(sub)
        elif not isinstance(wanted, str):
            raise QueryError("GremlinFilter must be a string")
        elif wanted == "":
            sub.view_filter, sub.filter_text = None, ""
            if isinstance(at, int) and not isinstance(at, bool) and at > 0:
                past = await drive(analyzer.history.view_at_steps(at))
                nodes, edges = list(past.nodes()), list(past.edges())
            else:
                nodes, edges = hub.view_lists(sub)
        else:
            version = hub.version
            sub.view_filter, ids = await make_filter(analyzer, wanted)
            sub.filter_text = wanted
            hub.adopt_view(sub, *ids, version)
            nodes, edges = hub.view_lists(sub)
    except (QueryError, HistoryError) as exc:
        sub.push(encode(m.SYNC_REPLY, str(exc), uuid=msg.uuid, status=400))
        return
    await hub.send_graph(sub, m.SYNC_REPLY, nodes, edges, uuid=msg.uuid)


async def handle(request: web.Request) -> web.StreamResponse:
    analyzer: Analyzer = request.app[ANALYZER]
    refusal = refuse(request, analyzer, auth.READ)
    if refusal is not None:
        return refusal
    try:
        conn = identify(request)
        policy = (header(request, "X-Update-Policy") or FULL).lower()
        if policy not in (FULL, PARTIAL):
            raise HandshakeError(400, f"X-Update-Policy {policy!r}: use full or partial")
        namespaces = frozenset(
            request.headers.getall("X-Websocket-Namespace", [])
            or request.query.getall("x-websocket-namespace", [])
            or ["*"]
        )
        filter_text = header(request, "X-Gremlin-Filter") or ""
        view_filter = None
        version = analyzer.hub.version
        first_ids: tuple[set[str], set[str]] = (set(), set())
        if filter_text:
            try:
                view_filter, first_ids = await make_filter(analyzer, filter_text)
            except QueryError as exc:
                raise HandshakeError(400, f"X-Gremlin-Filter: {exc}") from None
        sub = Subscriber(
            ws=web.WebSocketResponse(
                heartbeat=analyzer.settings.ping_interval, compress=False, timeout=CLOSE_TIMEOUT_S
            ),
            host_id=conn.host_id,
            client_type=conn.client_type,
            policy=policy,
            namespaces=namespaces,
            queue_max=analyzer.settings.subscriber_queue,
            remote=f"{conn.addr}:{conn.port}",
            view_filter=view_filter,
            filter_text=filter_text,
        )
        analyzer.subscriber_pool.claim(conn.host_id, (conn, sub))
    except HandshakeError as exc:
        return web.Response(status=exc.status, text=str(exc), headers={"Connection": "close"})
    entry = analyzer.subscriber_pool.by_host[conn.host_id]
    writer: asyncio.Task[None] | None = None
    try:
        sub.ws.headers["X-Host-ID"] = analyzer.settings.host_id
        sub.ws.headers["X-Service-Type"] = "analyzer"
        await sub.ws.prepare(request)
        analyzer.sockets.add(sub.ws)
        transport = request.transport
        if transport is not None:
            sub.abort = transport.close
        analyzer.hub.add(sub)
        if view_filter is not None:
            analyzer.hub.adopt_view(sub, *first_ids, version)
        writer = asyncio.create_task(analyzer.hub.writer(sub))
        async for frame in sub.ws:
            if frame.type != WSMsgType.TEXT:
                continue
            conn.messages_in += 1
            try:
                msg = m.decode(frame.data)
            except m.MessageError:
                continue
            if msg.namespace == m.GRAPH and msg.type == m.SYNC_REQUEST:
                await _sync_reply(analyzer, sub, msg)
        return sub.ws
    finally:
        analyzer.sockets.discard(sub.ws)
        analyzer.hub.remove(sub)
        analyzer.subscriber_pool.release(conn.host_id, entry)
        if writer is not None:
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
