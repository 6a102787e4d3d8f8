"""Is the NB DB reachable? A cheap, read-free check for the stale flag.

Backends resume their change streams by themselves after an outage, so the
stream alone cannot tell "nothing changed" from "etcd is down". A TCP connect
to the store's endpoints answers that without reading or writing anything.
"""

from __future__ import annotations

import asyncio
import contextlib

from dragonscope.nb.backends import BackendError, parse_hosts

_DEFAULT_PORTS = {"etcd": 2379, "redis": 6379}


def nb_endpoints(url: str) -> list[tuple[str, int]]:
    """Network endpoints of an NB URL; empty for in-process stores (memory, file)."""
    scheme, sep, rest = url.strip().partition("://")
    if not sep or scheme.lower() not in _DEFAULT_PORTS:
        return []
    netloc = rest.split("?", 1)[0].split("/", 1)[0].rsplit("@", 1)[-1]
    try:
        return parse_hosts(url, netloc, _DEFAULT_PORTS[scheme.lower()])
    except BackendError:
        return []


async def reachable(endpoints: list[tuple[str, int]], timeout: float = 2.0) -> bool:
    """True when any endpoint accepts a TCP connection (or there is none to check)."""
    if not endpoints:
        return True
    for host, port in endpoints:
        try:
            async with asyncio.timeout(timeout):
                _, writer = await asyncio.open_connection(host, port)
        except (OSError, TimeoutError):
            continue
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return True
    return False
