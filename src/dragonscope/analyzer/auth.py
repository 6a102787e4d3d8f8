"""Who is asking, and may they: tokens, basic auth and the three roles.

Mode none (no users file): everyone is ``admin``, as with Skydive's noauth.
Mode users-file: ``/login`` trades a password for a random token that expires;
the token travels as the ``authtoken`` cookie (like Skydive), an
``X-Auth-Token`` header or query parameter, or ``Authorization: Bearer``;
``Authorization: Basic`` works too. Passwords are checked off the event loop
(``users.PasswordVerifier``) under rate limits (``throttle``). A token is bound
to its user and to the password it was obtained with: logout, a password change
or the user's removal revoke it, and close the WebSockets opened with it
(``sessions``). Tokens are kept only as SHA-256 digests; neither they nor
passwords are logged, and a user name only once it matched a user.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from dragonscope.analyzer.sessions import Grant, SocketWatch
from dragonscope.analyzer.throttle import LoginLimits, LoginThrottle, Throttled
from dragonscope.analyzer.users import LoginsBusy, PasswordVerifier, User

log = logging.getLogger("dragonscope.analyzer.auth")

READ = "read"  # REST reads, Gremlin, subscriber, UI
PUBLISH = "publish"  # /ws/publisher
WRITE = "write"  # REST writes: nodes, edges, rules, alerts

PERMISSIONS = {
    "admin": frozenset({READ, PUBLISH, WRITE}),
    "publisher": frozenset({READ, PUBLISH}),
    "reader": frozenset({READ}),
}
COOKIE = "authtoken"
_BASIC_CACHE_S = 60.0
# A request's checked basic credentials (a Grant, or the Unauthenticated to raise),
# and the grant it was authenticated with.
_BASIC = web.RequestKey("dragonscope.basic", object)
_GRANT = web.RequestKey("dragonscope.grant", Grant)


# How long an expired token is still recognised as one (see Authenticator._expired).
_EXPIRED_KEPT_S = 86400.0


class Unauthenticated(Exception):
    """No valid credentials: HTTP 401."""


class Forbidden(Exception):
    """Valid credentials, wrong role: 405 on REST and 403 on WebSocket, as Skydive answers."""


@dataclass(frozen=True, slots=True)
class Principal:
    name: str
    role: str

    def may(self, action: str) -> bool:
        return action in PERMISSIONS.get(self.role, frozenset())


ANONYMOUS_ADMIN = Principal("admin", "admin")


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def presented_token(request: web.Request) -> str | None:
    """The token a request carries, in any of its forms (Bearer wins)."""
    authorization = request.headers.get("Authorization", "")
    if authorization[:7].lower() == "bearer ":
        return authorization[7:].strip() or None
    return (
        request.cookies.get(COOKIE)
        or request.headers.get("X-Auth-Token")
        or request.query.get("x-auth-token")
        or None
    )


def too_many(exc: Throttled) -> web.Response:
    """The 429 answer, with the wait in ``Retry-After`` and why in ``X-Throttled`` (``busy``:
    other checks are running, so the same login may simply be sent again; ``user`` or
    ``address``: locked out after failures)."""
    headers = {"Retry-After": str(exc.retry_after), "X-Throttled": exc.scope}
    return web.Response(status=429, text=f"{exc}\n", headers=headers)


class Authenticator:
    def __init__(
        self,
        users: dict[str, User] | None,
        token_ttl: float,
        clock: Callable[[], float] = time.monotonic,
        limits: LoginLimits | None = None,
    ) -> None:
        self.users = users
        self.token_ttl = token_ttl
        self._clock = clock
        self._tokens: dict[str, Grant] = {}
        # Digests of tokens that expired, with when: every later use of one (a header, a
        # cookie, the UI's next request) is told "Token expired", not "Invalid token".
        self._expired: dict[str, float] = {}
        self._basic: dict[str, tuple[Grant, float]] = {}
        self.verifier = PasswordVerifier()
        self.throttle = LoginThrottle(limits or LoginLimits(), clock)
        self.sockets = SocketWatch(self._judge, clock)
        if users:
            self.verifier.reference(users)

    @property
    def enabled(self) -> bool:
        return self.users is not None

    async def close(self) -> None:
        await self.sockets.close()
        self.verifier.close()

    # -- passwords -------------------------------------------------------------------
    async def check_password(self, username: str, password: str, address: str) -> User | None:
        """The user these credentials name (None in mode none); Unauthenticated or Throttled."""
        if self.users is None:
            return None
        self.throttle.admit(username, address)
        user = self.users.get(username)
        with self.throttle.attempt(address):
            try:
                ok = await self.verifier.verify(user, password)
            except LoginsBusy:
                raise self.throttle.refuse_busy() from None
        if not ok or user is None:
            self.throttle.failed(username, address)
            known = f"user {user.name!r}" if user is not None else "an unknown user"
            log.warning("failed login for %s from %s", known, address)
            raise Unauthenticated("Wrong credentials")
        self.throttle.succeeded(username)
        return user

    async def login(self, username: str, password: str, address: str) -> tuple[str, Principal]:
        """Returns a new token ("" in mode none, as Skydive's noauth) and the principal."""
        user = await self.check_password(username, password, address)
        if user is None:
            return "", ANONYMOUS_ADMIN
        self._purge()
        token = secrets.token_urlsafe(32)
        digest = _digest(token)
        expiry = self._clock() + self.token_ttl
        self._tokens[digest] = Grant(user.name, user.generation, digest, expiry)
        return token, Principal(user.name, user.role)

    def replace_users(self, users: dict[str, User]) -> None:
        """A new users file: cached basic checks go, and every grant is judged again."""
        self.users = users
        self._basic.clear()
        if users:
            self.verifier.reference(users)
        self.sockets.sweep()

    def logout(self, request: web.Request) -> None:
        """Revoke the token the request carries, in whatever form it carries it."""
        token = presented_token(request)
        if token:
            self._tokens.pop(_digest(token), None)
        self.sockets.sweep()

    def _purge(self) -> None:
        now = self._clock()
        for key in [k for k, g in self._tokens.items() if g.expiry is not None and g.expiry <= now]:
            self._expired[key] = now
            del self._tokens[key]
        for key in [k for k, when in self._expired.items() if when + _EXPIRED_KEPT_S <= now]:
            del self._expired[key]
        for key in [k for k, (_, until) in self._basic.items() if until <= now]:
            del self._basic[key]

    # -- grants ------------------------------------------------------------------------
    def revoked(self, grant: Grant) -> str | None:
        """Why a grant no longer holds, or None."""
        if grant.expiry is not None and grant.expiry <= self._clock():
            return "token expired"
        if grant.token is not None and grant.token not in self._tokens:
            return "token revoked"
        user = (self.users or {}).get(grant.name)
        if user is None:
            return "user removed"
        if user.generation != grant.generation:
            return "password changed"
        return None

    def _principal(self, grant: Grant) -> Principal:
        reason = self.revoked(grant)
        if reason is not None:
            if grant.token is not None:
                self._tokens.pop(grant.token, None)
                if reason == "token expired":
                    self._expired[grant.token] = self._clock()
            raise Unauthenticated(reason[0].upper() + reason[1:])
        user = (self.users or {})[grant.name]
        return Principal(user.name, user.role)  # a changed role applies at once

    def _judge(self, grant: Grant, action: str) -> str | None:
        try:
            principal = self._principal(grant)
        except Unauthenticated as exc:
            return str(exc).lower()
        return None if principal.may(action) else f"'{action}' permission withdrawn"

    def from_token(self, token: str) -> tuple[Principal, Grant]:
        digest = _digest(token)
        grant = self._tokens.get(digest)
        if grant is None:
            raise Unauthenticated("Token expired" if digest in self._expired else "Invalid token")
        return self._principal(grant), grant

    async def from_basic(self, header_value: str, address: str) -> Grant:
        try:
            decoded = base64.b64decode(header_value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise Unauthenticated("Malformed basic credentials") from None
        username, sep, password = decoded.partition(":")
        if not sep:
            raise Unauthenticated("Malformed basic credentials")
        key = _digest(decoded)
        cached = self._basic.get(key)
        if cached is not None and cached[1] > self._clock():
            return cached[0]
        user = await self.check_password(username, password, address)
        assert user is not None  # only called with auth on
        grant = Grant(user.name, user.generation)
        self._purge()
        self._basic[key] = (grant, self._clock() + _BASIC_CACHE_S)
        return grant

    @web.middleware
    async def basic_auth(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        """Check ``Authorization: Basic`` before the handler, so that ``authenticate``
        (synchronous, called by every route) never hashes on the event loop."""
        authorization = request.headers.get("Authorization", "")
        if self.users is not None and authorization[:6].lower() == "basic ":
            try:
                request[_BASIC] = await self.from_basic(authorization[6:], request.remote or "")
            except Unauthenticated as exc:
                request[_BASIC] = exc
            except Throttled as exc:
                return too_many(exc)
        return await handler(request)

    # -- requests ------------------------------------------------------------------------
    def authenticate(self, request: web.Request) -> Principal:
        """The principal of a request, or Unauthenticated."""
        if self.users is None:
            return ANONYMOUS_ADMIN
        basic = request.get(_BASIC)
        if isinstance(basic, Exception):
            raise basic
        if isinstance(basic, Grant):
            principal = self._principal(basic)
            request[_GRANT] = basic
            return principal
        token = presented_token(request)
        if not token:
            raise Unauthenticated("No credentials provided")
        principal, grant = self.from_token(token)
        request[_GRANT] = grant
        return principal

    def authorize(self, request: web.Request, action: str) -> Principal:
        principal = self.authenticate(request)
        if not principal.may(action):
            raise Forbidden(f"'{principal.name}' has no '{action}' permission")
        return principal

    def require(self, request: web.Request, action: str) -> Principal:
        """``authorize`` as REST answers it: 401 without valid credentials, 405 for a
        role that may not (Skydive's answer)."""
        try:
            return self.authorize(request, action)
        except Unauthenticated as exc:
            raise web.HTTPUnauthorized(text=f"{exc}\n", content_type="text/plain") from None
        except Forbidden as exc:
            raise web.HTTPMethodNotAllowed(
                request.method, [], text=f"{exc}\n", content_type="text/plain"
            ) from None

    def watch(self, ws: web.WebSocketResponse, request: web.Request, action: str) -> None:
        """Close ``ws`` when the credentials ``request`` was authorized with stop allowing
        ``action`` (nothing to watch in mode none)."""
        grant = request.get(_GRANT)
        if isinstance(grant, Grant):
            self.sockets.watch(ws, grant, action)
