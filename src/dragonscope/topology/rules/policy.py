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


def _between_ports(first: str, second: str) -> Rule:
    """An SFC object naming two ports (``<role>_port`` fields): a node with an ``sfc`` edge
    to each, in a chassis slice when either port runs there."""
    fields = (f"{first}_port", f"{second}_port")

    def draw(ctx: RenderContext) -> None:
        draw_generic(ctx)
        for role, name in zip((first, second), fields, strict=True):
            ref_edge(ctx, tables.LPORT, ctx.obj.data.get(name), "sfc", role)

    def anchor(ctx: RenderContext) -> bool:
        return any(port_placed_here(ctx, ctx.obj.data.get(name)) for name in fields)

    return Rule(draw, handled(*fields), anchor)


def draw_sfc_portpairgroup(ctx: RenderContext) -> None:
    draw_generic(ctx)
    ref_edges(ctx, tables.SFC_PORTPAIR, ctx.obj.data.get("port_pairs"), "sfc", "pair")


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
    tables.SFC_PORTPAIR: _between_ports("ingress", "egress"),
    tables.SFC_PORTPAIRGROUP: Rule(draw_sfc_portpairgroup, handled("port_pairs")),
    tables.SFC_FLOWCLASSIFIER: _between_ports("source", "dest"),
    tables.SFC_PORTCHAIN: Rule(draw_sfc_portchain, handled("port_pair_groups", "flow_classifiers")),
}
