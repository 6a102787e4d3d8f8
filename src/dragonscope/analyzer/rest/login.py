"""``/login`` and ``/logout``, shaped like Skydive's so its clients and UI work unchanged.

Cookies are ``SameSite=Strict`` (``Secure`` over TLS); the token cookie is readable by
scripts, as Skydive sets it, because Skydive's UI logs out by deleting it (``/logout``
revokes the token itself server-side); credentials are allowed cross-origin only for
the origins the request policy accepts, never for whatever ``Origin`` a request brings.
"""

from __future__ import annotations

import base64
import json
from http.cookies import Morsel

from aiohttp import web

from dragonscope.analyzer.auth import (
    COOKIE,
    PERMISSIONS,
    Authenticator,
    Unauthenticated,
    too_many,
)
from dragonscope.analyzer.origins import RequestPolicy
from dragonscope.analyzer.responses import json_response
from dragonscope.analyzer.settings import AnalyzerSettings
from dragonscope.analyzer.throttle import Throttled

PERMISSIONS_COOKIE = "permissions"
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

    def __init__(
        self, auth: Authenticator, settings: AnalyzerSettings, policy: RequestPolicy
    ) -> None:
        self.auth, self.settings, self.policy = auth, settings, policy

    async def login(self, request: web.Request) -> web.Response:
        form = await request.post()
        username, password = form.get("username"), form.get("password")
        if not isinstance(username, str) or not isinstance(password, str) or not username:
            if self.auth.enabled:
                return web.Response(status=401, text="No credentials provided")
            username, password = "admin", ""
        try:
            token, principal = await self.auth.login(username, password, request.remote or "")
        except Unauthenticated as exc:
            return web.Response(status=401, text=str(exc))
        except Throttled as exc:
            return too_many(exc)
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
        # Unquoted, as Skydive sends it (its UI decodes the value as is); base64 needs no quoting.
        encoded = base64.b64encode(json.dumps(permissions).encode()).decode()
        _set_unquoted_cookie(response, "permissions", encoded, secure)
        origin = request.headers.get("Origin")
        if origin and self.policy.origin_allowed(origin, request.headers.get("Host")):
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Allow-Credentials"] = "true"
            response.headers["Vary"] = "Origin"
        return response

    async def login_other(self, request: web.Request) -> web.Response:
        raise web.HTTPFound("/")

    async def logout(self, request: web.Request) -> web.Response:
        self.auth.logout(request)
        response = web.HTTPFound("/")
        response.del_cookie(COOKIE, path="/")
        response.del_cookie(PERMISSIONS_COOKIE, path="/")
        raise response

    def mount(self, router: web.UrlDispatcher) -> None:
        router.add_post("/login", self.login)
        router.add_get("/login", self.login_other)
        router.add_route("*", "/logout", self.logout)
