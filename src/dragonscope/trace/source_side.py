"""Stages A-D, on the sending chassis: classification (table 0), port security (the
portsec table), egress security groups (tables 10/15) and the services tables (20-45:
ARP, ND and DHCP responders, the metadata service).

Every step takes the frame, records a hop and returns where the packet goes next (one
entry per copy when the output forks), or records an outcome and returns nothing.
"""

from __future__ import annotations

from typing import Any

from dragonscope.nb.tables import CHASSIS, CHILD_PORT_SEGMENTATION
from dragonscope.trace import responders, sgstage
from dragonscope.trace.model import ObjRef
from dragonscope.trace.objects import ip, portsec_pairs
from dragonscope.trace.walk import Frame, Next, Stage, Walk, keys


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
            w.index.ref(CHASSIS, port.chassis),
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
                    f"pop the tag, {keys(f)}",
                    [
                        ref,
                        w.index.ref(CHILD_PORT_SEGMENTATION, cps.id, detail=f"vlan {cps.vlan}"),
                        w.index.port_ref(child),
                    ],
                    before,
                )
            return [(f, Stage.PORT_SECURITY)]
    if w.record:
        w.hop(
            f,
            0,
            "classify",
            f"from port {port.name} in network {network.name}: {keys(f)}",
            [ref, w.index.net_ref(network)],
        )
    return [(f, Stage.PORT_SECURITY)]


def is_metadata(f: Frame) -> bool:
    return (
        f.pkt.proto == "tcp"
        and f.pkt.dport == responders.METADATA_PORT
        and ip(f.pkt.ip_dst) == responders.METADATA_IP
    )


def port_security(w: Walk, f: Frame) -> Next:
    port, pkt = f.src, f.pkt
    assert port is not None
    ref = w.index.port_ref(port)
    if "metadata_service" in w.apps and is_metadata(f):
        if w.record:
            w.hop(
                f,
                201,
                "services",
                "TCP to 169.254.169.254:80 goes to the metadata service "
                "before any spoofing or security group check",
                [ref],
            )
        return [(f, Stage.SERVICES)]
    if "portsec" not in w.apps or not port.port_security:
        if w.record:
            w.hop(f, 201, "pass", f"port security is disabled on {port.name}", [ref])
        return [(f, Stage.EGRESS_SG)]
    src_ip = ip(pkt.ip_src) if pkt.ip_src else None
    pairs = portsec_pairs(port)
    if pkt.eth_type == "arp":
        spa = ip(pkt.arp_spa)
        if pkt.arp_sha == pkt.eth_src and (pkt.eth_src, spa) in pairs:
            if w.record:
                w.hop(f, 201, "services", "ARP with a valid MAC/IP pair", [ref])
            return [(f, Stage.SERVICES)]
        if pkt.eth_src == port.mac and pkt.arp_spa == "0.0.0.0":
            if w.record:
                w.hop(f, 201, "services", "ARP probe from the port MAC", [ref])
            return [(f, Stage.SERVICES)]
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
        return [(f, Stage.SERVICES)]
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
        return [(f, Stage.EGRESS_SG)]
    if pkt.is_ip and pkt.is_dhcp_request and pkt.eth_src == port.mac:
        if w.record:
            w.hop(f, 201, "pass", "DHCP request from the port MAC (any source IP)", [ref])
        return [(f, Stage.EGRESS_SG)]
    w.drop(
        f,
        201,
        "PORT_SECURITY",
        f"source {pkt.eth_src}/{pkt.ip_src} is neither the MAC/IP of {port.name} nor one of "
        "its allowed address pairs",
        ref,
    )
    return None


def egress_sg(w: Walk, f: Frame) -> Next:
    assert f.src is not None
    return [(f, Stage.SERVICES)] if sgstage.admits(w, f, f.src, sgstage.EGRESS) else None


def services(w: Walk, f: Frame) -> Next:
    pkt = f.pkt
    if pkt.eth_type == "arp":
        if w.record:
            w.hop(f, 20, "goto", "ARP → ARP table")
        return [(f, Stage.ARP_TABLE)]
    if pkt.proto == "icmp6":
        if w.record:
            w.hop(f, 20, "goto", "ICMPv6 → ND table")
        return [(f, Stage.ND_TABLE)]
    if pkt.is_dhcp_request and "dhcp" in w.apps:
        if w.record:
            w.hop(f, 20, "goto", "UDP 68→67 → DHCP table")
        return [(f, Stage.DHCP_TABLE)]
    if "metadata_service" in w.apps and is_metadata(f):
        return metadata(w, f)
    return _to_l2_lookup(w, f, 20, "no service applies")


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
            return _replied(w, f, 25, "arp", f"ARP responder: {target} is at {mac}", obj, reply)
    return _to_l2_lookup(w, f, 25, f"no ARP responder for {pkt.arp_tpa}")


def nd_table(w: Walk, f: Frame) -> Next:
    pkt, network = f.pkt, f.net
    assert network is not None
    target = ip(pkt.ip_dst)
    if pkt.icmp_type == 135 and target is not None:
        answer = responders.nd_answer(w.index, network, target)
        if answer is not None:
            mac, obj = answer
            reply = {"icmp_type": 136, "target": str(target), "target_mac": mac}
            return _replied(w, f, 45, "nd", f"ND responder: {target} is at {mac}", obj, reply)
    return _to_l2_lookup(w, f, 45, "no ND responder applies")


def dhcp_table(w: Walk, f: Frame) -> Next:
    network, port = f.net, f.src
    assert network is not None and port is not None
    server = w.index.dhcp_port.get(network.id)
    if server is None:
        if w.record:
            w.hop(f, 30, "goto", f"network {network.name} has no DHCP port: the request is flooded")
        return [(f, Stage.L2_LOOKUP)]
    reply = responders.dhcp_reply(w.index, port, server)
    why = f"the local controller answers: offer {reply['yiaddr']} from {reply['server_id']}"
    return _replied(w, f, 30, "dhcp", why, w.index.port_ref(server), reply)


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


def _replied(
    w: Walk, f: Frame, table: int, responder: str, why: str, obj: ObjRef, reply: dict[str, Any]
) -> Next:
    """A responder answers in the destination's stead: the walk ends with its reply."""
    w.finish(f, table, "replied", why, object=obj, detail={"responder": responder, "reply": reply})
    return None


def _to_l2_lookup(w: Walk, f: Frame, table: int, why: str) -> Next:
    """No responder answers: the packet goes on to the L2 lookup."""
    if w.record:
        w.hop(f, table, "goto", f"{why} → L2 lookup")
    return [(f, Stage.L2_LOOKUP)]
