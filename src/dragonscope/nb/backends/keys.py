"""Where Dragonflow's drivers store an object: the key layouts of etcd and redis, spelled once.

Readers split keys with these functions and the demo's writers build keys with
them, so a store written by one is read back by the other by construction.

- etcd: ``/<table>/<id>`` -> JSON text; counters at ``/unique_key/<table>`` and
  pub/sub events at ``/pubsub/<topic>`` share the keyspace and are not objects.
- redis: ``{<table>.<topic>}<id>`` -> JSON text (the braces are a cluster hash
  tag; the topic is the tenant, empty for chassis, service, migration...);
  counters at ``{unique_key.}<table>``.
"""

from __future__ import annotations

import sys

from dragonscope.nb.tables import NON_OBJECT_TABLES, UNIQUE_KEY

ETCD_PREFIX = b"/"
ETCD_PREFIX_END = b"0"  # the first key after every key starting with "/"
REDIS_SCAN_PATTERN = "{*}*"


def etcd_key(table: str, id_: str) -> bytes:
    return f"/{table}/{id_}".encode()


def etcd_counter_key(table: str) -> bytes:
    """Where Dragonflow keeps the last ``unique_key`` allocated for ``table``."""
    return etcd_key(UNIQUE_KEY, table)


def etcd_table_range(table: str) -> tuple[bytes, bytes]:
    """The key range holding exactly one table's objects: ``/<table>/`` up to ``/<table>0``."""
    return f"/{table}/".encode(), f"/{table}0".encode()


def split_etcd_key(key: bytes) -> tuple[str, str] | None:
    """``/lport/<id>`` -> ("lport", id); None for keys that are not NB objects."""
    if not key.startswith(ETCD_PREFIX):
        return None
    table, slash, id_ = key[1:].decode("utf-8", "replace").partition("/")
    if not slash or not table or not id_ or table in NON_OBJECT_TABLES:
        return None
    # A few table names for 100k keys: one string each, not one per key.
    return sys.intern(table), id_


def redis_key(table: str, topic: str, id_: str) -> str:
    return "{" + f"{table}.{topic}" + "}" + id_


def redis_counter_key(table: str) -> str:
    """Where Dragonflow keeps the last ``unique_key`` allocated for ``table``."""
    return redis_key(UNIQUE_KEY, "", table)


def redis_pattern(table: str, id_: str | None = None) -> str:
    """A SCAN pattern for ``table``'s keys under any topic (one object's, given its id)."""
    return redis_key(table, "*", "*" if id_ is None else _glob_escaped(id_))


def _glob_escaped(text: str) -> str:
    return "".join("\\" + char if char in "*?[]\\" else char for char in text)


def split_redis_key(key: bytes) -> tuple[str, str, str] | None:
    """``{lport.<topic>}<id>`` -> ("lport", topic, id); None for other keys."""
    text = key.decode("utf-8", "replace")
    if not text.startswith("{"):
        return None
    tag, brace, id_ = text[1:].partition("}")
    table, dot, topic = tag.partition(".")
    if not brace or not dot or not table or not id_ or table in NON_OBJECT_TABLES:
        return None
    return table, topic, id_
