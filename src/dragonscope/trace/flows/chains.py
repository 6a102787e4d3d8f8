"""The fc and sfc apps' rules: service function chains with MPLS correlation (tables 55/75
classification, 120 encapsulation, 121 dispatch, 122 a pair's decapsulation, 125 end of
chain, 100 dispatch of labelled frames from a tunnel, and the port security table for what
a service function sends back).

The labels and the pairs come from the simulator's chain model (``trace.sfc``: group *i*
of a classifier's chain carries ``i | label_base``, a service function returns label + 1).
A port pair group dispatches through an OpenFlow select group (ID ``label << 8 | 1``; ``| 2``
for the local pairs only, used by frames arriving from a tunnel). Where rules are installed
follows the apps: a source-port classifier's classification on that port's chassis and its
end of chain everywhere; a destination-port classifier's classification everywhere and its
end of chain on that port's chassis (elsewhere the end label is sent on towards it); the
groups everywhere; a pair's return rules on its egress port's chassis.
"""

from __future__ import annotations

from typing import Any

from dragonscope.nb.tables import SFC_FLOWCLASSIFIER, SFC_PORTCHAIN, SFC_PORTPAIR, SFC_PORTPAIRGROUP
from dragonscope.trace import model as t
from dragonscope.trace.flows.builder import DEFAULT, HIGH, MEDIUM, VERY_HIGH, Builder
from dragonscope.trace.flows.secgroups import port_ranges
from dragonscope.trace.objects import Port, net
from dragonscope.trace.sfc import label_base

# Ethernet type of the frame inside the label -> its MPLS traffic class (sfc_mpls_driver).
TRAFFIC_CLASS = {"ip": (0x0800, 0), "ipv6": (0x86DD, 1)}
MPLS = 0x8847
# reg3: bit 0 = source classification done, bit 1 = destination classification done.
SOURCE_DONE, DEST_DONE = 0, 1


def _port_range(bounds: Any) -> bool:
    """A stored ``[min, max]`` of transport ports that a match can express."""
    return (
        isinstance(bounds, list)
        and len(bounds) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) for v in bounds)
        and 0 <= bounds[0] <= bounds[1] <= 0xFFFF
    )


def _matches(fc: dict[str, Any], port: Port, by_source: bool) -> list[str]:
    """The classifier's matches (one per port range piece), as ``classifier_matches`` tests
    packets: the port's register, the not-yet-classified bit, the L3 and L4 fields."""
    head = (
        f"reg6={port.key:#x},reg3=0/{1 << SOURCE_DONE:#x}"
        if by_source
        else f"reg7={port.key:#x},reg3=0/{1 << DEST_DONE:#x}"
    )
    v6 = fc.get("ether_type") == "IPv6"
    proto = fc.get("protocol") if fc.get("protocol") in ("tcp", "udp") else None
    if fc.get("ether_type") not in ("IPv4", "IPv6"):
        return [head]
    base = (f"{proto}6" if v6 else proto) if proto else ("ipv6" if v6 else "ip")
    for key, name in (("source_cidr", "src"), ("dest_cidr", "dst")):
        cidr = net(fc.get(key))
        if cidr is not None:
            base += f",{'ipv6' if v6 else 'nw'}_{name}={cidr}"
    out = [base]
    for key, name in (("source_transport_ports", "tp_src"), ("dest_transport_ports", "tp_dst")):
        bounds = fc.get(key)
        if proto is None or bounds is None or not _port_range(bounds):
            continue
        pieces = list(port_ranges(bounds[0], bounds[1]))
        out = [f"{m},{name}={piece}" for m in out for piece in pieces]
    return [f"{head},{m}" for m in out]


def fc(b: Builder) -> None:
    """Classification (55 or 75) and the end of chain (125); 120 → 125 when no chain
    encapsulates."""
    idx = b.index
    b.add("fc", t.SFC_ENCAP, DEFAULT, "", f"goto_table:{t.SFC_END_OF_CHAIN}")
    for fc_id in sorted(idx.chain_by_classifier):
        fc_obj = idx.get(SFC_FLOWCLASSIFIER, fc_id)
        key = fc_obj.get("unique_key") if fc_obj else None
        if fc_obj is None or not isinstance(key, int):
            continue
        by_source = bool(fc_obj.get("source_port"))
        port = idx.ports.get(str(fc_obj.get("source_port" if by_source else "dest_port")))
        network = idx.networks.get(port.net_id) if port is not None else None
        if port is None or network is None:
            continue
        ref = idx.ref(SFC_FLOWCLASSIFIER, fc_id, str(fc_obj.get("name") or ""))
        table = t.L2_LOOKUP if by_source else t.EGRESS
        if not by_source or b.local(port):
            for match in _matches(fc_obj, port, by_source):
                b.add("fc", table, VERY_HIGH, match,
                      f"set_field:{key:#x}->reg2,goto_table:{t.SFC_ENCAP}", ref, port)  # fmt: skip
        if by_source or b.local(port):
            done = SOURCE_DONE if by_source else DEST_DONE
            reg7 = "" if by_source else f"set_field:{port.key:#x}->reg7,"
            b.add(
                "fc",
                t.SFC_END_OF_CHAIN,
                MEDIUM,
                f"reg2={key:#x}",
                f"set_field:{network.key:#x}->metadata,set_field:0->reg6,set_field:0->reg2,"
                f"{reg7}load:1->NXM_NX_REG3[{done}],resubmit(,{table})",
                ref,
                port,
            )


def _pairs(b: Builder, group: dict[str, Any]) -> list[tuple[dict[str, Any], Port, Port]]:
    """The group's pairs whose two ports exist, as (pair, ingress, egress)."""
    out = []
    stored = group.get("port_pairs")
    for pair_id in stored if isinstance(stored, list) else []:
        pair = b.index.get(SFC_PORTPAIR, str(pair_id))
        ingress = b.index.ports.get(str(pair.get("ingress_port"))) if pair else None
        egress = b.index.ports.get(str(pair.get("egress_port"))) if pair else None
        if pair is None or ingress is None or egress is None:
            b.notes.append(f"port pair {pair_id}: missing, or a port of it is: no dispatch to it")
            continue
        out.append(({**pair, "id": str(pair_id)}, ingress, egress))
    return out


def _bucket(b: Builder, pair: dict[str, Any], ingress: Port) -> str:
    """Into the pair's ingress port: through 122 (pop the label) when its service function
    does not speak MPLS and sits here, else straight to the egress table."""
    local_decap = pair.get("correlation_mechanism") != "mpls" and b.local(ingress)
    then = t.SFC_MPLS_PP_DECAP if local_decap else t.EGRESS
    return f"set_field:{ingress.key:#x}->reg7,resubmit(,{then})"


def sfc(b: Builder) -> None:
    """Encapsulation (120), dispatch over each group (121, 100 and the groups), the pairs'
    decapsulation (122) and return (port security table), the end label's decapsulation."""
    idx = b.index
    for fc_id, chain in sorted(idx.chain_by_classifier.items()):
        fc_obj = idx.get(SFC_FLOWCLASSIFIER, fc_id)
        key = fc_obj.get("unique_key") if fc_obj else None
        groups = chain.get("port_pair_groups")
        if fc_obj is None or not isinstance(key, int) or not isinstance(groups, list) or not groups:
            continue
        by_source = bool(fc_obj.get("source_port"))
        port = idx.ports.get(str(fc_obj.get("source_port" if by_source else "dest_port")))
        if port is None:
            continue
        base = label_base(fc_obj, chain)
        chain_ref = idx.ref(SFC_PORTCHAIN, str(chain.get("id")), str(chain.get("name") or ""))
        end = len(groups) | base
        for eth, (ethertype, tc) in TRAFFIC_CLASS.items():
            mpls = f"push_mpls:{MPLS:#x},set_field:{base}->mpls_label,set_field:{tc}->mpls_tc"
            if not by_source or b.local(port):
                b.add("sfc", t.SFC_ENCAP, HIGH, f"reg2={key:#x},{eth}",
                      f"{mpls},goto_table:{t.SFC_MPLS_DISPATCH}", chain_ref, port)  # fmt: skip
            labelled = f"mpls,mpls_label={end},mpls_tc={tc}"
            if by_source or b.local(port):
                b.add("sfc", t.SFC_MPLS_DISPATCH, HIGH, labelled,
                      f"pop_mpls:{ethertype:#06x},set_field:{key:#x}->reg2,"
                      f"goto_table:{t.SFC_END_OF_CHAIN}", chain_ref)  # fmt: skip
            else:
                # sfc_mpls_driver's install_forward_to_dest loads the destination port's key
                # into reg2 (not reg7) before the egress table, as written here.
                forward = f"set_field:{port.key:#x}->reg2,goto_table:{t.EGRESS}"
                b.add("sfc", t.SFC_MPLS_DISPATCH, HIGH, labelled, forward, chain_ref)
        for i, group_id in enumerate(groups):
            group = idx.get(SFC_PORTPAIRGROUP, str(group_id))
            if group is None:
                b.notes.append(f"port pair group {group_id} of a chain does not exist")
                continue
            label = i | base
            gref = idx.ref(SFC_PORTPAIRGROUP, str(group_id), str(group.get("name") or ""))
            for ethertype, tc in TRAFFIC_CLASS.values():
                b.add("sfc", t.SFC_MPLS_PP_DECAP, HIGH, f"mpls,mpls_label={label},mpls_tc={tc}",
                      f"pop_mpls:{ethertype:#06x},resubmit(,{t.EGRESS})", gref)  # fmt: skip
            pairs = _pairs(b, group)
            if not pairs:
                continue  # Dragonflow's dispatch fails on the missing pair: no group, no rule
            everywhere = label << 8 | 1
            b.add_group("sfc", everywhere, [_bucket(b, p, i_) for p, i_, _ in pairs], gref)
            b.add("sfc", t.SFC_MPLS_DISPATCH, HIGH, f"mpls,mpls_label={label}",
                  f"group:{everywhere}", gref)  # fmt: skip
            here = [(p, i_) for p, i_, _ in pairs if b.local(i_)]
            if here:
                local = label << 8 | 2
                b.add_group("sfc", local, [_bucket(b, p, i_) for p, i_ in here], gref)
                b.add("sfc", t.INGRESS_DESTINATION, VERY_HIGH, f"mpls,mpls_label={label}",
                      f"group:{local}", gref)  # fmt: skip
            for pair, _ingress, egress in pairs:
                if not b.local(egress):
                    continue
                pref = idx.ref(SFC_PORTPAIR, pair["id"], str(pair.get("name") or ""))
                reg6 = f"reg6={egress.key:#x}"
                back = f"resubmit(,{t.SFC_MPLS_DISPATCH})"
                if pair.get("correlation_mechanism") == "mpls":
                    b.add("sfc", t.PORTSEC, VERY_HIGH, f"{reg6},mpls,mpls_label={label}",
                          f"set_field:{label + 1}->mpls_label,{back}", pref, egress)  # fmt: skip
                    continue
                for eth, (_ethertype, tc) in TRAFFIC_CLASS.items():
                    b.add("sfc", t.PORTSEC, VERY_HIGH, f"{reg6},{eth}",
                          f"push_mpls:{MPLS:#x},set_field:{label + 1}->mpls_label,"
                          f"set_field:{tc}->mpls_tc,{back}", pref, egress)  # fmt: skip
