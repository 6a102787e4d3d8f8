"""Rules of what is applied to ports: security groups, QoS policies, service function chains."""

from __future__ import annotations

from dragonscope.nb import tables
from dragonscope.topology.contribution import RenderContext
from dragonscope.topology.rules.kit import (
    Rule,
    draw_generic,
    handled,
    port_placed_here,
    ref_edge,
    ref_edges,
    text,
)

# secgroup -----------------------------------------------------------------------------------------


def draw_secgroup(ctx: RenderContext) -> None:
    draw_generic(ctx)
    rules = ctx.obj.data.get("rules")
    rules = rules if isinstance(rules, list) else []
    remotes = [r.get("remote_group_id") for r in rules if isinstance(r, dict)]
    ref_edges(ctx, tables.SECGROUP, remotes, "remote-group")


# SFC ---------------------------------------------------------------------------------------------


def _either_port_here(ctx: RenderContext, first: str, second: str) -> bool:
    data = ctx.obj.data
    return port_placed_here(ctx, data.get(first)) or port_placed_here(ctx, data.get(second))


def draw_sfc_portpair(ctx: RenderContext) -> None:
    draw_generic(ctx)
    ref_edge(ctx, tables.LPORT, ctx.obj.data.get("ingress_port"), "sfc", "ingress")
    ref_edge(ctx, tables.LPORT, ctx.obj.data.get("egress_port"), "sfc", "egress")


def anchor_sfc_portpair(ctx: RenderContext) -> bool:
    return _either_port_here(ctx, "ingress_port", "egress_port")


def draw_sfc_portpairgroup(ctx: RenderContext) -> None:
    draw_generic(ctx)
    ref_edges(ctx, tables.SFC_PORTPAIR, ctx.obj.data.get("port_pairs"), "sfc", "pair")


def draw_sfc_flowclassifier(ctx: RenderContext) -> None:
    draw_generic(ctx)
    ref_edge(ctx, tables.LPORT, ctx.obj.data.get("source_port"), "sfc", "source")
    ref_edge(ctx, tables.LPORT, ctx.obj.data.get("dest_port"), "sfc", "dest")


def anchor_sfc_flowclassifier(ctx: RenderContext) -> bool:
    return _either_port_here(ctx, "source_port", "dest_port")


def draw_sfc_portchain(ctx: RenderContext) -> None:
    draw_generic(ctx)
    groups = ctx.obj.data.get("port_pair_groups")
    for index, group in enumerate(groups if isinstance(groups, list) else []):
        if text(group):
            target = ctx.ref(tables.SFC_PORTPAIRGROUP, group)
            ctx.edge(ctx.own_id, "sfc", target, {"Hop": index + 1}, "hop", str(index + 1))
    classifiers = ctx.obj.data.get("flow_classifiers")
    ref_edges(ctx, tables.SFC_FLOWCLASSIFIER, classifiers, "sfc", "classifier")


POLICY_RULES: dict[str, Rule] = {
    tables.SECGROUP: Rule(draw_secgroup, handled("rules[].remote_group_id")),
    tables.QOSPOLICY: Rule(draw_generic),
    tables.SFC_PORTPAIR: Rule(
        draw_sfc_portpair, handled("ingress_port", "egress_port"), anchor_sfc_portpair
    ),
    tables.SFC_PORTPAIRGROUP: Rule(draw_sfc_portpairgroup, handled("port_pairs")),
    tables.SFC_FLOWCLASSIFIER: Rule(
        draw_sfc_flowclassifier, handled("source_port", "dest_port"), anchor_sfc_flowclassifier
    ),
    tables.SFC_PORTCHAIN: Rule(draw_sfc_portchain, handled("port_pair_groups", "flow_classifiers")),
}
