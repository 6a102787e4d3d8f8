"""``/metrics`` (Prometheus text) and ``/healthz`` (JSON) for one collector.

``/healthz`` answers 200 only when the NB stream is live, the analyzer is
connected and has caught up once; otherwise 503 with the reason, so a probe or
an operator sees *which* side is the problem.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from dragonscope.collector.service import Collector

log = logging.getLogger("dragonscope.collector")

_P = "dragonscope_collector_"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def render_metrics(stats: dict[str, Any]) -> str:
    lines: list[str] = []

    def metric(name: str, kind: str, help_: str, samples: list[tuple[str, float]]) -> None:
        lines.append(f"# HELP {_P}{name} {help_}")
        lines.append(f"# TYPE {_P}{name} {kind}")
        for labels, value in samples:
            lines.append(f"{_P}{name}{labels} {float(value):g}")

    metric(
        "nb_objects", "gauge", "NB objects per table.",
        [(f'{{table="{_escape(t)}"}}', n) for t, n in sorted(stats["nb_objects"].items())],
    )  # fmt: skip
    metric("nb_events_total", "counter", "NB changes consumed.", [("", stats["nb_events"])])
    metric("nb_errors_total", "counter", "NB read failures.", [("", stats["nb_errors"])])
    metric("nb_revision", "gauge", "Last NB revision applied.", [("", stats["nb_revision"])])
    metric("nb_stale", "gauge", "1 while the NB is unreachable.", [("", stats["nb_stale"])])
    metric(
        "translate_errors_total", "counter", "NB changes the topology failed to translate.",
        [("", stats["translate_errors"])],
    )  # fmt: skip
    metric("graph_nodes", "gauge", "Nodes in the desired graph.", [("", stats["graph_nodes"])])
    metric("graph_edges", "gauge", "Edges in the desired graph.", [("", stats["graph_edges"])])
    metric(
        "messages_out_total", "counter", "Messages sent to the analyzer, by type.",
        [(f'{{type="{t}"}}', n) for t, n in sorted(stats["messages_out"].items())],
    )  # fmt: skip
    metric("pending", "gauge", "Elements waiting to be sent.", [("", stats["pending"])])
    metric(
        "lag_seconds", "gauge", "Age of the oldest change not yet sent.",
        [("", stats["lag_seconds"])],
    )  # fmt: skip
    metric(
        "analyzer_connected", "gauge", "1 while connected to the analyzer.",
        [("", stats["analyzer_connected"])],
    )  # fmt: skip
    metric(
        "analyzer_reconnects_total", "counter", "Analyzer connections lost.",
        [("", stats["analyzer_reconnects"])],
    )  # fmt: skip
    metric(
        "analyzer_connect_failures_total", "counter", "Failed connection attempts.",
        [("", stats["analyzer_connect_failures"])],
    )  # fmt: skip
    metric(
        "analyzer_rejections_total", "counter", "Messages the analyzer reported as rejected.",
        [("", stats["analyzer_rejections"])],
    )  # fmt: skip
    metric("analyzer_logins_total", "counter", "Logins.", [("", stats["analyzer_logins"])])
    metric("resyncs_total", "counter", "Resyncs after (re)connecting.", [("", stats["resyncs"])])
    metric(
        "reconcile_fixes_total", "counter", "Elements the periodic reconciliation resent.",
        [("", stats["reconcile_fixes"])],
    )  # fmt: skip
    if stats["last_sync"] is not None:
        metric(
            "last_sync_timestamp_seconds", "gauge",
            "When the analyzer last held exactly the desired graph.",
            [("", stats["last_sync"])],
        )  # fmt: skip
    return "\n".join(lines) + "\n"


def health_report(stats: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    problems = []
    if stats["nb_stale"]:
        problems.append("NB unreachable: the published graph may be stale")
    if not stats["analyzer_connected"]:
        reason = stats["analyzer_last_error"] or "not connected"
        problems.append(f"analyzer: {reason}")
    elif not stats["synced"]:
        problems.append("analyzer: initial sync in progress")
    body = {
        "status": "ok" if not problems else "degraded",
        "problems": problems,
        "nb": {"stale": stats["nb_stale"], "revision": stats["nb_revision"]},
        "analyzer": {"connected": stats["analyzer_connected"], "synced": stats["synced"]},
        "pending": stats["pending"],
        "lag_seconds": round(stats["lag_seconds"], 3),
        "last_sync": stats["last_sync"],
    }
    return (200 if not problems and stats["healthy"] else 503), body


class HealthServer:
    def __init__(self, collector: Collector, host: str, port: int) -> None:
        self.collector = collector
        self.host, self.port = host, port
        self._runner: web.AppRunner | None = None

    async def _metrics(self, request: web.Request) -> web.Response:
        return web.Response(
            text=render_metrics(self.collector.stats),
            headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"},
        )

    async def _healthz(self, request: web.Request) -> web.Response:
        status, body = health_report(self.collector.stats)
        return web.json_response(body, status=status)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/healthz", self._healthz)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        try:
            await site.start()
        except OSError as exc:
            await self._runner.cleanup()
            self._runner = None
            raise OSError(f"cannot listen on {self.host}:{self.port}: {exc.strerror}") from None
        sockets = site._server.sockets if site._server else []  # type: ignore[union-attr]
        if sockets:
            self.port = sockets[0].getsockname()[1]
        log.info("metrics and health on http://%s:%d/metrics /healthz", self.host, self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
