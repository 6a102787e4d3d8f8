"""Read-only NB DB backends. Each speaks one store; none ever writes to it.

``open_backend(url)`` is the one place that maps a URL to a backend:

- ``etcd://host:port[,host:port...]``: Dragonflow's etcd (endpoints fail over);
  option ``timeout`` (seconds per request, default 10).
- ``redis://[[user]:password@]host:port[/db]``: Dragonflow's redis; option
  ``reconcile`` (seconds between full SCANs, default 30).
- ``file:///path/to/dump.json`` (or a plain path): a ``df-db dump`` JSON file;
  option ``interval`` (seconds between checks for a new version, default 1).
- ``memory://`` (empty) and ``memory://sample`` (the demo's small cloud).

Options go in the query string, e.g. ``redis://10.0.0.5:6379/0?reconcile=10``.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from urllib.parse import parse_qs, unquote

from dragonscope.nb.backends.base import Backend, BackendError, RawChange, RawEntry
from dragonscope.nb.backends.memory import MemoryBackend

__all__ = [
    "Backend",
    "BackendError",
    "MemoryBackend",
    "RawChange",
    "RawEntry",
    "open_backend",
    "parse_hosts",
]

URL_FORMS = (
    "etcd://host:port[,host:port], redis://host:port[/db], file:///path/to/dump.json, "
    "memory:// or memory://sample"
)


def open_backend(url: str) -> Backend:
    """The backend for ``url``; raises ``BackendError`` (one clear line) for a bad URL.

    Nothing is contacted here: the first ``snapshot()`` or ``changes()`` connects.
    """
    url = url.strip()
    scheme, sep, rest = url.partition("://")
    if not sep:
        if url.endswith(".json") or Path(url).is_file():
            return _file(url, Path(url), {})
        raise BackendError(f"{url!r} is not an NB URL; expected one of {URL_FORMS}")
    scheme = scheme.lower()
    rest, _, query = rest.partition("?")
    options = _options(url, query)
    if scheme == "etcd":
        from dragonscope.nb.backends.etcd import EtcdBackend

        timeout = _number(url, options, "timeout", 10.0)
        _no_more(url, options)
        return EtcdBackend(url, parse_hosts(url, rest, 2379), timeout=timeout)
    if scheme == "redis":
        return _redis(url, rest, options)
    if scheme == "file":
        # file:///abs/path is the standard form; file://rel/path is read as a relative path.
        path = rest[len("localhost") :] if rest.startswith("localhost/") else rest
        if not path:
            raise BackendError(f"{url!r} names no file; write file:///path/to/dump.json")
        return _file(url, Path(unquote(path)), options)
    if scheme == "memory":
        _no_more(url, options)
        if rest in ("", "/"):
            return MemoryBackend(url)
        if rest.rstrip("/") == "sample":
            from dragonscope.nb.backends.memory import sample_backend

            return sample_backend(url)
        raise BackendError(
            f"{url!r}: unknown memory store {rest!r}; use memory:// or memory://sample"
        )
    raise BackendError(f"{url!r}: unknown scheme {scheme!r}; expected one of {URL_FORMS}")


def parse_hosts(url: str, netloc: str, default_port: int) -> list[tuple[str, int]]:
    """``h1:p1,h2,[::1]:p3`` -> [(host, port), ...] with clear errors."""
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


def _redis(url: str, rest: str, options: dict[str, str]) -> Backend:
    from dragonscope.nb.backends.redis import RedisBackend

    username = password = None
    if "@" in rest:
        auth, rest = rest.rsplit("@", 1)
        user, colon, secret = auth.partition(":")
        username = unquote(user) if colon and user else None
        password = unquote(secret if colon else user) or None
    netloc, _, path = rest.partition("/")
    if "," in netloc:
        raise BackendError(f"{url!r}: redis takes one host:port (use a proxy or sentinel address)")
    ((host, port),) = parse_hosts(url, netloc, 6379)
    db = 0
    if path.strip("/"):
        if not path.strip("/").isdigit():
            raise BackendError(f"{url!r}: the database after / must be a number, not {path!r}")
        db = int(path.strip("/"))
    reconcile = _number(url, options, "reconcile", 30.0)
    _no_more(url, options)
    auth = f"{username or ''}:***@" if password else ""
    shown = f"redis://{auth}{netloc}/{db}"
    return RedisBackend(
        shown, host, port, db=db, username=username, password=password, reconcile=reconcile
    )


def _file(url: str, path: Path, options: dict[str, str]) -> Backend:
    from dragonscope.nb.backends.dumpfile import DEFAULT_INTERVAL, DumpFileBackend

    interval = _number(url, options, "interval", DEFAULT_INTERVAL)
    _no_more(url, options)
    return DumpFileBackend(url, path, interval=interval)


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

