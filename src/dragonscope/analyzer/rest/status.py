"""Operational endpoints: status, API info, rejections, Prometheus metrics, health."""

from __future__ import annotations

from aiohttp import web

from dragonscope import __version__
from dragonscope.analyzer import auth
from dragonscope.analyzer.auth import Authenticator
from dragonscope.analyzer.monitor import Monitor
from dragonscope.analyzer.responses import json_response
from dragonscope.metrics import CONTENT_TYPE_LATEST


class StatusApi:
    """Answers from the monitor; ``/healthz`` needs no credentials (load balancers)."""

    def __init__(self, monitor: Monitor, host_id: str, guard: Authenticator) -> None:
        self.monitor, self.host_id, self.guard = monitor, host_id, guard

    async def status(self, request: web.Request) -> web.Response:
        self.guard.require(request, auth.READ)
        return json_response(self.monitor.status())

    async def info(self, request: web.Request) -> web.Response:
        self.guard.require(request, auth.READ)
        return json_response({"Host": self.host_id, "Version": __version__, "Service": "analyzer"})

    async def rejections(self, request: web.Request) -> web.Response:
        self.guard.require(request, auth.READ)
        origin = request.query.get("origin")
        return json_response([r.to_json() for r in self.monitor.rejections.recent(origin)])

    async def healthz(self, request: web.Request) -> web.Response:
        return json_response({"Status": "ok", "Uptime": round(self.monitor.uptime(), 3)})

    async def metrics(self, request: web.Request) -> web.Response:
        self.guard.require(request, auth.READ)
        return web.Response(
            body=self.monitor.metrics(), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    def mount(self, router: web.UrlDispatcher) -> None:
        router.add_get("/api/status", self.status)
        router.add_get("/api", self.info)
        router.add_get("/api/rejections", self.rejections)
        router.add_get("/healthz", self.healthz)
        router.add_get("/metrics", self.metrics)
