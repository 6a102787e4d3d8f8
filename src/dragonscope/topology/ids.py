"""Graph IDs: deterministic, collision-free, safe in URLs.

Dragonflow ids are unique per table only (a router port and its lport share
one), so a graph ID is a UUIDv5, over one fixed namespace, of a string that
names the table too. The same NB state therefore yields the same IDs after a
restart and on every collector, which lets several collectors publish the same
object under the same ID.
"""

from __future__ import annotations

import hashlib
import uuid
from functools import lru_cache

NAMESPACE = uuid.UUID("5b0f3c8e-4f7a-4d35-9a3e-6d2f0c1b7e94")
"""Never change it: every published graph ID depends on it."""
_NAMESPACE_BYTES = NAMESPACE.bytes


_VARIANT = {digit: "89ab"[int(digit, 16) & 3] for digit in "0123456789abcdef"}
"""The RFC 4122 variant's hex digit (``10xx``) for each digit the hash put there."""


def _uuid(text: str) -> str:
    """``str(uuid.uuid5(NAMESPACE, text))``, several times faster (it runs per element): the
    version and variant digits are set in the hex text rather than in the bytes."""
    h = hashlib.sha1(_NAMESPACE_BYTES + text.encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-5{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:32]}"


@lru_cache(maxsize=1 << 14)
def node_id(table: str, object_id: str) -> str:
    """The node of NB object ``table/object_id`` (also its ``missing`` placeholder's ID).

    Renderers ask again and again for the few objects many point at (networks, subnets,
    security groups, chassis): a small cache keeps nearly every hit. One entry per NB
    object would hold some 20 MiB in a 100k-object NB for no measurable CPU."""
    return _uuid(f"{table}/{object_id}")


def router_port_id(router_id: str, port_id: str) -> str:
    """A router's embedded port: keyed by router too, as two routers may embed the same id."""
    return _uuid(f"lrouter_port/{router_id}/{port_id}")


def tenant_id(topic: str) -> str:
    return _uuid(f"tenant/{topic}")


def extension_node_id(extension: str, key: str) -> str:
    return _uuid(f"extension/{extension}/{key}")


def edge_id(parent: str, relation: str, child: str) -> str:
    """An edge is identified by its ends and its relation (``relation`` may carry a role)."""
    return _uuid(f"{parent}|{relation}|{child}")


def chassis_node_id(chassis: str, kind: str, key: str) -> str:
    """An element seen on one chassis only (its OVS bridges, ports, interfaces)."""
    return _uuid(f"chassis/{chassis}/{kind}/{key}")
