"""The rules that answer or route: the ARP and ICMP echo responders, l3_proactive (55, 60,
65) and dhcp (20, 30).

The responders answer whom ``responders.arp_answer`` says answers, so the simulated and the
installed ARP replies come from one decision.
"""

from __future__ import annotations

from dragonscope.nb.tables import LROUTER
from dragonscope.trace import model as t
from dragonscope.trace.flows.builder import (
    CONTROLLER,
    DEFAULT,
    HIGH,
    MEDIUM,
    VERY_HIGH,
    VERY_LOW,
    Builder,
)
from dragonscope.trace.objects import IpAddr, Network
from dragonscope.trace.responders import arp_answer, nd_answer


def _echo(mac: str, addr: IpAddr) -> str:
    """Turn an echo request into its reply, back to the port that sent it."""
    if addr.version == 4:
        swap = (
            f"move:NXM_OF_IP_SRC[]->NXM_OF_IP_DST[],set_field:{addr}->ip_src,set_field:0->icmp_type"
        )
    else:
        swap = (
            "move:NXM_NX_IPV6_SRC[]->NXM_NX_IPV6_DST[],"
            f"set_field:{addr}->ipv6_src,set_field:129->icmpv6_type"
        )
    return (
        f"move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],set_field:{mac}->eth_src,{swap},"
        f"move:NXM_NX_REG6[]->NXM_NX_REG7[],goto_table:{t.INGRESS_DISPATCH}"
    )


def _echo_match(addr: IpAddr) -> str:
    if addr.version == 4:
        return f"icmp,nw_dst={addr},icmp_type=8"
    return f"icmp6,ipv6_dst={addr},icmp_type=128"


def arp_reply(mac: str, addr: IpAddr) -> str:
    return (
        f"move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],set_field:{mac}->eth_src,set_field:2->arp_op,"
        f"move:NXM_NX_ARP_SHA[]->NXM_NX_ARP_THA[],move:NXM_OF_ARP_SPA[]->NXM_OF_ARP_TPA[],"
        f"set_field:{mac}->arp_sha,set_field:{addr}->arp_spa,"
        f"move:NXM_NX_REG6[]->NXM_NX_REG7[],goto_table:{t.INGRESS_DISPATCH}"
    )


def _nd_reply(mac: str, addr: IpAddr) -> str:
    """A neighbour solicitation turned into the advertisement, back to the asking port."""
    return (
        f"move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],set_field:{mac}->eth_src,"
        f"move:NXM_NX_IPV6_SRC[]->NXM_NX_IPV6_DST[],set_field:{addr}->ipv6_src,"
        f"set_field:136->icmpv6_type,move:NXM_NX_REG6[]->NXM_NX_REG7[],"
        f"goto_table:{t.INGRESS_DISPATCH}"
    )


def nd_responders(b: Builder) -> None:
    """The l2 app's neighbour advertisements for the IPv6 addresses ``responders.nd_answer``
    answers for (bound ports, local and remote; router interfaces get none)."""
    for net_id, addr in sorted(b.index.any_by_net_ip, key=str):
        network = b.index.networks.get(net_id)
        if network is None or addr.version != 6:
            continue
        answer = nd_answer(b.index, network, addr)
        if answer is None:
            continue
        mac, owner = answer
        b.add(
            "l2",
            t.ND_TABLE,
            MEDIUM,
            f"icmp6,icmp_type=135,metadata={network.key:#x},nd_target={addr}",
            _nd_reply(mac, addr),
            owner,
        )


def responders(b: Builder) -> None:
    """ARP replies for every IPv4 address a network's responders own."""
    targets: set[tuple[str, IpAddr]] = set()
    for net_id, addr in b.index.any_by_net_ip:
        targets.add((net_id, addr))
    for net_id, rports in b.index.router_ports_by_net.items():
        targets.update((net_id, rp.ip) for rp in rports if rp.ip is not None)
    dhcp_ids = {p.id for p in b.index.dhcp_port.values()}
    for net_id, addr in sorted(targets, key=str):
        network = b.index.networks.get(net_id)
        if network is None or addr.version != 4:
            continue
        answer = arp_answer(b.index, network, addr)
        if answer is None:
            continue
        mac, owner = answer
        app = l3_app(b) if owner.table == LROUTER else "dhcp" if owner.id in dhcp_ids else "l2"
        if app not in b.apps:
            continue
        b.add(
            app,
            t.ARP_TABLE,
            MEDIUM,
            f"arp,metadata={network.key:#x},arp_tpa={addr},arp_op=1",
            arp_reply(mac, addr),
            owner,
        )


def l3_app(b: Builder) -> str:
    """The L3 app whose router rules (l3_base's) the chassis has: proactive unless only
    the reactive one is loaded."""
    return "l3_reactive" if "l3_reactive" in b.apps and "l3_proactive" not in b.apps else (
        "l3_proactive"
    )  # fmt: skip


def l3_reactive(b: Builder) -> None:
    """The router rules, with a routed packet's first packet sent to the local controller,
    which installs the rewrite per destination (with an idle timeout, not generated)."""
    if "l3_proactive" not in b.apps:
        _routers(b, "l3_reactive")


def l3_proactive(b: Builder) -> None:
    _routers(b, "l3_proactive")
    for (net_id, addr), (port, mac) in b.index.l3_by_ip.items():
        network = b.index.networks.get(net_id)
        if network is None:
            continue
        ipm = "ip,nw_dst" if addr.version == 4 else "ipv6,ipv6_dst"
        b.add(
            "l3_proactive",
            t.L3_PROACTIVE,
            HIGH,
            f"{ipm}={addr},metadata={network.key:#x}",
            f"set_field:{mac}->eth_dst,set_field:{port.key:#x}->reg7,goto_table:{t.EGRESS}",
            b.index.port_ref(port),
            port,
        )


def legacy_snat(b: Builder) -> None:
    """Traffic no other L3 rule takes goes to the router interface's own lport, bound where
    the Neutron L3 agent routes and SNATs it."""
    for router in b.index.routers.values():
        for rp in router.ports:
            network = b.index.networks.get(rp.net_id)
            if network is None:
                continue
            b.add(
                "legacy_snat",
                t.L3_LOOKUP,
                VERY_LOW,
                f"metadata={network.key:#x},dl_dst={rp.mac}",
                f"set_field:{rp.key:#x}->reg7,goto_table:{t.EGRESS}",
                b.index.router_port_ref(rp),
            )


def _routers(b: Builder, app: str) -> None:
    idx = b.index
    for router in idx.routers.values():
        reg5 = f"reg5={router.key:#x}"
        for rp in router.ports:
            network = idx.networks.get(rp.net_id)
            if network is None:
                continue
            rpref = idx.router_port_ref(rp)
            b.add(
                app,
                t.L2_LOOKUP,
                HIGH,
                f"metadata={network.key:#x},dl_dst={rp.mac}",
                f"set_field:{router.key:#x}->reg5,goto_table:{t.L3_LOOKUP}",
                rpref,
            )
            if rp.ip is not None:
                b.add(
                    app,
                    t.L3_LOOKUP,
                    VERY_HIGH,
                    f"{reg5},{_echo_match(rp.ip)}",
                    _echo(rp.mac, rp.ip),
                    rpref,
                )
                lport = idx.ports.get(rp.id)
                ipm = "ip,nw_dst" if rp.ip.version == 4 else "ipv6,ipv6_dst"
                b.add(
                    app,
                    t.L3_LOOKUP,
                    HIGH,
                    f"{ipm}={rp.ip},{reg5}",
                    f"set_field:{lport.key:#x}->reg7,goto_table:{t.EGRESS}"
                    if lport
                    else CONTROLLER,
                    rpref,
                )
            if rp.network is not None:
                ipm = "ip,nw_dst" if rp.network.version == 4 else "ipv6,ipv6_dst"
                b.add(
                    app,
                    t.L3_LOOKUP,
                    MEDIUM,
                    f"{ipm}={rp.network},{reg5}",
                    f"dec_ttl,set_field:{network.key:#x}->metadata,set_field:{rp.mac}->eth_src,"
                    f"goto_table:{t.L3_PROACTIVE}"
                    if app == "l3_proactive"
                    else CONTROLLER,
                    rpref,
                )
        for dest, hop in router.routes:
            via = next(
                (
                    rp
                    for rp in router.ports
                    if rp.network is not None
                    and rp.network.version == hop.version
                    and hop in rp.network
                ),
                None,
            )
            nexthops = idx.any_by_net_ip.get((via.net_id, hop), []) if via else []
            if via is None or not nexthops:
                continue
            nh = nexthops[0]
            ipm = "ip,nw_dst" if dest.version == 4 else "ipv6,ipv6_dst"
            b.add(
                app,
                t.L3_LOOKUP,
                VERY_HIGH,
                f"{ipm}={dest},{reg5},dl_dst={via.mac}",
                f"dec_ttl,set_field:{via.mac}->eth_src,set_field:{nh.mac}->eth_dst,"
                f"set_field:{nh.key:#x}->reg7,goto_table:{t.EGRESS}",
                idx.router_ref(router, f"route {dest} via {hop}"),
            )


def dhcp(b: Builder) -> None:
    b.add("dhcp", t.SERVICES, MEDIUM, "udp,tp_src=68,tp_dst=67", f"goto_table:{t.DHCP_TABLE}")
    b.add("dhcp", t.DHCP_TABLE, DEFAULT, "", f"goto_table:{t.L2_LOOKUP}")
    for net_id, server in b.index.dhcp_port.items():
        network: Network | None = b.index.networks.get(net_id)
        if network is None:
            continue
        ref = b.index.port_ref(server)
        b.add("dhcp", t.DHCP_TABLE, MEDIUM, f"metadata={network.key:#x}", CONTROLLER, ref)
        for addr in server.ips:
            if addr.version == 4:
                b.add(
                    "dhcp",
                    t.L2_LOOKUP,
                    VERY_HIGH,
                    f"{_echo_match(addr)},metadata={network.key:#x}",
                    _echo(server.mac, addr),
                    ref,
                )
