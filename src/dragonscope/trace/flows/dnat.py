"""The dnat app's rules: distributed floating IPs, at the chassis of the fixed port (tables 2,
55, 60, 75, 76, 77).

Written from the simulator's DNAT decisions (``trace.nat``): inbound, the floating port's
traffic turns into the fixed port's (destination MAC, address and keys, the router's MAC on
the fixed network as source) and is looked up again; outbound, traffic the router sends from
the fixed address leaves as the floating IP on the external network; the chassis answers ARP
for the floating IP on the external network. The placeholder destination MAC of outbound
frames stays: its rewrite to the physical bridge's MAC (table 80) needs that bridge's MAC,
which only the chassis knows, so that one rule is not generated.
"""

from __future__ import annotations

from dragonscope.nb.tables import FLOATINGIP
from dragonscope.trace import model as t
from dragonscope.trace.flows.builder import CONTROLLER, HIGH, MEDIUM, MEDIUM_LOW, Builder
from dragonscope.trace.nat import inbound_router_mac

ICMP_ERRORS = (3, 11)  # unreachable, time exceeded: the local controller rewrites their payload


def dnat(b: Builder) -> None:
    idx = b.index
    for fport_id, fip in sorted(idx.fip_by_port.items()):
        fport = idx.ports.get(fport_id)
        fixed = idx.ports.get(fip.fixed_port or "")
        if fport is None or fixed is None or fip.address is None or not b.local(fixed):
            continue
        external, inner = idx.networks.get(fport.net_id), idx.networks.get(fixed.net_id)
        router = idx.routers.get(fip.router or "")
        fixed_ip = next((a for a in fixed.ips if a.version == 4), None)
        if external is None or inner is None or router is None or fixed_ip is None:
            continue
        ref = idx.ref(FLOATINGIP, fip.id, str(fip.address))
        fkey, vkey = f"{fport.key:#x}", f"{fixed.key:#x}"
        b.add(
            "dnat",
            t.L2_LOOKUP,
            HIGH,
            f"arp,metadata={external.key:#x},arp_tpa={fip.address},arp_op=1",
            f"move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],set_field:{fport.mac}->eth_src,"
            f"set_field:2->arp_op,move:NXM_NX_ARP_SHA[]->NXM_NX_ARP_THA[],"
            f"move:NXM_OF_ARP_SPA[]->NXM_OF_ARP_TPA[],set_field:{fport.mac}->arp_sha,"
            f"set_field:{fip.address}->arp_spa,set_field:{fkey}->reg6,goto_table:{t.EGRESS}",
            ref,
            fixed,
        )
        b.add("dnat", t.EXTERNAL_SOURCE, HIGH, f"ip,nw_src={fip.address},reg6=0",
              f"set_field:{vkey}->reg6,goto_table:{t.L2_LOOKUP}", ref, fixed)  # fmt: skip
        b.add("dnat", t.EGRESS, HIGH, f"reg7={fkey}", f"goto_table:{t.INGRESS_DNAT}", ref, fixed)
        inbound = (
            f"dec_ttl,set_field:{inbound_router_mac(idx, fip, fixed, fport)}->eth_src,"
            f"set_field:{fixed.mac}->eth_dst,set_field:{fixed_ip}->ip_dst,"
            f"set_field:{vkey}->reg7,set_field:{inner.key:#x}->metadata"
        )
        b.add("dnat", t.INGRESS_DNAT, MEDIUM, f"ip,reg7={fkey}",
              f"{inbound},resubmit(,{t.L2_LOOKUP})", ref, fixed)  # fmt: skip
        leaving = f"ip,metadata={inner.key:#x},reg6={vkey},reg5={router.key:#x},nw_src={fixed_ip}"
        b.add("dnat", t.L3_LOOKUP, MEDIUM_LOW, leaving, f"goto_table:{t.EGRESS_DNAT}", ref, fixed)
        outbound = (
            f"dec_ttl,set_field:{fport.mac}->eth_src,set_field:00:00:00:00:00:00->eth_dst,"
            f"set_field:{fip.address}->ip_src,set_field:{external.key:#x}->metadata,"
            f"set_field:{fkey}->reg6"
        )
        b.add("dnat", t.EGRESS_DNAT, MEDIUM, leaving, f"{outbound},resubmit(,{t.L2_LOOKUP})",
              ref, fixed)  # fmt: skip
        for kind in ICMP_ERRORS:
            b.add("dnat", t.INGRESS_DNAT, HIGH, f"icmp,reg7={fkey},icmp_type={kind}",
                  f"{inbound},{CONTROLLER}", ref, fixed)  # fmt: skip
            b.add("dnat", t.EGRESS_DNAT, HIGH, f"icmp,{leaving[3:]},icmp_type={kind}",
                  f"{outbound},{CONTROLLER}", ref, fixed)  # fmt: skip
