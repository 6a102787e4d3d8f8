"""Per-table translation rules: the nodes, edges and metadata of each Dragonflow table.

Each table has one ``Rule``: ``draw`` renders the object (explicit references,
implicit relations such as the router gateway port, derived metadata),
``anchor`` says whether the object belongs to a chassis slice on its own, and
``pull`` names the objects it brings into the slice when it is in it. Rules
read other objects only through the ``RenderContext`` so that every read is a
tracked dependency. ``docs/graph-model.md`` describes the result.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any
from urllib.parse import urlsplit

from dragonscope.nb import NbObject, Reference, schema
from dragonscope.topology import ids
from dragonscope.topology import metadata as md
from dragonscope.topology.contribution import LOCAL, MEMBER, RenderContext

GATEWAY_OWNER = "network:router_gateway"
FLOATINGIP_OWNER = "network:floatingip"

# Relation types (RelationType of edges).
OWNERSHIP = "ownership"
LAYER2 = "layer2"


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _gateway_router(obj: NbObject) -> list[str]:
    if obj.data.get("device_owner") == GATEWAY_OWNER and _str(obj.data.get("device_id")):
        return [obj.data["device_id"]]
    return []


def _router_networks(obj: NbObject) -> list[str]:
    ports = obj.data.get("ports")
    if not isinstance(ports, list):
        return []
    return [p["lswitch"] for p in ports if isinstance(p, dict) and _str(p.get("lswitch"))]


def _field(name: str) -> Callable[[NbObject], list[str]]:
    def values(obj: NbObject) -> list[str]:
        value = _str(obj.data.get(name))
        return [value] if value else []

    return values


INDEXES: dict[str, tuple[str, Callable[[NbObject], list[str]]]] = {
    "cps_by_port": ("child_port_segmentation", _field("port")),
    "subnets_by_lswitch": ("lsubnet", _field("lswitch")),
    "routers_by_lswitch": ("lrouter", _router_networks),
    "gateways_by_router": ("lport", _gateway_router),
    "chassis_by_ip": ("chassis", _field("ip")),
    "fips_by_lport": ("floatingip", _field("lport")),
}
"""Reverse indexes rules may consult: name -> (table indexed, values of one object)."""


# --- helpers -------------------------------------------------------------------------------------


def binding_chassis(port: NbObject) -> str | None:
    binding = port.data.get("binding")
    if isinstance(binding, dict) and binding.get("type", "chassis") == "chassis":
        return _str(binding.get("chassis"))
    return None


def placement(ctx: RenderContext, port: NbObject) -> str | None:
    """The chassis a port lives on at run time: its binding, else its trunk parent's
    (children are placed with their parent), else, for a floating IP's port, the
    fixed port's (distributed DNAT happens at the VM's chassis)."""
    chassis = binding_chassis(port)
    if chassis:
        return chassis
    for cps_id in ctx.lookup("cps_by_port", port.id):
        cps = ctx.get("child_port_segmentation", cps_id)
        parent = ctx.get("lport", cps.data.get("parent")) if cps else None
        if parent is not None and (chassis := binding_chassis(parent)):
            return chassis
    if port.data.get("device_owner") == FLOATINGIP_OWNER:
        fip = ctx.get("floatingip", port.data.get("device_id"))
        if fip is not None and fip.data.get("floating_lport") == port.id:
            fixed = ctx.get("lport", fip.data.get("lport"))
            if fixed is not None:
                return binding_chassis(fixed)
    return None


def _placed_here(ctx: RenderContext, table: str, object_id: Any) -> bool:
    port = ctx.get(table, object_id)
    return port is not None and placement(ctx, port) == ctx.chassis


def _own(ctx: RenderContext, metadata: dict[str, Any]) -> str:
    return ctx.node(ctx.own_id, metadata)


def _tenant_owner(ctx: RenderContext) -> None:
    topic = _str(ctx.obj.data.get("topic"))
    if topic:
        ctx.edge(ctx.tenant(topic), OWNERSHIP, ctx.own_id)


def _ref_edge(
    ctx: RenderContext, table: str, value: Any, relation: str, role: str | None = None
) -> None:
    """Edge from this object to the object ``value`` names (a placeholder if absent)."""
    target = _str(value)
    if target:
        ctx.edge(ctx.own_id, relation, ctx.ref(table, target), role=role)


def _ref_edges(
    ctx: RenderContext, table: str, values: Any, relation: str, role: str | None = None
) -> None:
    for target in dict.fromkeys(md.strings(values)):
        ctx.edge(ctx.own_id, relation, ctx.ref(table, target), role=role)


def _generic_references(ctx: RenderContext) -> None:
    """An edge for every schema reference the table's rule does not draw itself, so that
    a reference added to the schema is never silently left out of the graph."""
    if ctx.own_id not in ctx.contribution.nodes:
        return
    for reference in unhandled_references(ctx.obj.table):
        relation = reference.field.replace("[]", "")
        for _path, target in reference.locate(ctx.obj.data):
            ctx.edge(ctx.own_id, relation, ctx.ref(reference.target, target))


@cache
def unhandled_references(table: str) -> tuple[Reference, ...]:
    spec = schema.TABLES.get(table)
    if spec is None:
        return ()
    handled = RULES.get(table, GENERIC).handled
    return tuple(r for r in spec.references if r.field not in handled)


# --- rules ---------------------------------------------------------------------------------------


def _no_anchor(ctx: RenderContext) -> bool:
    return False


def _no_pull(ctx: RenderContext, anchored: bool) -> None:
    return None


@dataclass(frozen=True, slots=True)
class Rule:
    draw: Callable[[RenderContext], None]
    handled: frozenset[str] = field(default_factory=frozenset)
    anchor: Callable[[RenderContext], bool] = _no_anchor
    pull: Callable[[RenderContext, bool], None] = _no_pull


def draw_generic(ctx: RenderContext) -> None:
    _own(ctx, md.base(ctx.obj))
    _tenant_owner(ctx)


# lswitch ------------------------------------------------------------------------------------------


def draw_lswitch(ctx: RenderContext) -> None:
    draw_generic(ctx)
    _ref_edge(ctx, "qospolicy", ctx.obj.data.get("qos_policy"), "qos")


def pull_lswitch(ctx: RenderContext, anchored: bool) -> None:
    for subnet in ctx.lookup("subnets_by_lswitch", ctx.obj.id):
        ctx.claim("lsubnet", subnet, MEMBER)
    if LOCAL in ctx.kinds:
        for router in ctx.lookup("routers_by_lswitch", ctx.obj.id):
            ctx.claim("lrouter", router, MEMBER)
        ctx.claim("qospolicy", ctx.obj.data.get("qos_policy"), MEMBER)


# lsubnet ------------------------------------------------------------------------------------------


def draw_lsubnet(ctx: RenderContext) -> None:
    metadata = md.base(ctx.obj)
    cidr = ctx.obj.data.get("cidr")
    if isinstance(cidr, str):
        metadata["CIDR"] = cidr
    _own(ctx, metadata)
    network = _str(ctx.obj.data.get("lswitch"))
    if network:
        ctx.edge(ctx.ref("lswitch", network), OWNERSHIP, ctx.own_id)
    else:
        _tenant_owner(ctx)


# lport --------------------------------------------------------------------------------------------


def _port_addresses(ctx: RenderContext, data: dict[str, Any]) -> list[tuple[int, str]]:
    """Fixed IPs as ``ip/prefix``: the i-th IP belongs to the i-th subnet; without a known
    subnet the host prefix is used (the address is all we know)."""
    subnets = data.get("subnets") if isinstance(data.get("subnets"), list) else []
    addresses = []
    for index, ip in enumerate(data.get("ips") or []):
        subnet_id = subnets[index] if index < len(subnets) else None
        subnet = ctx.get("lsubnet", subnet_id)
        prefixlen = md.prefixlen_of(subnet.data.get("cidr")) if subnet is not None else None
        address = md.host_prefix(ip, prefixlen)
        if address:
            addresses.append(address)
    return addresses


def draw_lport(ctx: RenderContext) -> None:
    obj, data = ctx.obj, ctx.obj.data
    metadata = md.base(obj)
    mac = md.first_string(data.get("macs"))
    if mac:
        metadata["MAC"] = mac
    addresses = _port_addresses(ctx, data) if isinstance(data.get("ips"), list) else []
    md.put_addresses(metadata, addresses)
    network_id = _str(data.get("lswitch"))
    network = ctx.get("lswitch", network_id)
    neutron: dict[str, Any] = {"PortID": obj.id}
    if network_id:
        neutron["NetworkID"] = network_id
    if network is not None and _str(network.data.get("name")):
        neutron["NetworkName"] = network.data["name"]
    if _str(data.get("topic")):
        neutron["TenantID"] = data["topic"]
    md.put_addresses(neutron, addresses)
    if network is not None and isinstance(network.data.get("segmentation_id"), int):
        neutron["VNI"] = network.data["segmentation_id"]
    metadata["Neutron"] = neutron
    if _str(data.get("device_owner")):
        metadata["DeviceOwner"] = data["device_owner"]
    chassis = placement(ctx, obj)
    if chassis:
        metadata["Chassis"] = chassis
    floating = []
    for fip_id in ctx.lookup("fips_by_lport", obj.id):
        fip = ctx.get("floatingip", fip_id)
        address = fip.data.get("floating_ip_address") if fip is not None else None
        if isinstance(address, str) and address:
            floating.append(address)
    if floating:
        metadata["FloatingIPs"] = floating
    metadata["State"] = "UP" if data.get("enabled") is True else "DOWN"
    _own(ctx, metadata)

    if network_id:
        network_node = ctx.ref("lswitch", network_id)
        ctx.edge(network_node, OWNERSHIP, ctx.own_id)
        ctx.edge(network_node, LAYER2, ctx.own_id)
    else:
        _tenant_owner(ctx)
    ips = data.get("ips") if isinstance(data.get("ips"), list) else []
    subnets = data.get("subnets") if isinstance(data.get("subnets"), list) else []
    on_subnet: dict[str, list[str]] = {}
    for index, subnet_id in enumerate(subnets):
        if _str(subnet_id):
            ip = ips[index] if index < len(ips) and isinstance(ips[index], str) else None
            on_subnet.setdefault(subnet_id, []).extend([ip] if ip else [])
    for subnet_id, subnet_ips in on_subnet.items():
        ctx.edge(ctx.own_id, "subnet", ctx.ref("lsubnet", subnet_id), {"IPs": subnet_ips})
    _ref_edge(ctx, "chassis", binding_chassis(obj), "binding")
    _ref_edges(ctx, "secgroup", data.get("security_groups"), "secgroup")
    _ref_edge(ctx, "qospolicy", data.get("qos_policy"), "qos")
    router_id = _gateway_router(obj)
    if router_id and ctx.get("lrouter", router_id[0]) is not None:
        ctx.edge(ctx.ref("lrouter", router_id[0]), "gateway", ctx.own_id)


def anchor_lport(ctx: RenderContext) -> bool:
    return placement(ctx, ctx.obj) == ctx.chassis


def pull_lport(ctx: RenderContext, anchored: bool) -> None:
    data = ctx.obj.data
    ctx.claim("lswitch", data.get("lswitch"), LOCAL if anchored else MEMBER)
    for subnet in md.strings(data.get("subnets")):
        ctx.claim("lsubnet", subnet, MEMBER)
    if anchored:
        for group in md.strings(data.get("security_groups")):
            ctx.claim("secgroup", group, MEMBER)
        ctx.claim("qospolicy", data.get("qos_policy"), MEMBER)


# lrouter and its embedded ports ---------------------------------------------------------------


def _router_ports(obj: NbObject) -> list[dict[str, Any]]:
    ports = obj.data.get("ports")
    if not isinstance(ports, list):
        return []
    return [p for p in ports if isinstance(p, dict) and _str(p.get("id"))]


def router_port_metadata(
    router: NbObject, port: dict[str, Any], network: NbObject | None
) -> dict[str, Any]:
    port_id = port["id"]
    metadata: dict[str, Any] = {
        "Name": md.display_name(port_id, ""),
        "Type": "lrouter_port",
        "Manager": md.MANAGER,
        md.DRAGONFLOW: {**port, "lrouter": router.id, "Table": "lrouter_port", "ID": port_id},
        "State": "UP",
    }
    topic = _str(port.get("topic")) or _str(router.data.get("topic"))
    if topic:
        metadata["Tenant"] = topic
    if isinstance(port.get("mac"), str):
        metadata["MAC"] = port["mac"]
    address = md.interface_address(port.get("network"))
    if address:
        md.put_addresses(metadata, [address])
    neutron: dict[str, Any] = {"PortID": port_id}
    if _str(port.get("lswitch")):
        neutron["NetworkID"] = port["lswitch"]
    if network is not None and _str(network.data.get("name")):
        neutron["NetworkName"] = network.data["name"]
    if topic:
        neutron["TenantID"] = topic
    if address:
        md.put_addresses(neutron, [address])
    if network is not None and isinstance(network.data.get("segmentation_id"), int):
        neutron["VNI"] = network.data["segmentation_id"]
    metadata["Neutron"] = neutron
    return metadata


def draw_lrouter(ctx: RenderContext) -> None:
    draw_generic(ctx)
    router = ctx.obj
    shown = NbObject(router.table, router.id, schema.redact(router))
    for port in _router_ports(shown):
        network = ctx.get("lswitch", port.get("lswitch"))
        port_node = ctx.node(
            ids.router_port_id(router.id, port["id"]), router_port_metadata(router, port, network)
        )
        ctx.edge(ctx.own_id, OWNERSHIP, port_node)
        if _str(port.get("lswitch")):
            ctx.edge(ctx.ref("lswitch", port["lswitch"]), LAYER2, port_node)
        ctx.edge(port_node, "router-interface", ctx.ref("lport", port["id"]))


def pull_lrouter(ctx: RenderContext, anchored: bool) -> None:
    for port in _router_ports(ctx.obj):
        ctx.claim("lswitch", port.get("lswitch"), MEMBER)
        ctx.claim("lport", port["id"], MEMBER)
    for gateway in ctx.lookup("gateways_by_router", ctx.obj.id):
        ctx.claim("lport", gateway, MEMBER)


# floatingip ---------------------------------------------------------------------------------------


def draw_floatingip(ctx: RenderContext) -> None:
    data = ctx.obj.data
    metadata = md.base(ctx.obj)
    address = md.host_prefix(data.get("floating_ip_address"))
    if address:
        md.put_addresses(metadata, [address])
    _own(ctx, metadata)
    _tenant_owner(ctx)
    _ref_edge(ctx, "lport", data.get("lport"), "floatingip", "fixed")
    _ref_edge(ctx, "lport", data.get("floating_lport"), "floatingip", "port")
    _ref_edge(ctx, "lrouter", data.get("lrouter"), "floatingip", "router")


def anchor_floatingip(ctx: RenderContext) -> bool:
    return _placed_here(ctx, "lport", ctx.obj.data.get("lport"))


def pull_floatingip(ctx: RenderContext, anchored: bool) -> None:
    for name, table in (("lport", "lport"), ("floating_lport", "lport"), ("lrouter", "lrouter")):
        ctx.claim(table, ctx.obj.data.get(name), MEMBER)


# secgroup -----------------------------------------------------------------------------------------


def draw_secgroup(ctx: RenderContext) -> None:
    draw_generic(ctx)
    rules = ctx.obj.data.get("rules")
    remotes = [r.get("remote_group_id") for r in rules or [] if isinstance(r, dict)]
    _ref_edges(ctx, "secgroup", remotes if isinstance(rules, list) else [], "remote-group")


# child_port_segmentation: an edge, not a node ---------------------------------------------------


def draw_child_port_segmentation(ctx: RenderContext) -> None:
    data = ctx.obj.data
    parent, child = _str(data.get("parent")), _str(data.get("port"))
    if not parent or not child:
        return
    extra: dict[str, Any] = {md.DRAGONFLOW: md.stored_fields(ctx.obj)}
    if isinstance(data.get("segmentation_type"), str):
        extra["SegmentationType"] = data["segmentation_type"]
    if isinstance(data.get("segmentation_id"), int):
        extra["SegmentationID"] = data["segmentation_id"]
    ctx.edge(ctx.ref("lport", parent), "trunk-child", ctx.ref("lport", child), extra)


def anchor_child_port_segmentation(ctx: RenderContext) -> bool:
    return _placed_here(ctx, "lport", ctx.obj.data.get("parent"))


# SFC ---------------------------------------------------------------------------------------------


def draw_sfc_portpair(ctx: RenderContext) -> None:
    draw_generic(ctx)
    _ref_edge(ctx, "lport", ctx.obj.data.get("ingress_port"), "sfc", "ingress")
    _ref_edge(ctx, "lport", ctx.obj.data.get("egress_port"), "sfc", "egress")


def anchor_sfc_portpair(ctx: RenderContext) -> bool:
    data = ctx.obj.data
    return _placed_here(ctx, "lport", data.get("ingress_port")) or _placed_here(
        ctx, "lport", data.get("egress_port")
    )


def draw_sfc_portpairgroup(ctx: RenderContext) -> None:
    draw_generic(ctx)
    _ref_edges(ctx, "sfc_portpair", ctx.obj.data.get("port_pairs"), "sfc", "pair")


def draw_sfc_flowclassifier(ctx: RenderContext) -> None:
    draw_generic(ctx)
    _ref_edge(ctx, "lport", ctx.obj.data.get("source_port"), "sfc", "source")
    _ref_edge(ctx, "lport", ctx.obj.data.get("dest_port"), "sfc", "dest")


def anchor_sfc_flowclassifier(ctx: RenderContext) -> bool:
    data = ctx.obj.data
    return _placed_here(ctx, "lport", data.get("source_port")) or _placed_here(
        ctx, "lport", data.get("dest_port")
    )


def draw_sfc_portchain(ctx: RenderContext) -> None:
    draw_generic(ctx)
    groups = ctx.obj.data.get("port_pair_groups")
    for index, group in enumerate(groups if isinstance(groups, list) else []):
        if _str(group):
            target = ctx.ref("sfc_portpairgroup", group)
            ctx.edge(ctx.own_id, "sfc", target, {"Hop": index + 1}, "hop", str(index + 1))
    _ref_edges(ctx, "sfc_flowclassifier", ctx.obj.data.get("flow_classifiers"), "sfc", "classifier")


# BGP ---------------------------------------------------------------------------------------------


def draw_bgp_speaker(ctx: RenderContext) -> None:
    draw_generic(ctx)
    _ref_edges(ctx, "bgp_peer", ctx.obj.data.get("peers"), "bgp-peer")


def draw_bgp_peer(ctx: RenderContext) -> None:
    metadata = md.base(ctx.obj)
    address = md.host_prefix(ctx.obj.data.get("peer_ip"))
    if address:
        md.put_addresses(metadata, [address])
    _own(ctx, metadata)
    _tenant_owner(ctx)


# runtime state -----------------------------------------------------------------------------------


def draw_activeport(ctx: RenderContext) -> None:
    data = ctx.obj.data
    metadata = md.base(ctx.obj)
    address = md.host_prefix(data.get("ip"))
    if address:
        md.put_addresses(metadata, [address])
    if isinstance(data.get("detected_mac"), str):
        metadata["MAC"] = data["detected_mac"]
    _own(ctx, metadata)
    _tenant_owner(ctx)
    _ref_edge(ctx, "lport", data.get("detected_lport"), "active-port")
    _ref_edge(ctx, "lswitch", data.get("network"), "network")


def anchor_activeport(ctx: RenderContext) -> bool:
    return _placed_here(ctx, "lport", ctx.obj.data.get("detected_lport"))


def pull_activeport(ctx: RenderContext, anchored: bool) -> None:
    ctx.claim("lport", ctx.obj.data.get("detected_lport"), MEMBER)
    ctx.claim("lswitch", ctx.obj.data.get("network"), MEMBER)


def _migrating_port(ctx: RenderContext) -> str | None:
    """``lport`` once the source side unplugged; before that, the id is the port's id."""
    port = _str(ctx.obj.data.get("lport"))
    if port:
        return port
    return ctx.obj.id if ctx.get("lport", ctx.obj.id) is not None else None


def draw_migration(ctx: RenderContext) -> None:
    draw_generic(ctx)
    port = _migrating_port(ctx)
    if port:
        ctx.edge(ctx.own_id, "migration", ctx.ref("lport", port), role="port")
    _ref_edge(ctx, "chassis", ctx.obj.data.get("dest_chassis"), "migration", "destination")


def anchor_migration(ctx: RenderContext) -> bool:
    if ctx.obj.data.get("dest_chassis") == ctx.chassis:
        return True
    port = _migrating_port(ctx)
    return port is not None and _placed_here(ctx, "lport", port)


def pull_migration(ctx: RenderContext, anchored: bool) -> None:
    ctx.claim("lport", _migrating_port(ctx), MEMBER)
    ctx.claim("chassis", ctx.obj.data.get("dest_chassis"), MEMBER)


# infrastructure and control -------------------------------------------------------------------


def draw_chassis(ctx: RenderContext) -> None:
    metadata = md.base(ctx.obj)
    address = md.host_prefix(ctx.obj.data.get("ip"))
    if address:
        md.put_addresses(metadata, [address])
    _own(ctx, metadata)


def anchor_chassis(ctx: RenderContext) -> bool:
    return ctx.obj.id == ctx.chassis


def draw_service(ctx: RenderContext) -> None:
    _own(ctx, md.base(ctx.obj))
    chassis = _str(ctx.obj.data.get("chassis"))
    if chassis:
        ctx.edge(ctx.ref("chassis", chassis), OWNERSHIP, ctx.own_id)


def anchor_service(ctx: RenderContext) -> bool:
    return ctx.obj.data.get("chassis") == ctx.chassis


def _publisher_chassis(ctx: RenderContext) -> str | None:
    """The chassis whose tunnel IP is the publisher's address (the publisher has no reference)."""
    uri = ctx.obj.data.get("uri")
    if not isinstance(uri, str):
        return None
    try:
        host = urlsplit(uri).hostname
    except ValueError:
        return None
    found = ctx.lookup("chassis_by_ip", host)
    return found[0] if found else None


def draw_publisher(ctx: RenderContext) -> None:
    _own(ctx, md.base(ctx.obj))
    chassis = _publisher_chassis(ctx)
    if chassis:
        ctx.edge(ctx.ref("chassis", chassis), OWNERSHIP, ctx.own_id)


def anchor_publisher(ctx: RenderContext) -> bool:
    return _publisher_chassis(ctx) == ctx.chassis


def draw_listener(ctx: RenderContext) -> None:
    _own(ctx, md.base(ctx.obj))
    if ctx.get("chassis", ctx.obj.id) is not None:
        ctx.edge(ctx.ref("chassis", ctx.obj.id), OWNERSHIP, ctx.own_id)


def anchor_listener(ctx: RenderContext) -> bool:
    return ctx.obj.id == ctx.chassis


def draw_switch_port(ctx: RenderContext) -> None:
    data = ctx.obj.data
    metadata = md.base(ctx.obj)
    if isinstance(data.get("attached_mac"), str):
        metadata["MAC"] = data["attached_mac"]
    if data.get("admin_state") in ("up", "down"):
        metadata["State"] = data["admin_state"].upper()
    _own(ctx, metadata)
    _ref_edge(ctx, "lport", data.get("lport"), "mapping")


def anchor_switch_port(ctx: RenderContext) -> bool:
    return _placed_here(ctx, "lport", ctx.obj.data.get("lport"))


def pull_switch_port(ctx: RenderContext, anchored: bool) -> None:
    ctx.claim("lport", ctx.obj.data.get("lport"), MEMBER)


def _handled(*fields: str) -> frozenset[str]:
    return frozenset(fields)


RULES: dict[str, Rule] = {
    "lswitch": Rule(draw_lswitch, _handled("qos_policy"), pull=pull_lswitch),
    "lsubnet": Rule(draw_lsubnet, _handled("lswitch")),
    "lport": Rule(
        draw_lport,
        _handled("lswitch", "subnets", "binding.chassis", "security_groups", "qos_policy"),
        anchor_lport,
        pull_lport,
    ),
    "lrouter": Rule(draw_lrouter, _handled("ports[].lswitch"), pull=pull_lrouter),
    "floatingip": Rule(
        draw_floatingip,
        _handled("lport", "floating_lport", "lrouter"),
        anchor_floatingip,
        pull_floatingip,
    ),
    "secgroup": Rule(draw_secgroup, _handled("rules[].remote_group_id")),
    "qospolicy": Rule(draw_generic),
    "child_port_segmentation": Rule(
        draw_child_port_segmentation, _handled("parent", "port"), anchor_child_port_segmentation
    ),
    "sfc_portpair": Rule(
        draw_sfc_portpair, _handled("ingress_port", "egress_port"), anchor_sfc_portpair
    ),
    "sfc_portpairgroup": Rule(draw_sfc_portpairgroup, _handled("port_pairs")),
    "sfc_flowclassifier": Rule(
        draw_sfc_flowclassifier, _handled("source_port", "dest_port"), anchor_sfc_flowclassifier
    ),
    "sfc_portchain": Rule(draw_sfc_portchain, _handled("port_pair_groups", "flow_classifiers")),
    "bgp_speaker": Rule(draw_bgp_speaker, _handled("peers")),
    "bgp_peer": Rule(draw_bgp_peer),
    "activeport": Rule(
        draw_activeport, _handled("detected_lport", "network"), anchor_activeport, pull_activeport
    ),
    "migration": Rule(
        draw_migration, _handled("lport", "dest_chassis"), anchor_migration, pull_migration
    ),
    "chassis": Rule(draw_chassis, anchor=anchor_chassis),
    "service": Rule(draw_service, _handled("chassis"), anchor_service),
    "publisher": Rule(draw_publisher, anchor=anchor_publisher),
    "listener": Rule(draw_listener, anchor=anchor_listener),
    "switch_port": Rule(draw_switch_port, _handled("lport"), anchor_switch_port, pull_switch_port),
}
GENERIC = Rule(draw_generic)
"""Tables dragonscope does not know (e.g. a Dragonflow app's own): a node, in its tenant."""


def render(ctx: RenderContext) -> bool:
    """Render ``ctx.obj`` into ``ctx.contribution``; False when it is outside the slice."""
    rule = RULES.get(ctx.obj.table, GENERIC)
    if ctx.chassis is not None:
        anchored = rule.anchor(ctx)
        if not anchored and not ctx.kinds:
            return False
        rule.pull(ctx, anchored)
    rule.draw(ctx)
    _generic_references(ctx)
    return True


def render_plain(ctx: RenderContext) -> bool:
    """The fallback when a rule fails on an unexpected value: the node and its tenant only."""
    if ctx.chassis is not None and not ctx.kinds:
        return False
    draw_generic(ctx)
    return True
