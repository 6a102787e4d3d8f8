"""The stage walk: one function per Dragonflow table (or small group of tables).

Each step takes the frame, records a hop and returns where the packet goes next (one
entry per copy when the output forks), or records an outcome and returns nothing.
Stage letters follow the reference walk: A classification, B port security, C egress
security groups, D services, E L2, F L3, G egress dispatch, H the receiving side.
"""

from __future__ import annotations

from dragonscope.trace import nat, responders, sfc
from dragonscope.trace.index import Port, ip
from dragonscope.trace.walk import Frame, Step, Walk

Next = list[tuple[Frame, Step]] | None
BROADCAST = "ff:ff:ff:ff:ff:ff"


def _keys(f: Frame) -> str:
    parts = []
    if f.net is not None:
        parts.append(f"metadata={f.net.key}")
    if f.src is not None:
        parts.append(f"reg6={f.src.key}")
    if f.dst is not None:
        parts.append(f"reg7={f.dst.key}")
    if f.router is not None:
        parts.append(f"reg5={f.router.key}")
    return " ".join(parts)


def _local(w: Walk, f: Frame, port: Port) -> bool:
    return port.chassis is not None and port.chassis == f.chassis


def _decrement_ttl(w: Walk, f: Frame, table: int, obj_why: str) -> bool:
    """TTL-1, or record TTL_EXPIRED; True when the packet may go on."""
    ttl = f.pkt.ttl if f.pkt.ttl is not None else 64
    if ttl <= 1:
        w.drop(
            f,
            table,
            "TTL_EXPIRED",
            f"TTL {ttl} would reach 0 {obj_why}; the controller answers ICMP time exceeded",
            w.index.router_ref(f.router) if f.router else None,
        )
        return False
    f.pkt = f.pkt.evolve(ttl=ttl - 1)
    return True


# -- Stage A: classification (table 0) -------------------------------------------------
def classify(w: Walk, f: Frame) -> Next:
    port = f.in_port
    assert port is not None
    ref = w.index.port_ref(port)
    if not port.enabled:
        w.drop(f, 0, "PORT_DISABLED", f"port {port.name} is admin down: no flows classify it", ref)
        return None
    if port.chassis is None:
        w.drop(f, 0, "SOURCE_UNBOUND", f"port {port.name} is not bound to a chassis", ref)
        return None
    if port.chassis not in w.index.chassis:
        w.drop(
            f,
            0,
            "NO_CHASSIS",
            f"chassis {port.chassis} has no chassis record: no Dragonflow controller "
            "installed flows there",
            w.index.ref("chassis", port.chassis),
        )
        return None
    network = w.index.networks.get(port.net_id)
    if network is None:
        w.drop(
            f,
            0,
            "INCOMPLETE_OBJECT",
            f"port {port.name} refers to network {port.net_id}, which does not exist",
            ref,
        )
        return None
    f.src, f.net = port, network
    if f.pkt.vlan is not None and "trunk" in w.apps:
        cps = w.index.parents.get((port.id, f.pkt.vlan))
        child = w.index.ports.get(cps.child) if cps else None
        child_net = w.index.networks.get(child.net_id) if child else None
        if cps and child and child_net:
            before = f.pkt
            f.pkt = f.pkt.evolve(vlan=None)
            f.src, f.net = child, child_net
            if w.record:
                w.hop(
                    f,
                    0,
                    "classify",
                    f"VLAN {cps.vlan} from trunk parent {port.name} is child port {child.name}: "
                    f"pop the tag, {_keys(f)}",
                    [
                        ref,
                        w.index.ref("child_port_segmentation", cps.id, detail=f"vlan {cps.vlan}"),
                        w.index.port_ref(child),
                    ],
                    before,
                )
            return [(f, port_security)]
    if w.record:
        w.hop(
            f,
            0,
            "classify",
            f"from port {port.name} in network {network.name}: {_keys(f)}",
            [ref, w.index.net_ref(network)],
        )
    return [(f, port_security)]


# -- Stage B: port security (portsec main table) -----------------------------------------
def _is_metadata(f: Frame) -> bool:
    return (
        f.pkt.proto == "tcp"
        and f.pkt.dport == responders.METADATA_PORT
        and ip(f.pkt.ip_dst) == responders.METADATA_IP
    )


def port_security(w: Walk, f: Frame) -> Next:
    port, pkt = f.src, f.pkt
    assert port is not None
    ref = w.index.port_ref(port)
    if "metadata_service" in w.apps and _is_metadata(f):
        if w.record:
            w.hop(
                f,
                201,
                "services",
                "TCP to 169.254.169.254:80 goes to the metadata service "
                "before any spoofing or security group check",
                [ref],
            )
        return [(f, services)]
    if "portsec" not in w.apps or not port.port_security:
        if w.record:
            w.hop(f, 201, "pass", f"port security is disabled on {port.name}", [ref])
        return [(f, egress_sg)]
    src_ip = ip(pkt.ip_src) if pkt.ip_src else None
    pairs = {(port.mac, a) for a in port.ips} | {(m or port.mac, a) for a, m in port.pairs}
    if pkt.eth_type == "arp":
        spa = ip(pkt.arp_spa)
        if pkt.arp_sha == pkt.eth_src and (pkt.eth_src, spa) in pairs:
            if w.record:
                w.hop(f, 201, "services", "ARP with a valid MAC/IP pair", [ref])
            return [(f, services)]
        if pkt.eth_src == port.mac and pkt.arp_spa == "0.0.0.0":
            if w.record:
                w.hop(f, 201, "services", "ARP probe from the port MAC", [ref])
            return [(f, services)]
        w.drop(
            f,
            201,
            "PORT_SECURITY",
            f"ARP sender {pkt.arp_sha}/{pkt.arp_spa} is not a MAC/IP pair of {port.name}",
            ref,
        )
        return None
    if pkt.proto == "icmp6" and pkt.eth_src == port.mac:
        if w.record:
            w.hop(f, 201, "services", "ICMPv6 from the port MAC skips security groups", [ref])
        return [(f, services)]
    if pkt.is_ip and (pkt.eth_src, src_ip) in pairs:
        aap = (pkt.eth_src, src_ip) not in {(port.mac, a) for a in port.ips}
        if w.record:
            w.hop(
                f,
                201,
                "pass",
                f"{pkt.eth_src}/{pkt.ip_src} is "
                + ("an allowed address pair" if aap else "the port's own MAC/IP")
                + f" of {port.name}",
                [ref],
            )
        return [(f, egress_sg)]
    if pkt.is_ip and pkt.is_dhcp_request and pkt.eth_src == port.mac:
        if w.record:
            w.hop(f, 201, "pass", "DHCP request from the port MAC (any source IP)", [ref])
        return [(f, egress_sg)]
    w.drop(
        f,
        201,
        "PORT_SECURITY",
        f"source {pkt.eth_src}/{pkt.ip_src} is neither the MAC/IP of {port.name} nor one of "
        "its allowed address pairs",
        ref,
    )
    return None


# -- Stage C: egress security groups (tables 10/15) --------------------------------------
def egress_sg(w: Walk, f: Frame) -> Next:
    port, pkt = f.src, f.pkt
    assert port is not None and f.net is not None
    if "sg" not in w.apps or not port.security_groups or not pkt.is_ip:
        why = (
            "no security group on the port" if pkt.is_ip else "not IP: security groups do not apply"
        )
        if w.record:
            w.hop(f, 10, "pass", why)
        return [(f, services)]
    zone = f.net.key
    if w.established(f, zone):
        if w.record:
            w.hop(f, 10, "pass", f"conntrack zone {zone}: established connection")
        return [(f, services)]
    match = w.sg.match(port, "egress", pkt)
    if match is None:
        missing = w.sg.missing_groups(port)
        extra = f" (missing groups: {', '.join(missing)})" if missing else ""
        objs = [w.index.sg_ref(s) for s in port.security_groups]
        code = "DHCP_BLOCKED" if pkt.is_dhcp_request else "SG_EGRESS"
        why = f"new connection: no egress rule of {port.name}'s security groups admits it" + extra
        w.drop(f, 15, code, why, objs[0] if objs else None, [*objs[1:], w.index.port_ref(port)])
        return None
    sg_id, rule = match
    w.commit(f, zone, "egress")
    if w.record:
        w.hop(
            f,
            15,
            "allow",
            f"new connection admitted by egress rule {rule.get('id')}; "
            f"committed to conntrack zone {zone}",
            [w.index.sg_ref(sg_id, detail=f"rule {rule.get('id')}")],
        )
    return [(f, services)]


# -- Stage D: services (tables 20, 25, 30, 35, 45) -----------------------------------------
def services(w: Walk, f: Frame) -> Next:
    pkt = f.pkt
    if pkt.eth_type == "arp":
        if w.record:
            w.hop(f, 20, "goto", "ARP → ARP table")
        return [(f, arp_table)]
    if pkt.proto == "icmp6":
        if w.record:
            w.hop(f, 20, "goto", "ICMPv6 → ND table")
        return [(f, nd_table)]
    if pkt.is_dhcp_request and "dhcp" in w.apps:
        if w.record:
            w.hop(f, 20, "goto", "UDP 68→67 → DHCP table")
        return [(f, dhcp_table)]
    if "metadata_service" in w.apps and _is_metadata(f):
        return metadata(w, f)
    if w.record:
        w.hop(f, 20, "goto", "no service applies → L2 lookup")
    return [(f, l2_lookup)]


def arp_table(w: Walk, f: Frame) -> Next:
    pkt, network = f.pkt, f.net
    assert network is not None
    target = ip(pkt.arp_tpa)
    if pkt.arp_op == "request" and target is not None:
        answer = responders.arp_answer(w.index, network, target)
        if answer is not None:
            mac, obj = answer
            reply = {
                "arp_op": "reply",
                "arp_spa": str(target),
                "arp_sha": mac,
                "eth_src": mac,
                "eth_dst": pkt.eth_src,
            }
            w.finish(
                f,
                25,
                "replied",
                f"ARP responder: {target} is at {mac}",
                object=obj,
                detail={"responder": "arp", "reply": reply},
            )
            return None
    if w.record:
        w.hop(f, 25, "goto", f"no ARP responder for {pkt.arp_tpa} → L2 lookup")
    return [(f, l2_lookup)]


def nd_table(w: Walk, f: Frame) -> Next:
    pkt, network = f.pkt, f.net
    assert network is not None
    target = ip(pkt.ip_dst)
    if pkt.icmp_type == 135 and target is not None:
        answer = responders.nd_answer(w.index, network, target)
        if answer is not None:
            mac, obj = answer
            reply = {"icmp_type": 136, "target": str(target), "target_mac": mac}
            w.finish(
                f,
                45,
                "replied",
                f"ND responder: {target} is at {mac}",
                object=obj,
                detail={"responder": "nd", "reply": reply},
            )
            return None
    if w.record:
        w.hop(f, 45, "goto", "no ND responder applies → L2 lookup")
    return [(f, l2_lookup)]


def dhcp_table(w: Walk, f: Frame) -> Next:
    network, port = f.net, f.src
    assert network is not None and port is not None
    server = w.index.dhcp_port.get(network.id)
    if server is None:
        if w.record:
            w.hop(f, 30, "goto", f"network {network.name} has no DHCP port: the request is flooded")
        return [(f, l2_lookup)]
    reply = responders.dhcp_reply(w.index, port, server)
    w.finish(
        f,
        30,
        "replied",
        f"the local controller answers: offer {reply['yiaddr']} from {reply['server_id']}",
        object=w.index.port_ref(server),
        detail={"responder": "dhcp", "reply": reply},
    )
    return None


def metadata(w: Walk, f: Frame) -> Next:
    port = f.src
    assert port is not None
    before = f.pkt
    f.pkt = f.pkt.evolve(
        ip_src=responders.metadata_source(port), dport=responders.METADATA_PROXY_PORT
    )
    if w.record:
        w.hop(
            f,
            35,
            "rewrite",
            f"metadata: source IP encodes reg6 {port.key} for the proxy",
            before=before,
        )
    w.finish(
        f,
        40,
        "replied",
        f"the local metadata proxy answers; replies are delivered back to {port.name}",
        object=w.index.port_ref(port),
        detail={"responder": "metadata"},
    )
    return None


# -- Stage E: L2 lookup (table 55) -----------------------------------------------------------
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
            return run_chain(w, f, fc, by_source=True)
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
        return [(f, l3_lookup)]
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
                object=idx.ref("floatingip", fip.id),
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
        return [(f, egress)]
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
        return [(f, egress)]
    owners = idx.any_by_mac.get((network.id, pkt.eth_dst), [])
    if owners:
        return _unbound_destination(w, f, 55, owners[0])
    w.drop(
        f,
        55,
        "UNKNOWN_UNICAST",
        f"no bound port of {network.type} network {network.name} "
        f"has MAC {pkt.eth_dst}; unknown unicast is dropped on tunnel networks",
        idx.net_ref(network),
    )
    return None


def _unbound_destination(w: Walk, f: Frame, table: int, port: Port) -> None:
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
    out: Next = []
    for port in local:
        out.append((w.fork(f, dst=port, flood=True), egress))
    out.append((w.fork(f, dst=None, flood=True), egress))
    return out


# -- Stage F: L3 (tables 60 and 65) ---------------------------------------------------------
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
                if not _decrement_ttl(w, f, 60, f"at router {router.name}"):
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
                return [(f, egress)]
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
        return [(f, egress)]
    target = None
    for rp in router.ports:
        if (
            rp.network is not None
            and rp.network.version == dst.version
            and dst in rp.network
            and (target is None or rp.network.prefixlen > target.network.prefixlen)
        ):
            target = rp
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
        if not _decrement_ttl(w, f, 60, f"at router {router.name}"):
            return None
        before = pkt
        f.pkt = f.pkt.evolve(eth_src=target.mac)
        f.net = out_net
        if w.record:
            w.hop(
                f,
                60,
                "route",
                f"{dst} is in {target.network} on {out_net.name}: TTL-1, {_keys(f)}",
                [idx.router_port_ref(target), idx.net_ref(out_net)],
                before,
            )
        return [(f, l3_proactive)]
    src = f.src
    if "dnat" in w.apps and src is not None and _local(w, f, src):
        fip = nat.egress_fip(idx, src, router, ip(pkt.ip_src))
        if fip is not None:
            if w.record:
                w.hop(
                    f,
                    60,
                    "goto",
                    f"{src.name} has floating IP {fip.address} on {router.name} → egress DNAT",
                    [idx.ref("floatingip", fip.id, str(fip.address))],
                )
            return [(f, dnat_egress)]
    chassis = idx.chassis.get(f.chassis or "")
    if "chassis_snat" in w.apps and dst.version == 4 and chassis and chassis.external_ip:
        return snat_egress(w, f)
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
        return [(f, egress)]
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
        return [(f, egress)]
    owners = idx.any_by_net_ip.get((network.id, dst), []) if dst is not None else []
    if owners:
        _unbound_destination(w, f, 65, owners[0])
        return None
    w.drop(
        f,
        65,
        "ARP_UNRESOLVED",
        f"no bound port of {network.name} has IP {dst}; the router does not ARP",
        idx.net_ref(network),
    )
    return None


# -- NAT (tables 70/71, 76, 77) ----------------------------------------------------------
def dnat_egress(w: Walk, f: Frame) -> Next:
    idx, src, router = w.index, f.src, f.router
    assert src is not None and router is not None
    fip = nat.egress_fip(idx, src, router, ip(f.pkt.ip_src))
    assert fip is not None
    fport = idx.ports.get(fip.floating_port)
    ext = idx.networks.get(fport.net_id) if fport else None
    fref = idx.ref("floatingip", fip.id, str(fip.address))
    if fport is None or ext is None:
        w.drop(
            f,
            77,
            "INCOMPLETE_OBJECT",
            "the floating IP's port or external network does not exist",
            fref,
        )
        return None
    if not _decrement_ttl(w, f, 77, "at egress DNAT"):
        return None
    before = f.pkt
    f.pkt = f.pkt.evolve(eth_src=fport.mac, eth_dst="00:00:00:00:00:00", ip_src=str(fip.address))
    f.net, f.src, f.dst, f.router = ext, fport, None, None
    if w.record:
        w.hop(
            f,
            77,
            "nat",
            f"egress DNAT: source becomes floating IP {fip.address} on {ext.name}: {_keys(f)}",
            [fref, idx.port_ref(fport)],
            before,
        )
    return [(f, l2_lookup)]


def dnat_ingress(w: Walk, f: Frame) -> Next:
    idx, fport = w.index, f.dst
    assert fport is not None
    fip = idx.fip_by_port[fport.id]
    fref = idx.ref("floatingip", fip.id, str(fip.address))
    fixed = idx.ports.get(fip.fixed_port or "")
    fixed_net = idx.networks.get(fixed.net_id) if fixed else None
    if fixed is None or fixed_net is None or not fixed.ips:
        w.drop(f, 76, "INCOMPLETE_OBJECT", "the floating IP's fixed port does not exist", fref)
        return None
    if not _decrement_ttl(w, f, 76, "at ingress DNAT"):
        return None
    before = f.pkt
    f.pkt = f.pkt.evolve(
        eth_src=nat.inbound_router_mac(idx, fip, fixed, fport),
        eth_dst=fixed.mac,
        ip_dst=str(fixed.ips[0]),
    )
    f.dst, f.net = fixed, fixed_net
    if w.record:
        w.hop(
            f,
            76,
            "nat",
            f"ingress DNAT: {fip.address} → {fixed.ips[0]} ({fixed.name}): {_keys(f)}",
            [fref, idx.port_ref(fixed)],
            before,
        )
    return [(f, l2_lookup)]


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
            [w.index.ref("chassis", chassis.id)],
            before,
        )
    before = f.pkt
    f.pkt = f.pkt.evolve(
        eth_src=nat.snat_mac(chassis.external_ip), eth_dst=nat.bridge_mac(nat.SNAT_BRIDGE)
    )
    w.finish(
        f,
        71,
        "external",
        f"out to {nat.SNAT_BRIDGE} on {chassis.id}",
        object=w.index.ref("chassis", chassis.id),
        detail={"bridge": nat.SNAT_BRIDGE},
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
            w.index.ref("chassis", f.chassis or ""),
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
    return [(f, ingress_sg)]


# -- Stage G: egress dispatch (tables 75, 80) ------------------------------------------------
def egress(w: Walk, f: Frame) -> Next:
    idx, port, network = w.index, f.dst, f.net
    assert network is not None
    if "fc" in w.apps and port is not None and not f.sfc_done:
        fc = sfc.find(idx, port, f.pkt, by_source=False)
        if fc is not None:
            return run_chain(w, f, fc, by_source=False)
    if port is None:
        return _egress_flood_or_provider(w, f)
    if not port.bound:
        _unbound_destination(w, f, 75, port)
        return None
    if "dnat" in w.apps and port.id in idx.fip_by_port and _local(w, f, port):
        if w.record:
            w.hop(
                f,
                75,
                "goto",
                f"reg7 is local floating IP port {port.name} → ingress DNAT",
                [idx.port_ref(port)],
            )
        return [(f, dnat_ingress)]
    if _local(w, f, port):
        if w.record:
            w.hop(f, 75, "goto", f"{port.name} is local → ingress security", [idx.port_ref(port)])
        return [(f, ingress_sg)]
    if network.is_tunnel:
        return _tunnel(w, f, port)
    if network.is_provider:
        if f.from_physnet:
            w.drop(
                f,
                75,
                "NO_L2_DESTINATION",
                f"{port.name} is not local and the frame came "
                "from the physical network: its own chassis receives that copy",
                idx.port_ref(port),
            )
            return None
        return _to_physnet(w, f, continue_to=port.chassis)
    w.drop(
        f,
        75,
        "NO_L2_DESTINATION",
        f"{port.name} is on another chassis and {network.type!r} "
        f"network {network.name} cannot leave this chassis",
        idx.net_ref(network),
    )
    return None


def _tunnel(w: Walk, f: Frame, port: Port) -> Next:
    idx, network = w.index, f.net
    assert network is not None
    here = idx.chassis.get(f.chassis or "")
    if here is None or network.type not in here.tunnel_types:
        w.drop(
            f,
            75,
            "TUNNEL_TYPE_UNSUPPORTED",
            f"chassis {f.chassis} does not terminate {network.type} tunnels",
            idx.ref("chassis", f.chassis or ""),
        )
        return None
    if port.vtep is not None:
        w.finish(
            f,
            75,
            "delivered",
            f"encapsulated {network.type} VNI {network.segmentation_id} "
            f"to VTEP {port.vtep}, behind which {port.name} lives",
            port=idx.port_ref(port),
            detail={"vtep": str(port.vtep)},
        )
        return None
    remote = idx.chassis.get(port.chassis or "")
    if remote is None or remote.ip is None:
        w.drop(
            f,
            75,
            "NO_CHASSIS",
            f"{port.name} is bound to chassis {port.chassis}, which has "
            "no chassis record (no tunnel endpoint)",
            idx.port_ref(port),
        )
        return None
    return [(_send_tunnel(w, f, remote.id), tunnel_arrival)]


def _send_tunnel(w: Walk, f: Frame, remote_id: str) -> Frame:
    idx, network = w.index, f.net
    assert network is not None
    here, remote = idx.chassis[f.chassis or ""], idx.chassis[remote_id]
    if w.record:
        w.hop(
            f,
            75,
            "tunnel",
            f"encapsulate {network.type} VNI {network.segmentation_id}: outer "
            f"{here.ip} → {remote.ip} ({remote.id})",
            [idx.net_ref(network), idx.ref("chassis", remote.id)],
        )
    if w.record:
        w.hops[-1].changes = {
            "tunnel": [
                None,
                {
                    "type": network.type,
                    "vni": network.segmentation_id,
                    "outer_src": str(here.ip),
                    "outer_dst": str(remote.ip),
                },
            ]
        }
    return f.copy(chassis=remote.id, src=None, dst=None, router=None)


def _egress_flood_or_provider(w: Walk, f: Frame) -> Next:
    idx, network = w.index, f.net
    assert network is not None
    if f.flood and network.is_tunnel:
        remotes = sorted(idx.port_chassis_by_net.get(network.id, set()) - {f.chassis})
        here = idx.chassis.get(f.chassis or "")
        if here is None or network.type not in here.tunnel_types:
            w.drop(
                f,
                75,
                "TUNNEL_TYPE_UNSUPPORTED",
                f"chassis {f.chassis} does not terminate {network.type} tunnels",
                idx.ref("chassis", f.chassis or ""),
            )
            return None
        usable = [c for c in remotes if c in idx.chassis and idx.chassis[c].ip is not None]
        if w.record:
            w.hop(
                f,
                75,
                "flood",
                f"one tunnel copy per remote chassis hosting ports of "
                f"{network.name}: {', '.join(usable) or 'none'}"
                + (
                    f" (no tunnel endpoint for {', '.join(sorted(set(remotes) - set(usable)))}: "
                    "no chassis record)"
                    if len(usable) < len(remotes)
                    else ""
                ),
            )
        return [(_send_tunnel(w, w.fork(f), c), tunnel_arrival) for c in usable]
    if network.is_provider:
        if f.from_physnet:
            if w.record:
                w.hop(f, 75, "end", "frames from the physical network are not sent back to it")
            return None
        return _to_physnet(w, f, continue_to=None)
    if f.flood:
        if w.record:
            w.hop(f, 75, "end", f"{network.type!r} network: no remote copy")
        return None
    w.drop(f, 75, "NO_L2_DESTINATION", "no destination port", idx.net_ref(network))
    return None


def _to_physnet(w: Walk, f: Frame, continue_to: str | None) -> Next:
    """Tables 75 → 80: push the VLAN, out of the bridge mapped to the physnet."""
    idx, network = w.index, f.net
    assert network is not None
    physnet = network.physnet or "?"
    before = f.pkt
    vlan = network.segmentation_id if network.type == "vlan" else None
    f.pkt = f.pkt.evolve(vlan=vlan)
    if w.record:
        w.hop(
            f,
            75,
            "provider",
            f"{network.type} network {network.name}: "
            + (f"push VLAN {vlan}, " if vlan is not None else "")
            + f"out to physnet {physnet}",
            [idx.net_ref(network)],
            before,
        )
    if continue_to is not None:
        arriving = f.copy(
            chassis=continue_to,
            src=None,
            dst=None,
            router=None,
            from_physnet=True,
            physnet=physnet,
        )
        return [(arriving, physnet_arrival)]
    before = f.pkt
    if f.pkt.eth_dst == "00:00:00:00:00:00":
        f.pkt = f.pkt.evolve(eth_dst=nat.bridge_mac(physnet))
    outs: Next = []
    if f.flood:
        for chassis in sorted(idx.port_chassis_by_net.get(network.id, set()) - {f.chassis}):
            outs.append(
                (
                    w.fork(f).copy(
                        chassis=chassis,
                        src=None,
                        dst=None,
                        from_physnet=True,
                        physnet=physnet,
                    ),
                    physnet_arrival,
                )
            )
    w.finish(
        f,
        80,
        "external",
        f"leaves chassis {f.chassis} on physnet {physnet}",
        object=idx.net_ref(network),
        detail={"physnet": physnet, "vlan": vlan},
    )
    if w.record:
        w.hops[-1].changes = before.diff(f.pkt)
    return outs


# -- Stage H: the receiving side -------------------------------------------------------------
def tunnel_arrival(w: Walk, f: Frame) -> Next:
    idx, sent = w.index, f.net
    assert sent is not None
    here = idx.chassis.get(f.chassis or "")
    if here is None or sent.type not in here.tunnel_types:
        w.drop(
            f,
            0,
            "TUNNEL_TYPE_UNSUPPORTED",
            f"chassis {f.chassis} does not terminate {sent.type} tunnels",
            idx.ref("chassis", f.chassis or ""),
        )
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
    return [(f, tunnel_dispatch)]


def tunnel_dispatch(w: Walk, f: Frame) -> Next:
    idx, network = w.index, f.net
    assert network is not None
    local = idx.local_ports.get((f.chassis or "", network.id), [])
    if f.pkt.is_multicast:
        if w.record:
            w.hop(f, 100, "flood", f"multicast: every local port of {network.name} ({len(local)})")
        return [(w.fork(f, dst=p), ingress_sg) for p in local]
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
            return [(f, ingress_sg)]
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
                [idx.ref("floatingip", fip.id, str(fip.address))],
            )
    else:
        if w.record:
            w.hop(f, 2, "goto", "external source → L2 lookup")
    return [(f, l2_lookup)]


def ingress_sg(w: Walk, f: Frame) -> Next:
    port, pkt, network = f.dst, f.pkt, f.net
    assert port is not None and network is not None
    if "sg" not in w.apps or not port.security_groups or not pkt.is_ip:
        if w.record:
            w.hop(
                f,
                105,
                "pass",
                "no security group on the destination port"
                if pkt.is_ip
                else "not IP: security groups do not apply",
            )
        return [(f, deliver)]
    zone = network.key
    if w.established(f, zone):
        if w.record:
            w.hop(f, 105, "pass", f"conntrack zone {zone}: established connection")
        return [(f, deliver)]
    match = w.sg.match(port, "ingress", pkt)
    if match is None:
        missing = w.sg.missing_groups(port)
        extra = f" (missing groups: {', '.join(missing)})" if missing else ""
        objs = [w.index.sg_ref(s) for s in port.security_groups]
        w.drop(
            f,
            110,
            "SG_INGRESS",
            f"new connection: no ingress rule of {port.name}'s security groups admits it{extra}",
            objs[0] if objs else None,
            [*objs[1:], w.index.port_ref(port)],
        )
        return None
    sg_id, rule = match
    w.commit(f, zone, "ingress")
    if w.record:
        w.hop(
            f,
            110,
            "allow",
            f"new connection admitted by ingress rule {rule.get('id')}; "
            f"committed to conntrack zone {zone}",
            [w.index.sg_ref(sg_id, detail=f"rule {rule.get('id')}")],
        )
    return [(f, deliver)]


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


# -- SFC (tables 120-125) -------------------------------------------------------------------
def run_chain(w: Walk, f: Frame, fc: dict, by_source: bool) -> Next:
    idx = w.index
    chain = idx.chain_by_classifier[fc["id"]]
    plan = sfc.plan(idx, fc, chain)
    table = 55 if by_source else 75
    if isinstance(plan, sfc.ChainBroken):
        w.drop(f, 120, "SFC_BROKEN", plan.why, plan.obj)
        return None
    if w.record:
        w.hop(
            f,
            table,
            "classify",
            f"flow classifier {plan.classifier.name} selects the packet for chain "
            f"{plan.chain.name}",
            [plan.classifier, plan.chain],
        )
    resume_dst = f.dst
    before = f.pkt
    f.pkt = f.pkt.evolve(mpls=plan.hops[0].label)
    if w.record:
        w.hop(f, 120, "encap", f"push MPLS label {plan.hops[0].label}", [plan.chain], before)
    for hop in plan.hops:
        f.dst = hop.ingress
        if w.record:
            w.hop(
                f,
                121,
                "dispatch",
                f"group {hop.group.name}: port pair {hop.pair.name} (the "
                "select group may pick another pair of the group)",
                [hop.group, hop.pair],
            )
        if hop.ingress.chassis != f.chassis:
            network = idx.networks.get(hop.ingress.net_id)
            if network is not None and network.is_tunnel and hop.ingress.chassis in idx.chassis:
                saved = f.net
                f.net = network
                f = _send_tunnel(w, f, hop.ingress.chassis or "")
                f.net = saved
            else:
                f = f.copy(chassis=hop.ingress.chassis)
        if w.record:
            w.hop(
                f,
                121,
                "service",
                f"service function receives on {hop.ingress.name} and returns on {hop.egress.name}",
                [idx.port_ref(hop.ingress), idx.port_ref(hop.egress)],
            )
        f = f.copy(chassis=hop.egress.chassis)
        before = f.pkt
        f.pkt = f.pkt.evolve(mpls=hop.label + 1)
        if w.record:
            w.hop(
                f,
                201,
                "sfc",
                f"from the pair's egress port: label {hop.label} → {hop.label + 1}",
                [idx.port_ref(hop.egress)],
                before,
            )
    before = f.pkt
    f.pkt = f.pkt.evolve(mpls=None)
    f.sfc_done, f.src = True, None
    f.dst = None if by_source else resume_dst
    if w.record:
        w.hop(
            f,
            125,
            "end",
            "end of chain: pop MPLS, restore metadata, reg6=0 → "
            + ("L2 lookup" if by_source else "egress"),
            [plan.chain],
            before,
        )
    return [(f, l2_lookup if by_source else egress)]
