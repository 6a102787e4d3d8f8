"""A chassis's switch as Skydive draws OVS: ``ovsbridge`` → ``ovsport`` → interface nodes
(typed ``internal``, ``vxlan``, ``patch``, ``device``...), owned by the chassis node, with the
VM interfaces joined to their logical ports by ``external_ids:iface-id`` and the tunnel mesh
derived from the egress flows. Logical ports get an ``OVS`` section (their interface, OpenFlow
port, counters and flows per table) and the problems found about them.

The mesh's far ends are other chassis's nodes: ``OvsGraph.remote_chassis`` names them, so that
whoever publishes this graph publishes those nodes too, exactly as the NB draws them (the
analyzer merges a node several publishers send). Nothing here patches a chassis node, since
every chassis publishing the same node must send the same metadata.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from dragonscope.nb import tables as nb_tables
from dragonscope.ovs.attribution import FlowSummary
from dragonscope.ovs.flows import Flow
from dragonscope.ovs.nbview import NbView
from dragonscope.ovs.problems import Findings
from dragonscope.ovs.state import Interface, OvsState
from dragonscope.ovs.tables import TableMap
from dragonscope.topology import chassis_node_id, edge_id, node_id

OWNERSHIP = "ownership"
LAYER2 = "layer2"
PATCH = "patch"
TUNNEL = "tunnel"

Metrics = dict[str, dict[str, int]]
"""Interface UUID -> Skydive-style ``Metric`` (RxPackets, TxBytes...)."""


@dataclass(slots=True)
class OvsGraph:
    nodes: dict[str, dict[str, Any]] = field(default_factory=dict)
    edges: dict[str, tuple[str, str, dict[str, Any]]] = field(default_factory=dict)
    patches: dict[str, dict[str, Any]] = field(default_factory=dict)  # NB node id -> additions
    remote_chassis: set[str] = field(default_factory=set)  # far ends of the tunnel edges

    def edge(self, parent: str, relation: str, child: str, **extra: Any) -> None:
        self.edges[edge_id(parent, relation, child)] = (
            parent, child, {"RelationType": relation, **extra},
        )  # fmt: skip


def _interface_metadata(iface: Interface, metric: dict[str, int] | None) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "Name": iface.name,
        "Type": iface.kind,
        "UUID": iface.uuid,
        "OfPort": iface.ofport if iface.ofport is not None else -1,
        "State": "UP" if iface.admin_state == "up" and iface.link_state == "up" else "DOWN",
    }
    for key, value in (("MAC", iface.mac), ("MTU", iface.mtu), ("Error", iface.error)):
        if value is not None:
            metadata[key] = value
    for key, value in (("AdminState", iface.admin_state), ("LinkState", iface.link_state)):
        if value is not None:
            metadata[key] = value
    for key, value in sorted(iface.external_ids.items()):
        metadata[f"ExtID.{key}"] = value
    if iface.options:
        metadata["Options"] = dict(sorted(iface.options.items()))
    if metric:
        metadata["Metric"] = metric
    return metadata


def rule_metadata(flow: Flow) -> dict[str, Any]:
    """An ``ofrule`` node, as Skydive's OVS probe names its fields."""
    return {
        "Name": f"table {flow.table} priority {flow.priority}",
        "Type": "ofrule",
        "Cookie": f"{flow.cookie:#x}",
        "Table": flow.table,
        "Priority": flow.priority,
        "Filters": ",".join(f"{k}={v}" if v else k for k, v in flow.match.items()),
        "Actions": flow.actions,
    }


def build(
    chassis: str,
    bridge_name: str,
    state: OvsState,
    nb: NbView,
    summary: FlowSummary | None,
    findings: Findings,
    table_map: TableMap,
    metrics: Metrics,
    rules: list[Flow] | None = None,
) -> OvsGraph:
    out = OvsGraph()
    chassis_node = node_id(nb_tables.CHASSIS, chassis)

    def nid(kind: str, key: str) -> str:
        return chassis_node_id(chassis, kind, key)

    integration: str | None = None
    by_name: dict[str, str] = {}
    patch_peers: list[tuple[str, str]] = []
    for bridge in sorted(state.bridges.values(), key=lambda b: b.name):
        bridge_id = nid("ovsbridge", bridge.name)
        metadata: dict[str, Any] = {
            "Name": bridge.name, "Type": "ovsbridge", "UUID": bridge.uuid,
            "DatapathType": bridge.datapath_type or "system",
        }  # fmt: skip
        if bridge.fail_mode:
            metadata["FailMode"] = bridge.fail_mode
        if bridge.controllers:
            metadata["Controllers"] = list(bridge.controllers)
        if bridge.name == bridge_name:
            integration = bridge_id
            metadata["Integration"] = True
            if summary is not None:
                metadata["Flows"] = summary.total
                metadata["StaleFlows"] = summary.stale_count
                if summary.stale:
                    metadata["StaleFlowSamples"] = summary.stale
            if findings.bridge:
                metadata["Problems"] = list(findings.bridge)
            for flow in rules or ():
                rule_key = f"{flow.table}/{flow.priority}/{sorted(flow.match.items())}"
                rule_id = nid("ofrule", rule_key)
                out.nodes[rule_id] = rule_metadata(flow)
                out.edge(bridge_id, OWNERSHIP, rule_id)
        out.nodes[bridge_id] = metadata
        out.edge(chassis_node, OWNERSHIP, bridge_id)
        for port, iface in state.interfaces_of(bridge):
            port_id = nid("ovsport", port.name)
            if port_id not in out.nodes:
                port_md: dict[str, Any] = {"Name": port.name, "Type": "ovsport", "UUID": port.uuid}
                port_md.update({f"ExtID.{k}": v for k, v in sorted(port.external_ids.items())})
                out.nodes[port_id] = port_md
                out.edge(bridge_id, OWNERSHIP, port_id)
            iface_id = nid("interface", iface.name)
            iface_md = _interface_metadata(iface, metrics.get(iface.uuid))
            if problems := findings.interfaces.get(iface.uuid):
                iface_md["Problems"] = list(problems)
            out.nodes[iface_id] = iface_md
            out.edge(port_id, OWNERSHIP, iface_id)
            by_name[iface.name] = iface_id
            if iface.type == "patch" and iface.options.get("peer"):
                patch_peers.append((iface.name, iface.options["peer"]))
            lport = nb.ports.get(iface.iface_id or "")
            if lport is not None and bridge.name == bridge_name:
                lport_node = node_id(nb_tables.LPORT, lport.id)
                out.edge(lport_node, LAYER2, iface_id, Join="iface-id")
                section: dict[str, Any] = {"Interface": iface.name, "OfPort": iface_md["OfPort"]}
                if "Metric" in iface_md:
                    section["Metric"] = iface_md["Metric"]
                out.patches.setdefault(lport_node, {})["OVS"] = section
    for name, peer in patch_peers:
        if peer in by_name and name < peer:
            out.edge(by_name[name], PATCH, by_name[peer])
    if summary is not None:
        _flow_sections(nb, summary, table_map, out)
        tunnels = _tunnel_mesh(chassis_node, nb, summary, out)
        if integration is not None:
            out.nodes[integration]["Tunnels"] = tunnels
    for port_id, problems in findings.ports.items():
        out.patches.setdefault(node_id(nb_tables.LPORT, port_id), {})["Problems"] = problems
    # A port bound elsewhere is its own chassis's to describe: two chassis publishing different
    # additions to one node would overwrite each other.
    local = {node_id(nb_tables.LPORT, p.id) for p in nb.ports.values() if p.chassis == chassis}
    out.patches = {nid: patch for nid, patch in out.patches.items() if nid in local}
    return out


def _flow_sections(nb: NbView, summary: FlowSummary, table_map: TableMap, out: OvsGraph) -> None:
    for port_id, counts in summary.per_port.items():
        section = out.patches.setdefault(node_id(nb_tables.LPORT, port_id), {}).setdefault(
            "OVS", {}
        )
        section["Flows"] = {str(t): n for t, n in sorted(counts.items())}
        section["FlowTables"] = {str(t): table_map.name(t) for t in sorted(counts)}
        section["FlowCount"] = sum(counts.values())
    for port_id in nb.ports:
        node = node_id(nb_tables.LPORT, port_id)
        if "OVS" in out.patches.get(node, {}) and "Flows" not in out.patches[node]["OVS"]:
            out.patches[node]["OVS"].update(Flows={}, FlowCount=0)


def _tunnel_mesh(
    chassis_node: str, nb: NbView, summary: FlowSummary, out: OvsGraph
) -> dict[str, dict[str, Any]]:
    """This chassis → each chassis it has remote-port egress flows towards; returns the
    mesh by remote chassis name (``RemoteIP``, ``Ports``) for the integration bridge."""
    ports_to: Counter[str] = Counter()
    for targets in summary.egress.values():
        ports_to.update(targets)
    tunnels: dict[str, dict[str, Any]] = {}
    for ip, count in sorted(ports_to.items()):
        remote = nb.chassis_at(ip)
        if remote is None or node_id(nb_tables.CHASSIS, remote) == chassis_node:
            continue
        tunnels[remote] = {"RemoteIP": ip, "Ports": count}
        out.edge(chassis_node, TUNNEL, node_id(nb_tables.CHASSIS, remote), RemoteIP=ip, Ports=count)
        out.remote_chassis.add(remote)
    return tunnels
