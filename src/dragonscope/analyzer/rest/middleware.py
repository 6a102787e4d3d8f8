"""What every HTTP answer goes through: Skydive's CORS headers, no tracebacks, gzip,
and the request guard against DNS rebinding and cross-site writes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware

from dragonscope.analyzer.origins import RequestPolicy
from dragonscope.analyzer.responses import BodyError, body_size, text_error

log = logging.getLogger("dragonscope.analyzer")

COMPRESS_OVER = 4096  # bytes; large graphs shrink ~10x in gzip
CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Headers": "X-Requested-With, Content-Type, Authorization, X-Auth-Token",
    "Access-Control-Allow-Methods": "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS",
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def cors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Skydive's CORS answer for cross-origin API calls. The wildcard never carries
    cookies (browsers refuse credentials with ``*``), so it exposes nothing that an
    anonymous caller could not already read."""
    if "Origin" not in request.headers or not request.path.startswith("/api"):
        return await handler(request)
    if request.method == "OPTIONS":
        return web.Response(status=200, headers=CORS_HEADERS)
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        exc.headers.update(CORS_HEADERS)
        raise
    if not response.prepared:
        response.headers.update(CORS_HEADERS)
    return response


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """No traceback ever reaches a client: unexpected errors are logged and answered 500.
    Large responses are gzip-compressed for clients that accept it, as Skydive does."""
    try:
        response = await handler(request)
    except web.HTTPException:
        raise
    except BodyError as exc:  # a body past a bound, or not JSON: the client's fault
        return text_error(exc.status, str(exc))
    except (asyncio.CancelledError, ConnectionResetError):
        raise
    except Exception:
        log.exception("%s %s failed", request.method, request.path)
        return text_error(500, "internal error; the analyzer log has the details")
    if (
        isinstance(response, web.Response)
        and body_size(response) > COMPRESS_OVER
        and "gzip" in request.headers.get("Accept-Encoding", "")
    ):
        response.enable_compression()
    return response


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Bodies a browser sends cross-origin without asking first (CORS "simple" types).
SIMPLE_TYPES = frozenset({"text/plain", "application/x-www-form-urlencoded", "multipart/form-data"})
# Posts that take any body: Skydive's login form, and queries that change nothing
# (scripts post Gremlin with whatever type their HTTP library picks).
ANY_BODY_PATHS = frozenset({"/login", "/api/topology", "/api/trace"})


def request_guard(policy: RequestPolicy) -> Middleware:
    """Refuse what only an attacker's page sends: a ``Host`` the analyzer is not known by
    (DNS rebinding, 421), a write, a query or a WebSocket handshake from another origin
    (403), and a write body a browser may send cross-origin without a preflight (415)."""

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        host = request.headers.get("Host")
        if not policy.host_allowed(host):
            return text_error(421, "unknown Host name: see --allowed-host")
        websocket = request.headers.get("Upgrade", "").lower() == "websocket"
        if request.method in SAFE_METHODS and not websocket:
            return await handler(request)
        origin = request.headers.get("Origin")
        if origin is not None and not policy.origin_allowed(origin, host):
            return text_error(403, "cross-origin request refused: see --allowed-origin")
        if request.body_exists and request.path not in ANY_BODY_PATHS:
            declared = request.headers.get("Content-Type")
            if declared is None or request.content_type in SIMPLE_TYPES:
                return text_error(415, "send the body as application/json")
        return await handler(request)

    return guard
