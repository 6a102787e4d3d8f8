"""The one place that maps an NB URL to a read-only backend.

Backends with heavy client libraries (gRPC, redis) are imported only when a URL
names them, so that reading a dump file does not pay for them.
"""

from __future__ import annotations

from dragonscope.nb.backends.base import Backend, BackendError
from dragonscope.nb.backends.memory import MemoryBackend
from dragonscope.nb.backends.urls import EtcdUrl, FileUrl, MemoryUrl, RedisUrl, parse_url


def open_backend(url: str) -> Backend:
    """The backend for ``url``; raises ``BackendError`` (one clear line) for a bad URL.

    Nothing is contacted here: the first ``snapshot()`` or ``changes()`` connects.
    ``memory://`` is an empty in-process store; named memory stores (such as the
    demo's ``memory://sample``) are resolved by whoever provides them.
    """
    target = parse_url(url)
    if isinstance(target, EtcdUrl):
        from dragonscope.nb.backends.etcd import EtcdBackend

        return EtcdBackend(target.url, target.endpoints, timeout=target.timeout)
    if isinstance(target, RedisUrl):
        from dragonscope.nb.backends.redis import RedisBackend

        return RedisBackend(
            target.url,
            target.host,
            target.port,
            db=target.db,
            username=target.username,
            password=target.password,
            reconcile=target.reconcile,
        )
    if isinstance(target, FileUrl):
        from dragonscope.nb.backends.dumpfile import DumpFileBackend

        return DumpFileBackend(target.url, target.path, interval=target.interval)
    return _memory(target)


def _memory(target: MemoryUrl) -> MemoryBackend:
    if target.name:
        raise BackendError(
            f"{target.url!r}: unknown memory store {target.name!r}; use memory:// here "
            "(memory://sample is the demo's cloud, opened by the command line)"
        )
    return MemoryBackend(target.url)
