"""The rules that move a frame within a network: classifier (table 0 and 115), the datapath
layout's edges, port security, l2 (55, 75, 100) and tunneling (0, 75).

Each function reads the same index the simulator walks (``l2_by_mac``, ``local_ports``,
``port_chassis_by_net``) so that a port the simulation delivers to has its rules here.
"""

from __future__ import annotations

from dragonscope.nb.tables import CHILD_PORT_SEGMENTATION
from dragonscope.trace import model as t
from dragonscope.trace.flows.builder import (
    DEFAULT,
    HIGH,
    LAYOUT_EDGE,
    LOW,
    MEDIUM,
    MULTICAST,
    VERY_LOW,
    Builder,
)
from dragonscope.trace.objects import portsec_pairs


def _edge(b: Builder, exit_table: int, entry: int) -> None:
    """A layout edge: goto when the entry comes later, resubmit when it comes earlier."""
    jump = f"goto_table:{entry}" if entry > exit_table else f"resubmit(,{entry})"
    b.add("datapath layout", exit_table, LAYOUT_EDGE, "", jump)


def classifier(b: Builder) -> None:
    b.add("classifier", t.CLASSIFICATION, DEFAULT, "", f"goto_table:{t.LAYOUT_EXIT}")
    for port in b.index.ports.values():
        if not b.local(port) or port.runtime_binding:
            continue
        ofport = b.ovs.ofports.get(port.id)
        network = b.index.networks.get(port.net_id)
        if ofport is None or network is None:
            if ofport is None:
                b.notes.append(f"no interface with iface-id={port.id} ({port.name}) on the bridge")
            continue
        ref = b.index.port_ref(port)
        b.add(
            "classifier",
            t.CLASSIFICATION,
            MEDIUM,
            f"in_port={ofport}",
            f"set_field:{port.key:#x}->reg6,set_field:{network.key:#x}->metadata,"
            f"load:0->OXM_OF_IN_PORT[],resubmit(,{t.CLASSIFICATION})",
            ref,
            port,
        )
        b.add(
            "classifier",
            t.INGRESS_DISPATCH,
            MEDIUM,
            f"reg7={port.key:#x}",
            f"output:{ofport}",
            ref,
            port,
        )


def layout(b: Builder) -> None:
    _edge(b, t.LAYOUT_EXIT, t.PORTSEC)
    _edge(b, t.PORTSEC_OUT_DEFAULT, t.EGRESS_CONNTRACK)
    _edge(b, t.PORTSEC_OUT_SERVICES, t.SERVICES)


def portsec(b: Builder) -> None:
    to_default, to_services = (
        f"goto_table:{t.PORTSEC_OUT_DEFAULT}",
        f"goto_table:{t.PORTSEC_OUT_SERVICES}",
    )
    for proto in ("ip", "ipv6", "arp"):
        b.add("portsec", t.PORTSEC, MEDIUM, proto, "drop")
    b.add("portsec", t.PORTSEC, VERY_LOW, "", "drop")
    for port in b.index.ports.values():
        if not b.local(port):
            continue
        ref, reg6 = b.index.port_ref(port), f"reg6={port.key:#x}"
        if not port.port_security:
            b.add("portsec", t.PORTSEC, HIGH, reg6, to_default, ref, port)
            continue
        for mac, addr in sorted(portsec_pairs(port), key=str):
            if addr.version == 4:
                b.add(
                    "portsec",
                    t.PORTSEC,
                    HIGH,
                    f"ip,{reg6},dl_src={mac},nw_src={addr}",
                    to_default,
                    ref,
                    port,
                )
                b.add(
                    "portsec",
                    t.PORTSEC,
                    HIGH,
                    f"arp,{reg6},dl_src={mac},arp_spa={addr},arp_sha={mac}",
                    to_services,
                    ref,
                    port,
                )
            else:
                b.add(
                    "portsec",
                    t.PORTSEC,
                    HIGH,
                    f"ipv6,{reg6},dl_src={mac},ipv6_src={addr}",
                    to_default,
                    ref,
                    port,
                )
        mine = f"{reg6},dl_src={port.mac}"
        b.add("portsec", t.PORTSEC, HIGH, f"udp,{mine},tp_src=68,tp_dst=67", to_default, ref, port)
        b.add("portsec", t.PORTSEC, HIGH, f"arp,{mine},arp_spa=0.0.0.0", to_services, ref, port)
        # Above the per-address rules: ICMPv6 from the port's MAC skips the groups whatever
        # its source address (the simulator's port-security decision, ND included).
        b.add("portsec", t.PORTSEC, HIGH + 1, f"icmp6,{mine}", to_services, ref, port)
        b.add("portsec", t.PORTSEC, LOW, mine, to_services, ref, port)


def l2(b: Builder) -> None:
    for table, target in (
        (t.SERVICES, t.L2_LOOKUP),
        (t.ARP_TABLE, t.L2_LOOKUP),
        (t.ND_TABLE, t.L2_LOOKUP),
        (t.EGRESS_CONNTRACK, t.SERVICES),
        (t.INGRESS_CONNTRACK, t.INGRESS_DISPATCH),
    ):
        b.add("l2", table, DEFAULT, "", f"goto_table:{target}")
    b.add("l2", t.SERVICES, MEDIUM, "arp", f"goto_table:{t.ARP_TABLE}")
    b.add("l2", t.SERVICES, MEDIUM, "icmp6", f"goto_table:{t.ND_TABLE}")
    # A bound router interface (the Neutron L3 agent's) has no L2 lookup rule, only the
    # dispatch of a local port.
    agents = [
        (p.net_id, p.mac, p)
        for p in b.index.ports.values()
        if b.local(p) and b.index.is_router_port(p) and not p.runtime_binding
    ]
    lookups = [(net_id, mac, port) for (net_id, mac), port in b.index.l2_by_mac.items()]
    for net_id, mac, port in lookups + agents:
        network = b.index.networks.get(net_id)
        if network is None or (port.vtep is None and port.chassis not in b.index.chassis):
            continue
        ref, match = b.index.port_ref(port), f"metadata={network.key:#x},dl_dst={mac}"
        if not b.index.is_router_port(port):
            b.add(
                "l2",
                t.L2_LOOKUP,
                MEDIUM,
                match,
                f"set_field:{port.key:#x}->reg7,goto_table:{t.EGRESS}",
                ref,
                port,
            )
        if b.local(port):
            b.add(
                "l2",
                t.INGRESS_DESTINATION,
                HIGH,
                match,
                f"set_field:{port.key:#x}->reg7,goto_table:{t.INGRESS_CONNTRACK}",
                ref,
                port,
            )
            b.add(
                "l2",
                t.EGRESS,
                MEDIUM,
                f"reg7={port.key:#x}",
                f"goto_table:{t.INGRESS_CONNTRACK}",
                ref,
                port,
            )
    for (chassis, net_id), ports in b.index.local_ports.items():
        network = b.index.networks.get(net_id)
        local = [p for p in ports if not b.index.is_router_port(p)]
        if chassis != b.chassis or network is None or not local:
            continue
        match, ref = f"metadata={network.key:#x},dl_dst={MULTICAST}", b.index.net_ref(network)
        each = "".join(f"set_field:{p.key:#x}->reg7,resubmit(,{t.EGRESS})," for p in local)
        b.add(
            "l2", t.L2_LOOKUP, MEDIUM, match, f"{each}set_field:0->reg7,resubmit(,{t.EGRESS})", ref
        )
        here = ",".join(
            f"set_field:{p.key:#x}->reg7,resubmit(,{t.INGRESS_CONNTRACK})" for p in local
        )
        b.add("l2", t.INGRESS_DESTINATION, HIGH, match, here, ref)


def tunneling(b: Builder) -> None:
    here = b.index.chassis.get(b.chassis)
    types = set(here.tunnel_types) if here is not None else set()
    remote_ips: dict[str, set[str]] = {}
    for port in b.index.ports.values():
        network = b.index.networks.get(port.net_id)
        if not port.bound or network is None or b.local(port) or network.type not in types:
            continue
        vtp = b.ovs.tunnels.get(network.type)
        remote = b.index.chassis.get(port.chassis or "")
        dst = port.vtep or (remote.ip if remote is not None else None)
        if vtp is None or dst is None or network.segmentation_id is None:
            continue
        if port.vtep is None:
            remote_ips.setdefault(network.id, set()).add(str(dst))
        b.add(
            "tunneling",
            t.EGRESS,
            MEDIUM,
            f"reg7={port.key:#x}",
            f"set_field:{dst}->tun_dst,set_field:{network.segmentation_id:#x}->tun_id,output:{vtp}",
            b.index.port_ref(port),
            port,
        )
    for net_id, ips in remote_ips.items():
        network = b.index.networks[net_id]
        vtp = b.ovs.tunnels[network.type]
        outs = ",".join(
            f"set_field:{dst}->tun_dst,set_field:{network.segmentation_id:#x}->tun_id,output:{vtp}"
            for dst in sorted(ips)
        )
        b.add(
            "tunneling",
            t.EGRESS,
            LOW,
            f"metadata={network.key:#x},dl_dst={MULTICAST}",
            outs,
            b.index.net_ref(network),
        )
    for (chassis, net_id), ports in b.index.local_ports.items():
        network = b.index.networks.get(net_id)
        if chassis != b.chassis or network is None or network.type not in types or not ports:
            continue
        vtp = b.ovs.tunnels.get(network.type)
        if vtp is None:
            b.notes.append(f"no {network.type}-vtp port on the bridge for network {network.name}")
            continue
        if network.segmentation_id is None:
            continue
        b.add(
            "tunneling",
            t.CLASSIFICATION,
            MEDIUM,
            f"tun_id={network.segmentation_id:#x},in_port={vtp}",
            f"set_field:{network.key:#x}->metadata,goto_table:{t.INGRESS_DESTINATION}",
            b.index.net_ref(network),
        )


def trunk(b: Builder) -> None:
    """VLAN children of local trunk parents: table 0 turns the parent's tagged frames into
    the child's (the classifier's re-run of table 0 meets them), table 115 tags the child's
    frames and hands them to the parent's dispatch."""
    for cps in b.index.children.values():
        child, parent = b.index.ports.get(cps.child), b.index.ports.get(cps.parent)
        network = b.index.networks.get(child.net_id) if child is not None else None
        if child is None or parent is None or network is None or not b.local(parent):
            continue
        if cps.type != "vlan" or cps.vlan is None:
            b.notes.append(f"trunk child {child.name}: {cps.type} segmentation is not generated")
            continue
        ref = b.index.ref(CHILD_PORT_SEGMENTATION, cps.id, detail=f"vlan {cps.vlan}")
        b.add(
            "trunk",
            t.CLASSIFICATION,
            HIGH,
            f"reg6={parent.key:#x},dl_vlan={cps.vlan}",
            f"set_field:{child.key:#x}->reg6,set_field:{network.key:#x}->metadata,"
            f"pop_vlan,resubmit(,{t.CLASSIFICATION})",
            ref,
            child,
        )
        b.add(
            "trunk",
            t.INGRESS_DISPATCH,
            HIGH,
            f"reg7={child.key:#x}",
            f"push_vlan:0x8100,set_field:{0x1000 | cps.vlan:#x}->vlan_vid,"
            f"set_field:{parent.key:#x}->reg7,resubmit(,{t.INGRESS_DISPATCH})",
            ref,
            child,
        )
