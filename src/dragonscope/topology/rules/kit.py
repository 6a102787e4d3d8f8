"""What every table's rule is made of: the ``Rule`` record, the reverse indexes rules may
consult, where a port runs (its chassis), and the small drawing helpers all rules share.

Rules read other objects only through the ``RenderContext`` so that every read is a
tracked dependency.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from dragonscope.nb import NbObject, load_order, tables
from dragonscope.topology import metadata as md
from dragonscope.topology.contribution import RenderContext

GATEWAY_OWNER = "network:router_gateway"
FLOATINGIP_OWNER = "network:floatingip"

# Relation types (RelationType of edges).
OWNERSHIP = "ownership"
LAYER2 = "layer2"


def text(value: object) -> str | None:
    """A non-empty string, or None (NB fields may hold anything)."""
    return value if isinstance(value, str) and value else None


# --- the rule record -----------------------------------------------------------------------------


def _no_anchor(ctx: RenderContext) -> bool:
    return False


def _no_pull(ctx: RenderContext, anchored: bool) -> None:
    return None


@dataclass(frozen=True, slots=True)
class Rule:
    """How one table is drawn: ``draw`` renders the object (explicit references, implicit
    relations, derived metadata); ``handled`` names the schema references ``draw`` turns
    into edges itself; ``anchor`` says whether the object belongs to a chassis slice on
    its own; ``pull`` names the objects it brings into the slice when it is in it;
    ``elsewhere`` (object, chassis) says, reading nothing else, that ``anchor`` is False
    (most of a chassis's NB is decided that way, without a render)."""

    draw: Callable[[RenderContext], None]
    handled: frozenset[str] = field(default_factory=frozenset)
    anchor: Callable[[RenderContext], bool] = _no_anchor
    pull: Callable[[RenderContext, bool], None] = _no_pull
    elsewhere: Callable[[NbObject, str], bool] | None = None


def handled(*fields: str) -> frozenset[str]:
    return frozenset(fields)


# --- reverse indexes -----------------------------------------------------------------------------


def gateway_router(obj: NbObject) -> list[str]:
    """The router whose gateway port ``obj`` is (Neutron's device owner says so)."""
    if obj.data.get("device_owner") == GATEWAY_OWNER and text(obj.data.get("device_id")):
        return [obj.data["device_id"]]
    return []


def _router_networks(obj: NbObject) -> list[str]:
    ports = obj.data.get("ports")
    if not isinstance(ports, list):
        return []
    return [p["lswitch"] for p in ports if isinstance(p, dict) and text(p.get("lswitch"))]


def _field(name: str) -> Callable[[NbObject], list[str]]:
    def values(obj: NbObject) -> list[str]:
        value = text(obj.data.get(name))
        return [value] if value else []

    return values


INDEXES: dict[str, tuple[str, Callable[[NbObject], list[str]]]] = {
    "cps_by_port": (tables.CHILD_PORT_SEGMENTATION, _field("port")),
    "subnets_by_lswitch": (tables.LSUBNET, _field("lswitch")),
    "routers_by_lswitch": (tables.LROUTER, _router_networks),
    "gateways_by_router": (tables.LPORT, gateway_router),
    "chassis_by_ip": (tables.CHASSIS, _field("ip")),
    "fips_by_lport": (tables.FLOATINGIP, _field("lport")),
}
"""Reverse indexes rules may consult: name -> (table indexed, values of one object)."""

PLACING: dict[str, str] = {"cps_by_port": tables.LPORT}
"""Indexes whose values name the objects they place (a trunk segmentation places its child
port): a change of such a value re-renders that object and every object that read it, so
``placement`` reads them unrecorded (every unbound port of the NB would otherwise hold a
read of its own, most of a chassis slice's dependencies)."""

READ_FIRST: dict[str, tuple[str, ...]] = {
    tables.LPORT: (tables.FLOATINGIP, tables.CHILD_PORT_SEGMENTATION, tables.ACTIVEPORT),
}
"""Tables whose objects point at a port and which the port's drawing consults: its floating
IPs (``fips_by_lport``), its trunk segmentation (``placement``), the active-port records of
its addresses (the active-port extension)."""

SNAPSHOT_ORDER: tuple[str, ...] = load_order(READ_FIRST)
"""The order a snapshot is best read in for drawing it: ``nb.schema.LOAD_ORDER`` with the
tables of ``READ_FIRST`` before the ports. Read after them, a port is drawn once instead of
again at each (a quarter of a large NB's ports were drawn twice), and a sync published while
read sends each element once."""


# --- skeletons -----------------------------------------------------------------------------------


def _keep(*names: str) -> Callable[[Mapping[str, Any]], dict[str, Any]]:
    def skeleton(data: Mapping[str, Any]) -> dict[str, Any]:
        return {name: data[name] for name in names if name in data}

    return skeleton


def _lport_skeleton(data: Mapping[str, Any]) -> dict[str, Any]:
    kept = {"binding": data["binding"]} if "binding" in data else {}
    owner = data.get("device_owner")
    if owner in (GATEWAY_OWNER, FLOATINGIP_OWNER):
        # The constant, not the decoded copy: ten thousand floating IP ports share it.
        kept["device_owner"] = GATEWAY_OWNER if owner == GATEWAY_OWNER else FLOATINGIP_OWNER
        kept["device_id"] = data.get("device_id")
    return kept


def _lrouter_skeleton(data: Mapping[str, Any]) -> dict[str, Any]:
    ports = data.get("ports")
    if not isinstance(ports, list):
        return {}
    kept = [
        {name: port[name] for name in ("id", "lswitch") if name in port}
        for port in ports
        if isinstance(port, dict)
    ]
    return {"ports": kept}


SKELETONS: dict[str, Callable[[Mapping[str, Any]], dict[str, Any]]] = {
    tables.LPORT: _lport_skeleton,
    tables.LROUTER: _lrouter_skeleton,
    tables.CHILD_PORT_SEGMENTATION: _keep("parent", "port"),
    tables.FLOATINGIP: _keep("lport", "floating_lport"),
    tables.LSUBNET: _keep("lswitch"),
    tables.CHASSIS: _keep("ip"),
    tables.SERVICE: _keep("chassis"),
    tables.PUBLISHER: _keep("uri"),
    tables.MIGRATION: _keep("lport", "dest_chassis"),
    tables.ACTIVEPORT: _keep("detected_lport", "network"),
    tables.SWITCH_PORT: _keep("lport"),
    tables.SFC_PORTPAIR: _keep("ingress_port", "egress_port"),
    tables.SFC_FLOWCLASSIFIER: _keep("source_port", "dest_port"),
}
"""What a chassis slice keeps of an object outside it: the fields every ``anchor`` and
every index read (an object's own anchor, and the anchors of the objects that read it,
must decide the same on the skeleton as on the whole object). Other tables keep nothing
but their key. ``test_topology_incremental`` checks a compact slice against a full one."""


# --- placement -----------------------------------------------------------------------------------


def binding_chassis(port: NbObject) -> str | None:
    binding = port.data.get("binding")
    if isinstance(binding, dict) and binding.get("type", "chassis") == "chassis":
        return text(binding.get("chassis"))
    return None


def bound_elsewhere(port: NbObject, chassis: str) -> bool:
    """A port bound to another chassis: placed there whatever else the NB says."""
    placed = binding_chassis(port)
    return placed is not None and placed != chassis


def placement(ctx: RenderContext, port: NbObject) -> str | None:
    """The chassis a port lives on at run time: its binding, else its trunk parent's
    (children are placed with their parent), else, for a floating IP's port, the
    fixed port's (distributed DNAT happens at the VM's chassis)."""
    chassis = binding_chassis(port)
    if chassis:
        return chassis
    for cps_id in ctx.lookup("cps_by_port", port.id, recorded=False):
        cps = ctx.get(tables.CHILD_PORT_SEGMENTATION, cps_id)
        parent = ctx.get(tables.LPORT, cps.data.get("parent")) if cps else None
        if parent is not None and (chassis := binding_chassis(parent)):
            return chassis
    if port.data.get("device_owner") == FLOATINGIP_OWNER:
        fip = ctx.get(tables.FLOATINGIP, port.data.get("device_id"))
        if fip is not None and fip.data.get("floating_lport") == port.id:
            fixed = ctx.get(tables.LPORT, fip.data.get("lport"))
            if fixed is not None:
                return binding_chassis(fixed)
    return None


def port_placed_here(ctx: RenderContext, port_id: object) -> bool:
    """Whether the port ``port_id`` names runs on the chassis of the slice being built."""
    port = ctx.get(tables.LPORT, port_id)
    return port is not None and placement(ctx, port) == ctx.chassis


# --- drawing -------------------------------------------------------------------------------------


def own(ctx: RenderContext, metadata: dict[str, Any]) -> str:
    return ctx.node(ctx.own_id, metadata)


def tenant_owner(ctx: RenderContext) -> None:
    topic = text(ctx.obj.data.get("topic"))
    if topic:
        ctx.edge(ctx.tenant(topic), OWNERSHIP, ctx.own_id)


def ref_edge(
    ctx: RenderContext, table: str, value: object, relation: str, role: str | None = None
) -> None:
    """Edge from this object to the object ``value`` names (a placeholder if absent)."""
    target = text(value)
    if target:
        ctx.edge(ctx.own_id, relation, ctx.ref(table, target), role=role)


def ref_edges(
    ctx: RenderContext, table: str, values: object, relation: str, role: str | None = None
) -> None:
    for target in dict.fromkeys(md.strings(values)):
        ctx.edge(ctx.own_id, relation, ctx.ref(table, target), role=role)


def draw_generic(ctx: RenderContext) -> None:
    """A node in its tenant: what every table gets, and all an unknown table gets."""
    own(ctx, md.base(ctx.obj))
    tenant_owner(ctx)


def with_address(ctx: RenderContext, address_field: str) -> dict[str, Any]:
    """The object's base metadata plus the host address one of its fields holds."""
    metadata = md.base(ctx.obj)
    address = md.host_prefix(ctx.obj.data.get(address_field))
    if address:
        md.put_addresses(metadata, [address])
    return metadata
