"""Operational endpoints: status, API info, rejections, Prometheus metrics, health."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from aiohttp import web

from dragonscope import __version__
from dragonscope.analyzer import auth
from dragonscope.analyzer.keys import ANALYZER
from dragonscope.analyzer.responses import json_response

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


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def render_metrics(analyzer: Analyzer) -> str:
    lines: list[str] = []

    def metric(name: str, kind: str, help_: str, samples: list[tuple[str, float]]) -> None:
        lines.append(f"# HELP dragonscope_{name} {help_}")
        lines.append(f"# TYPE dragonscope_{name} {kind}")
        lines.extend(f"dragonscope_{name}{labels} {value:g}" for labels, value in samples)

    counters = analyzer.counters
    depths = analyzer.hub.queue_depths()
    metric("publishers", "gauge", "Connected publishers.", [("", len(analyzer.publishers))])
    metric("subscribers", "gauge", "Connected subscribers.", [("", len(analyzer.subscriber_pool))])
    metric(
        "publisher_messages_in_total",
        "counter",
        "Messages received per connected publisher.",
        [
            (f'{{origin="{_escape(c.origin)}"}}', c.messages_in)
            for c in analyzer.publishers.by_host.values()
        ],
    )
    metric("graph_nodes", "gauge", "Nodes in the live graph.", [("", analyzer.graph.node_count())])
    metric("graph_edges", "gauge", "Edges in the live graph.", [("", analyzer.graph.edge_count())])
    metric(
        "messages_in_total",
        "counter",
        "WebSocket messages received from publishers.",
        [("", counters["messages_in"])],
    )
    metric(
        "messages_out_total",
        "counter",
        "WebSocket messages sent (replies and events).",
        [("", counters["messages_out"] + analyzer.hub.frames_out)],
    )
    metric(
        "rejections_total",
        "counter",
        "Rejected publisher messages, by rule.",
        [
            (f'{{rule="{_escape(rule)}"}}', n)
            for rule, n in sorted(analyzer.rejections.by_rule.items())
        ]
        or [('{rule="none"}', 0)],
    )
    metric(
        "subscriber_queue_depth_max",
        "gauge",
        "Deepest subscriber queue (frames).",
        [("", max(depths, default=0))],
    )
    metric(
        "subscriber_queue_depth_total",
        "gauge",
        "Frames queued for all subscribers.",
        [("", sum(depths))],
    )
    metric(
        "subscriber_frames_dropped_total",
        "counter",
        "Frames dropped for slow subscribers (replaced by a resync).",
        [("", sum(s.dropped for s in analyzer.hub.subscribers))],
    )
    metric("history_changes", "gauge", "Changes kept in history.", [("", len(analyzer.history))])
    metric(
        "queries_total",
        "counter",
        "Gremlin queries answered over REST.",
        [("", counters["queries"])],
    )
    metric("alerts_fired_total", "counter", "Alerts fired.", [("", counters["alerts_fired"])])
    return "\n".join(lines) + "\n"


async def metrics(request: web.Request) -> web.Response:
    analyzer: Analyzer = request.app[ANALYZER]
    analyzer.authorize(request, auth.READ)
    return web.Response(
        text=render_metrics(analyzer), headers={"Content-Type": "text/plain; version=0.0.4"}
    )


def setup(app: web.Application) -> None:
    app.router.add_get("/api/status", api_status)
    app.router.add_get("/api", api_info)
    app.router.add_get("/api/rejections", api_rejections)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
