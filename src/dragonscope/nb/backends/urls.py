"""NB URLs, parsed once for readers and writers alike.

- ``etcd://host:port[,host:port...]``: Dragonflow's etcd (endpoints fail over);
  option ``timeout`` (seconds per request, default 10).
- ``redis://[[user]:password@]host:port[/db]``: Dragonflow's redis; option
  ``reconcile`` (seconds between full SCANs, default 30).
- ``file:///path/to/dump.json`` (or a plain path): a ``df-db dump`` JSON file;
  option ``interval`` (seconds between checks for a new version, default 1).
- ``memory://[name]``: an in-process store; which names exist is up to the caller.

Options go in the query string, e.g. ``redis://10.0.0.5:6379/0?reconcile=10``.
A password never appears in a parsed URL's ``url`` nor in an error message.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, unquote

from dragonscope.nb.backends.base import BackendError

URL_FORMS = "etcd://host:port[,host:port], redis://host:port[/db], file:///path/to/dump.json"

ETCD_PORT = 2379
ETCD_TIMEOUT = 10.0
REDIS_PORT = 6379
REDIS_RECONCILE = 30.0
FILE_INTERVAL = 1.0


@dataclass(frozen=True, slots=True)
class EtcdUrl:
    url: str
    endpoints: list[tuple[str, int]]
    timeout: float = ETCD_TIMEOUT


@dataclass(frozen=True, slots=True)
class RedisUrl:
    """``url`` is the shown form: ``redis://[user]:***@host:port/db`` when there is a password."""

    url: str
    host: str
    port: int
    db: int = 0
    username: str | None = None
    password: str | None = None
    reconcile: float = REDIS_RECONCILE


@dataclass(frozen=True, slots=True)
class FileUrl:
    url: str
    path: Path
    interval: float = FILE_INTERVAL


@dataclass(frozen=True, slots=True)
class MemoryUrl:
    """``name`` is what follows ``memory://`` ("" for the plain, empty store)."""

    url: str
    name: str


NbUrl = EtcdUrl | RedisUrl | FileUrl | MemoryUrl


def parse_url(url: str) -> NbUrl:
    """What ``url`` names; raises ``BackendError`` (one clear line) when it is malformed."""
    url = url.strip()
    shown = shown_url(url)
    scheme, sep, rest = url.partition("://")
    if not sep:
        if url.endswith(".json") or Path(url).is_file():
            return FileUrl(url, Path(url))
        raise BackendError(f"{shown!r} is not an NB URL; expected one of {URL_FORMS}")
    scheme = scheme.lower()
    rest, _, query = rest.partition("?")
    options = _options(shown, query)
    if scheme == "etcd":
        timeout = _number(shown, options, "timeout", ETCD_TIMEOUT)
        _no_more(shown, options)
        return EtcdUrl(url, parse_hosts(shown, rest, ETCD_PORT), timeout)
    if scheme == "redis":
        return _redis(shown, rest, options)
    if scheme == "file":
        # file:///abs/path is the standard form; file://rel/path is read as a relative path.
        path = rest[len("localhost") :] if rest.startswith("localhost/") else rest
        if not path:
            raise BackendError(f"{shown!r} names no file; write file:///path/to/dump.json")
        interval = _number(shown, options, "interval", FILE_INTERVAL)
        _no_more(shown, options)
        return FileUrl(url, Path(unquote(path)), interval)
    if scheme == "memory":
        _no_more(shown, options)
        return MemoryUrl(url, rest.strip("/"))
    raise BackendError(f"{shown!r}: unknown scheme {scheme!r}; expected one of {URL_FORMS}")


def shown_url(url: str) -> str:
    """The URL as it may appear in logs and messages: a password becomes ``***``."""
    scheme, sep, rest = url.partition("://")
    netloc, slash, path = rest.partition("/")
    if not sep or "@" not in netloc:
        return url
    auth, _, hosts = netloc.rpartition("@")
    user = auth.partition(":")[0] if ":" in auth else ""
    return f"{scheme}://{user}:***@{hosts}{slash}{path}"


def parse_hosts(url: str, netloc: str, default_port: int) -> list[tuple[str, int]]:
    """``h1:p1,h2,[::1]:p3`` -> [(host, port), ...] with clear errors naming ``url``."""
    netloc = netloc.rstrip("/")
    if not netloc:
        raise BackendError(f"{url!r} names no host; expected host:port")
    hosts = []
    for part in netloc.split(","):
        part = part.strip()
        if part.startswith("["):
            host, bracket, port_text = part[1:].partition("]")
            if not bracket or (port_text and not port_text.startswith(":")):
                raise BackendError(f"{url!r}: bad IPv6 endpoint {part!r}; write [addr]:port")
            port_text = port_text[1:]
            try:
                ipaddress.IPv6Address(host)
            except ValueError:
                raise BackendError(f"{url!r}: {host!r} is not an IPv6 address") from None
        else:
            host, _, port_text = part.partition(":")
        if not host:
            raise BackendError(f"{url!r}: empty host in {netloc!r}")
        if "/" in port_text or "/" in host:
            raise BackendError(f"{url!r}: unexpected path in {part!r}; expected host:port")
        port = default_port
        if port_text:
            if not port_text.isdigit() or not 0 < int(port_text) < 65536:
                raise BackendError(f"{url!r}: bad port {port_text!r} (1-65535)")
            port = int(port_text)
        hosts.append((host, port))
    return hosts


def _redis(shown: str, rest: str, options: dict[str, str]) -> RedisUrl:
    username = password = None
    if "@" in rest:
        auth, rest = rest.rsplit("@", 1)
        user, colon, secret = auth.partition(":")
        username = unquote(user) if colon and user else None
        password = unquote(secret if colon else user) or None
    netloc, _, path = rest.partition("/")
    if "," in netloc:
        raise BackendError(
            f"{shown!r}: redis takes one host:port (use a proxy or sentinel address)"
        )
    ((host, port),) = parse_hosts(shown, netloc, REDIS_PORT)
    db = 0
    if path.strip("/"):
        if not path.strip("/").isdigit():
            raise BackendError(
                f"{shown!r}: the database after / must be a number, not {path.strip('/')!r}"
            )
        db = int(path.strip("/"))
    reconcile = _number(shown, options, "reconcile", REDIS_RECONCILE)
    _no_more(shown, options)
    auth = f"{username or ''}:***@" if password else ""
    return RedisUrl(f"redis://{auth}{netloc}/{db}", host, port, db, username, password, reconcile)


def _options(url: str, query: str) -> dict[str, str]:
    options = {}
    for name, values in parse_qs(query, keep_blank_values=True).items():
        if len(values) > 1:
            raise BackendError(f"{url!r}: option {name!r} given twice")
        options[name] = values[0]
    return options


def _number(url: str, options: dict[str, str], name: str, default: float) -> float:
    if name not in options:
        return default
    text = options.pop(name)
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise BackendError(f"{url!r}: option {name} must be a positive number of seconds")
    return value


def _no_more(url: str, options: dict[str, str]) -> None:
    if options:
        raise BackendError(f"{url!r}: unknown option(s) {', '.join(sorted(options))}")
