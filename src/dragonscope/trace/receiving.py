"""Stage H, the receiving side: arrival from a tunnel (tables 0 and 100) or from a
physical network (tables 0 and 2), ingress security groups (105/110) and delivery to
the port (115), trunk children included.
"""

from __future__ import annotations

from dragonscope.nb.tables import FLOATINGIP
from dragonscope.trace import sgstage, tunnel
from dragonscope.trace.objects import ip
from dragonscope.trace.walk import Frame, Next, Stage, Walk


def tunnel_arrival(w: Walk, f: Frame) -> Next:
    idx, sent = w.index, f.net
    assert sent is not None
    if not tunnel.terminates(w, f, sent, 0):
        return None
    network = idx.net_by_tunnel.get((sent.type, sent.segmentation_id or -1))
    if network is None or not idx.local_ports.get((f.chassis or "", network.id)):
        w.drop(
            f,
            0,
            "NO_LOCAL_PORT_FOR_TUNNEL",
            f"chassis {f.chassis} has no local port in the network of VNI {sent.segmentation_id}",
            idx.net_ref(sent),
        )
        return None
    f.net = network
    if w.record:
        w.hop(
            f,
            0,
            "classify",
            f"from tunnel VNI {network.segmentation_id}: metadata={network.key}",
            [idx.net_ref(network)],
        )
    return [(f, Stage.TUNNEL_DISPATCH)]


def tunnel_dispatch(w: Walk, f: Frame) -> Next:
    idx, network = w.index, f.net
    assert network is not None
    local = idx.local_ports.get((f.chassis or "", network.id), [])
    if f.pkt.is_multicast:
        if w.record:
            w.hop(f, 100, "flood", f"multicast: every local port of {network.name} ({len(local)})")
        return [(w.fork(f, dst=p), Stage.INGRESS_SG) for p in local]
    for port in local:
        if port.mac == f.pkt.eth_dst:
            f.dst = port
            if w.record:
                w.hop(
                    f,
                    100,
                    "goto",
                    f"destination MAC is local port {port.name}: reg7={port.key}",
                    [idx.port_ref(port)],
                )
            return [(f, Stage.INGRESS_SG)]
    w.drop(
        f,
        100,
        "NO_L2_DESTINATION",
        f"no local port of {network.name} on {f.chassis} has MAC {f.pkt.eth_dst}",
        idx.net_ref(network),
    )
    return None


def physnet_arrival(w: Walk, f: Frame) -> Next:
    idx = w.index
    candidates = idx.net_by_physnet.get((f.physnet or "", f.pkt.vlan), [])
    network = next((n for n in candidates if idx.local_ports.get((f.chassis or "", n.id))), None)
    if network is None:
        w.drop(
            f,
            0,
            "NO_LOCAL_PORT_FOR_TUNNEL",
            f"chassis {f.chassis} has no local port in a "
            f"network on physnet {f.physnet}"
            + (f" VLAN {f.pkt.vlan}" if f.pkt.vlan is not None else ""),
            idx.net_ref(candidates[0]) if candidates else None,
        )
        return None
    before = f.pkt
    f.pkt = f.pkt.evolve(vlan=None)
    f.net, f.src, f.dst, f.from_physnet = network, None, None, True
    if w.record:
        w.hop(
            f,
            0,
            "classify",
            f"from physnet {f.physnet}: network {network.name}, metadata={network.key}, reg6=0",
            [idx.net_ref(network)],
            before,
        )
    src_ip = ip(f.pkt.ip_src) if f.pkt.is_ip else None
    fip = idx.fip_by_address.get(src_ip) if src_ip is not None else None
    fixed = idx.ports.get(fip.fixed_port or "") if fip else None
    if fip and fixed and fixed.chassis == f.chassis:
        f.src = fixed
        if w.record:
            w.hop(
                f,
                2,
                "hairpin",
                f"source is local floating IP {fip.address}: reg6={fixed.key}",
                [idx.ref(FLOATINGIP, fip.id, str(fip.address))],
            )
    else:
        if w.record:
            w.hop(f, 2, "goto", "external source → L2 lookup")
    return [(f, Stage.L2_LOOKUP)]


def ingress_sg(w: Walk, f: Frame) -> Next:
    assert f.dst is not None
    return [(f, Stage.DELIVER)] if sgstage.admits(w, f, f.dst, sgstage.INGRESS) else None


def deliver(w: Walk, f: Frame) -> Next:
    idx, port = w.index, f.dst
    assert port is not None
    if idx.is_router_port(port):
        router = idx.routers.get(port.device_id)
        w.finish(
            f,
            115,
            "external",
            f"to router interface {port.name} on {f.chassis}: the "
            "Neutron L3 agent's router namespace routes (and SNATs) it from here",
            port=idx.port_ref(port),
            object=idx.router_ref(router) if router else None,
            detail={"l3_agent": f.chassis},
        )
        return None
    cps = idx.children.get(port.id) if port.runtime_binding == "trunk-child" else None
    parent = idx.ports.get(cps.parent) if cps else None
    if cps and parent:
        before = f.pkt
        if cps.type == "vlan":
            f.pkt = f.pkt.evolve(vlan=cps.vlan)
        elif cps.type == "ipvlan":
            f.pkt = f.pkt.evolve(eth_dst=parent.mac)
        w.finish(
            f,
            115,
            "delivered",
            f"to trunk child {port.name} through parent {parent.name}"
            + (f" with VLAN {cps.vlan}" if cps.type == "vlan" else f" ({cps.type})"),
            port=idx.port_ref(port),
            object=idx.port_ref(parent),
        )
        if w.record:
            w.hops[-1].changes = before.diff(f.pkt)
        return None
    w.finish(f, 115, "delivered", f"output to {port.name} on {f.chassis}", port=idx.port_ref(port))
    return None
