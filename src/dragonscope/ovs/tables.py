"""Dragonflow's OpenFlow pipeline: which table does what.

Tables 0-200 are fixed by Dragonflow's controller; tables from 201 up are allocated at
controller start from the datapath layout, so they are named from the allocation file the
controller writes (``[df] datapath_allocation_output_path``) when it is there, never assumed.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

log = logging.getLogger("dragonscope.ovs")

DEFAULT_ALLOCATION_FILE = "/var/run/dragonflow/dragonflow_datapath_allocation.json"
LEGACY_VERTEX = "dragonflow-legacy"
FIRST_ALLOCATED = 201

INGRESS_CLASSIFICATION = 0
L2_LOOKUP = 55
EGRESS = 75
INGRESS_DISPATCH = 115
LEARNED_REPLIES = 40  # metadata service replies: flows made by OVS learn actions

CLASSIC_TABLES: dict[int, str] = {
    0: "ingress classification dispatch",
    1: "ingress classification exit point",
    2: "external ingress detect source",
    10: "egress conntrack",
    15: "egress security group",
    20: "services classification",
    25: "ARP",
    30: "DHCP",
    35: "metadata service",
    40: "metadata service reply",
    45: "IPv6 ND",
    50: "ingress NAT",
    51: "ingress SNAT",
    55: "L2 lookup",
    60: "L3 lookup",
    65: "L3 proactive lookup",
    70: "egress NAT",
    71: "egress SNAT",
    75: "egress",
    76: "ingress DNAT",
    77: "egress DNAT",
    80: "egress external",
    100: "ingress destination port lookup",
    105: "ingress conntrack",
    110: "ingress security group",
    115: "ingress dispatch",
    120: "SFC encapsulation",
    121: "SFC MPLS dispatch",
    122: "SFC MPLS port-pair decapsulation",
    125: "SFC end of chain",
    200: "canary",
}


def read_allocation(path: str | Path) -> dict[int, str]:
    """Names of the layout-allocated tables (``portsec.main``, ``log.out.default``...);
    empty when the file is absent or unreadable (a warning says why)."""
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        log.warning("cannot read the datapath allocation %s: %s", path, exc)
        return {}
    names: dict[int, str] = {}
    if not isinstance(data, dict):
        return names
    for vertex, allocation in data.items():
        if vertex == LEGACY_VERTEX or not isinstance(allocation, dict):
            continue
        for part, prefix in (("states", ""), ("exitpoints", "out.")):
            tables = allocation.get(part)
            if isinstance(tables, dict):
                for name, table in tables.items():
                    if isinstance(table, int) and not isinstance(table, bool):
                        names[table] = f"{vertex}.{prefix}{name}"
    return names


class TableMap:
    """Table number -> name, for the details panel and the docs."""

    def __init__(self, allocation_file: str | Path | None = DEFAULT_ALLOCATION_FILE) -> None:
        self.allocated = read_allocation(allocation_file) if allocation_file else {}

    def name(self, table: int) -> str:
        if table in CLASSIC_TABLES:
            return CLASSIC_TABLES[table]
        if table in self.allocated:
            return self.allocated[table]
        if table >= FIRST_ALLOCATED:
            return "datapath layout (allocation file not found)"
        return "not a Dragonflow table"

    def is_layout_edge(self, table: int, priority: int) -> bool:
        """A match-all edge of the datapath layout: cookie 0, owned by no object."""
        return table == 1 or (
            table in self.allocated and ".out." in self.allocated[table] and priority == 32768
        )
