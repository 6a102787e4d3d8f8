"""``/login`` and ``/logout``, shaped like Skydive's so its clients and UI work unchanged."""

from __future__ import annotations

import base64
import json
import logging
from typing import TYPE_CHECKING

from aiohttp import web

from dragonscope.analyzer.auth import COOKIE, PERMISSIONS, Unauthenticated
from dragonscope.analyzer.keys import ANALYZER
from dragonscope.analyzer.responses import json_response

if TYPE_CHECKING:
    from dragonscope.analyzer.app import Analyzer

log = logging.getLogger("dragonscope.analyzer.auth")
_OBJECTS = ("topology", "node", "edge", "noderule", "edgerule", "alert", "status", "websocket")


def _permissions(role: str) -> list[dict[str, object]]:
    allowed = PERMISSIONS.get(role, frozenset())
    out = []
    for obj in _OBJECTS:
        for action in ("read", "write"):
            granted = action in allowed and (obj != "websocket" or "read" in allowed)
            out.append({"Object": obj, "Action": action, "Allowed": granted})
    return out


async def login(request: web.Request) -> web.Response:
    analyzer: Analyzer = request.app[ANALYZER]
    form = await request.post()
    username, password = form.get("username"), form.get("password")
    if not isinstance(username, str) or not isinstance(password, str) or not username:
        if analyzer.auth.enabled:
            return web.Response(status=401, text="No credentials provided")
        username, password = "admin", ""
    try:
        token, principal = analyzer.auth.login(username, password)
    except Unauthenticated as exc:
        log.warning("failed login for %r from %s", username[:64], request.remote)
        return web.Response(status=401, text=str(exc))
    permissions = _permissions(principal.role)
    response = json_response({"Token": token, "Permissions": permissions})
    secure = analyzer.settings.tls_cert is not None
    if token:
        response.set_cookie(
            COOKIE,
            token,
            path="/",
            httponly=True,
            samesite="Strict",
            secure=secure,
            max_age=int(analyzer.settings.token_ttl),
        )
    encoded = base64.b64encode(json.dumps(permissions).encode()).decode()
    response.set_cookie("permissions", encoded, path="/", samesite="Strict", secure=secure)
    origin = request.headers.get("Origin")
    if origin:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Credentials"] = "true"
    return response


async def login_other(request: web.Request) -> web.Response:
    raise web.HTTPFound("/")


async def logout(request: web.Request) -> web.Response:
    analyzer: Analyzer = request.app[ANALYZER]
    token = request.cookies.get(COOKIE) or request.headers.get("X-Auth-Token")
    if token:
        analyzer.auth.logout(token)
    response = web.HTTPFound("/")
    response.del_cookie(COOKIE, path="/")
    response.del_cookie("permissions", path="/")
    raise response


def setup(app: web.Application) -> None:
    app.router.add_post("/login", login)
    app.router.add_get("/login", login_other)
    app.router.add_route("*", "/logout", logout)
