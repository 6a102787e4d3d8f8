"""The NB objects as the pipeline reads them, and how each is read from its stored JSON.

Stored JSON is read defensively: a malformed field becomes "absent" (None, empty) rather
than crashing a trace, since the NB is whatever Dragonflow and its operators left there.
Runtime-only placement (a FIP port where its fixed port lives, a trunk child where its
parent lives) is the index's business, not this module's.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from dragonscope.nb import NbObject

IpAddr = ipaddress.IPv4Address | ipaddress.IPv6Address
IpNet = ipaddress.IPv4Network | ipaddress.IPv6Network

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


def _opt_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


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


def portsec_pairs(port: Port) -> set[tuple[str, IpAddr]]:
    """The (MAC, IP) pairs port security lets the port send from: its own, then its allowed
    address pairs (a pair without a MAC uses the port's)."""
    return {(port.mac, a) for a in port.ips} | {(m or port.mac, a) for a, m in port.pairs}


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


# -- readers: one stored object -> its pipeline view -------------------------------------
def read_chassis(obj: NbObject) -> Chassis:
    d = obj.data
    return Chassis(
        obj.id,
        ip(d.get("ip")),
        ip(d.get("external_host_ip")),
        [t for t in _list(d.get("tunnel_types")) if isinstance(t, str)],
    )


def read_network(obj: NbObject) -> Network:
    d = obj.data
    return Network(
        obj.id,
        _str(d.get("name")) or obj.id,
        _int(d.get("unique_key")) or 0,
        _str(d.get("network_type")),
        _int(d.get("segmentation_id")),
        _opt_str(d.get("physical_network")),
        d.get("is_external") is True,
        _int(d.get("mtu")),
        _str(d.get("topic")),
    )


def _routes(value: Any) -> list[tuple[IpNet, IpAddr]]:
    routes = []
    for route in _list(value):
        if isinstance(route, dict):
            dest, hop = net(route.get("destination")), ip(route.get("nexthop"))
            if dest is not None and hop is not None:
                routes.append((dest, hop))
    return routes


def read_subnet(obj: NbObject) -> Subnet:
    d = obj.data
    return Subnet(
        obj.id,
        _str(d.get("name")) or obj.id,
        _str(d.get("lswitch")),
        net(d.get("cidr")),
        ip(d.get("gateway_ip")),
        d.get("enable_dhcp") is True,
        [s for s in _list(d.get("dns_nameservers")) if isinstance(s, str)],
        _routes(d.get("host_routes")),
        _str(d.get("topic")),
    )


def read_port(obj: NbObject) -> Port:
    d = obj.data
    binding = _dict(d.get("binding"))
    btype = _opt_str(binding.get("type"))
    pairs = []
    for pair in _list(d.get("allowed_address_pairs")):
        address = ip(pair.get("ip_address")) if isinstance(pair, dict) else None
        if address is not None:
            pairs.append((address, _mac(pair.get("mac_address"))))
    dhcp = _dict(d.get("dhcp_params"))
    opts = _dict(dhcp.get("opts"))
    macs = [_mac(m) for m in _list(d.get("macs")) if isinstance(m, str)]
    chassis = binding.get("chassis") if btype == "chassis" else None
    return Port(
        id=obj.id,
        name=_str(d.get("name")) or obj.id,
        key=_int(d.get("unique_key")) or 0,
        net_id=_str(d.get("lswitch")),
        mac=macs[0] if macs else "",
        ips=[a for a in (ip(v) for v in _list(d.get("ips"))) if a is not None],
        subnets=[s for s in _list(d.get("subnets")) if isinstance(s, str)],
        enabled=d.get("enabled") is not False,
        binding_type=btype,
        chassis=_opt_str(chassis),
        vtep=ip(binding.get("vtep_address")) if btype == "vtep" else None,
        device_owner=_str(d.get("device_owner")),
        device_id=_str(d.get("device_id")),
        security_groups=[s for s in _list(d.get("security_groups")) if isinstance(s, str)],
        port_security=d.get("port_security_enabled") is True,
        pairs=pairs,
        dhcp_opts={str(k): str(v) for k, v in opts.items()},
        siaddr=_opt_str(dhcp.get("siaddr")),
        topic=_str(d.get("topic")),
    )


def read_router(obj: NbObject) -> Router:
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
    router = Router(
        obj.id,
        _str(d.get("name")) or obj.id,
        _int(d.get("unique_key")) or 0,
        ports,
        _routes(d.get("routes")),
        _str(d.get("topic")),
    )
    router.iface_ips = {rp.ip: rp for rp in ports if rp.ip is not None}
    return router


def read_child(obj: NbObject) -> ChildPort | None:
    d = obj.data
    parent, child = d.get("parent"), d.get("port")
    if not isinstance(parent, str) or not isinstance(child, str):
        return None
    return ChildPort(
        obj.id, parent, child, _str(d.get("segmentation_type")), _int(d.get("segmentation_id"))
    )


def read_fip(obj: NbObject) -> FloatingIp:
    d = obj.data
    return FloatingIp(
        obj.id,
        ip(d.get("floating_ip_address")),
        _str(d.get("floating_lport")),
        _opt_str(d.get("lport")),
        ip(d.get("fixed_ip_address")),
        _opt_str(d.get("lrouter")),
        _str(d.get("topic")),
    )
