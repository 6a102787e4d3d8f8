"""Rules of the L2 world: networks, subnets, ports, trunk children, the ports OVS reports
and the ports that answer for a shared address."""

from __future__ import annotations

from typing import Any

from dragonscope.nb import NbObject, redacted_field, tables
from dragonscope.topology import metadata as md
from dragonscope.topology.contribution import LOCAL, MEMBER, RenderContext
from dragonscope.topology.rules import labels
from dragonscope.topology.rules.kit import (
    LAYER2,
    OWNERSHIP,
    Rule,
    binding_chassis,
    bound_elsewhere,
    draw_generic,
    gateway_router,
    handled,
    own,
    placement,
    port_placed_here,
    ref_edge,
    ref_edges,
    tenant_owner,
    text,
    with_address,
)

# lswitch ------------------------------------------------------------------------------------------


def draw_lswitch(ctx: RenderContext) -> None:
    draw_generic(ctx)
    ref_edge(ctx, tables.QOSPOLICY, ctx.obj.data.get("qos_policy"), "qos")


def pull_lswitch(ctx: RenderContext, anchored: bool) -> None:
    for subnet in ctx.lookup("subnets_by_lswitch", ctx.obj.id):
        ctx.claim(tables.LSUBNET, subnet, MEMBER)
    if LOCAL in ctx.kinds:
        for router in ctx.lookup("routers_by_lswitch", ctx.obj.id):
            ctx.claim(tables.LROUTER, router, MEMBER)
        ctx.claim(tables.QOSPOLICY, ctx.obj.data.get("qos_policy"), MEMBER)


# lsubnet ------------------------------------------------------------------------------------------


def draw_lsubnet(ctx: RenderContext) -> None:
    metadata = md.base(ctx.obj)
    cidr = ctx.obj.data.get("cidr")
    if isinstance(cidr, str):
        metadata["CIDR"] = cidr
    own(ctx, metadata)
    network = text(ctx.obj.data.get("lswitch"))
    if network:
        ctx.edge(ctx.ref(tables.LSWITCH, network), OWNERSHIP, ctx.own_id)
    else:
        tenant_owner(ctx)


# lport --------------------------------------------------------------------------------------------


def _list(data: dict[str, Any], name: str) -> list[Any]:
    value = data.get(name)
    return value if isinstance(value, list) else []


def _port_addresses(ctx: RenderContext, data: dict[str, Any]) -> list[tuple[int, str]]:
    """Fixed IPs as ``ip/prefix``: the i-th IP belongs to the i-th subnet; without a known
    subnet the host prefix is used (the address is all we know)."""
    subnets = _list(data, "subnets")
    addresses = []
    for index, ip in enumerate(_list(data, "ips")):
        subnet_id = subnets[index] if index < len(subnets) else None
        subnet = ctx.get(tables.LSUBNET, subnet_id)
        prefixlen = md.prefixlen_of(subnet.data.get("cidr")) if subnet is not None else None
        address = md.host_prefix(ip, prefixlen)
        if address:
            addresses.append(address)
    return addresses


def neutron_metadata(
    port_id: str,
    network_id: str | None,
    network: NbObject | None,
    topic: str | None,
    addresses: list[tuple[int, str]],
) -> dict[str, Any]:
    """Skydive's ``Neutron`` block of a port: its ids, network, tenant, addresses and VNI."""
    neutron: dict[str, Any] = {"PortID": port_id}
    if network_id:
        neutron["NetworkID"] = network_id
    name = text(redacted_field(network, "name")) if network is not None else None
    if name:  # from the redacted fields: a name shaped like a secret is not shown
        neutron["NetworkName"] = name
    if topic:
        neutron["TenantID"] = topic
    md.put_addresses(neutron, addresses)
    if network is not None and isinstance(network.data.get("segmentation_id"), int):
        neutron["VNI"] = network.data["segmentation_id"]
    return neutron


def draw_lport(ctx: RenderContext) -> None:
    obj, data = ctx.obj, ctx.obj.data
    metadata = md.base(obj)
    metadata["Name"] = labels.lport_label(ctx, obj)
    mac = md.first_string(data.get("macs"))
    if mac:
        metadata["MAC"] = mac
    addresses = _port_addresses(ctx, data)
    md.put_addresses(metadata, addresses)
    network_id = text(data.get("lswitch"))
    network = ctx.get(tables.LSWITCH, network_id)
    metadata["Neutron"] = neutron_metadata(
        obj.id, network_id, network, text(data.get("topic")), addresses
    )
    if text(data.get("device_owner")):
        metadata["DeviceOwner"] = data["device_owner"]
    chassis = placement(ctx, obj)
    if chassis:
        metadata["Chassis"] = chassis
    floating = []
    for fip_id in ctx.lookup("fips_by_lport", obj.id):
        fip = ctx.get(tables.FLOATINGIP, fip_id)
        address = fip.data.get("floating_ip_address") if fip is not None else None
        if isinstance(address, str) and address:
            floating.append(address)
    if floating:
        metadata["FloatingIPs"] = floating
    metadata["State"] = "UP" if data.get("enabled") is True else "DOWN"
    own(ctx, metadata)

    if network_id:
        network_node = ctx.ref(tables.LSWITCH, network_id)
        ctx.edge(network_node, OWNERSHIP, ctx.own_id)
        ctx.edge(network_node, LAYER2, ctx.own_id)
    else:
        tenant_owner(ctx)
    ips = _list(data, "ips")
    on_subnet: dict[str, list[str]] = {}
    for index, subnet_id in enumerate(_list(data, "subnets")):
        if text(subnet_id):
            ip = ips[index] if index < len(ips) and isinstance(ips[index], str) else None
            on_subnet.setdefault(subnet_id, []).extend([ip] if ip else [])
    for subnet_id, subnet_ips in on_subnet.items():
        ctx.edge(ctx.own_id, "subnet", ctx.ref(tables.LSUBNET, subnet_id), {"IPs": subnet_ips})
    ref_edge(ctx, tables.CHASSIS, binding_chassis(obj), "binding")
    ref_edges(ctx, tables.SECGROUP, data.get("security_groups"), "secgroup")
    ref_edge(ctx, tables.QOSPOLICY, data.get("qos_policy"), "qos")
    router_id = gateway_router(obj)
    if router_id and ctx.get(tables.LROUTER, router_id[0]) is not None:
        ctx.edge(ctx.ref(tables.LROUTER, router_id[0]), "gateway", ctx.own_id)


def anchor_lport(ctx: RenderContext) -> bool:
    return placement(ctx, ctx.obj) == ctx.chassis


def pull_lport(ctx: RenderContext, anchored: bool) -> None:
    data = ctx.obj.data
    ctx.claim(tables.LSWITCH, data.get("lswitch"), LOCAL if anchored else MEMBER)
    for subnet in md.strings(data.get("subnets")):
        ctx.claim(tables.LSUBNET, subnet, MEMBER)
    if anchored:
        for group in md.strings(data.get("security_groups")):
            ctx.claim(tables.SECGROUP, group, MEMBER)
        ctx.claim(tables.QOSPOLICY, data.get("qos_policy"), MEMBER)


# child_port_segmentation: an edge, not a node ---------------------------------------------------


def draw_child_port_segmentation(ctx: RenderContext) -> None:
    data = ctx.obj.data
    parent, child = text(data.get("parent")), text(data.get("port"))
    if not parent or not child:
        return
    extra: dict[str, Any] = {md.DRAGONFLOW: md.stored_fields(ctx.obj)}
    if isinstance(data.get("segmentation_type"), str):
        extra["SegmentationType"] = data["segmentation_type"]
    if isinstance(data.get("segmentation_id"), int):
        extra["SegmentationID"] = data["segmentation_id"]
    ctx.edge(ctx.ref(tables.LPORT, parent), "trunk-child", ctx.ref(tables.LPORT, child), extra)


def anchor_child_port_segmentation(ctx: RenderContext) -> bool:
    return port_placed_here(ctx, ctx.obj.data.get("parent"))


# activeport: which port answers for a shared address ---------------------------------------------


def draw_activeport(ctx: RenderContext) -> None:
    data = ctx.obj.data
    metadata = with_address(ctx, "ip")
    metadata["Name"] = labels.activeport_label(ctx.obj)
    if isinstance(data.get("detected_mac"), str):
        metadata["MAC"] = data["detected_mac"]
    own(ctx, metadata)
    tenant_owner(ctx)
    ref_edge(ctx, tables.LPORT, data.get("detected_lport"), "active-port")
    ref_edge(ctx, tables.LSWITCH, data.get("network"), "network")


def anchor_activeport(ctx: RenderContext) -> bool:
    return port_placed_here(ctx, ctx.obj.data.get("detected_lport"))


def pull_activeport(ctx: RenderContext, anchored: bool) -> None:
    ctx.claim(tables.LPORT, ctx.obj.data.get("detected_lport"), MEMBER)
    ctx.claim(tables.LSWITCH, ctx.obj.data.get("network"), MEMBER)


# switch_port: an OVS port as the local controller sees it ----------------------------------------


def draw_switch_port(ctx: RenderContext) -> None:
    data = ctx.obj.data
    metadata = md.base(ctx.obj)
    if isinstance(data.get("attached_mac"), str):
        metadata["MAC"] = data["attached_mac"]
    if data.get("admin_state") in ("up", "down"):
        metadata["State"] = data["admin_state"].upper()
    own(ctx, metadata)
    ref_edge(ctx, tables.LPORT, data.get("lport"), "mapping")


def anchor_switch_port(ctx: RenderContext) -> bool:
    return port_placed_here(ctx, ctx.obj.data.get("lport"))


def pull_switch_port(ctx: RenderContext, anchored: bool) -> None:
    ctx.claim(tables.LPORT, ctx.obj.data.get("lport"), MEMBER)


NETWORK_RULES: dict[str, Rule] = {
    tables.LSWITCH: Rule(draw_lswitch, handled("qos_policy"), pull=pull_lswitch),
    tables.LSUBNET: Rule(draw_lsubnet, handled("lswitch")),
    tables.LPORT: Rule(
        draw_lport,
        handled("lswitch", "subnets", "binding.chassis", "security_groups", "qos_policy"),
        anchor_lport,
        pull_lport,
        bound_elsewhere,
    ),
    tables.CHILD_PORT_SEGMENTATION: Rule(
        draw_child_port_segmentation, handled("parent", "port"), anchor_child_port_segmentation
    ),
    tables.ACTIVEPORT: Rule(
        draw_activeport, handled("detected_lport", "network"), anchor_activeport, pull_activeport
    ),
    tables.SWITCH_PORT: Rule(
        draw_switch_port, handled("lport"), anchor_switch_port, pull_switch_port
    ),
}
