"""``/metrics`` (Prometheus text) and ``/healthz`` (JSON) for one collector.

``/healthz`` answers 200 only when the NB stream is live, the analyzer is
connected and has caught up once; otherwise 503 with the reason, so a probe or
an operator sees *which* side is the problem.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from aiohttp import web

from dragonscope.collector.stats import StatsReport
from dragonscope.metrics import CONTENT_TYPE_LATEST, Scrape

log = logging.getLogger("dragonscope.collector")


# (kind, report key, help) of every unlabelled family, in exposition order.
_FAMILIES: tuple[tuple[str, str, str], ...] = (
    ("counter", "nb_events", "NB changes consumed."),
    ("counter", "nb_errors", "NB read failures."),
    ("gauge", "nb_revision", "Last NB revision applied."),
    ("gauge", "nb_stale", "1 while the NB is unreachable."),
    ("counter", "nb_resyncs", "Full NB re-reads after its history broke (restore, wipe)."),
    ("gauge", "nb_resyncing", "1 while the NB is re-read after its history broke."),
    ("counter", "translate_errors", "NB changes the topology failed to translate."),
    ("gauge", "graph_nodes", "Nodes in the desired graph."),
    ("gauge", "graph_edges", "Edges in the desired graph."),
    ("gauge", "pending", "Elements waiting to be sent."),
    ("gauge", "lag_seconds", "Age of the oldest change not yet sent."),
    ("gauge", "analyzer_connected", "1 while connected to the analyzer."),
    ("gauge", "synced", "1 once the analyzer held the graph of the whole NB, until disconnected."),
    ("counter", "analyzer_reconnects", "Analyzer connections lost."),
    ("counter", "analyzer_connect_failures", "Failed connection attempts."),
    ("counter", "analyzer_rejections", "Messages the analyzer reported as rejected."),
    ("counter", "analyzer_logins", "Logins."),
    ("counter", "resyncs", "Resyncs after (re)connecting."),
    ("counter", "reconcile_fixes", "Elements the periodic reconciliation resent."),
)


def render_metrics(stats: StatsReport) -> bytes:
    scrape = Scrape("dragonscope_collector_")
    scrape.gauge(
        "nb_objects", "NB objects per table.", label="table",
        samples=[({"table": t}, n) for t, n in sorted(stats["nb_objects"].items())],
    )  # fmt: skip
    scrape.counter(
        "messages_out", "Messages sent to the analyzer, by type.", label="type",
        samples=[({"type": t}, n) for t, n in sorted(stats["messages_out"].items())],
    )  # fmt: skip
    readings: Mapping[str, object] = stats
    for kind, key, help_ in _FAMILIES:
        value = readings[key]
        assert isinstance(value, int | float)  # bools included
        (scrape.counter if kind == "counter" else scrape.gauge)(key, help_, value)
    if stats["last_sync"] is not None:
        scrape.gauge(
            "last_sync_timestamp_seconds",
            "When the analyzer last held exactly the desired graph.",
            stats["last_sync"],
        )
    return scrape.text()


def health_report(stats: StatsReport) -> tuple[int, dict[str, Any]]:
    problems = []
    if stats["nb_stale"]:
        problems.append("NB unreachable: the published graph may be stale")
    if stats["nb_resyncing"]:
        problems.append(f"NB resync in progress: {stats['nb_resync_reason']}")
    if not stats["analyzer_connected"]:
        reason = stats["analyzer_last_error"] or "not connected"
        problems.append(f"analyzer: {reason}")
    elif not stats["synced"]:
        problems.append("analyzer: initial sync in progress")
    body = {
        "status": "ok" if not problems else "degraded",
        "problems": problems,
        "nb": {
            "stale": stats["nb_stale"],
            "revision": stats["nb_revision"],
            "resyncs": stats["nb_resyncs"],
            "resyncing": stats["nb_resyncing"],
        },
        "analyzer": {"connected": stats["analyzer_connected"], "synced": stats["synced"]},
        "pending": stats["pending"],
        "lag_seconds": round(stats["lag_seconds"], 3),
        "last_sync": stats["last_sync"],
    }
    return (200 if not problems and stats["healthy"] else 503), body


class HealthServer:
    """Serves one collector's readings; ``stats`` is called at every request."""

    def __init__(self, stats: Callable[[], StatsReport], host: str, port: int) -> None:
        self.stats = stats
        self.host, self.port = host, port
        self._runner: web.AppRunner | None = None

    async def _metrics(self, request: web.Request) -> web.Response:
        return web.Response(
            body=render_metrics(self.stats()),
            headers={"Content-Type": CONTENT_TYPE_LATEST},
        )

    async def _healthz(self, request: web.Request) -> web.Response:
        status, body = health_report(self.stats())
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
        if self._runner.addresses:
            self.port = self._runner.addresses[0][1]
        log.info("metrics and health on http://%s:%d/metrics /healthz", self.host, self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
