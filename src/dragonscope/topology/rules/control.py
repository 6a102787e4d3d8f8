"""Rules of the infrastructure and the control plane: chassis, their services, publishers
and listeners, and ports migrating between chassis."""

from __future__ import annotations

from urllib.parse import urlsplit

from dragonscope.nb import tables
from dragonscope.topology import metadata as md
from dragonscope.topology.contribution import MEMBER, RenderContext
from dragonscope.topology.rules import labels
from dragonscope.topology.rules.kit import (
    OWNERSHIP,
    Rule,
    draw_generic,
    handled,
    own,
    port_placed_here,
    ref_edge,
    text,
    with_address,
)

# chassis and what runs on them -------------------------------------------------------------------


def draw_chassis(ctx: RenderContext) -> None:
    own(ctx, with_address(ctx, "ip"))


def is_this_chassis(ctx: RenderContext) -> bool:
    """Anchor of the objects keyed by their chassis' name."""
    return ctx.obj.id == ctx.chassis


def _owned_by_chassis(ctx: RenderContext, chassis: str | None, name: str | None = None) -> None:
    """A control-plane object: a node, owned by the chassis it runs on when that is known."""
    metadata = md.base(ctx.obj)
    if name:
        metadata["Name"] = name
    own(ctx, metadata)
    if chassis:
        ctx.edge(ctx.ref(tables.CHASSIS, chassis), OWNERSHIP, ctx.own_id)


def draw_service(ctx: RenderContext) -> None:
    _owned_by_chassis(ctx, text(ctx.obj.data.get("chassis")), labels.service_label(ctx.obj))


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
    _owned_by_chassis(ctx, _publisher_chassis(ctx))


def anchor_publisher(ctx: RenderContext) -> bool:
    return _publisher_chassis(ctx) == ctx.chassis


def draw_listener(ctx: RenderContext) -> None:
    known = ctx.get(tables.CHASSIS, ctx.obj.id) is not None
    _owned_by_chassis(ctx, ctx.obj.id if known else None)


# migration ----------------------------------------------------------------------------------------


def _migrating_port(ctx: RenderContext) -> str | None:
    """``lport`` once the source side unplugged; before that, the id is the port's id."""
    port = text(ctx.obj.data.get("lport"))
    if port:
        return port
    return ctx.obj.id if ctx.get(tables.LPORT, ctx.obj.id) is not None else None


def draw_migration(ctx: RenderContext) -> None:
    draw_generic(ctx)
    port = _migrating_port(ctx)
    if port:
        ctx.edge(ctx.own_id, "migration", ctx.ref(tables.LPORT, port), role="port")
    ref_edge(ctx, tables.CHASSIS, ctx.obj.data.get("dest_chassis"), "migration", "destination")


def anchor_migration(ctx: RenderContext) -> bool:
    if ctx.obj.data.get("dest_chassis") == ctx.chassis:
        return True
    port = _migrating_port(ctx)
    return port is not None and port_placed_here(ctx, port)


def pull_migration(ctx: RenderContext, anchored: bool) -> None:
    ctx.claim(tables.LPORT, _migrating_port(ctx), MEMBER)
    ctx.claim(tables.CHASSIS, ctx.obj.data.get("dest_chassis"), MEMBER)


CONTROL_RULES: dict[str, Rule] = {
    tables.CHASSIS: Rule(draw_chassis, anchor=is_this_chassis),
    tables.SERVICE: Rule(draw_service, handled("chassis"), anchor_service),
    tables.PUBLISHER: Rule(draw_publisher, anchor=anchor_publisher),
    tables.LISTENER: Rule(draw_listener, anchor=is_this_chassis),
    tables.MIGRATION: Rule(
        draw_migration, handled("lport", "dest_chassis"), anchor_migration, pull_migration
    ),
}
