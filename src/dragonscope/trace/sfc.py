"""Service function chains (apps ``fc`` + ``sfc``): which packets a classifier takes and
the hop-by-hop plan through the chain's port-pair groups.

The MPLS label of group *i* is ``i | (fc_index << 8) | (chain_id << 11)``; each service
function returns the packet with the label + 1, which is the next group's label. A group
load-balances over its pairs with an OpenFlow select group; the simulation follows the
first pair and says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dragonscope.nb.tables import SFC_FLOWCLASSIFIER, SFC_PORTCHAIN, SFC_PORTPAIR, SFC_PORTPAIRGROUP
from dragonscope.trace import sgstage, tunnel
from dragonscope.trace.index import NbIndex
from dragonscope.trace.model import ObjRef, Packet
from dragonscope.trace.objects import Port, ip, net
from dragonscope.trace.walk import Frame, Next, Stage, Walk


@dataclass(slots=True)
class ChainHop:
    label: int
    group: ObjRef
    pair: ObjRef
    ingress: Port
    egress: Port
    mpls: bool  # the service function handles MPLS itself (correlation "mpls")


@dataclass(slots=True)
class ChainPlan:
    chain: ObjRef
    classifier: ObjRef
    hops: list[ChainHop]
    end_label: int


@dataclass(slots=True)
class ChainBroken:
    why: str
    obj: ObjRef


def _in_range(value: int | None, bounds: Any) -> bool:
    if not isinstance(bounds, list) or len(bounds) != 2:
        return True
    lo, hi = bounds
    return value is not None and isinstance(lo, int) and isinstance(hi, int) and lo <= value <= hi


def classifier_matches(fc: dict[str, Any], pkt: Packet) -> bool:
    """The classifier's L3/L4 fields against the packet (absent field = any)."""
    if not pkt.is_ip:
        return False
    ether = fc.get("ether_type")
    if ether and ether != ("IPv4" if pkt.eth_type == "ipv4" else "IPv6"):
        return False
    if fc.get("protocol") and fc["protocol"] != pkt.proto:
        return False
    for key, addr in (("source_cidr", pkt.ip_src), ("dest_cidr", pkt.ip_dst)):
        cidr, value = net(fc.get(key)), ip(addr)
        if fc.get(key) and (
            cidr is None or value is None or value.version != cidr.version or value not in cidr
        ):
            return False
    return _in_range(pkt.sport, fc.get("source_transport_ports")) and _in_range(
        pkt.dport, fc.get("dest_transport_ports")
    )


def label_base(fc: dict[str, Any], chain: dict[str, Any]) -> int:
    """The label bits a classifier's packets carry in ``chain`` (``fc_index << 8 |
    chain_id << 11``); group *i* adds *i*."""
    classifiers = chain.get("flow_classifiers")
    classifiers = classifiers if isinstance(classifiers, list) else []
    fc_index = classifiers.index(fc.get("id")) if fc.get("id") in classifiers else 0
    stored_id = chain.get("chain_id")
    chain_id = stored_id if isinstance(stored_id, int) else 0
    return (fc_index << 8) | (chain_id << 11)


def plan(index: NbIndex, fc: dict[str, Any], chain: dict[str, Any]) -> ChainPlan | ChainBroken:
    """Resolve the chain's groups, pairs and ports, or say which link is broken."""
    chain_ref = index.ref(SFC_PORTCHAIN, str(chain.get("id")), str(chain.get("name") or ""))
    fc_ref = index.ref(SFC_FLOWCLASSIFIER, str(fc.get("id")), str(fc.get("name") or ""))
    base = label_base(fc, chain)
    groups = chain.get("port_pair_groups")
    if not isinstance(groups, list) or not groups:
        return ChainBroken("the port chain has no port pair group", chain_ref)
    hops = []
    for i, group_id in enumerate(groups):
        label = i | base
        group = index.get(SFC_PORTPAIRGROUP, str(group_id))
        if group is None:
            return ChainBroken(f"port pair group {group_id} does not exist", chain_ref)
        group_ref = index.ref(SFC_PORTPAIRGROUP, str(group_id), str(group.get("name") or ""))
        pairs = group.get("port_pairs")
        if not isinstance(pairs, list) or not pairs:
            return ChainBroken("the port pair group has no port pair", group_ref)
        pair = index.get(SFC_PORTPAIR, str(pairs[0]))
        if pair is None:
            return ChainBroken(f"port pair {pairs[0]} does not exist", group_ref)
        pair_ref = index.ref(SFC_PORTPAIR, str(pairs[0]), str(pair.get("name") or ""))
        ends = []
        for end in ("ingress_port", "egress_port"):
            port = index.ports.get(str(pair.get(end)))
            if port is None:
                return ChainBroken(f"the pair's {end} {pair.get(end)} does not exist", pair_ref)
            if not port.enabled:
                return ChainBroken(f"the pair's {end} {port.name} is disabled", pair_ref)
            if port.chassis is None:
                return ChainBroken(
                    f"the pair's {end} {port.name} is not bound to a chassis", pair_ref
                )
            ends.append(port)
        mpls = pair.get("correlation_mechanism") == "mpls"
        hops.append(ChainHop(label, group_ref, pair_ref, ends[0], ends[1], mpls))
    return ChainPlan(chain_ref, fc_ref, hops, len(groups) | base)


def find(index: NbIndex, port: Port, pkt: Packet, by_source: bool) -> dict[str, Any] | None:
    """The first classifier anchored on ``port`` (as source or destination) that takes ``pkt``
    and belongs to a chain (the fc app installs nothing for an unchained classifier)."""
    table = index.classifiers_by_src if by_source else index.classifiers_by_dst
    for fc in table.get(port.id, []):
        if fc.get("id") in index.chain_by_classifier and classifier_matches(fc, pkt):
            return fc
    return None


# -- the walk through a chain (tables 120, 121, 125) --------------------------
def run_chain(w: Walk, f: Frame, fc: dict[str, Any], by_source: bool) -> Next:
    idx = w.index
    chain = idx.chain_by_classifier[fc["id"]]
    route = plan(idx, fc, chain)
    table = 55 if by_source else 75
    if isinstance(route, ChainBroken):
        w.drop(f, 120, "SFC_BROKEN", route.why, route.obj)
        return None
    if w.record:
        w.hop(
            f,
            table,
            "classify",
            f"flow classifier {route.classifier.name} selects the packet for chain "
            f"{route.chain.name}",
            [route.classifier, route.chain],
        )
    resume_dst, home = f.dst, f.net
    before = f.pkt
    f.pkt = f.pkt.evolve(mpls=route.hops[0].label)
    if w.record:
        w.hop(f, 120, "encap", f"push MPLS label {route.hops[0].label}", [route.chain], before)
    for hop in route.hops:
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
                f.net = network  # the tunnel's VNI sets metadata on the far side
                f = tunnel.send(w, f, hop.ingress.chassis or "")
            else:
                f = f.copy(chassis=hop.ingress.chassis)
        if not hop.mpls:
            before = f.pkt
            f.pkt = f.pkt.evolve(mpls=None)
            if w.record:
                w.hop(
                    f,
                    122,
                    "decap",
                    f"pop MPLS: {hop.pair.name} has no MPLS correlation",
                    [hop.pair],
                    before,
                )
        # The pair's ingress port takes the packet like any destination: table 75 → its
        # ingress security groups (105/110) → output (sfc_mpls_driver resubmits to 75).
        if not sgstage.admits(w, f, hop.ingress, sgstage.INGRESS):
            return None
        if w.record:
            w.hop(
                f,
                121,
                "service",
                f"service function receives on {hop.ingress.name} and returns on {hop.egress.name}",
                [idx.port_ref(hop.ingress), idx.port_ref(hop.egress)],
            )
        f = f.copy(chassis=hop.egress.chassis, net=idx.networks.get(hop.egress.net_id) or f.net)
        before = f.pkt
        f.pkt = f.pkt.evolve(mpls=hop.label + 1)
        if w.record:
            w.hop(
                f,
                201,
                "sfc",
                f"from the pair's egress port: label {hop.label} → {hop.label + 1}"
                if hop.mpls
                else f"from the pair's egress port: push MPLS label {hop.label + 1}",
                [idx.port_ref(hop.egress)],
                before,
            )
    before = f.pkt
    f.pkt = f.pkt.evolve(mpls=None)
    f.sfc_done, f.src, f.net = True, None, home
    f.dst = None if by_source else resume_dst
    if w.record:
        w.hop(
            f,
            125,
            "end",
            "end of chain: pop MPLS, restore metadata, reg6=0 → "
            + ("L2 lookup" if by_source else "egress"),
            [route.chain],
            before,
        )
    return [(f, Stage.L2_LOOKUP if by_source else Stage.EGRESS)]
