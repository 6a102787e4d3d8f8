"""Distributed DNAT for floating IPs (app ``dnat``) and the optional chassis SNAT.

Both run at the VM's chassis: Dragonflow has no central gateway in agentless mode, and
the router gateway port plays no part. Bridge MACs are local configuration (not NB data),
so the simulator names them symbolically.
"""

from __future__ import annotations

from dragonscope.nb.tables import CHASSIS, FLOATINGIP
from dragonscope.trace.index import NbIndex
from dragonscope.trace.objects import FloatingIp, IpAddr, Port, Router, ip
from dragonscope.trace.walk import Frame, Next, Stage, Walk, decrement_ttl, keys

SNAT_BRIDGE = "br-ex"


def bridge_mac(physnet: str) -> str:
    """Symbolic MAC of the bridge mapped to ``physnet`` (``bridge_mappings`` is local)."""
    return f"<mac of the {physnet} bridge>"


def egress_fip(
    index: NbIndex, src: Port, router: Router, ip_src: IpAddr | None
) -> FloatingIp | None:
    """The FIP that NATs ``src``'s traffic leaving through ``router`` (stage F rule 5):
    associated to this port, on this router, and the source is the port's first IP."""
    if ip_src is None or ip_src.version != 4 or not src.ips or src.ips[0] != ip_src:
        return None
    for fip in index.fips_by_fixed.get(src.id, []):
        if fip.router == router.id and fip.address is not None:
            return fip
    return None


def inbound_router_mac(index: NbIndex, fip: FloatingIp, fixed: Port, fip_port: Port) -> str:
    """eth_src after inbound DNAT: the FIP router's port on the fixed network, else the
    FIP port's own MAC."""
    router = index.routers.get(fip.router or "")
    for rp in router.ports if router else []:
        if rp.net_id == fixed.net_id:
            return rp.mac
    return fip_port.mac


def snat_mac(external_ip: IpAddr) -> str:
    """chassis_snat's source MAC: ``91:92:`` followed by the external IP in hex."""
    return "91:92:" + ":".join(f"{b:02x}" for b in external_ip.packed)


# -- steps (tables 50/51, 70/71, 76, 77) --------------------------------------
def dnat_egress(w: Walk, f: Frame) -> Next:
    idx, src, router = w.index, f.src, f.router
    assert src is not None and router is not None
    fip = egress_fip(idx, src, router, ip(f.pkt.ip_src))
    assert fip is not None
    fport = idx.ports.get(fip.floating_port)
    ext = idx.networks.get(fport.net_id) if fport else None
    fref = idx.ref(FLOATINGIP, fip.id, str(fip.address))
    if fport is None or ext is None:
        w.drop(
            f,
            77,
            "INCOMPLETE_OBJECT",
            "the floating IP's port or external network does not exist",
            fref,
        )
        return None
    if not decrement_ttl(w, f, 77, "at egress DNAT"):
        return None
    before = f.pkt
    f.pkt = f.pkt.evolve(eth_src=fport.mac, eth_dst="00:00:00:00:00:00", ip_src=str(fip.address))
    f.net, f.src, f.dst, f.router = ext, fport, None, None
    if w.record:
        w.hop(
            f,
            77,
            "nat",
            f"egress DNAT: source becomes floating IP {fip.address} on {ext.name}: {keys(f)}",
            [fref, idx.port_ref(fport)],
            before,
        )
    return [(f, Stage.L2_LOOKUP)]


def dnat_ingress(w: Walk, f: Frame) -> Next:
    idx, fport = w.index, f.dst
    assert fport is not None
    fip = idx.fip_by_port[fport.id]
    fref = idx.ref(FLOATINGIP, fip.id, str(fip.address))
    fixed = idx.ports.get(fip.fixed_port or "")
    fixed_net = idx.networks.get(fixed.net_id) if fixed else None
    if fixed is None or fixed_net is None or not fixed.ips:
        w.drop(f, 76, "INCOMPLETE_OBJECT", "the floating IP's fixed port does not exist", fref)
        return None
    if not decrement_ttl(w, f, 76, "at ingress DNAT"):
        return None
    before = f.pkt
    f.pkt = f.pkt.evolve(
        eth_src=inbound_router_mac(idx, fip, fixed, fport),
        eth_dst=fixed.mac,
        ip_dst=str(fixed.ips[0]),
    )
    f.dst, f.net = fixed, fixed_net
    if w.record:
        w.hop(
            f,
            76,
            "nat",
            f"ingress DNAT: {fip.address} → {fixed.ips[0]} ({fixed.name}): {keys(f)}",
            [fref, idx.port_ref(fixed)],
            before,
        )
    return [(f, Stage.L2_LOOKUP)]


def snat_egress(w: Walk, f: Frame) -> Next:
    chassis = w.index.chassis[f.chassis or ""]
    assert chassis.external_ip is not None
    before = f.pkt
    w.commit(f, 65534, "snat", f.src.id if f.src else "")
    f.pkt = f.pkt.evolve(ip_src=str(chassis.external_ip))
    if w.record:
        w.hop(
            f,
            70,
            "nat",
            f"chassis SNAT to {chassis.external_ip} (conntrack zone 65534)",
            [w.index.ref(CHASSIS, chassis.id)],
            before,
        )
    before = f.pkt
    f.pkt = f.pkt.evolve(eth_src=snat_mac(chassis.external_ip), eth_dst=bridge_mac(SNAT_BRIDGE))
    w.finish(
        f,
        71,
        "external",
        f"out to {SNAT_BRIDGE} on {chassis.id}",
        object=w.index.ref(CHASSIS, chassis.id),
        detail={"bridge": SNAT_BRIDGE},
    )
    w.hops[-1].changes = before.diff(f.pkt) if w.record else {}
    return None


def snat_return(w: Walk, f: Frame) -> Next:
    """Tables 0 → 50 → 51: a packet back from the SNAT bridge is un-NATed with the conntrack
    entry its request created and handed to the port the entry remembers."""
    entry = w.snat_origin(f)
    port = w.index.ports.get(entry.port) if entry else None
    network = w.index.networks.get(port.net_id) if port else None
    if entry is None or port is None or network is None:
        w.drop(
            f,
            50,
            "NO_L2_DESTINATION",
            "no SNAT connection of this chassis matches the packet; Dragonflow drops it",
            w.index.ref(CHASSIS, f.chassis or ""),
        )
        return None
    before = f.pkt
    f.pkt = f.pkt.evolve(ip_dst=entry.src, eth_dst=port.mac)
    f.dst, f.net = port, network
    if w.record:
        w.hop(
            f,
            51,
            "nat",
            f"reverse chassis SNAT (conntrack zone 65534): back to "
            f"{entry.src} ({port.name}), reg7={port.key}",
            [w.index.port_ref(port)],
            before,
        )
    return [(f, Stage.INGRESS_SG)]
