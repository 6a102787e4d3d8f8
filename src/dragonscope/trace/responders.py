"""Replies Dragonflow builds in the switch or the local controller (ARP, ND, DHCP, metadata).

These never reach another VM: the answer goes straight back to the asking port and
skips ingress security groups (reference: l2 responders, dhcp app, metadata_service).
"""

from __future__ import annotations

import ipaddress
from typing import Any

from dragonscope.trace.index import NbIndex
from dragonscope.trace.model import ObjRef
from dragonscope.trace.objects import IpAddr, Network, Port

METADATA_IP = ipaddress.ip_address("169.254.169.254")
METADATA_PORT = 80
METADATA_PROXY_PORT = 18080
# The metadata tap is local configuration, not NB data: the simulator names it symbolically.
METADATA_TAP_MAC = "fe:ff:ff:ff:ff:fe"
DEFAULT_DNS = ["8.8.8.8", "8.8.4.4"]
DEFAULT_MTU = 1460


def arp_answer(index: NbIndex, network: Network, target: IpAddr) -> tuple[str, ObjRef] | None:
    """The MAC an ARP responder answers for ``target`` in ``network``, and why."""
    if target == METADATA_IP:
        return METADATA_TAP_MAC, index.net_ref(network)
    for rp in index.router_ports_by_net.get(network.id, []):
        if rp.ip == target:
            router = index.routers[rp.router_id]
            return rp.mac, index.router_ref(router, f"interface {rp.ip}")
    dhcp = index.dhcp_port.get(network.id)
    if dhcp is not None and target in dhcp.ips and target.version == 4:
        return dhcp.mac, index.port_ref(dhcp)
    for port in index.any_by_net_ip.get((network.id, target), []):
        if port.bound and not index.is_router_port(port):
            return port.mac, index.port_ref(port)
    return None


def nd_answer(index: NbIndex, network: Network, target: IpAddr) -> tuple[str, ObjRef] | None:
    """Neighbor Advertisement for a bound port's IPv6 (router interfaces get none)."""
    for port in index.any_by_net_ip.get((network.id, target), []):
        if port.bound and not index.is_router_port(port):
            return port.mac, index.port_ref(port)
    return None


def dhcp_reply(index: NbIndex, port: Port, server: Port) -> dict[str, Any]:
    """The OFFER the local controller would inject, following Dragonflow's dhcp app."""
    yiaddr = next((a for a in port.ips if a.version == 4), None)
    subnet = index.subnet_of(port, yiaddr) if yiaddr is not None else None
    server_ip = None
    if subnet is not None:
        server_ip = next((a for a in server.ips if subnet.cidr and a in subnet.cidr), None)
    network = index.networks.get(port.net_id)
    routes: list[str] = []
    if subnet is not None:
        routes += [f"{dest} via {hop}" for dest, hop in subnet.host_routes]
    if yiaddr is not None:
        routes.append(f"{METADATA_IP}/32 via {yiaddr}")
    if "121" in port.dhcp_opts:
        routes.append(port.dhcp_opts["121"].replace(",", " via "))
    gateway = port.dhcp_opts.get("3") or (
        str(subnet.gateway) if subnet and subnet.gateway else None
    )
    if gateway:
        routes.append(f"0.0.0.0/0 via {gateway}")
    return {
        "message": "DHCPOFFER",
        "yiaddr": str(yiaddr) if yiaddr else None,
        "server_id": str(server_ip) if server_ip else None,
        "eth_src": server.mac,
        "siaddr": port.siaddr or (str(server_ip) if server_ip else None),
        "subnet_mask": str(subnet.cidr.netmask) if subnet and subnet.cidr else None,
        "router": gateway,
        "dns": (subnet.dns if subnet and subnet.dns else DEFAULT_DNS),
        "classless_routes": routes,
        "mtu": (network.mtu if network and network.mtu else DEFAULT_MTU),
    }


def metadata_source(port: Port) -> str:
    """The source IP the metadata app writes so the proxy can tell ports apart."""
    return str(ipaddress.IPv4Address(0x80000000 | (port.key & 0x7FFFFFFF)))


def owns_ip(port: Port, target: IpAddr) -> bool:
    """Whether the guest behind ``port`` would answer ARP for ``target`` itself."""
    return target in port.ips or any(a == target for a, _ in port.pairs)
