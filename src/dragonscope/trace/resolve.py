"""From a question to a concrete first packet: which ports and addresses the request
names in the snapshot, and every field it leaves out filled in as the sender would fill
it (each derivation is written down as an assumption in the result).
"""

from __future__ import annotations

from dataclasses import dataclass

from dragonscope.trace import responders
from dragonscope.trace.guest import Guest, GuestFailure, multicast_mac
from dragonscope.trace.index import NbIndex
from dragonscope.trace.model import Packet, TraceError
from dragonscope.trace.objects import IpAddr, Network, Port, ip
from dragonscope.trace.request import TraceRequest

EPHEMERAL_PORT = 49152
EXTERNAL_HOST = "203.0.113.10"  # documentation address (RFC 5737) for an Internet host
EXTERNAL_MAC = "02:00:00:00:00:01"
BROADCAST = "ff:ff:ff:ff:ff:ff"


@dataclass(slots=True)
class Start:
    """The concrete first packet and where it enters the datapath."""

    kind: str  # "port", "vtep", "physnet"
    packet: Packet | None
    chassis: str | None
    port: Port | None = None  # the OVS port it enters by (a trunk parent for a child)
    sender: Port | None = None  # the logical sender (the child for a trunk child)
    network: Network | None = None
    physnet: str | None = None
    target: Port | None = None
    target_ip: IpAddr | None = None
    failure: GuestFailure | None = None
    assumptions: list[str] | None = None


class Resolver:
    """Turns a TraceRequest into a Start against one index."""

    def __init__(self, index: NbIndex) -> None:
        self.index = index
        self.guest = Guest(index)

    # -- names ------------------------------------------------------------------
    def port(self, spec: str, role: str, near: Port | None = None) -> Port:
        idx = self.index
        if spec in idx.ports:
            return idx.ports[spec]
        named = idx.by_name.get(spec, [])
        if len(named) == 1:
            return named[0]
        if len(named) > 1:
            raise TraceError(
                f"{role} {spec!r} names {len(named)} ports; use an id: "
                + ", ".join(p.id for p in named[:5])
            )
        addr_text, _, net_spec = spec.partition("@")
        addr = ip(addr_text)
        if addr is None:
            raise TraceError(f"{role} {spec!r} is not a port id, port name or IP address")
        if net_spec:
            network = self.network(net_spec)
            owners = idx.any_by_net_ip.get((network.id, addr), [])
            if not owners:
                raise TraceError(f"no port has IP {addr} in network {network.name}")
            return owners[0]
        owners = [p for p in idx.by_ip.get(addr, []) if not idx.is_router_port(p)]
        if near is not None:
            same = [p for p in owners if p.net_id == near.net_id]
            owners = same or owners
        if len(owners) == 1:
            return owners[0]
        if not owners:
            raise TraceError(f"no port has IP {addr}")
        raise TraceError(f"IP {addr} belongs to {len(owners)} ports; write IP@network")

    def network(self, spec: str) -> Network:
        if spec in self.index.networks:
            return self.index.networks[spec]
        named = self.index.networks_by_name.get(spec, [])
        if len(named) == 1:
            return named[0]
        if named:
            raise TraceError(f"network name {spec!r} is ambiguous; use its id")
        raise TraceError(f"no network {spec!r}")

    # -- the request ----------------------------------------------------------------------
    def resolve(self, req: TraceRequest) -> Start:
        notes: list[str] = []
        if req.source == "external":
            start = self._external(req, notes)
        else:
            start = self._from_port(req, notes)
        start.assumptions = notes
        return start

    def _destination(
        self, req: TraceRequest, near: Port | None, notes: list[str]
    ) -> tuple[Port | None, IpAddr | None]:
        dest = req.destination
        if dest is None:
            addr = ip(req.ip_dst) if req.ip_dst else None
            return None, addr
        if dest == "metadata":
            return None, responders.METADATA_IP
        addr = ip(dest.partition("@")[0])
        if addr is not None and "@" not in dest:
            fip = self.index.fip_by_address.get(addr)
            if fip is not None:
                fixed = self.index.ports.get(fip.fixed_port or "")
                if fixed is not None:
                    notes.append(f"{addr} is floating IP {fip.id} of {fixed.name}")
                return fixed, addr
            owners = [p for p in self.index.by_ip.get(addr, []) if not self.index.is_router_port(p)]
            if not owners:
                return None, addr
        port = self.port(dest, "destination", near)
        return port, addr

    def _family_ip(self, port: Port, version: int) -> IpAddr | None:
        return next((a for a in port.ips if a.version == version), None)

    def _from_port(self, req: TraceRequest, notes: list[str]) -> Start:
        idx = self.index
        sender = self.port(req.source, "source")
        in_port, vlan = sender, req.vlan
        cps = idx.children.get(sender.id)
        if cps is not None and cps.type == "vlan" and idx.ports.get(cps.parent):
            in_port, vlan = idx.ports[cps.parent], cps.vlan
            notes.append(
                f"{sender.name} is a trunk child: its frames leave parent "
                f"{in_port.name} tagged VLAN {vlan}"
            )
        target, dst_addr = self._destination(req, sender, notes)
        if req.ip_dst:
            dst_addr = ip(req.ip_dst)
        proto = req.proto or ("tcp" if req.dport is not None else None)
        version = 6 if proto == "icmp6" else 4
        if dst_addr is not None:
            version = dst_addr.version
        elif target is not None:
            if proto != "icmp6":
                common = {a.version for a in target.ips} & {a.version for a in sender.ips}
                version = 4 if 4 in common or not common else 6
            dst_addr = self._family_ip(target, version)
        if proto in ("icmp", "icmp6") and version != (4 if proto == "icmp" else 6):
            raise TraceError(f"{proto} needs an IPv{6 if proto == 'icmp6' else 4} destination")
        if proto is None and dst_addr == responders.METADATA_IP:
            proto = "tcp"
            notes.append("protocol not given: TCP, as to the metadata service")
        elif proto is None:
            proto = "icmp" if version == 4 else "icmp6"
            notes.append(f"protocol not given: ICMP{'v6' if version == 6 else ''} echo request")
        src_ip = ip(req.ip_src) if req.ip_src else self._family_ip(sender, version)
        eth_src = req.eth_src or sender.mac
        ttl = req.ttl if req.ttl is not None else 64
        start = Start(
            "port",
            None,
            in_port.chassis,
            port=in_port,
            sender=sender,
            target=target,
            target_ip=dst_addr,
        )
        if sender.vtep is not None:
            start.kind = "vtep"
            start.network = idx.networks.get(sender.net_id)
            start.chassis = req.chassis or (target.chassis if target else None)
            if start.chassis is None:
                raise TraceError(
                    f"{sender.name} is behind VTEP {sender.vtep}: give the receiving "
                    "chassis (--chassis)"
                )
            notes.append(
                f"{sender.name} is behind VTEP {sender.vtep}; its traffic arrives by "
                f"tunnel at {start.chassis}"
            )
        if proto == "arp":
            if dst_addr is None:
                raise TraceError("an ARP trace needs the IP to resolve (--to IP or port)")
            spa = str(src_ip) if src_ip else "0.0.0.0"
            start.packet = _arp_request(eth_src, req.eth_dst or BROADCAST, spa, dst_addr, vlan)
            return start
        if proto == "dhcp":
            start.packet = Packet(
                eth_src=eth_src,
                eth_dst=BROADCAST,
                eth_type="ipv4",
                ip_src=req.ip_src or "0.0.0.0",
                ip_dst="255.255.255.255",
                proto="udp",
                sport=68,
                dport=67,
                ttl=ttl,
                vlan=vlan,
            )
            notes.append("DHCPDISCOVER from 0.0.0.0:68 to 255.255.255.255:67")
            return start
        if dst_addr is None and target is not None:
            raise TraceError(f"destination {target.name} has no IPv{version} address")
        if dst_addr is None:
            raise TraceError("give a destination (--to port, IP or metadata)")
        if src_ip is None:
            raise TraceError(f"{sender.name} has no IPv{version} address; give --ip-src")
        default_dport = responders.METADATA_PORT if dst_addr == responders.METADATA_IP else 80
        if proto in ("tcp", "udp") and req.sport is None:
            notes.append(f"source port not given: {EPHEMERAL_PORT}")
        if proto in ("tcp", "udp") and req.dport is None:
            notes.append(f"destination port not given: {default_dport}")
        eth_dst = req.eth_dst
        if eth_dst is None and dst_addr.is_multicast:
            eth_dst = multicast_mac(dst_addr)
            notes.append(f"{dst_addr} is a multicast address: sent to its group MAC {eth_dst}")
        elif eth_dst is None:
            hop = self.guest.next_hop(sender, dst_addr, notes)
            if hop == dst_addr and self.guest.is_broadcast(sender, dst_addr):
                eth_dst = BROADCAST
                notes.append(f"{dst_addr} is a broadcast address: sent to {BROADCAST}")
            elif isinstance(hop, GuestFailure):
                start.failure = hop
            else:
                mac = self.guest.resolve_mac(sender, hop, notes)
                if isinstance(mac, GuestFailure):
                    start.failure = mac
                else:
                    eth_dst = mac
        start.packet = _ip_packet(
            req,
            proto,
            default_dport,
            eth=(eth_src, eth_dst or BROADCAST, f"ipv{version}"),
            ips=(str(src_ip), str(dst_addr)),
            vlan=vlan,
        )
        return start

    def _external(self, req: TraceRequest, notes: list[str]) -> Start:
        idx = self.index
        target, dst_addr = self._destination(req, None, notes)
        if req.ip_dst:
            dst_addr = ip(req.ip_dst)
        if dst_addr is None and target is not None:
            fip = next((f for f in idx.fips_by_fixed.get(target.id, []) if f.address), None)
            if fip is not None:
                dst_addr = fip.address
                notes.append(
                    f"{target.name} is reached from outside through floating IP {fip.address}"
                )
        if dst_addr is None:
            raise TraceError("an external source needs a destination IP (a floating IP)")
        fip = idx.fip_by_address.get(dst_addr)
        fport = idx.ports.get(fip.floating_port) if fip else None
        network = idx.networks.get(fport.net_id) if fport else None
        if network is None:
            for sub in idx.subnets.values():
                candidate = idx.networks.get(sub.net_id)
                if candidate and candidate.external and sub.cidr and dst_addr in sub.cidr:
                    network = candidate
                    break
        if network is None:
            raise TraceError(
                f"{dst_addr} is not on an external network; external traffic can only enter "
                "through a floating IP"
            )
        if not network.is_provider:
            raise TraceError(
                f"external network {network.name} is {network.type or 'untyped'}: Dragonflow's "
                "distributed DNAT only receives from a flat or vlan external network"
            )
        chassis = req.chassis or (fport.chassis if fport else None)
        if chassis is None:
            raise TraceError("give the chassis the packet arrives on (--chassis)")
        if req.chassis is None:
            notes.append(f"arrives at {chassis}, the only chassis answering ARP for {dst_addr}")
        proto = req.proto or ("tcp" if req.dport is not None else "icmp")
        src = req.ip_src or EXTERNAL_HOST
        if req.ip_src is None:
            notes.append(f"external source address not given: {EXTERNAL_HOST}")
        vlan = network.segmentation_id if network.type == "vlan" else None
        start = Start(
            "physnet",
            None,
            chassis,
            network=network,
            physnet=network.physnet,
            target=target,
            target_ip=dst_addr,
        )
        eth_src = req.eth_src or EXTERNAL_MAC
        if proto == "arp":
            start.packet = _arp_request(eth_src, BROADCAST, src, dst_addr, vlan)
            return start
        if proto not in ("tcp", "udp", "icmp"):
            raise TraceError(f"protocol {proto} is not supported from an external source")
        eth_dst = req.eth_dst or (fport.mac if fport else None)
        if eth_dst is None:
            start.failure = GuestFailure(
                "ARP_UNRESOLVED",
                f"nobody on the physical network answers ARP for {dst_addr}",
                idx.net_ref(network),
            )
        start.packet = _ip_packet(
            req,
            proto,
            80,
            eth=(eth_src, eth_dst or BROADCAST, "ipv4"),
            ips=(src, str(dst_addr)),
            vlan=vlan,
        )
        return start


def _arp_request(eth_src: str, eth_dst: str, spa: str, tpa: IpAddr, vlan: int | None) -> Packet:
    return Packet(
        eth_src=eth_src,
        eth_dst=eth_dst,
        eth_type="arp",
        arp_op="request",
        arp_spa=spa,
        arp_tpa=str(tpa),
        arp_sha=eth_src,
        vlan=vlan,
    )


def _ip_packet(
    req: TraceRequest,
    proto: str,
    default_dport: int,
    *,
    eth: tuple[str, str, str],
    ips: tuple[str, str],
    vlan: int | None,
) -> Packet:
    """An IP packet (``eth``: source, destination, type; ``ips``: source, destination)
    with the request's L4 fields, or a sender's defaults: an ephemeral source port, an
    echo request, TTL 64."""
    sport = dport = itype = icode = None
    if proto in ("tcp", "udp"):
        sport = req.sport if req.sport is not None else EPHEMERAL_PORT
        dport = req.dport if req.dport is not None else default_dport
    else:
        itype = req.icmp_type if req.icmp_type is not None else (8 if proto == "icmp" else 128)
        icode = req.icmp_code if req.icmp_code is not None else 0
    return Packet(
        eth_src=eth[0],
        eth_dst=eth[1],
        eth_type=eth[2],
        ip_src=ips[0],
        ip_dst=ips[1],
        proto=proto,
        sport=sport,
        dport=dport,
        icmp_type=itype,
        icmp_code=icode,
        ttl=req.ttl if req.ttl is not None else 64,
        vlan=vlan,
    )
