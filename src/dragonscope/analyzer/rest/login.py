"""``/login`` and ``/logout``, shaped like Skydive's so its clients and UI work unchanged."""

from __future__ import annotations

import base64
import json
import logging
from http.cookies import Morsel

from aiohttp import web

from dragonscope.analyzer.auth import COOKIE, PERMISSIONS, Authenticator, Unauthenticated
from dragonscope.analyzer.responses import json_response
from dragonscope.analyzer.settings import AnalyzerSettings

log = logging.getLogger("dragonscope.analyzer.auth")
_OBJECTS = ("topology", "node", "edge", "noderule", "edgerule", "alert", "status", "websocket")


def _permissions(role: str) -> list[dict[str, str | bool]]:
    allowed = PERMISSIONS.get(role, frozenset())
    out = []
    for obj in _OBJECTS:
        for action in ("read", "write"):
            granted = action in allowed and (obj != "websocket" or "read" in allowed)
            out.append({"Object": obj, "Action": action, "Allowed": granted})
    return out


def _set_unquoted_cookie(response: web.Response, name: str, value: str, secure: bool) -> None:
    """Skydive sends base64 (``=`` padding) unquoted; its UI ``atob``s the raw value, which
    the quotes a cookie library adds around ``=`` would break."""
    morsel: Morsel[str] = Morsel()
    morsel.set(name, value, value)
    morsel.update({"path": "/", "samesite": "Strict"})
    if secure:
        morsel["secure"] = True
    response.cookies[name] = morsel


class LoginApi:
    """Trades credentials for a token cookie, and forgets it on logout."""

    def __init__(self, auth: Authenticator, settings: AnalyzerSettings) -> None:
        self.auth, self.settings = auth, settings

    async def login(self, request: web.Request) -> web.Response:
        form = await request.post()
        username, password = form.get("username"), form.get("password")
        if not isinstance(username, str) or not isinstance(password, str) or not username:
            if self.auth.enabled:
                return web.Response(status=401, text="No credentials provided")
            username, password = "admin", ""
        try:
            token, principal = self.auth.login(username, password)
        except Unauthenticated as exc:
            log.warning("failed login for %r from %s", username[:64], request.remote)
            return web.Response(status=401, text=str(exc))
        permissions = _permissions(principal.role)
        response = json_response({"Token": token, "Permissions": permissions})
        secure = self.settings.tls_cert is not None
        if token:
            # Readable by scripts, as Skydive sets it: its UI logs out by deleting it.
            response.set_cookie(
                COOKIE,
                token,
                path="/",
                samesite="Strict",
                secure=secure,
                max_age=int(self.settings.token_ttl),
            )
        encoded = base64.b64encode(json.dumps(permissions).encode()).decode()
        _set_unquoted_cookie(response, "permissions", encoded, secure)
        origin = request.headers.get("Origin")
        if origin:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Allow-Credentials"] = "true"
        return response

    async def login_other(self, request: web.Request) -> web.Response:
        raise web.HTTPFound("/")

    async def logout(self, request: web.Request) -> web.Response:
        token = request.cookies.get(COOKIE) or request.headers.get("X-Auth-Token")
        if token:
            self.auth.logout(token)
        response = web.HTTPFound("/")
        response.del_cookie(COOKIE, path="/")
        response.del_cookie("permissions", path="/")
        raise response

    def mount(self, router: web.UrlDispatcher) -> None:
        router.add_post("/login", self.login)
        router.add_get("/login", self.login_other)
        router.add_route("*", "/logout", self.logout)
