"""Operational endpoints: status, API info, rejections, Prometheus metrics, health."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from aiohttp import web

from dragonscope import __version__
from dragonscope.analyzer import auth
from dragonscope.analyzer.keys import ANALYZER
from dragonscope.analyzer.responses import json_response
from dragonscope.metrics import CONTENT_TYPE_LATEST, Scrape

if TYPE_CHECKING:
    from dragonscope.analyzer.app import Analyzer


async def api_status(request: web.Request) -> web.Response:
    analyzer: Analyzer = request.app[ANALYZER]
    analyzer.authorize(request, auth.READ)
    subscribers = {
        host: conn.status() for host, (conn, _sub) in analyzer.subscriber_pool.by_host.items()
    }
    return json_response(
        {
            "Agents": {},
            "Peers": {"Incomers": {}, "Outgoers": {}},
            "Publishers": {h: c.status() for h, c in analyzer.publishers.by_host.items()},
            "Subscribers": subscribers,
            "Alerts": {"IsMaster": True},
            "Captures": {"IsMaster": True},
            "Probes": {},
            "Graph": {
                "Nodes": analyzer.graph.node_count(),
                "Edges": analyzer.graph.edge_count(),
                "Origins": {
                    o: {"Nodes": n, "Edges": e}
                    for o, (n, e) in analyzer.store.origin_counts().items()
                },
            },
            "History": {"Oldest": analyzer.history.oldest, "Changes": len(analyzer.history)},
            "Auth": {"Enabled": analyzer.auth.enabled},
            "Version": __version__,
        }
    )


async def api_info(request: web.Request) -> web.Response:
    analyzer: Analyzer = request.app[ANALYZER]
    analyzer.authorize(request, auth.READ)
    return json_response(
        {"Host": analyzer.settings.host_id, "Version": __version__, "Service": "analyzer"}
    )


async def api_rejections(request: web.Request) -> web.Response:
    analyzer: Analyzer = request.app[ANALYZER]
    analyzer.authorize(request, auth.READ)
    origin = request.query.get("origin")
    return json_response([r.to_json() for r in analyzer.rejections.recent(origin)])


async def healthz(request: web.Request) -> web.Response:
    analyzer: Analyzer = request.app[ANALYZER]
    return json_response(
        {"Status": "ok", "Uptime": round(time.monotonic() - analyzer.started_at, 3)}
    )


def render_metrics(analyzer: Analyzer) -> bytes:
    counters = analyzer.counters
    depths = analyzer.hub.queue_depths()
    scrape = Scrape("dragonscope_")
    scrape.gauge("publishers", "Connected publishers.", len(analyzer.publishers))
    scrape.gauge("subscribers", "Connected subscribers.", len(analyzer.subscriber_pool))
    scrape.counter(
        "publisher_messages_in",
        "Messages received per connected publisher.",
        label="origin",
        samples=[
            ({"origin": c.origin}, c.messages_in) for c in analyzer.publishers.by_host.values()
        ],
    )
    scrape.gauge("graph_nodes", "Nodes in the live graph.", analyzer.graph.node_count())
    scrape.gauge("graph_edges", "Edges in the live graph.", analyzer.graph.edge_count())
    scrape.counter(
        "messages_in", "WebSocket messages received from publishers.", counters["messages_in"]
    )
    scrape.counter(
        "messages_out",
        "WebSocket messages sent (replies and events).",
        counters["messages_out"] + analyzer.hub.frames_out,
    )
    scrape.counter(
        "rejections",
        "Rejected publisher messages, by rule.",
        label="rule",
        samples=[({"rule": r}, n) for r, n in sorted(analyzer.rejections.by_rule.items())]
        or [({"rule": "none"}, 0)],
    )
    scrape.gauge(
        "subscriber_queue_depth_max", "Deepest subscriber queue (frames).", max(depths, default=0)
    )
    scrape.gauge("subscriber_queue_depth_total", "Frames queued for all subscribers.", sum(depths))
    scrape.counter(
        "subscriber_frames_dropped",
        "Frames dropped for slow subscribers (replaced by a resync).",
        sum(s.dropped for s in analyzer.hub.subscribers),
    )
    scrape.gauge("history_changes", "Changes kept in history.", len(analyzer.history))
    scrape.counter("queries", "Gremlin queries answered over REST.", counters["queries"])
    scrape.counter("alerts_fired", "Alerts fired.", counters["alerts_fired"])
    return scrape.text()


async def metrics(request: web.Request) -> web.Response:
    analyzer: Analyzer = request.app[ANALYZER]
    analyzer.authorize(request, auth.READ)
    return web.Response(
        body=render_metrics(analyzer), headers={"Content-Type": CONTENT_TYPE_LATEST}
    )


def setup(app: web.Application) -> None:
    app.router.add_get("/api/status", api_status)
    app.router.add_get("/api", api_info)
    app.router.add_get("/api/rejections", api_rejections)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
