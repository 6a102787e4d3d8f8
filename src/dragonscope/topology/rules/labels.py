"""Human names for the objects Neutron leaves unnamed, built from what the NB knows.

A node's ``Name`` is what every client shows (ours and Skydive's UIs alike), so an
object without a name of its own is named after its owner, network and address
(``router-1 → web-net (10.0.1.1)``, ``router-1 gateway``, ``172.24.0.6``) rather
than its id; the id stays in ``Dragonflow.ID``. Every object read here is read
through the context, so a rename of the router or network renames the label too.
"""

from __future__ import annotations

import re
from typing import Any

from dragonscope.nb import NbObject, redacted_field, tables
from dragonscope.topology import metadata as md
from dragonscope.topology.contribution import RenderContext
from dragonscope.topology.rules.kit import FLOATINGIP_OWNER, GATEWAY_OWNER, text

DHCP_OWNER = "network:dhcp"
_BARE_ID = re.compile(r"[0-9a-fA-F]{32}|[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}")
INTERFACE_OWNER = "network:router_interface"


def _name(obj: NbObject | None) -> str | None:
    """The object's name from its redacted fields: a name shaped like a secret is not shown."""
    return text(redacted_field(obj, "name")) if obj is not None else None


def _short(object_id: str) -> str:
    """An id cut to what tells ids apart on screen (``3f2a9c1e…``)."""
    return object_id if len(object_id) <= 12 else f"{object_id[:8]}…"


def missing_label(table: str, object_id: str) -> str:
    """``missing lswitch 3f2a9c1e…``: what a dangling reference points at."""
    return f"missing {table} {_short(object_id)}"


def tenant_label(topic: str) -> str:
    """A project as the NB knows it: its topic when that reads as a name (``acme``), else
    ``tenant 3f2a9c1e…``. Project names live in Keystone, not in the NB: the analyzer maps
    them (``--tenant-names``) for its own UI; the full id stays in ``Tenant``."""
    return f"tenant {_short(topic)}" if _BARE_ID.fullmatch(topic) else md.display_name(topic, "")


def _address(value: object) -> str | None:
    """The host part of ``10.0.1.1/24`` or ``10.0.1.1``."""
    return value.split("/", 1)[0] if isinstance(value, str) and value else None


def interface_label(router: str | None, network: str | None, address: str | None) -> str:
    """``router-1 → web-net (10.0.1.1)``: a router's leg on a network."""
    label = f"{router or 'router'} → {network or 'network'}"
    return f"{label} ({address})" if address else label


def router_port_label(ctx: RenderContext, router: NbObject, port: dict[str, Any]) -> str:
    network = ctx.get(tables.LSWITCH, port.get("lswitch"))
    return interface_label(
        _name(router) or _short(router.id),
        _name(network) or _short(text(port.get("lswitch")) or "?"),
        _address(port.get("network")),
    )


def lport_label(ctx: RenderContext, port: NbObject) -> str:
    """A port's own name, else one from its owner: the router it is a leg or gateway of,
    the floating IP it carries, the network it serves DHCP on; else its first address."""
    data = port.data
    own = _name(port)
    if own:
        return own
    owner = text(data.get("device_owner")) or ""
    device = text(data.get("device_id"))
    ips = md.strings(data.get("ips"))
    address = ips[0] if ips else None
    network = ctx.get(tables.LSWITCH, data.get("lswitch"))
    network_name = _name(network) or _short(text(data.get("lswitch")) or "?")
    if owner in (INTERFACE_OWNER, GATEWAY_OWNER):
        router = ctx.get(tables.LROUTER, device)
        router_name = _name(router) or (_short(device) if device else "router")
        if owner == GATEWAY_OWNER:
            return f"{router_name} gateway" + (f" ({address})" if address else "")
        return interface_label(router_name, network_name, address)
    if owner == FLOATINGIP_OWNER:
        return f"floating {address}" if address else f"floating port {_short(port.id)}"
    if owner == DHCP_OWNER:
        return f"dhcp {network_name}"
    if address:
        return f"port {address}"
    mac = md.first_string(data.get("macs"))
    return f"port {mac}" if mac else md.display_name(None, port.id)


def floatingip_label(fip: NbObject) -> str:
    """A floating IP is known by its address."""
    return _name(fip) or text(fip.data.get("floating_ip_address")) or md.display_name(None, fip.id)


def activeport_label(active: NbObject) -> str:
    """The address a port answers for (allowed-address pairs, VRRP)."""
    ip = text(active.data.get("ip"))
    return f"active {ip}" if ip else md.display_name(None, active.id)


def service_label(service: NbObject) -> str:
    """``df-local-controller on compute-1``."""
    binary, chassis = text(service.data.get("binary")), text(service.data.get("chassis"))
    if binary and chassis:
        return f"{binary} on {chassis}"
    return binary or chassis or md.display_name(None, service.id)
