"""Which ``Host`` names and which ``Origin`` pages the analyzer answers to.

Two browser attacks are refused here. DNS rebinding: a page on the attacker's
name, re-resolved to the analyzer's address, reaches it with ``Host:`` set to
that name; only IP literals, ``localhost``, the machine's own names and the
names configured (``--allowed-host``) are accepted. Cross-site writes: a page
of another origin (another site, or another port of the same host) makes the
browser send a write with the operator's cookie; a write, or a WebSocket
handshake, whose ``Origin`` is neither the analyzer's own (the origin of the
``Host`` it was reached at) nor configured (``--allowed-origin``) is refused.
Clients that are not browsers send no ``Origin`` and are not concerned.
"""

from __future__ import annotations

import ipaddress
import socket

from yarl import URL

from dragonscope.analyzer.settings import AnalyzerSettings, is_loopback

ANY = "*"


def _origin_key(url: URL) -> tuple[str, str, int | None] | None:
    if not url.scheme or not url.host:
        return None
    return url.scheme.lower(), url.host.lower().rstrip("."), url.port


def parse_origin(text: str) -> tuple[str, str, int | None] | None:
    """``(scheme, host, port)`` of an ``Origin`` value (default port made explicit), or
    None for ``null`` and anything malformed."""
    try:
        return _origin_key(URL(text.strip()))
    except ValueError:
        return None


def _host_name(host_header: str) -> str | None:
    try:
        host = URL(f"http://{host_header.strip()}").host
    except ValueError:
        return None
    return host.lower().rstrip(".") if host else None


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return False
    return True


class RequestPolicy:
    """The names and origins allowed by the settings; see the module's docstring."""

    def __init__(self, settings: AnalyzerSettings) -> None:
        configured = {h.strip().lower().rstrip(".") for h in settings.allowed_hosts}
        self.any_host = ANY in configured
        names = {"localhost"} | configured
        if not is_loopback(settings.host):
            names |= {socket.gethostname().lower(), socket.getfqdn().lower()}
            if not _is_ip(settings.host):
                names.add(settings.host.lower())
        self.names = frozenset(names)
        origins = {parse_origin(o) for o in settings.allowed_origins}
        self.origins = frozenset(o for o in origins if o is not None)

    def host_allowed(self, host_header: str | None) -> bool:
        if host_header is None or self.any_host:
            return True
        name = _host_name(host_header)
        return name is not None and (_is_ip(name) or name in self.names)

    def origin_allowed(self, origin: str, host_header: str | None) -> bool:
        """An ``Origin`` is the analyzer's own when it names the host and port the request
        was sent to (a proxy that rewrites ``Host`` needs its origin configured)."""
        key = parse_origin(origin)
        if key is None:
            return False
        if key in self.origins:
            return True
        if host_header is None:
            return False
        try:
            own = URL(f"{key[0]}://{host_header.strip()}")
        except ValueError:
            return False
        return _origin_key(own) == key
