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

from dragonscope.trace.index import NbIndex, Port, ip, net
from dragonscope.trace.model import ObjRef, Packet


@dataclass(slots=True)
class ChainHop:
    label: int
    group: ObjRef
    pair: ObjRef
    ingress: Port
    egress: Port


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


def plan(index: NbIndex, fc: dict[str, Any], chain: dict[str, Any]) -> ChainPlan | ChainBroken:
    """Resolve the chain's groups, pairs and ports, or say which link is broken."""
    chain_ref = index.ref("sfc_portchain", str(chain.get("id")), str(chain.get("name") or ""))
    fc_ref = index.ref("sfc_flowclassifier", str(fc.get("id")), str(fc.get("name") or ""))
    classifiers = chain.get("flow_classifiers")
    classifiers = classifiers if isinstance(classifiers, list) else []
    fc_index = classifiers.index(fc.get("id")) if fc.get("id") in classifiers else 0
    chain_id = chain.get("chain_id") if isinstance(chain.get("chain_id"), int) else 0
    groups = chain.get("port_pair_groups")
    if not isinstance(groups, list) or not groups:
        return ChainBroken("the port chain has no port pair group", chain_ref)
    hops = []
    for i, group_id in enumerate(groups):
        label = i | (fc_index << 8) | (chain_id << 11)
        group = index.get("sfc_portpairgroup", str(group_id))
        if group is None:
            return ChainBroken(f"port pair group {group_id} does not exist", chain_ref)
        group_ref = index.ref("sfc_portpairgroup", str(group_id), str(group.get("name") or ""))
        pairs = group.get("port_pairs")
        if not isinstance(pairs, list) or not pairs:
            return ChainBroken("the port pair group has no port pair", group_ref)
        pair = index.get("sfc_portpair", str(pairs[0]))
        if pair is None:
            return ChainBroken(f"port pair {pairs[0]} does not exist", group_ref)
        pair_ref = index.ref("sfc_portpair", str(pairs[0]), str(pair.get("name") or ""))
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
        hops.append(ChainHop(label, group_ref, pair_ref, ends[0], ends[1]))
    return ChainPlan(chain_ref, fc_ref, hops, len(groups) | (fc_index << 8) | (chain_id << 11))


def find(index: NbIndex, port: Port, pkt: Packet, by_source: bool) -> dict[str, Any] | None:
    """The first classifier anchored on ``port`` (as source or destination) that takes ``pkt``
    and belongs to a chain (the fc app installs nothing for an unchained classifier)."""
    table = index.classifiers_by_src if by_source else index.classifiers_by_dst
    for fc in table.get(port.id, []):
        if fc.get("id") in index.chain_by_classifier and classifier_matches(fc, pkt):
            return fc
    return None
