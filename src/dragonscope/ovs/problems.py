"""What is wrong between Dragonflow's intent (the NB) and this chassis's switch, said plainly.

Each problem is one sentence an operator can act on; ``docs/ovs-probe.md`` lists them all with
their usual cause and fix. Flow checks run only once a flow scan has completed.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from dragonscope.ovs import tables
from dragonscope.ovs.attribution import FlowSummary
from dragonscope.ovs.nbview import TUNNEL_TYPES, NbView
from dragonscope.ovs.state import Interface, OvsState


@dataclass(slots=True)
class Findings:
    ports: dict[str, list[str]] = field(default_factory=dict)  # lport id -> problems
    interfaces: dict[str, list[str]] = field(default_factory=dict)  # interface uuid -> problems
    bridge: list[str] = field(default_factory=list)

    def port(self, port_id: str, text: str) -> None:
        self.ports.setdefault(port_id, []).append(text)

    def interface(self, iface: Interface, text: str) -> None:
        self.interfaces.setdefault(iface.uuid, []).append(text)


def _usable(iface: Interface) -> bool:
    return iface.ofport is not None and iface.ofport > 0 and not iface.error


def check(
    chassis: str,
    bridge_name: str,
    state: OvsState,
    nb: NbView,
    flows: FlowSummary | None,
) -> Findings:
    found = Findings()
    bridge = state.bridge(bridge_name)
    if bridge is None:
        found.bridge.append(f"the integration bridge {bridge_name} does not exist")
        return found
    plugged: dict[str, Interface] = {}
    tunnel_kinds: set[str] = set()
    for _port, iface in state.interfaces_of(bridge):
        if iface.options.get("remote_ip") == "flow":
            tunnel_kinds.add(iface.type)
        if iface.error:
            found.interface(iface, f"OVS reports an error: {iface.error}")
        elif iface.ofport is None or iface.ofport < 0:
            found.interface(iface, "no OpenFlow port (ofport -1): OVS could not open the device")
        iface_id = iface.iface_id
        if iface_id is None:
            continue
        lport = nb.ports.get(iface_id)
        if lport is None:
            found.interface(iface, f"iface-id {iface_id} names no logical port")
            continue
        if lport.chassis != chassis:
            where = lport.chassis or "no chassis"
            found.interface(iface, f"its logical port {iface_id} is bound to {where}, not here")
            continue
        plugged[iface_id] = iface
        down = [s for s in ("admin", "link") if getattr(iface, f"{s}_state") == "down"]
        if down and lport.enabled:
            text = f"interface {iface.name} is {' and '.join(down)} down while the port is up"
            found.port(iface_id, text)
            found.interface(iface, text)
    local_networks: set[str] = set()
    for port in nb.ports.values():
        if port.chassis != chassis:
            continue
        if port.network:
            local_networks.add(port.network)
        plug = plugged.get(port.id)
        if plug is None:
            found.port(port.id, f"bound to {chassis} but no OVS interface has its iface-id")
        elif flows is not None and _usable(plug):
            counts = flows.per_port.get(port.id, Counter[int]())
            missing = [
                str(t) for t in (tables.INGRESS_CLASSIFICATION, tables.INGRESS_DISPATCH)
                if not counts.get(t)
            ]  # fmt: skip
            if missing:
                found.port(port.id, f"no classifier flows installed (tables {', '.join(missing)})")
    for network_id in sorted(local_networks):
        network = nb.networks.get(network_id)
        kind = network.network_type if network else None
        if kind in TUNNEL_TYPES and kind not in tunnel_kinds:
            found.bridge.append(f"no {kind} tunnel port ({kind}-vtp) for network {network_id}")
    if flows is not None:
        _check_egress(chassis, nb, flows, local_networks, found)
        if flows.stale_count:
            found.bridge.append(f"{flows.stale_count} stale flow(s) match keys no object has")
    return found


def _check_egress(
    chassis: str, nb: NbView, flows: FlowSummary, local_networks: set[str], found: Findings
) -> None:
    """A remote port on a local tunnel network needs a table-75 flow to its chassis's IP.

    Said on the bridge: the remote port's own node is its home chassis's to publish."""
    for port in nb.ports.values():
        if port.chassis == chassis or port.network not in local_networks or not port.remote_ip:
            continue
        network = nb.networks.get(port.network or "")
        if network is None or network.network_type not in TUNNEL_TYPES:
            continue
        targets = flows.egress.get(port.id)
        if not targets:
            found.bridge.append(f"remote port {port.id}: no tunnel egress flow (table 75)")
        elif port.remote_ip not in targets:
            found.bridge.append(
                f"remote port {port.id}: tunnel egress flow goes to "
                f"{', '.join(sorted(targets))}, but its binding says {port.remote_ip}"
            )
