"""Lookup structures built once per NB snapshot, so one trace costs O(path), not O(NB).

The index mirrors what every Dragonflow controller knows (without selective topology
distribution every chassis holds every object): ports by MAC/IP per network, router
ports, floating IPs, DHCP ports, security-group member addresses, trunk children and
SFC classifiers. It also resolves runtime-only bindings (a FIP port lives where its
fixed port lives; a trunk child where its parent lives). ``objects`` reads each stored
object; this module only relates them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from dragonscope.nb import NbObject, Snapshot
from dragonscope.nb.tables import (
    ACTIVEPORT,
    BGP_PEER,
    BGP_SPEAKER,
    CHASSIS,
    CHILD_PORT_SEGMENTATION,
    FLOATINGIP,
    LISTENER,
    LPORT,
    LROUTER,
    LSUBNET,
    LSWITCH,
    MIGRATION,
    PUBLISHER,
    QOSPOLICY,
    SECGROUP,
    SERVICE,
    SFC_FLOWCLASSIFIER,
    SFC_PORTCHAIN,
    SFC_PORTPAIR,
    UNIQUE_KEY,
)
from dragonscope.topology import node_id, router_port_id
from dragonscope.trace.model import ObjRef
from dragonscope.trace.objects import (
    DHCP_OWNER,
    Chassis,
    ChildPort,
    FloatingIp,
    IpAddr,
    Network,
    Port,
    Router,
    RouterPort,
    Subnet,
    read_chassis,
    read_child,
    read_fip,
    read_network,
    read_port,
    read_router,
    read_subnet,
)

# Tables no index structure reads: a change there leaves an index valid (``refresh``).
IGNORED_TABLES = frozenset(
    {
        SERVICE,
        PUBLISHER,
        LISTENER,
        BGP_PEER,
        BGP_SPEAKER,
        QOSPOLICY,
        ACTIVEPORT,
        MIGRATION,
        UNIQUE_KEY,
    }
)
# A router's embedded port is a graph node of its own (not an NB table) that hops name.
ROUTER_PORT = "lrouter_port"


def _heartbeats(services: Iterable[dict[str, Any]]) -> tuple[dict[str, float], float | None]:
    """Last heartbeat of each chassis' local controller, and the newest of any service."""
    seen: dict[str, float] = {}
    newest: float | None = None
    for d in services:
        when = d.get("last_seen_up")
        if isinstance(when, bool) or not isinstance(when, int | float):
            continue
        newest = when if newest is None else max(newest, when)
        chassis = d.get("chassis")
        if d.get("binary") == "df-local-controller" and isinstance(chassis, str):
            seen[chassis] = max(seen.get(chassis, when), when)
    return seen, newest


class NbIndex:
    """Everything the pipeline looks up, keyed the way the flows match."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        self._refs: dict[tuple[str, str, str, str], ObjRef] = {}
        self.networks: dict[str, Network] = {}
        self.subnets: dict[str, Subnet] = {}
        self.ports: dict[str, Port] = {}
        self.routers: dict[str, Router] = {}
        self.fips: dict[str, FloatingIp] = {}
        self.chassis: dict[str, Chassis] = {}
        self.children: dict[str, ChildPort] = {}  # by child port id
        self.parents: dict[tuple[str, int], ChildPort] = {}  # (parent port id, vlan)
        self.secgroups: dict[str, dict[str, Any]] = {}
        self.by_name: dict[str, list[Port]] = defaultdict(list)
        self.by_ip: dict[IpAddr, list[Port]] = defaultdict(list)
        self.networks_by_name: dict[str, list[Network]] = defaultdict(list)
        self.subnets_by_net: dict[str, list[Subnet]] = defaultdict(list)
        self.l2_by_mac: dict[tuple[str, str], Port] = {}
        self.any_by_mac: dict[tuple[str, str], list[Port]] = defaultdict(list)
        self.l3_by_ip: dict[tuple[str, IpAddr], tuple[Port, str]] = {}
        self.any_by_net_ip: dict[tuple[str, IpAddr], list[Port]] = defaultdict(list)
        self.pair_owners: dict[tuple[str, IpAddr], list[Port]] = defaultdict(list)
        self.router_ports_by_mac: dict[tuple[str, str], RouterPort] = {}
        self.router_ports_by_net: dict[str, list[RouterPort]] = defaultdict(list)
        self.router_port_ids: set[str] = set()
        self.dhcp_port: dict[str, Port] = {}
        self.fips_by_fixed: dict[str, list[FloatingIp]] = defaultdict(list)
        self.fip_by_port: dict[str, FloatingIp] = {}
        self.fip_by_address: dict[IpAddr, FloatingIp] = {}
        self.local_ports: dict[tuple[str, str], list[Port]] = defaultdict(list)
        self.port_chassis_by_net: dict[str, set[str]] = defaultdict(set)
        self.net_by_tunnel: dict[tuple[str, int], Network] = {}
        self.net_by_physnet: dict[tuple[str, int | None], list[Network]] = defaultdict(list)
        self.sg_member_ips: dict[str, set[IpAddr]] = defaultdict(set)
        self.classifiers_by_src: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.classifiers_by_dst: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.chain_by_classifier: dict[str, dict[str, Any]] = {}
        self.pair_by_ingress: dict[str, dict[str, Any]] = {}  # a port pair by its ingress port
        self.controller_seen: dict[str, float] = {}
        self.newest_heartbeat: float | None = None
        self._build()

    # -- references -----------------------------------------------------------
    def ref(self, table: str, obj_id: str, name: str = "", detail: str = "") -> ObjRef:
        key = (table, obj_id, name, detail)
        ref = self._refs.get(key)
        if ref is None:
            ref = ObjRef(table, obj_id, name or obj_id, node_id(table, obj_id), detail)
            self._refs[key] = ref
        return ref

    def sg_ref(self, sg_id: str, detail: str = "") -> ObjRef:
        group = self.secgroups.get(sg_id) or {}
        name = group.get("name") if isinstance(group.get("name"), str) else ""
        return self.ref(SECGROUP, sg_id, name or sg_id, detail)

    def router_port_ref(self, rp: RouterPort) -> ObjRef:
        """The router's embedded port (its own graph node, distinct from the lport)."""
        key = (ROUTER_PORT, rp.router_id, rp.id, "")
        ref = self._refs.get(key)
        if ref is None:
            router = self.routers.get(rp.router_id)
            name = f"{router.name if router else rp.router_id}:{rp.ip}"
            ref = ObjRef(ROUTER_PORT, rp.id, name, router_port_id(rp.router_id, rp.id))
            self._refs[key] = ref
        return ref

    def port_ref(self, port: Port, detail: str = "") -> ObjRef:
        return self.ref(LPORT, port.id, port.name, detail)

    def net_ref(self, network: Network) -> ObjRef:
        return self.ref(LSWITCH, network.id, network.name)

    def router_ref(self, router: Router, detail: str = "") -> ObjRef:
        return self.ref(LROUTER, router.id, router.name, detail)

    def get(self, table: str, obj_id: str) -> dict[str, Any] | None:
        obj = self.snapshot.get((table, obj_id))
        return obj.data if obj is not None and isinstance(obj.data, dict) else None

    def refresh(self, snapshot: Snapshot) -> None:
        """Adopt a newer snapshot that differs only in IGNORED_TABLES (heartbeats, BGP,
        migration hints): lazily read tables and controller heartbeats follow it."""
        self.snapshot = snapshot
        self.controller_seen, self.newest_heartbeat = _heartbeats(
            obj.data
            for (table, _), obj in snapshot.items()
            if table == SERVICE and isinstance(obj.data, dict)
        )

    # -- building ---------------------------------------------------------------
    def _build(self) -> None:
        by_table: dict[str, list[NbObject]] = defaultdict(list)
        for (table, _), obj in self.snapshot.items():
            if isinstance(obj.data, dict):
                by_table[table].append(obj)
        for obj in by_table[CHASSIS]:
            self.chassis[obj.id] = read_chassis(obj)
        self.controller_seen, self.newest_heartbeat = _heartbeats(
            obj.data for obj in by_table[SERVICE]
        )
        for obj in by_table[LSWITCH]:
            self._add_network(read_network(obj))
        for obj in by_table[LSUBNET]:
            subnet = read_subnet(obj)
            self.subnets[subnet.id] = subnet
            self.subnets_by_net[subnet.net_id].append(subnet)
        for obj in by_table[SECGROUP]:
            self.secgroups[obj.id] = obj.data
        for port in sorted((read_port(obj) for obj in by_table[LPORT]), key=lambda p: p.key):
            self._add_port(port)
        for obj in by_table[LROUTER]:
            self._add_router(read_router(obj))
        for obj in by_table[CHILD_PORT_SEGMENTATION]:
            cps = read_child(obj)
            if cps is not None:
                self.children[cps.child] = cps
                if cps.type == "vlan" and cps.vlan is not None:
                    self.parents[(cps.parent, cps.vlan)] = cps
        for obj in by_table[FLOATINGIP]:
            self._add_fip(read_fip(obj))
        self._place_runtime_bindings()
        for port in sorted(self.ports.values(), key=lambda p: p.key):
            self._index_port(port)
        for obj in by_table[SFC_FLOWCLASSIFIER]:
            d = {**obj.data, "id": obj.id}
            if isinstance(d.get("source_port"), str):
                self.classifiers_by_src[d["source_port"]].append(d)
            if isinstance(d.get("dest_port"), str):
                self.classifiers_by_dst[d["dest_port"]].append(d)
        for obj in by_table[SFC_PORTPAIR]:
            if isinstance(obj.data.get("ingress_port"), str):
                self.pair_by_ingress[obj.data["ingress_port"]] = {**obj.data, "id": obj.id}
        for obj in by_table[SFC_PORTCHAIN]:
            chain = obj.data.get("flow_classifiers")
            for fc in chain if isinstance(chain, list) else []:
                if isinstance(fc, str):
                    self.chain_by_classifier[fc] = {**obj.data, "id": obj.id}

    def _add_network(self, network: Network) -> None:
        self.networks[network.id] = network
        self.networks_by_name[network.name].append(network)
        if network.is_tunnel and network.segmentation_id is not None:
            self.net_by_tunnel[(network.type, network.segmentation_id)] = network
        if network.is_provider and network.physnet:
            vlan = network.segmentation_id if network.type == "vlan" else None
            self.net_by_physnet[(network.physnet, vlan)].append(network)

    def _add_port(self, port: Port) -> None:
        self.ports[port.id] = port
        if port.name != port.id:
            self.by_name[port.name].append(port)
        for addr in port.ips:
            self.by_ip[addr].append(port)
        if port.device_owner == DHCP_OWNER:
            self.dhcp_port[port.net_id] = port

    def _add_router(self, router: Router) -> None:
        self.routers[router.id] = router
        for rp in router.ports:
            self.router_ports_by_mac[(rp.net_id, rp.mac)] = rp
            self.router_ports_by_net[rp.net_id].append(rp)
            self.router_port_ids.add(rp.id)

    def _add_fip(self, fip: FloatingIp) -> None:
        self.fips[fip.id] = fip
        if fip.fixed_port:
            self.fips_by_fixed[fip.fixed_port].append(fip)
        if fip.floating_port:
            self.fip_by_port[fip.floating_port] = fip
        if fip.address is not None:
            self.fip_by_address[fip.address] = fip

    def _place_runtime_bindings(self) -> None:
        """Trunk children live where their parent lives, FIP ports where their fixed port
        lives; Dragonflow copies these bindings in memory only."""
        for cps in self.children.values():
            child, parent = self.ports.get(cps.child), self.ports.get(cps.parent)
            if child and parent and child.binding_type is None and parent.chassis:
                child.chassis, child.runtime_binding = parent.chassis, "trunk-child"
                child.binding_type = "chassis"
        for fip in self.fips.values():
            fport = self.ports.get(fip.floating_port)
            fixed = self.ports.get(fip.fixed_port or "")
            if fport and fixed and fixed.bound and fixed.chassis and fport.binding_type is None:
                fport.chassis, fport.runtime_binding = fixed.chassis, "floatingip"
                fport.binding_type = "chassis"

    def _index_port(self, port: Port) -> None:
        self.any_by_mac[(port.net_id, port.mac)].append(port)
        for addr in port.ips:
            self.any_by_net_ip[(port.net_id, addr)].append(port)
        for addr, _ in port.pairs:
            self.pair_owners[(port.net_id, addr)].append(port)
        if not port.bound:
            return
        for sg in port.security_groups:
            self.sg_member_ips[sg].update(port.ips)
            self.sg_member_ips[sg].update(a for a, _ in port.pairs)
        if port.chassis:
            self.local_ports[(port.chassis, port.net_id)].append(port)
            self.port_chassis_by_net[port.net_id].add(port.chassis)
        if port.id in self.router_port_ids:
            return
        self.l2_by_mac[(port.net_id, port.mac)] = port
        for addr, mac in port.pairs:  # pairs first: a fixed IP always wins over a pair
            self.l3_by_ip[(port.net_id, addr)] = (port, mac or port.mac)
        for addr in port.ips:
            self.l3_by_ip[(port.net_id, addr)] = (port, port.mac)

    # -- queries ----------------------------------------------------------------
    def is_router_port(self, port: Port) -> bool:
        return port.id in self.router_port_ids

    def subnet_of(self, port: Port, addr: IpAddr) -> Subnet | None:
        for sid in port.subnets:
            sub = self.subnets.get(sid)
            if sub and sub.cidr is not None and addr in sub.cidr:
                return sub
        for sub in self.subnets_by_net.get(port.net_id, []):
            if sub.cidr is not None and addr in sub.cidr:
                return sub
        return None

    def tenant_ports(self, topic: str | None, net_id: str | None) -> list[Port]:
        """VM ports (bound or not) of a tenant or network, for the reachability matrix."""
        out = []
        for port in self.ports.values():
            if port.device_owner.startswith("network:"):
                continue
            if topic and port.topic != topic:
                continue
            if net_id and port.net_id != net_id:
                continue
            out.append(port)
        return sorted(out, key=lambda p: (p.name, p.id))
