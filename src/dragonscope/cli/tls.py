"""Whether a collector will speak TLS, decided before anything imports ``ssl``.

Loading OpenSSL costs a process about 4 MiB resident (asyncio and aiohttp import it at
once). A per-chassis collector runs on every compute node within a memory budget, and
usually reaches its analyzer and etcd over plain HTTP; when its NB is etcd and nothing
it is told to reach asks for TLS, ``ssl`` is made unimportable and those libraries run
without it. Any doubt (an unreadable ``--config``, a flag that might be a TLS one) keeps
it.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence

from dragonscope import config

# The collector's TLS options; argparse accepts any unambiguous prefix of them.
_TLS_FLAGS = ("--tls", "--tls-insecure", "--ca")
_TLS_ENV = ("TLS", "CA")
# Addresses that speak TLS: the analyzer's https and wss.
_TLS_MARKS = ("https:", "wss:")


def spare_openssl(words: Sequence[str], environ: Mapping[str, str]) -> None:
    """Make ``ssl`` unimportable for a collector started with ``words`` that uses no TLS.
    Nothing changes once ``ssl`` is loaded."""
    if "ssl" not in sys.modules and not _needs_openssl(words, environ):
        sys.modules["ssl"] = None  # type: ignore[assignment]


def _needs_openssl(words: Sequence[str], environ: Mapping[str, str]) -> bool:
    """Unless the NB is etcd (over plain HTTP: the only way we speak to it) and nothing
    asks for TLS; the Redis client, for one, cannot be imported without ``ssl``."""
    ini = config.env_value("CONFIG", environ)
    nb = None
    for index, word in enumerate(words):
        flag, eq, value = word.partition("=")
        if len(flag) > 3 and any(name.startswith(flag) for name in _TLS_FLAGS):
            return True
        if _tls_address(word):
            return True
        following = value if eq else (words[index + 1] if index + 1 < len(words) else None)
        if len(flag) > 3 and "--config".startswith(flag):
            ini = following
        elif flag == "--nb":
            nb = following
    prefix = config.ENV_PREFIX
    for name, value in environ.items():
        if (
            name.startswith(prefix)
            and value
            and (name[len(prefix) :] in _TLS_ENV or _tls_address(value))
        ):
            return True
    nb = nb or config.env_value("NB", environ)
    if ini is not None:
        try:
            settings = config.read_dragonflow_ini(ini)
        except config.ConfigError:  # the collector's own parsing reports it
            return True
        if _tls_address(settings.analyzer):
            return True
        nb = nb or settings.nb_url
    return not (nb or "").lower().startswith("etcd://")


def _tls_address(text: str) -> bool:
    lowered = text.lower()
    return any(mark in lowered for mark in _TLS_MARKS)
