"""Which rule draws which table, and rendering one object with it."""

from __future__ import annotations

from functools import cache

from dragonscope.nb import TABLES, NbObject, Reference
from dragonscope.topology.contribution import RenderContext
from dragonscope.topology.rules.control import CONTROL_RULES
from dragonscope.topology.rules.kit import Rule, draw_generic
from dragonscope.topology.rules.network import NETWORK_RULES
from dragonscope.topology.rules.policy import POLICY_RULES
from dragonscope.topology.rules.routing import ROUTING_RULES

RULES: dict[str, Rule] = {**NETWORK_RULES, **ROUTING_RULES, **POLICY_RULES, **CONTROL_RULES}
GENERIC = Rule(draw_generic)
"""Tables dragonscope does not know (e.g. a Dragonflow app's own): a node, in its tenant."""


@cache
def unhandled_references(table: str) -> tuple[Reference, ...]:
    """The schema references of ``table`` that its rule does not draw itself."""
    spec = TABLES.get(table)
    if spec is None:
        return ()
    handled = RULES.get(table, GENERIC).handled
    return tuple(r for r in spec.references if r.field not in handled)


def _generic_references(ctx: RenderContext) -> None:
    """An edge for every schema reference the table's rule does not draw itself, so that
    a reference added to the schema is never silently left out of the graph."""
    if ctx.own_id not in ctx.contribution.nodes:
        return
    for reference in unhandled_references(ctx.obj.table):
        relation = reference.field.replace("[]", "")
        for _path, target in reference.locate(ctx.obj.data):
            ctx.edge(ctx.own_id, relation, ctx.ref(reference.target, target))


def elsewhere(obj: NbObject, chassis: str) -> bool:
    """Whether ``obj`` is outside ``chassis``'s slice on its own, known without a render
    (it may still be pulled in by another object)."""
    rule = RULES.get(obj.table)
    return rule is not None and rule.elsewhere is not None and rule.elsewhere(obj, chassis)


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
