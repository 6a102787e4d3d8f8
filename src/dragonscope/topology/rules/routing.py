"""Rules of the L3 world: routers and their embedded ports, floating IPs, BGP."""

from __future__ import annotations

from typing import Any

from dragonscope.nb import NbObject, redact, tables
from dragonscope.topology import ids
from dragonscope.topology import metadata as md
from dragonscope.topology.contribution import MEMBER, RenderContext
from dragonscope.topology.rules import labels
from dragonscope.topology.rules.kit import (
    LAYER2,
    OWNERSHIP,
    Rule,
    draw_generic,
    handled,
    own,
    port_placed_here,
    ref_edge,
    ref_edges,
    tenant_owner,
    text,
    with_address,
)
from dragonscope.topology.rules.network import neutron_metadata

# lrouter and its embedded ports ---------------------------------------------------------------


def _router_ports(obj: NbObject) -> list[dict[str, Any]]:
    ports = obj.data.get("ports")
    if not isinstance(ports, list):
        return []
    return [p for p in ports if isinstance(p, dict) and text(p.get("id"))]


def router_port_metadata(
    router: NbObject, port: dict[str, Any], network: NbObject | None, name: str
) -> dict[str, Any]:
    port_id = port["id"]
    metadata: dict[str, Any] = {
        "Name": name,
        "Type": md.ROUTER_PORT,
        "Manager": md.MANAGER,
        md.DRAGONFLOW: {**port, "lrouter": router.id, "Table": md.ROUTER_PORT, "ID": port_id},
        "State": "UP",
    }
    topic = text(port.get("topic")) or text(router.data.get("topic"))
    if topic:
        metadata["Tenant"] = topic
    if isinstance(port.get("mac"), str):
        metadata["MAC"] = port["mac"]
    address = md.interface_address(port.get("network"))
    addresses = [address] if address else []
    md.put_addresses(metadata, addresses)
    metadata["Neutron"] = neutron_metadata(
        port_id, text(port.get("lswitch")), network, topic, addresses
    )
    return metadata


def draw_lrouter(ctx: RenderContext) -> None:
    draw_generic(ctx)
    router = ctx.obj
    shown = NbObject(router.table, router.id, redact(router))
    for port in _router_ports(shown):
        network = ctx.get(tables.LSWITCH, port.get("lswitch"))
        port_node = ctx.node(
            ids.router_port_id(router.id, port["id"]),
            router_port_metadata(
                router, port, network, labels.router_port_label(ctx, router, port)
            ),
        )
        ctx.edge(ctx.own_id, OWNERSHIP, port_node)
        if text(port.get("lswitch")):
            ctx.edge(ctx.ref(tables.LSWITCH, port["lswitch"]), LAYER2, port_node)
        ctx.edge(port_node, "router-interface", ctx.ref(tables.LPORT, port["id"]))


def pull_lrouter(ctx: RenderContext, anchored: bool) -> None:
    for port in _router_ports(ctx.obj):
        ctx.claim(tables.LSWITCH, port.get("lswitch"), MEMBER)
        ctx.claim(tables.LPORT, port["id"], MEMBER)
    for gateway in ctx.lookup("gateways_by_router", ctx.obj.id):
        ctx.claim(tables.LPORT, gateway, MEMBER)


# floatingip ---------------------------------------------------------------------------------------


def draw_floatingip(ctx: RenderContext) -> None:
    data = ctx.obj.data
    metadata = with_address(ctx, "floating_ip_address")
    metadata["Name"] = labels.floatingip_label(ctx.obj)
    own(ctx, metadata)
    tenant_owner(ctx)
    ref_edge(ctx, tables.LPORT, data.get("lport"), "floatingip", "fixed")
    ref_edge(ctx, tables.LPORT, data.get("floating_lport"), "floatingip", "port")
    ref_edge(ctx, tables.LROUTER, data.get("lrouter"), "floatingip", "router")


def anchor_floatingip(ctx: RenderContext) -> bool:
    return port_placed_here(ctx, ctx.obj.data.get("lport"))


def pull_floatingip(ctx: RenderContext, anchored: bool) -> None:
    data = ctx.obj.data
    ctx.claim(tables.LPORT, data.get("lport"), MEMBER)
    ctx.claim(tables.LPORT, data.get("floating_lport"), MEMBER)
    ctx.claim(tables.LROUTER, data.get("lrouter"), MEMBER)


# BGP ---------------------------------------------------------------------------------------------


def draw_bgp_speaker(ctx: RenderContext) -> None:
    draw_generic(ctx)
    ref_edges(ctx, tables.BGP_PEER, ctx.obj.data.get("peers"), "bgp-peer")


def draw_bgp_peer(ctx: RenderContext) -> None:
    own(ctx, with_address(ctx, "peer_ip"))
    tenant_owner(ctx)


ROUTING_RULES: dict[str, Rule] = {
    tables.LROUTER: Rule(draw_lrouter, handled("ports[].lswitch"), pull=pull_lrouter),
    tables.FLOATINGIP: Rule(
        draw_floatingip,
        handled("lport", "floating_lport", "lrouter"),
        anchor_floatingip,
        pull_floatingip,
    ),
    tables.BGP_SPEAKER: Rule(draw_bgp_speaker, handled("peers")),
    tables.BGP_PEER: Rule(draw_bgp_peer),
}
