"""Who is asking, and may they: tokens, basic auth and the three roles.

Mode none (no users file): everyone is ``admin``, as with Skydive's noauth.
Mode users-file: ``/login`` trades a password for a random token that expires;
the token travels as the ``authtoken`` cookie (like Skydive), an
``X-Auth-Token`` header or query parameter; ``Authorization: Basic`` works too.
Tokens are kept only as SHA-256 digests, and neither they nor passwords are logged.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from dragonscope.analyzer.users import User, verify_password

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
# An expired token is remembered this long after its expiry, so that every later use of it
# (a header, a cookie, the UI's next request) is told "Token expired", not "Invalid token".
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


class Authenticator:
    def __init__(
        self,
        users: dict[str, User] | None,
        token_ttl: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.users = users
        self.token_ttl = token_ttl
        self._clock = clock
        self._tokens: dict[str, tuple[Principal, float]] = {}
        self._basic: dict[str, tuple[Principal, float]] = {}

    @property
    def enabled(self) -> bool:
        return self.users is not None

    def check_password(self, username: str, password: str) -> Principal:
        if self.users is None:
            return ANONYMOUS_ADMIN
        user = self.users.get(username)
        if user is None or not verify_password(user, password):
            raise Unauthenticated("Wrong credentials")
        return Principal(user.name, user.role)

    def login(self, username: str, password: str) -> tuple[str, Principal]:
        """Returns a new token ("" in mode none, as Skydive's noauth) and the principal."""
        principal = self.check_password(username, password)
        if self.users is None:
            return "", principal
        self._purge()
        token = secrets.token_urlsafe(32)
        self._tokens[_digest(token)] = (principal, self._clock() + self.token_ttl)
        return token, principal

    def forget_basic(self) -> None:
        """Drop cached basic-auth checks (the users file changed)."""
        self._basic.clear()

    def logout(self, token: str) -> None:
        self._tokens.pop(_digest(token), None)

    def _purge(self) -> None:
        now = self._clock()
        for table, kept in ((self._tokens, _EXPIRED_KEPT_S), (self._basic, 0.0)):
            for key in [k for k, (_, expiry) in table.items() if expiry + kept <= now]:
                del table[key]

    def from_token(self, token: str) -> Principal:
        entry = self._tokens.get(_digest(token))
        if entry is None:
            raise Unauthenticated("Invalid token")
        principal, expiry = entry
        if expiry <= self._clock():
            raise Unauthenticated("Token expired")
        if self.users is not None:
            user = self.users.get(principal.name)
            if user is None:  # removed from the users file since the login
                raise Unauthenticated("Invalid token")
            if user.role != principal.role:  # role changed: the new one applies at once
                principal = Principal(user.name, user.role)
        return principal

    def from_basic(self, header_value: str) -> Principal:
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
        principal = self.check_password(username, password)
        self._purge()
        self._basic[key] = (principal, self._clock() + _BASIC_CACHE_S)
        return principal

    def authenticate(self, request: web.Request) -> Principal:
        """The principal of a request, or Unauthenticated."""
        if self.users is None:
            return ANONYMOUS_ADMIN
        authorization = request.headers.get("Authorization", "")
        if authorization[:6].lower() == "basic ":
            return self.from_basic(authorization[6:])
        token = (
            request.cookies.get(COOKIE)
            or request.headers.get("X-Auth-Token")
            or request.query.get("x-auth-token")
        )
        if authorization[:7].lower() == "bearer ":
            token = authorization[7:].strip()
        if not token:
            raise Unauthenticated("No credentials provided")
        return self.from_token(token)

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
