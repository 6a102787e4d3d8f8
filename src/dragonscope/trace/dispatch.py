"""Stage G, egress dispatch (tables 75 and 80): deliver locally, tunnel to the chassis
hosting the destination (outer IPs and VNI), send to a VTEP, or leave through the
physical network of a provider network; broadcast copies go to every remote chassis.
"""

from __future__ import annotations

from dragonscope.trace import nat, sfc, switching, tunnel
from dragonscope.trace.objects import Port
from dragonscope.trace.walk import Frame, Moves, Next, Stage, Walk, is_local


def egress(w: Walk, f: Frame) -> Next:
    idx, port, network = w.index, f.dst, f.net
    assert network is not None
    if "fc" in w.apps and port is not None and not f.sfc_done:
        fc = sfc.find(idx, port, f.pkt, by_source=False)
        if fc is not None:
            return sfc.run_chain(w, f, fc, by_source=False)
    if port is None:
        return _egress_flood_or_provider(w, f)
    if not port.bound:
        switching.unbound_destination(w, f, 75, port)
        return None
    if "dnat" in w.apps and port.id in idx.fip_by_port and is_local(w, f, port):
        if w.record:
            w.hop(
                f,
                75,
                "goto",
                f"reg7 is local floating IP port {port.name} → ingress DNAT",
                [idx.port_ref(port)],
            )
        return [(f, Stage.DNAT_INGRESS)]
    if is_local(w, f, port):
        if w.record:
            w.hop(f, 75, "goto", f"{port.name} is local → ingress security", [idx.port_ref(port)])
        return [(f, Stage.INGRESS_SG)]
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
    if not tunnel.terminates(w, f, network, 75):
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
    return [(tunnel.send(w, f, remote.id), Stage.TUNNEL_ARRIVAL)]


def _egress_flood_or_provider(w: Walk, f: Frame) -> Next:
    idx, network = w.index, f.net
    assert network is not None
    if f.flood and network.is_tunnel:
        remotes = sorted(idx.port_chassis_by_net.get(network.id, set()) - {f.chassis})
        if not tunnel.terminates(w, f, network, 75):
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
        return [(tunnel.send(w, w.fork(f), c), Stage.TUNNEL_ARRIVAL) for c in usable]
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
        return [(arriving, Stage.PHYSNET_ARRIVAL)]
    before = f.pkt
    if f.pkt.eth_dst == "00:00:00:00:00:00":
        f.pkt = f.pkt.evolve(eth_dst=nat.bridge_mac(physnet))
    outs: Moves = []
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
                    Stage.PHYSNET_ARRIVAL,
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
