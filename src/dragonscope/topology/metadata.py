"""Node metadata shared by every table, in Skydive's conventions.

``Name``/``Type`` are what Skydive's validation and UI need; ``Dragonflow`` keeps
every stored field except secrets so that consumers (the packet simulator
among them) can rebuild the NB object from the node alone.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from typing import Any

from dragonscope.nb import NbObject, is_canonical_ipv4, redact

MANAGER = "dragonflow"
DRAGONFLOW = "Dragonflow"
# Node types that are not NB tables.
ROUTER_PORT = "lrouter_port"
"""A router's port: embedded in its router (also its ``Dragonflow.Table``)."""
TENANT = "tenant"
"""A project, drawn for the topics in use."""
MISSING = "missing"
"""A referenced object that does not exist."""


def display_name(value: object, fallback: str) -> str:
    """Skydive refuses nodes without a non-empty ``Name``: fall back to the id, then a mark."""
    if isinstance(value, str) and value:
        return value
    return fallback or "(empty id)"


def stored_fields(obj: NbObject) -> dict[str, Any]:
    """The object's fields as stored, secrets removed by schema, after ``Table`` and ``ID``
    (first: the node's text can then share the fields' own, see ``packed.Split``)."""
    shown = redact(obj)
    fields = {"Table": obj.table, "ID": obj.id, **shown}
    if "Table" in shown or "ID" in shown:  # the node's own say wins over a field so named
        fields["Table"], fields["ID"] = obj.table, obj.id
    return fields


def base(obj: NbObject) -> dict[str, Any]:
    """Metadata every NB object node carries (a name shaped like a secret is not shown)."""
    fields = stored_fields(obj)
    metadata: dict[str, Any] = {
        "Name": display_name(fields.get("name"), obj.id),
        "Type": obj.table,
        "Manager": MANAGER,
        DRAGONFLOW: fields,
    }
    topic = fields.get("topic")
    if isinstance(topic, str) and topic:
        metadata["Tenant"] = topic
    if obj.problems:
        metadata["Problems"] = [str(problem) for problem in obj.problems]
    return metadata


def host_prefix(address: object, prefixlen: int | None = None) -> tuple[int, str] | None:
    """``(version, "ip/prefix")`` for an address, with the given or the host prefix length."""
    if not isinstance(address, str):
        return None
    if is_canonical_ipv4(address):  # most NB addresses: no parsing, ten times faster
        return 4, f"{address}/{32 if prefixlen is None else prefixlen}"
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    if prefixlen is None:
        prefixlen = ip.max_prefixlen
    return ip.version, f"{ip}/{prefixlen}"


@lru_cache(maxsize=1 << 14)
def _prefixlen(cidr: str) -> int | None:
    try:
        return ipaddress.ip_network(cidr, strict=False).prefixlen
    except ValueError:
        return None


def prefixlen_of(cidr: object) -> int | None:
    return _prefixlen(cidr) if isinstance(cidr, str) else None


def interface_address(network: object) -> tuple[int, str] | None:
    """A router port's ``network`` (``"10.10.1.1/24"``, host bits kept) as ``(version, text)``."""
    if not isinstance(network, str):
        return None
    try:
        iface = ipaddress.ip_interface(network)
    except ValueError:
        return None
    return iface.version, str(iface)


def put_addresses(metadata: dict[str, Any], addresses: list[tuple[int, str]]) -> None:
    """Set ``IPV4``/``IPV6`` lists (only the non-empty ones), as Skydive interfaces do."""
    v4 = [text for version, text in addresses if version == 4]
    v6 = [text for version, text in addresses if version == 6]
    if v4:
        metadata["IPV4"] = v4
    if v6:
        metadata["IPV6"] = v6


def first_string(value: object) -> str | None:
    if isinstance(value, list) and value and isinstance(value[0], str):
        return value[0]
    return None


def strings(value: object) -> list[str]:
    """The string items of a list field (ill-typed items are the parser's business)."""
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, str) and item]
