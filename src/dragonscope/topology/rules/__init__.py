"""Per-table translation rules: the nodes, edges and metadata of each Dragonflow table.

Each table has one ``Rule`` (see ``kit``), kept with the tables of its area: ``network``
(networks, subnets, ports), ``routing`` (routers, floating IPs, BGP), ``policy`` (security
groups, QoS, SFC) and ``control`` (chassis, services, publishers, migrations); ``registry``
maps tables to rules and renders one object. A table without a rule gets a generic node,
and any schema reference a rule does not draw still gets an edge. Tables are named through
``dragonscope.nb.tables``. ``docs/graph-model.md`` describes the result.

Rules import only ``dragonscope.nb`` and the topology's own modules (metadata, IDs, the
render context): not the graph engine, not the wire, nothing above.
"""

from dragonscope.topology.rules.kit import (
    INDEXES,
    PLACING,
    SKELETONS,
    SNAPSHOT_ORDER,
    Rule,
    draw_generic,
)
from dragonscope.topology.rules.labels import missing_label, tenant_label
from dragonscope.topology.rules.registry import (
    GENERIC,
    RULES,
    elsewhere,
    render,
    render_plain,
    unhandled_references,
)

__all__ = [
    "GENERIC",
    "INDEXES",
    "PLACING",
    "RULES",
    "SKELETONS",
    "SNAPSHOT_ORDER",
    "Rule",
    "draw_generic",
    "elsewhere",
    "missing_label",
    "render",
    "render_plain",
    "tenant_label",
    "unhandled_references",
]
