"""``/api/noderule`` and ``/api/edgerule``: Skydive's topology rules over REST."""

from __future__ import annotations

from aiohttp import web

from dragonscope.analyzer.auth import Authenticator
from dragonscope.analyzer.rest.crud import Registry, mount
from dragonscope.analyzer.rules import EdgeRule, NodeRule, RuleBook


def mount_rules(router: web.UrlDispatcher, book: RuleBook, guard: Authenticator) -> None:
    """A rule is applied when created and undone when deleted; rules are never updated."""
    node_rules = Registry(
        "NodeRule", book.node_rules, NodeRule.from_body, book.apply_node_rule, book.remove_node_rule
    )
    edge_rules = Registry(
        "EdgeRule", book.edge_rules, EdgeRule.from_body, book.apply_edge_rule, book.remove_edge_rule
    )
    mount(router, "/api/noderule", node_rules, guard)
    mount(router, "/api/edgerule", edge_rules, guard)
