"""Read-only NB backends, one per store, and the URLs and key layouts they share.

Each backend speaks one store and never writes to it; ``open_backend(url)``
picks one from a URL (``urls.py`` says which URLs there are). The key layouts
(``keys.py``) and URL parsing are exported for the demo's writers too, so that
what they write is exactly what these backends read. This sub-package imports
nothing of dragonscope outside ``nb``.
"""

from dragonscope.nb.backends.base import Backend, BackendError, RawChange, RawEntry, Resyncs
from dragonscope.nb.backends.keys import (
    ETCD_PREFIX,
    ETCD_PREFIX_END,
    REDIS_SCAN_PATTERN,
    etcd_counter_key,
    etcd_key,
    redis_counter_key,
    redis_key,
    redis_pattern,
    split_etcd_key,
    split_redis_key,
)
from dragonscope.nb.backends.memory import MemoryBackend
from dragonscope.nb.backends.opener import open_backend
from dragonscope.nb.backends.urls import (
    URL_FORMS,
    EtcdUrl,
    FileUrl,
    MemoryUrl,
    NbUrl,
    RedisUrl,
    parse_hosts,
    parse_url,
    shown_url,
)

__all__ = [
    "ETCD_PREFIX",
    "ETCD_PREFIX_END",
    "REDIS_SCAN_PATTERN",
    "URL_FORMS",
    "Backend",
    "BackendError",
    "EtcdUrl",
    "FileUrl",
    "MemoryBackend",
    "MemoryUrl",
    "NbUrl",
    "RawChange",
    "RawEntry",
    "RedisUrl",
    "Resyncs",
    "etcd_counter_key",
    "etcd_key",
    "open_backend",
    "parse_hosts",
    "parse_url",
    "redis_counter_key",
    "redis_key",
    "redis_pattern",
    "shown_url",
    "split_etcd_key",
    "split_redis_key",
]
