"""The chassis_snat app's rules: routed IPv4 that nothing else routes leaves the chassis with
its ``external_host_ip`` as source, through the patch port ``patch-snat-<bridge>`` to the
external bridge (tables 60, 70, 71), and comes back through that patch (0, 50, 51).

As the simulator's SNAT (``trace.nat``): the source port's key is kept in the connection's
``ct_mark`` and its address in ``ct_label``, the source MAC becomes ``snat_mac`` of the
external IP, conntrack zone 65534; what returns is un-NATed and handed to the port the
connection remembers. Without the patch port's OpenFlow port the rules are left out, with a
note; without the external bridge's MAC the rule leaving to it uses Dragonflow's own
placeholder, ``00:00:00:00:00:00``, as the controller does until it reads the bridge's MAC.
"""

from __future__ import annotations

from dragonscope.nb.tables import CHASSIS
from dragonscope.trace import model as t
from dragonscope.trace.flows.builder import DEFAULT, LOW, MEDIUM, Builder
from dragonscope.trace.flows.routing import arp_reply
from dragonscope.trace.nat import SNAT_BRIDGE, snat_mac

ZONE = 65534  # NAT_TRACKING_ZONE
EMPTY_MAC = "00:00:00:00:00:00"


def chassis_snat(b: Builder) -> None:
    here = b.index.chassis.get(b.chassis)
    external = here.external_ip if here is not None else None
    if external is None or external.version != 4:
        b.notes.append(f"chassis {b.chassis} has no IPv4 external_host_ip: no chassis SNAT rules")
        return
    patch = b.ovs.snat
    if patch is None:
        b.notes.append(f"no patch-snat-{SNAT_BRIDGE} port on the bridge: no chassis SNAT rules")
        return
    ref, mac = b.index.ref(CHASSIS, b.chassis), snat_mac(external)
    add = b.add
    add("chassis_snat", t.CLASSIFICATION, DEFAULT, f"in_port={patch}",
        f"load:0->OXM_OF_IN_PORT[],goto_table:{t.INGRESS_NAT}", ref)  # fmt: skip
    add("chassis_snat", t.L3_LOOKUP, LOW, "ip", f"goto_table:{t.EGRESS_NAT}", ref)
    add("chassis_snat", t.INGRESS_NAT, LOW, "ip", f"ct(table={t.INGRESS_SNAT},zone={ZONE},nat)",
        ref)  # fmt: skip
    # The source becomes 0x80000000 | reg6 before the NAT; reg5 keeps the tenant address.
    add("chassis_snat", t.EGRESS_NAT, LOW, "ip",
        "move:NXM_OF_IP_SRC[]->NXM_NX_REG5[],move:NXM_NX_REG6[]->NXM_OF_IP_SRC[],"
        f"load:0x1->NXM_OF_IP_SRC[31],ct(commit,table={t.EGRESS_SNAT},zone={ZONE},"
        f"nat(src={external}),exec(move:NXM_NX_REG6[]->NXM_NX_CT_MARK[],"
        "move:NXM_NX_REG5[]->NXM_NX_CT_LABEL[0..31]))", ref)  # fmt: skip
    bridge_mac = b.ovs.snat_bridge_mac or EMPTY_MAC
    leave = f"set_field:{mac}->eth_src,set_field:{bridge_mac}->eth_dst,output:{patch}"
    add("chassis_snat", t.EGRESS_SNAT, LOW, "ip", leave, ref)
    add("chassis_snat", t.INGRESS_NAT, MEDIUM, f"arp,arp_tpa={external},arp_op=1",
        arp_reply(mac, external), ref)  # fmt: skip
    add("chassis_snat", t.INGRESS_DISPATCH, DEFAULT, "", f"output:{patch}", ref)
    for port in b.index.ports.values():
        network = b.index.networks.get(port.net_id)
        owner = port.device_owner
        if (
            not b.local(port)
            or network is None
            or not (owner == "" or owner.startswith("compute:"))
        ):
            continue
        add("chassis_snat", t.INGRESS_SNAT, LOW, f"ip,ct_mark={port.key:#x}",
            f"set_field:{mac}->eth_src,set_field:{port.mac}->eth_dst,"
            f"load:{port.key:#x}->NXM_NX_REG7[],move:NXM_NX_CT_LABEL[0..31]->NXM_OF_IP_DST[],"
            f"set_field:{network.key:#x}->metadata,goto_table:{t.INGRESS_DESTINATION}",
            b.index.port_ref(port), port)  # fmt: skip
