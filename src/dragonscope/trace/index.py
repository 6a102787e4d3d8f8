"""Lookup structures built once per NB snapshot, so one trace costs O(path), not O(NB).

The index mirrors what every Dragonflow controller knows (without selective topology
distribution every chassis holds every object): ports by MAC/IP per network, router
ports, floating IPs, DHCP ports, security-group member addresses, trunk children and
SFC classifiers. It also resolves runtime-only bindings (a FIP port lives where its
fixed port lives; a trunk child where its parent lives). Stored JSON is read
defensively: a malformed field is ignored rather than crashing a trace.
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from dragonscope.nb import NbObject, Snapshot
from dragonscope.topology import node_id, router_port_id
from dragonscope.trace.model import ObjRef

IpAddr = ipaddress.IPv4Address | ipaddress.IPv6Address
IpNet = ipaddress.IPv4Network | ipaddress.IPv6Network

# Tables no index structure reads: a change there leaves an index valid (``refresh``).
IGNORED_TABLES = frozenset(
    {
        "service",
        "publisher",
        "listener",
        "bgp_peer",
        "bgp_speaker",
        "qospolicy",
        "activeport",
        "migration",
        "unique_key",
    }
)
ROUTER_INTERFACE = "network:router_interface"
DHCP_OWNER = "network:dhcp"
TUNNEL_TYPES = frozenset({"vxlan", "geneve", "gre"})
PROVIDER_TYPES = frozenset({"vlan", "flat"})


def ip(value: Any) -> IpAddr | None:
    """A stored IP address, or None when absent or malformed."""
    return _parse_ip(value) if isinstance(value, str) else None


@lru_cache(maxsize=1 << 16)
def _parse_ip(value: str) -> IpAddr | None:
    # Packets carry addresses as text; traces parse the same few thousand again and again.
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def net(value: Any) -> IpNet | None:
    """A stored network (host bits allowed, as Dragonflow keeps them), or None."""
    try:
        return ipaddress.ip_network(value, strict=False) if isinstance(value, str) else None
    except ValueError:
        return None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _mac(value: Any) -> str:
    return value.lower() if isinstance(value, str) else ""


@dataclass(slots=True)
class Network:
    id: str
    name: str
    key: int
    type: str
    segmentation_id: int | None
    physnet: str | None
    external: bool
    mtu: int | None
    topic: str

    @property
    def is_tunnel(self) -> bool:
        return self.type in TUNNEL_TYPES

    @property
    def is_provider(self) -> bool:
        return self.type in PROVIDER_TYPES


@dataclass(slots=True)
class Subnet:
    id: str
    name: str
    net_id: str
    cidr: IpNet | None
    gateway: IpAddr | None
    dhcp: bool
    dns: list[str]
    host_routes: list[tuple[IpNet, IpAddr]]
    topic: str


@dataclass(slots=True)
class Port:
    id: str
    name: str
    key: int
    net_id: str
    mac: str
    ips: list[IpAddr]
    subnets: list[str]
    enabled: bool
    binding_type: str | None
    chassis: str | None  # effective chassis (stored or runtime), for "chassis" bindings
    vtep: IpAddr | None
    runtime_binding: str = ""  # "floatingip" or "trunk-child" when placed at runtime
    device_owner: str = ""
    device_id: str = ""
    security_groups: list[str] = field(default_factory=list)
    port_security: bool = False
    pairs: list[tuple[IpAddr, str]] = field(default_factory=list)  # allowed address pairs
    dhcp_opts: dict[str, str] = field(default_factory=dict)
    siaddr: str | None = None
    topic: str = ""

    @property
    def bound(self) -> bool:
        """Has flows: enabled and placed on a chassis or behind a VTEP."""
        return self.enabled and (self.chassis is not None or self.vtep is not None)


@dataclass(slots=True)
class RouterPort:
    id: str  # = the router-interface lport id
    router_id: str
    net_id: str
    mac: str
    ip: IpAddr | None
    network: IpNet | None
    key: int


@dataclass(slots=True)
class Router:
    id: str
    name: str
    key: int
    ports: list[RouterPort]
    routes: list[tuple[IpNet, IpAddr]]
    topic: str
    iface_ips: dict[IpAddr, RouterPort] = field(default_factory=dict)


@dataclass(slots=True)
class FloatingIp:
    id: str
    address: IpAddr | None
    floating_port: str
    fixed_port: str | None
    fixed_ip: IpAddr | None
    router: str | None
    topic: str


@dataclass(slots=True)
class Chassis:
    id: str
    ip: IpAddr | None
    external_ip: IpAddr | None
    tunnel_types: list[str]


@dataclass(slots=True)
class ChildPort:
    id: str
    parent: str
    child: str
    type: str
    vlan: int | None


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
        return self.ref("secgroup", sg_id, name or sg_id, detail)

    def router_port_ref(self, rp: RouterPort) -> ObjRef:
        """The router's embedded port (its own graph node, distinct from the lport)."""
        key = ("lrouter_port", rp.router_id, rp.id, "")
        ref = self._refs.get(key)
        if ref is None:
            router = self.routers.get(rp.router_id)
            name = f"{router.name if router else rp.router_id}:{rp.ip}"
            ref = ObjRef("lrouter_port", rp.id, name, router_port_id(rp.router_id, rp.id))
            self._refs[key] = ref
        return ref

    def port_ref(self, port: Port, detail: str = "") -> ObjRef:
        return self.ref("lport", port.id, port.name, detail)

    def net_ref(self, network: Network) -> ObjRef:
        return self.ref("lswitch", network.id, network.name)

    def router_ref(self, router: Router, detail: str = "") -> ObjRef:
        return self.ref("lrouter", router.id, router.name, detail)

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
            if table == "service" and isinstance(obj.data, dict)
        )

    # -- building ---------------------------------------------------------------
    def _build(self) -> None:
        by_table: dict[str, list[NbObject]] = defaultdict(list)
        for (table, _), obj in self.snapshot.items():
            if isinstance(obj.data, dict):
                by_table[table].append(obj)
        for obj in by_table["chassis"]:
            d = obj.data
            self.chassis[obj.id] = Chassis(
                obj.id,
                ip(d.get("ip")),
                ip(d.get("external_host_ip")),
                [t for t in _list(d.get("tunnel_types")) if isinstance(t, str)],
            )
        self.controller_seen, self.newest_heartbeat = _heartbeats(
            obj.data for obj in by_table["service"]
        )
        for obj in by_table["lswitch"]:
            self._add_network(obj)
        for obj in by_table["lsubnet"]:
            self._add_subnet(obj)
        for obj in by_table["secgroup"]:
            self.secgroups[obj.id] = obj.data
        for obj in sorted(by_table["lport"], key=lambda o: _int(o.data.get("unique_key")) or 0):
            self._add_port(obj)
        for obj in by_table["lrouter"]:
            self._add_router(obj)
        for obj in by_table["child_port_segmentation"]:
            self._add_child(obj)
        for obj in by_table["floatingip"]:
            self._add_fip(obj)
        self._place_runtime_bindings()
        for port in sorted(self.ports.values(), key=lambda p: p.key):
            self._index_port(port)
        for obj in by_table["sfc_flowclassifier"]:
            d = {**obj.data, "id": obj.id}
            if isinstance(d.get("source_port"), str):
                self.classifiers_by_src[d["source_port"]].append(d)
            if isinstance(d.get("dest_port"), str):
                self.classifiers_by_dst[d["dest_port"]].append(d)
        for obj in by_table["sfc_portchain"]:
            for fc in _list(obj.data.get("flow_classifiers")):
                if isinstance(fc, str):
                    self.chain_by_classifier[fc] = {**obj.data, "id": obj.id}

    def _add_network(self, obj: NbObject) -> None:
        d = obj.data
        network = Network(
            obj.id,
            _str(d.get("name")) or obj.id,
            _int(d.get("unique_key")) or 0,
            _str(d.get("network_type")),
            _int(d.get("segmentation_id")),
            d.get("physical_network") if isinstance(d.get("physical_network"), str) else None,
            d.get("is_external") is True,
            _int(d.get("mtu")),
            _str(d.get("topic")),
        )
        self.networks[obj.id] = network
        self.networks_by_name[network.name].append(network)
        if network.is_tunnel and network.segmentation_id is not None:
            self.net_by_tunnel[(network.type, network.segmentation_id)] = network
        if network.is_provider and network.physnet:
            vlan = network.segmentation_id if network.type == "vlan" else None
            self.net_by_physnet[(network.physnet, vlan)].append(network)

    def _add_subnet(self, obj: NbObject) -> None:
        d = obj.data
        routes = []
        for route in _list(d.get("host_routes")):
            if isinstance(route, dict):
                dest, hop = net(route.get("destination")), ip(route.get("nexthop"))
                if dest is not None and hop is not None:
                    routes.append((dest, hop))
        subnet = Subnet(
            obj.id,
            _str(d.get("name")) or obj.id,
            _str(d.get("lswitch")),
            net(d.get("cidr")),
            ip(d.get("gateway_ip")),
            d.get("enable_dhcp") is True,
            [s for s in _list(d.get("dns_nameservers")) if isinstance(s, str)],
            routes,
            _str(d.get("topic")),
        )
        self.subnets[obj.id] = subnet
        self.subnets_by_net[subnet.net_id].append(subnet)

    def _add_port(self, obj: NbObject) -> None:
        d = obj.data
        binding = d.get("binding") if isinstance(d.get("binding"), dict) else {}
        btype = binding.get("type") if isinstance(binding.get("type"), str) else None
        pairs = []
        for pair in _list(d.get("allowed_address_pairs")):
            if isinstance(pair, dict) and ip(pair.get("ip_address")) is not None:
                pairs.append((ip(pair["ip_address"]), _mac(pair.get("mac_address"))))
        dhcp = d.get("dhcp_params") if isinstance(d.get("dhcp_params"), dict) else {}
        opts = dhcp.get("opts") if isinstance(dhcp.get("opts"), dict) else {}
        macs = [_mac(m) for m in _list(d.get("macs")) if isinstance(m, str)]
        port = Port(
            id=obj.id,
            name=_str(d.get("name")) or obj.id,
            key=_int(d.get("unique_key")) or 0,
            net_id=_str(d.get("lswitch")),
            mac=macs[0] if macs else "",
            ips=[a for a in (ip(v) for v in _list(d.get("ips"))) if a is not None],
            subnets=[s for s in _list(d.get("subnets")) if isinstance(s, str)],
            enabled=d.get("enabled") is not False,
            binding_type=btype,
            chassis=binding.get("chassis") if btype == "chassis" else None,
            vtep=ip(binding.get("vtep_address")) if btype == "vtep" else None,
            device_owner=_str(d.get("device_owner")),
            device_id=_str(d.get("device_id")),
            security_groups=[s for s in _list(d.get("security_groups")) if isinstance(s, str)],
            port_security=d.get("port_security_enabled") is True,
            pairs=pairs,
            dhcp_opts={str(k): str(v) for k, v in opts.items()},
            siaddr=dhcp.get("siaddr") if isinstance(dhcp.get("siaddr"), str) else None,
            topic=_str(d.get("topic")),
        )
        if not isinstance(port.chassis, str):
            port.chassis = None
        self.ports[obj.id] = port
        if port.name != port.id:
            self.by_name[port.name].append(port)
        for addr in port.ips:
            self.by_ip[addr].append(port)
        if port.device_owner == DHCP_OWNER:
            self.dhcp_port[port.net_id] = port

    def _add_router(self, obj: NbObject) -> None:
        d = obj.data
        ports = []
        for rp in _list(d.get("ports")):
            if not isinstance(rp, dict) or not isinstance(rp.get("id"), str):
                continue
            iface = ipaddress.ip_interface(rp["network"]) if net(rp.get("network")) else None
            ports.append(
                RouterPort(
                    rp["id"],
                    obj.id,
                    _str(rp.get("lswitch")),
                    _mac(rp.get("mac")),
                    iface.ip if iface else None,
                    iface.network if iface else None,
                    _int(rp.get("unique_key")) or 0,
                )
            )
        routes = []
        for route in _list(d.get("routes")):
            if isinstance(route, dict):
                dest, hop = net(route.get("destination")), ip(route.get("nexthop"))
                if dest is not None and hop is not None:
                    routes.append((dest, hop))
        router = Router(
            obj.id,
            _str(d.get("name")) or obj.id,
            _int(d.get("unique_key")) or 0,
            ports,
            routes,
            _str(d.get("topic")),
        )
        router.iface_ips = {rp.ip: rp for rp in ports if rp.ip is not None}
        self.routers[obj.id] = router
        for rp in ports:
            self.router_ports_by_mac[(rp.net_id, rp.mac)] = rp
            self.router_ports_by_net[rp.net_id].append(rp)
            self.router_port_ids.add(rp.id)

    def _add_child(self, obj: NbObject) -> None:
        d = obj.data
        parent, child = d.get("parent"), d.get("port")
        if not isinstance(parent, str) or not isinstance(child, str):
            return
        cps = ChildPort(
            obj.id, parent, child, _str(d.get("segmentation_type")), _int(d.get("segmentation_id"))
        )
        self.children[child] = cps
        if cps.type == "vlan" and cps.vlan is not None:
            self.parents[(parent, cps.vlan)] = cps

    def _add_fip(self, obj: NbObject) -> None:
        d = obj.data
        fip = FloatingIp(
            obj.id,
            ip(d.get("floating_ip_address")),
            _str(d.get("floating_lport")),
            d.get("lport") if isinstance(d.get("lport"), str) else None,
            ip(d.get("fixed_ip_address")),
            d.get("lrouter") if isinstance(d.get("lrouter"), str) else None,
            _str(d.get("topic")),
        )
        self.fips[obj.id] = fip
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
