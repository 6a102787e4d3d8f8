"""Stages E and F: the L2 lookup (table 55, broadcast fan-out included) and L3 (tables
60 and 65), which Dragonflow runs on the source chassis: routing never happens on the
receiving side.
"""

from __future__ import annotations

from dragonscope.nb.tables import FLOATINGIP
from dragonscope.trace import nat, sfc
from dragonscope.trace.objects import Port, ip
from dragonscope.trace.walk import Frame, Moves, Next, Stage, Walk, decrement_ttl, is_local, keys


def l2_lookup(w: Walk, f: Frame) -> Next:
    pkt, network, idx = f.pkt, f.net, w.index
    assert network is not None
    dst_ip = ip(pkt.ip_dst) if pkt.is_ip else None
    dhcp = idx.dhcp_port.get(network.id)
    if (
        pkt.proto == "icmp"
        and pkt.icmp_type == 8
        and dhcp is not None
        and dst_ip is not None
        and dst_ip in dhcp.ips
    ):
        w.finish(
            f,
            55,
            "replied",
            f"echo reply from the DHCP port address {dst_ip}",
            object=idx.port_ref(dhcp),
            detail={"responder": "icmp-echo"},
        )
        return None
    if "fc" in w.apps and not f.sfc_done and f.src is not None and f.src.chassis == f.chassis:
        fc = sfc.find(idx, f.src, pkt, by_source=True)
        if fc is not None:
            return sfc.run_chain(w, f, fc, by_source=True)
    rport = idx.router_ports_by_mac.get((network.id, pkt.eth_dst))
    if rport is not None:
        router = idx.routers[rport.router_id]
        f.router, f.in_router_port = router, rport
        if w.record:
            w.hop(
                f,
                55,
                "goto",
                f"destination MAC is router {router.name}'s interface "
                f"{rport.ip}: reg5={router.key} → L3",
                [idx.router_ref(router), idx.router_port_ref(rport)],
            )
        if "l3_proactive" not in w.apps and "l3_reactive" not in w.apps:
            w.drop(f, 60, "NO_ROUTE", "no L3 app is loaded", idx.router_ref(router))
            return None
        return [(f, Stage.L3_LOOKUP)]
    if (
        f.from_physnet
        and network.external
        and pkt.eth_type == "arp"
        and pkt.arp_op == "request"
        and "dnat" in w.apps
    ):
        target = ip(pkt.arp_tpa)
        fip = idx.fip_by_address.get(target) if target is not None else None
        fport = idx.ports.get(fip.floating_port) if fip else None
        if fip and fport and fport.chassis == f.chassis:
            w.finish(
                f,
                55,
                "replied",
                f"this chassis answers ARP for floating IP {fip.address} with {fport.mac}",
                object=idx.ref(FLOATINGIP, fip.id),
                detail={"responder": "arp", "reply": {"arp_sha": fport.mac}},
            )
            return None
    port = idx.l2_by_mac.get((network.id, pkt.eth_dst))
    if port is not None:
        f.dst = port
        if w.record:
            w.hop(
                f,
                55,
                "goto",
                f"destination MAC {pkt.eth_dst} is port {port.name}: reg7={port.key} → egress",
                [idx.port_ref(port)],
            )
        return [(f, Stage.EGRESS)]
    if pkt.is_multicast:
        return flood_local(w, f)
    if network.is_provider:
        if w.record:
            w.hop(
                f,
                55,
                "goto",
                f"unknown unicast on {network.type} network {network.name} goes "
                "to the physical network",
            )
        return [(f, Stage.EGRESS)]
    owners = idx.any_by_mac.get((network.id, pkt.eth_dst), [])
    if owners:
        unbound_destination(w, f, 55, owners[0])
        return None
    w.drop(
        f,
        55,
        "UNKNOWN_UNICAST",
        f"no bound port of {network.type} network {network.name} "
        f"has MAC {pkt.eth_dst}; unknown unicast is dropped on tunnel networks",
        idx.net_ref(network),
    )
    return None


def unbound_destination(w: Walk, f: Frame, table: int, port: Port) -> None:
    ref = w.index.port_ref(port)
    if not port.enabled:
        w.drop(
            f,
            table,
            "PORT_DISABLED",
            f"destination port {port.name} is admin down: Dragonflow installs no flows for it",
            ref,
        )
    elif w.index.is_router_port(port):
        w.drop(
            f,
            table,
            "DESTINATION_UNBOUND",
            f"{port.name} is a router interface, unbound in agentless mode: nothing "
            "listens on the router's own address except ICMP echo",
            ref,
        )
    else:
        w.drop(
            f,
            table,
            "DESTINATION_UNBOUND",
            f"destination port {port.name} is not bound to any chassis",
            ref,
        )


def flood_local(w: Walk, f: Frame) -> Next:
    """Stage E rule 6: one copy per local port (the sender included), then one remote copy."""
    network = f.net
    assert network is not None
    local = w.index.local_ports.get((f.chassis or "", network.id), [])
    if w.record:
        w.hop(
            f,
            55,
            "flood",
            f"multicast/broadcast: {len(local)} local port(s) of {network.name} "
            "(the sender included) and one copy for remote chassis",
        )
    out: Moves = []
    for port in local:
        out.append((w.fork(f, dst=port, flood=True), Stage.EGRESS))
    out.append((w.fork(f, dst=None, flood=True), Stage.EGRESS))
    return out


def l3_lookup(w: Walk, f: Frame) -> Next:
    pkt, router, rp_in, idx = f.pkt, f.router, f.in_router_port, w.index
    assert router is not None and rp_in is not None
    rref = idx.router_ref(router)
    dst = ip(pkt.ip_dst) if pkt.is_ip else None
    if dst is None:
        w.drop(f, 60, "NO_ROUTE", "not an IP packet: the router forwards only IP", rref)
        return None
    iface_ips = router.iface_ips
    if dst in iface_ips and (pkt.proto, pkt.icmp_type) in (("icmp", 8), ("icmp6", 128)):
        w.finish(
            f,
            60,
            "replied",
            f"router {router.name} answers echo for {dst} (TTL 64)",
            object=rref,
            detail={"responder": "icmp-echo"},
        )
        return None
    best = None
    for dest, hop in router.routes:
        if (
            dst.version == dest.version
            and dst in dest
            and (best is None or dest.prefixlen > best[0].prefixlen)
        ):
            best = (dest, hop)
    if best is not None:
        dest, hop = best
        if (
            rp_in.network is not None
            and hop.version == rp_in.network.version
            and hop in rp_in.network
        ):
            nh_ports = idx.any_by_net_ip.get((rp_in.net_id, hop), [])
            if nh_ports:
                nh = nh_ports[0]
                route_ref = idx.router_ref(router, f"route {dest} via {hop}")
                if not decrement_ttl(w, f, 60, f"at router {router.name}"):
                    return None
                before = f.pkt
                f.pkt = f.pkt.evolve(eth_src=rp_in.mac, eth_dst=nh.mac)
                f.dst = nh
                if w.record:
                    w.hop(
                        f,
                        60,
                        "route",
                        f"extra route {dest} via {hop} (traffic entered from the "
                        f"nexthop's network): reg7={nh.key}",
                        [route_ref, idx.port_ref(nh)],
                        before,
                    )
                return [(f, Stage.EGRESS)]
    if dst in iface_ips:
        rp = iface_ips[dst]
        lport = idx.ports.get(rp.id)
        if lport is None:
            w.finish(
                f,
                60,
                "replied",
                "the controller answers with ICMP port unreachable "
                "(the router interface port is unknown)",
                object=rref,
                detail={"responder": "icmp-unreachable"},
            )
            return None
        f.dst = lport
        if w.record:
            w.hop(
                f,
                60,
                "goto",
                f"destination is router interface {dst}: reg7={lport.key}",
                [rref, idx.port_ref(lport)],
            )
        return [(f, Stage.EGRESS)]
    target, longest = None, -1
    for rp in router.ports:
        subnet = rp.network
        if (
            subnet is not None
            and subnet.version == dst.version
            and dst in subnet
            and subnet.prefixlen > longest
        ):
            target, longest = rp, subnet.prefixlen
    if target is not None:
        out_net = idx.networks.get(target.net_id)
        if out_net is None:
            w.drop(
                f,
                60,
                "INCOMPLETE_OBJECT",
                f"router port {target.id} refers to network {target.net_id}, which does not exist",
                rref,
            )
            return None
        if not decrement_ttl(w, f, 60, f"at router {router.name}"):
            return None
        before = pkt
        f.pkt = f.pkt.evolve(eth_src=target.mac)
        f.net = out_net
        if w.record:
            w.hop(
                f,
                60,
                "route",
                f"{dst} is in {target.network} on {out_net.name}: TTL-1, {keys(f)}",
                [idx.router_port_ref(target), idx.net_ref(out_net)],
                before,
            )
        return [(f, Stage.L3_PROACTIVE)]
    src = f.src
    if "dnat" in w.apps and src is not None and is_local(w, f, src):
        fip = nat.egress_fip(idx, src, router, ip(pkt.ip_src))
        if fip is not None:
            if w.record:
                w.hop(
                    f,
                    60,
                    "goto",
                    f"{src.name} has floating IP {fip.address} on {router.name} → egress DNAT",
                    [idx.ref(FLOATINGIP, fip.id, str(fip.address))],
                )
            return [(f, Stage.DNAT_EGRESS)]
    chassis = idx.chassis.get(f.chassis or "")
    if "chassis_snat" in w.apps and dst.version == 4 and chassis and chassis.external_ip:
        return nat.snat_egress(w, f)
    iface = idx.ports.get(rp_in.id)
    if "legacy_snat" in w.apps and iface is not None and iface.bound:
        f.dst = iface
        if w.record:
            w.hop(
                f,
                60,
                "goto",
                f"legacy SNAT: hand the packet to router interface port "
                f"{iface.name}, bound on {iface.chassis or iface.vtep} where the Neutron L3 "
                f"agent routes it: reg7={iface.key}",
                [rref, idx.port_ref(iface)],
            )
        return [(f, Stage.EGRESS)]
    why = f"router {router.name} has no route to {dst}: no attached subnet, extra route"
    why += " (for this ingress network)" if best is not None else ""
    why += ", floating IP or chassis SNAT applies; Dragonflow has no default route"
    w.drop(f, 60, "NO_ROUTE", why, rref)
    return None


def l3_proactive(w: Walk, f: Frame) -> Next:
    network, idx = f.net, w.index
    assert network is not None
    dst = ip(f.pkt.ip_dst)
    found = idx.l3_by_ip.get((network.id, dst)) if dst is not None else None
    if found is not None:
        port, mac = found
        before = f.pkt
        f.pkt = f.pkt.evolve(eth_dst=mac)
        f.dst = port
        kind = "" if mac == port.mac and dst in port.ips else " (allowed address pair)"
        if w.record:
            w.hop(
                f,
                65,
                "resolve",
                f"{dst} is port {port.name}{kind}: reg7={port.key}",
                [idx.port_ref(port)],
                before,
            )
        return [(f, Stage.EGRESS)]
    owners = idx.any_by_net_ip.get((network.id, dst), []) if dst is not None else []
    if owners:
        unbound_destination(w, f, 65, owners[0])
        return None
    w.drop(
        f,
        65,
        "ARP_UNRESOLVED",
        f"no bound port of {network.name} has IP {dst}; the router does not ARP",
        idx.net_ref(network),
    )
    return None
