"""The sending guest's own view: its routing table as Dragonflow's DHCP taught it, the
next hop it picks, and what its ARP (or ND) for that hop learns.

A trace that leaves fields out builds the frame the way the guest would; when the guest
cannot build it (no route, an unanswered ARP) the reason is a ``GuestFailure``.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from dragonscope.trace import responders
from dragonscope.trace.index import NbIndex
from dragonscope.trace.objects import IpAddr, Port, ip

ANY_V4 = ipaddress.ip_network("0.0.0.0/0")
ANY_V6 = ipaddress.ip_network("::/0")
METADATA_NET = ipaddress.ip_network("169.254.169.254/32")
LIMITED_BROADCAST = ipaddress.ip_address("255.255.255.255")

Route = tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, IpAddr | None, str]


def multicast_mac(addr: IpAddr) -> str:
    """The group MAC a guest's IP stack sends a multicast packet to (RFC 1112: 01:00:5e and
    the low 23 bits; RFC 2464: 33:33 and the low 32 bits), not its gateway's."""
    if addr.version == 4:
        low = addr.packed[-3:]
        octets = [0x01, 0x00, 0x5E, low[0] & 0x7F, low[1], low[2]]
    else:
        octets = [0x33, 0x33, *addr.packed[-4:]]
    return ":".join(f"{b:02x}" for b in octets)


@dataclass(slots=True)
class GuestFailure:
    """The packet never leaves the guest (no route, unanswered ARP)."""

    code: str
    why: str
    obj: Any = None


class Guest:
    """What the guests of one index would do; routes and ARP answers are cached."""

    def __init__(self, index: NbIndex) -> None:
        self.index = index
        self._routes: dict[str, list[Route]] = {}
        self._macs: dict[tuple[str, IpAddr], tuple[str | GuestFailure, str | None]] = {}

    def guest_routes(self, port: Port) -> list[Route]:
        """The guest's routing table as DHCP taught it: on-link subnets, host routes,
        option 121 and the default gateway (computed once per port)."""
        cached = self._routes.get(port.id)
        if cached is not None:
            return cached
        routes: list[Route] = []
        for sid in port.subnets:
            sub = self.index.subnets.get(sid)
            if sub is None or sub.cidr is None:
                continue
            routes.append((sub.cidr, None, f"on-link subnet {sub.cidr}"))
            for dest, hop in sub.host_routes:
                routes.append((dest, hop, f"host route {dest} via {hop} (DHCP option 121)"))
            gateway = ip(port.dhcp_opts.get("3")) if sub.cidr.version == 4 else None
            gateway = gateway or sub.gateway
            if gateway is not None:
                any_net = ANY_V4 if gateway.version == 4 else ANY_V6
                routes.append((any_net, gateway, f"default route via gateway {gateway}"))
        opt121 = port.dhcp_opts.get("121", "")
        for entry in opt121.split(";") if opt121 else []:
            dest_text, _, hop_text = entry.partition(",")
            try:
                dest = ipaddress.ip_network(dest_text.strip(), strict=False)
            except ValueError:
                continue
            via = ip(hop_text.strip())
            if via is not None:
                routes.append((dest, via, f"route {dest} via {via} (extra DHCP option 121)"))
        self._routes[port.id] = routes
        return routes

    def next_hop(self, port: Port, dst: IpAddr, notes: list[str]) -> IpAddr | GuestFailure:
        """The guest's choice of next hop for ``dst`` (longest prefix wins); the metadata
        address is on-link through the route Dragonflow's DHCP adds via the VM's own IP."""
        routes = self.guest_routes(port)
        if dst == responders.METADATA_IP:
            routes = [
                *routes,
                (METADATA_NET, None, "metadata route 169.254.169.254/32 via the guest's own IP"),
            ]
        best = None
        for dest, hop, why in routes:
            if (
                dest.version == dst.version
                and dst in dest
                and (best is None or dest.prefixlen > best[0].prefixlen)
            ):
                best = (dest, hop, why)
        if best is None:
            return GuestFailure(
                "NO_ROUTE",
                f"the guest of {port.name} has no route to {dst} "
                "(no subnet, host route or gateway covers it)",
                self.index.port_ref(port),
            )
        notes.append(f"{port.name} reaches {dst} by its {best[2]}")
        return best[1] if best[1] is not None else dst

    def is_broadcast(self, port: Port, addr: IpAddr) -> bool:
        if addr == LIMITED_BROADCAST:
            return True
        subnet = self.index.subnet_of(port, addr)
        cidr = subnet.cidr if subnet else None
        return cidr is not None and cidr.version == 4 and addr == cidr.broadcast_address

    def resolve_mac(self, port: Port, addr: IpAddr, notes: list[str]) -> str | GuestFailure:
        """What the guest's ARP (or ND) for ``addr`` on its network would learn (the answer
        depends only on the network, so it is cached per network and address)."""
        key = (port.net_id, addr)
        if key not in self._macs:
            found: list[str] = []
            answer = self._resolve_mac(port, addr, found)
            self._macs[key] = (answer, found[0] if found else None)
        answer, note = self._macs[key]
        if note:
            notes.append(note)
        return answer

    def _resolve_mac(self, port: Port, addr: IpAddr, notes: list[str]) -> str | GuestFailure:
        idx = self.index
        network = idx.networks.get(port.net_id)
        if network is None:
            return GuestFailure(
                "INCOMPLETE_OBJECT", f"network {port.net_id} does not exist", idx.port_ref(port)
            )
        answer = (
            responders.arp_answer(idx, network, addr)
            if addr.version == 4
            else responders.nd_answer(idx, network, addr)
        )
        if answer is not None:
            notes.append(
                f"{'ARP' if addr.version == 4 else 'ND'} for {addr} answered by the "
                f"responder: {answer[0]}"
            )
            return answer[0]
        for owner in idx.pair_owners.get((network.id, addr), []):
            if owner.bound:
                mac = next((m for a, m in owner.pairs if a == addr), "") or owner.mac
                notes.append(
                    f"{addr} is an allowed address pair of {owner.name}; its guest "
                    f"answers ARP itself with {mac}"
                )
                return mac
        owners = idx.any_by_net_ip.get((network.id, addr), [])
        if owners:
            owner = owners[0]
            if not owner.enabled:
                return GuestFailure(
                    "PORT_DISABLED",
                    f"ARP for {addr} is not answered: port {owner.name} is admin down",
                    idx.port_ref(owner),
                )
            if idx.is_router_port(owner):
                return GuestFailure(
                    "ARP_UNRESOLVED",
                    f"{'ARP' if addr.version == 4 else 'ND'} for {addr} is not answered: "
                    "Dragonflow has no responder for this router interface address",
                    idx.port_ref(owner),
                )
            return GuestFailure(
                "DESTINATION_UNBOUND",
                f"ARP for {addr} is not answered: port {owner.name} is not bound",
                idx.port_ref(owner),
            )
        if network.is_provider:
            mac = "02:00:" + ":".join(f"{b:02x}" for b in addr.packed[-4:])
            notes.append(
                f"{addr} is not a port of provider network {network.name}: assumed "
                f"to be a physical host answering ARP with {mac}"
            )
            return mac
        return GuestFailure(
            "ARP_UNRESOLVED",
            f"ARP for {addr} on {network.name} is flooded and "
            "never answered: no port, router interface or DHCP port has it",
            idx.net_ref(network),
        )
