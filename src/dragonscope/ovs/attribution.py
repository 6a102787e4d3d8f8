"""Which NB object each installed flow serves, and which flows serve none.

Dragonflow's cookies do not name the owning app or object, so a flow is attributed by its
match keys, as Dragonflow's apps write them: ``reg6`` (source port key), ``reg7`` (destination
port key), ``metadata`` (network key) and ``in_port`` (the OpenFlow port of a VM interface), and
by the port key an L2 lookup loads into ``reg7``.
A key that names no current object makes the flow stale.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from dragonscope.ovs import tables
from dragonscope.ovs.flows import Flow
from dragonscope.ovs.nbview import NbView

STALE_SAMPLES = 20
_PORT_REGISTERS = ("reg6", "reg7")


@dataclass(slots=True)
class FlowSummary:
    total: int = 0
    per_port: dict[str, Counter[int]] = field(default_factory=dict)
    # remote port id -> tunnel destinations of its table-75 egress flows
    egress: dict[str, set[str]] = field(default_factory=dict)
    stale: list[str] = field(default_factory=list)
    stale_count: int = 0


def _describe(flow: Flow) -> str:
    match = ",".join(f"{k}={v}" if v else k for k, v in flow.match.items())
    return f"table={flow.table},priority={flow.priority}{',' + match if match else ''}"


def summarise(
    flows: list[Flow], nb: NbView, ofports: dict[int, str], table_map: tables.TableMap
) -> FlowSummary:
    """``ofports``: OpenFlow port -> the iface-id (or "" for ports without one) on the bridge."""
    summary = FlowSummary(total=len(flows))
    for flow in flows:
        if (
            flow.timeout
            or flow.table == tables.LEARNED_REPLIES
            or table_map.is_layout_edge(flow.table, flow.priority)
        ):
            continue
        owners: set[str] = set()
        why: list[str] = []
        keys = [(register, flow.key(register)) for register in _PORT_REGISTERS]
        for register, key in [*keys, *flow.written_keys]:
            if key:
                port = nb.port_by_key.get(key)
                if port is None:
                    why.append(f"{register}={key:#x} names no logical port")
                else:
                    owners.add(port)
        network_key = flow.key("metadata")
        if network_key and network_key not in nb.network_by_key:
            why.append(f"metadata={network_key:#x} names no network")
        in_port = flow.key("in_port")
        if flow.table == tables.INGRESS_CLASSIFICATION and in_port is not None:
            if in_port not in ofports:
                why.append(f"in_port={in_port} is no port of the bridge")
            elif ofports[in_port] in nb.ports:
                owners.add(ofports[in_port])
        for port in owners:
            summary.per_port.setdefault(port, Counter())[flow.table] += 1
        reg7 = flow.key("reg7")
        if flow.table == tables.EGRESS and reg7 and (dst := flow.tun_dst):
            port = nb.port_by_key.get(reg7)
            if port is not None:
                summary.egress.setdefault(port, set()).add(dst)
        if why:
            summary.stale_count += 1
            if len(summary.stale) < STALE_SAMPLES:
                summary.stale.append(f"{_describe(flow)}: {'; '.join(why)}")
    return summary
