"""HTTP side of a Skydive analyzer: endpoint URLs, ``/login``, the graph and Gremlin.

One :class:`AnalyzerHttp` holds the aiohttp session and the auth token for one
analyzer, so the WebSocket publisher, the command line and REST queries share a
login. Only what a real Skydive analyzer offers is used: ``POST /login`` (form),
the ``authtoken`` cookie, ``GET /api/topology`` (the whole graph) and
``POST /api/topology`` (Gremlin).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import aiohttp

from dragonscope.config import ConfigError, Secret, read_secret_file
from dragonscope.graph import Json

if TYPE_CHECKING:
    import ssl  # loaded when a context is made: a process without TLS can go without OpenSSL

log = logging.getLogger(__name__)


class AnalyzerError(Exception):
    """The analyzer refused or failed a request; ``status`` is the HTTP status (0 if none)."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class AuthenticationError(AnalyzerError):
    """Credentials are missing or wrong (HTTP 401)."""


class EndpointError(ValueError):
    """The analyzer's address or TLS setting cannot be used; the text says why.

    Callers that read these from operator settings report it as their own
    configuration error."""


def analyzer_base_url(endpoint: str, tls: bool = False) -> str:
    """Normalise ``HOST:PORT`` (Dragonflow's ``analyzer_endpoint`` form) or a URL to
    ``http(s)://host:port``. A ``ws``/``wss`` URL is accepted too."""
    text = endpoint.strip()
    if "://" not in text:
        text = ("https://" if tls else "http://") + text
    parts = urlsplit(text)
    scheme = {"http": "http", "ws": "http", "https": "https", "wss": "https"}.get(parts.scheme)
    if scheme is None:
        raise EndpointError(f"analyzer endpoint {endpoint!r}: scheme must be http(s) or ws(s)")
    if tls:
        scheme = "https"
    try:
        port = parts.port
    except ValueError:
        raise EndpointError(f"analyzer endpoint {endpoint!r}: invalid port") from None
    if not parts.hostname:
        raise EndpointError(f"analyzer endpoint {endpoint!r} has no host")
    if parts.username or parts.password:
        raise EndpointError("analyzer endpoint must not contain credentials; give them separately")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    port = port or (443 if scheme == "https" else 8082)
    return f"{scheme}://{host}:{port}"


def make_ssl_context(ca_file: str | None, insecure: bool = False) -> ssl.SSLContext:
    import ssl

    try:
        context = ssl.create_default_context(cafile=ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise EndpointError(f"cannot load CA file {ca_file}: {exc}") from None
    if insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def connection_reason(exc: BaseException) -> str:
    """Why a connection failed, without the HTTP library's internals (``ssl:default``,
    the connector's repr): ``Connection refused``, ``Name or service not known``..."""
    if isinstance(exc, aiohttp.ClientConnectorError):
        os_error = exc.os_error
        if isinstance(os_error, ConnectionRefusedError):
            return "connection refused"
        return os_error.strerror or str(os_error) or type(os_error).__name__
    if isinstance(exc, TimeoutError):
        return "timed out"
    return str(exc) or type(exc).__name__


@dataclass(slots=True)
class Credentials:
    """A user and its password. With ``password_file`` the file is read again at every
    login, so a rotated password is used without a restart; the log says which file
    was read and when it changed."""

    user: str
    password: Secret
    password_file: Path | None = None

    def current_password(self) -> Secret:
        if self.password_file is None:
            return self.password
        try:
            fresh = read_secret_file(self.password_file)
            changed = datetime.fromtimestamp(self.password_file.stat().st_mtime)
        except (ConfigError, OSError) as exc:
            log.warning("%s; logging in with the password read before", exc)
            return self.password
        if fresh.reveal() != self.password.reveal():
            log.info(
                "password file %s changed (modified %s): logging in with the new password",
                self.password_file,
                changed.isoformat(sep=" ", timespec="seconds"),
            )
            self.password = fresh
        return self.password

    def source(self) -> str:
        """Where the password came from, for messages."""
        return f" (password from {self.password_file})" if self.password_file else ""


class AnalyzerHttp:
    """An HTTP session to one analyzer with its login state.

    ``token`` is None before login, ``""`` when the analyzer runs without auth
    (Skydive's ``noauth`` answers /login with an empty token).
    """

    def __init__(
        self,
        base_url: str,
        credentials: Credentials | None = None,
        ssl_context: ssl.SSLContext | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.credentials = credentials
        self.ssl_context = ssl_context
        self.token: str | None = None
        self.logins = 0
        self._timeout = aiohttp.ClientTimeout(total=timeout, sock_connect=min(timeout, 5.0))
        self._session: aiohttp.ClientSession | None = None

    @property
    def ssl_option(self) -> ssl.SSLContext | bool:
        """What aiohttp's ``ssl=`` wants: our context, or default verification."""
        return self.ssl_context if self.ssl_context is not None else True

    @property
    def ws_base(self) -> str:
        return "ws" + self.base_url.removeprefix("http")

    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            # The token travels in an explicit header: aiohttp's default cookie
            # jar refuses cookies from IP-address hosts, which analyzers often are.
            self._session = aiohttp.ClientSession(
                timeout=self._timeout, cookie_jar=aiohttp.DummyCookieJar()
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> AnalyzerHttp:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def auth_headers(self) -> dict[str, str]:
        return {"Cookie": f"authtoken={self.token}"} if self.token else {}

    def forget_token(self) -> None:
        self.token = None

    async def login(self) -> None:
        """POST /login; keeps the token. No credentials → nothing to do."""
        if self.credentials is None:
            self.token = ""
            return
        password = self.credentials.current_password()
        form = {"username": self.credentials.user, "password": password.reveal()}
        url = f"{self.base_url}/login"
        try:
            async with self.session().post(
                url, data=form, ssl=self.ssl_option, allow_redirects=False
            ) as resp:
                body = await resp.text()
                if resp.status in (401, 429):  # wrong credentials, or too many of them
                    raise AuthenticationError(
                        f"login as {self.credentials.user!r}{self.credentials.source()} "
                        f"refused (HTTP {resp.status}): {body.strip()}",
                        resp.status,
                    )
                if resp.status != 200:
                    raise AnalyzerError(f"login failed with HTTP {resp.status}", resp.status)
                token = ""
                cookie = resp.cookies.get("authtoken")
                if cookie is not None:
                    token = cookie.value
                else:
                    try:
                        token = str((await resp.json(content_type=None)).get("Token") or "")
                    except (ValueError, AttributeError):
                        token = ""
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise AnalyzerError(f"cannot reach {self.base_url}: {connection_reason(exc)}") from None
        self.token = token
        self.logins += 1
        log.info("logged in to analyzer %s as %s", self.base_url, self.credentials.user)

    async def ensure_login(self) -> None:
        if self.token is None:
            await self.login()

    async def gremlin(self, query: str) -> Json:
        """Run a Gremlin query through ``POST /api/topology``: its JSON result."""
        body: Json = {"GremlinQuery": query}
        return await self._json("POST", "/api/topology", body, f"query {query!r}")

    async def topology(self) -> dict[str, Any]:
        """The whole graph through ``GET /api/topology``: ``{"Nodes": [...], "Edges": [...]}``."""
        graph = await self._json("GET", "/api/topology", None, "reading the graph")
        if not isinstance(graph, dict):
            raise AnalyzerError(f"{self.base_url} sent a graph that is not a JSON object")
        return graph

    async def tenants(self) -> dict[str, str]:
        """dragonscope's ``GET /api/tenants``: project id -> name (empty from a Skydive
        analyzer, which has no such endpoint)."""
        try:
            answer = await self._json("GET", "/api/tenants", None, "reading project names")
        except AnalyzerError as exc:
            if exc.status == 404:
                return {}
            raise
        names = answer.get("Tenants") if isinstance(answer, dict) else None
        if not isinstance(names, dict):
            return {}
        return {str(k): v for k, v in names.items() if isinstance(v, str)}

    async def real_trace(self, request: Json) -> Json:
        """dragonscope's ``POST /api/trace/real``: a trace body in, the side by side out."""
        return await self._json("POST", "/api/trace/real", request, "the real trace")

    async def _json(self, method: str, path: str, body: Json, what: str) -> Json:
        """One JSON request; logs in again once when the token was refused (HTTP 401)."""
        for attempt in (1, 2):
            await self.ensure_login()
            try:
                async with self.session().request(
                    method,
                    f"{self.base_url}{path}",
                    json=body,
                    headers={"Accept": "application/json", **self.auth_headers()},
                    ssl=self.ssl_option,
                ) as resp:
                    if resp.status == 401 and attempt == 1 and self.credentials is not None:
                        self.forget_token()
                        continue
                    if resp.status == 401:
                        raise AuthenticationError(
                            "analyzer requires authentication (HTTP 401)", 401
                        )
                    if resp.status != 200:
                        text = (await resp.text()).strip()
                        raise AnalyzerError(
                            f"{what} failed with HTTP {resp.status}: {text}", resp.status
                        )
                    try:
                        answer: Json = await resp.json(content_type=None)
                    except ValueError as exc:
                        raise AnalyzerError(f"{what}: the answer is not JSON: {exc}") from None
                    return answer
            except (TimeoutError, aiohttp.ClientError) as exc:
                raise AnalyzerError(
                    f"cannot reach {self.base_url}: {connection_reason(exc)}"
                ) from None
        raise AssertionError("unreachable")
