"""The simulator's front door: ``Tracer(snapshot).trace(request) -> TraceResult``.

A Tracer holds the per-snapshot index and the security-group cache, so many traces
(a reachability matrix, an API serving a live graph) share them. The result picks one
verdict from the branches' outcomes: a responder's reply, delivery to the destination,
leaving through a physical network, or the drop that stopped the packet.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dragonscope.nb import Snapshot
from dragonscope.trace import health
from dragonscope.trace.index import NbIndex
from dragonscope.trace.model import Hop, Outcome, Packet
from dragonscope.trace.objects import Port, ip
from dragonscope.trace.pipeline import STEPS
from dragonscope.trace.request import TraceRequest
from dragonscope.trace.resolve import EXTERNAL_MAC, Resolver, Start
from dragonscope.trace.responders import owns_ip
from dragonscope.trace.secgroups import SgEvaluator
from dragonscope.trace.walk import ConntrackEntry, Frame, Stage, Walk

FORMAT_VERSION = 1

# The devstack app set (plus the feature apps whose objects the NB may hold); the
# datapath layout adds portsec. chassis_snat and l3_reactive are opt-in.
DEFAULT_APPS = frozenset(
    {
        "portbinding",
        "l2",
        "l3_proactive",
        "dhcp",
        "dnat",
        "sg",
        "portqos",
        "classifier",
        "tunneling",
        "provider",
        "portsec",
        "metadata_service",
        "trunk",
        "fc",
        "sfc",
    }
)
KNOWN_APPS = DEFAULT_APPS | {
    "chassis_snat",
    "legacy_snat",
    "l3_reactive",
    "active_port_detection",
    "migration",
    "aging",
    "log",
}


def parse_apps(spec: str | None) -> frozenset[str]:
    """``None`` = the default set; ``a,b`` = exactly these; ``+a,-b`` = the default changed."""
    if not spec:
        return DEFAULT_APPS
    items = [s.strip() for s in spec.split(",") if s.strip()]
    relative = all(s[0] in "+-" for s in items)
    apps = set(DEFAULT_APPS) if relative else set()
    for item in items:
        name = item.lstrip("+-")
        if name not in KNOWN_APPS:
            raise ValueError(f"unknown app {name!r}; known: {', '.join(sorted(KNOWN_APPS))}")
        if item.startswith("-"):
            apps.discard(name)
        else:
            apps.add(name)
    return frozenset(apps)


@dataclass(slots=True)
class TraceResult:
    request: TraceRequest
    packet: Packet | None
    final: Outcome
    outcomes: list[Outcome]
    hops: list[Hop]
    assumptions: list[str]
    conntrack: list[ConntrackEntry]
    apps: frozenset[str]
    reply: TraceResult | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        return self.final.verdict

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "version": FORMAT_VERSION,
            "request": self.request.to_json(),
            "packet": self.packet.to_json() if self.packet else None,
            "verdict": self.final.verdict,
            "final": self.final.to_json(),
            "outcomes": [o.to_json() for o in self.outcomes],
            "hops": [h.to_json() for h in self.hops],
            "assumptions": self.assumptions,
            "conntrack": [c.to_json() for c in self.conntrack],
            "apps": sorted(self.apps),
        }
        if self.final.verdict == "dropped":
            out["drop"] = {
                "code": self.final.code,
                "table": self.final.table,
                "table_name": self.final.to_json()["table_name"],
                "stage": self.final.to_json()["stage"],
                "chassis": self.final.chassis,
                "reason": self.final.reason,
                "object": self.final.object.to_json() if self.final.object else None,
                "hop": self.final.seq,
            }
        if self.notes:
            out["notes"] = self.notes
        if self.reply is not None:
            out["reply"] = self.reply.to_json()
        return out


class Tracer:
    """Simulates packets on one snapshot; build once, trace many times."""

    def __init__(self, snapshot: Snapshot, apps: frozenset[str] = DEFAULT_APPS) -> None:
        self.index = NbIndex(snapshot)
        self.sg = SgEvaluator(self.index)
        self.resolver = Resolver(self.index)
        self.apps = apps

    def trace(
        self,
        request: TraceRequest,
        record: bool = True,
        conntrack: list[ConntrackEntry] | None = None,
    ) -> TraceResult:
        start = self.resolver.resolve(request)
        walk = Walk(
            self.index,
            self.sg,
            self.apps,
            STEPS,
            assume_established=request.ct,
            conntrack=list(conntrack or []),
            record=record,
        )
        self._run(walk, start)
        final = self._choose(walk, start)
        result = TraceResult(
            request=request,
            packet=start.packet,
            final=final,
            outcomes=walk.outcomes,
            hops=walk.hops,
            assumptions=start.assumptions or [],
            conntrack=walk.conntrack,
            apps=self.apps,
        )
        if record:
            result.notes += health.controller_notes(
                self.index, (h.chassis for h in walk.hops if h.chassis)
            )
            ports = [p for p in (start.sender, self._port(final)) if p is not None]
            result.notes += health.migration_notes(self.index, ports)
        if request.reply:
            self._reply(request, result, start)
        return result

    def _port(self, outcome: Outcome) -> Port | None:
        return self.index.ports.get(outcome.port.id) if outcome.port else None

    # -- running -----------------------------------------------------------------------
    def _run(self, walk: Walk, start: Start) -> None:
        assert start.packet is not None
        frame = Frame(start.packet, start.chassis)
        if start.failure is not None:
            walk.drop(frame, None, start.failure.code, start.failure.why, start.failure.obj)
            return
        if start.kind == "port":
            frame.in_port = start.port
            walk.run(frame, Stage.CLASSIFY)
        elif start.kind == "vtep":
            assert start.sender is not None and start.network is not None
            frame.net = start.network
            sender = start.sender
            walk.hop(
                frame,
                None,
                "tunnel",
                f"{sender.name} sends from behind VTEP {sender.vtep}",
                [self.index.port_ref(sender)],
            )
            walk.run(frame, Stage.TUNNEL_ARRIVAL)
        else:
            frame.from_physnet, frame.physnet = True, start.physnet
            walk.hop(
                frame, None, "external", f"arrives from physnet {start.physnet} on {start.chassis}"
            )
            walk.run(frame, Stage.PHYSNET_ARRIVAL)

    def _choose(self, walk: Walk, start: Start) -> Outcome:
        outcomes, pkt = walk.outcomes, start.packet
        assert pkt is not None
        by_verdict: dict[str, list[Outcome]] = {}
        for o in outcomes:
            by_verdict.setdefault(o.verdict, []).append(o)
        if "replied" in by_verdict:
            return by_verdict["replied"][0]
        delivered = by_verdict.get("delivered", [])
        if start.target is not None:
            hit = [o for o in delivered if o.port and o.port.id == start.target.id]
            if hit:
                return hit[0]
        if pkt.eth_type == "arp" and pkt.arp_op == "request":
            target = ip(pkt.arp_tpa)
            for o in delivered:
                port = self.index.ports.get(o.port.id) if o.port else None
                if port is not None and target is not None and owns_ip(port, target):
                    o.reason += f"; its guest owns {target} and answers"
                    return o
            unflooded = [o for o in by_verdict.get("dropped", []) if o.fork == "0"]
            if unflooded:
                return unflooded[0]
            return self._synthetic(
                walk,
                start,
                25,
                "ARP_UNRESOLVED",
                f"ARP for {pkt.arp_tpa} is flooded and no responder or guest answers it",
            )
        if pkt.is_dhcp_request and not [o for o in by_verdict.get("dropped", []) if o.fork == "0"]:
            return self._synthetic(
                walk,
                start,
                30,
                "NO_DHCP_SERVER",
                "the network has no DHCP port; the request is only flooded",
            )
        if "external" in by_verdict:
            return by_verdict["external"][0]
        sender = start.sender.id if start.sender else None
        others = [o for o in delivered if not (o.port and o.port.id == sender)]
        if start.target is None and others:
            if len(outcomes) > 1:
                others[0].reason += f" (one of {len(others)} copies delivered, see outcomes)"
            return others[0]
        if "dropped" in by_verdict:
            return by_verdict["dropped"][0]
        return self._synthetic(
            walk, start, None, "NO_L2_DESTINATION", "no copy of the packet reached the destination"
        )

    def _synthetic(
        self, walk: Walk, start: Start, table: int | None, code: str, why: str
    ) -> Outcome:
        network = self.index.networks.get(start.sender.net_id) if start.sender else start.network
        return Outcome(
            "dropped",
            "0",
            start.chassis,
            table,
            why,
            code=code,
            object=self.index.net_ref(network) if network else None,
            seq=len(walk.hops),
            packet=start.packet,
        )

    # -- round trip ---------------------------------------------------------------------
    def _reply(self, request: TraceRequest, result: TraceResult, start: Start) -> None:
        final, pkt = result.final, result.final.packet
        if pkt is None or pkt.proto not in ("tcp", "udp", "icmp", "icmp6") or pkt.is_dhcp_request:
            result.notes.append("no reply simulated for this protocol")
            return
        if pkt.is_multicast:
            result.notes.append(
                "no reply simulated: the request went to a multicast or broadcast address; "
                "a receiver answers from its own address, which conntrack does not relate "
                "to the request"
            )
            return
        requester = ip(pkt.ip_src)
        fip = self.index.fip_by_address.get(requester) if requester is not None else None
        reply_type = {8: 0, 128: 129}.get(pkt.icmp_type or -1, pkt.icmp_type)
        if final.verdict == "delivered" and final.port is not None:
            sender = start.sender
            back = _answer(
                pkt,
                reply_type,
                source=final.port.id,
                destination=sender.id if sender is not None else pkt.ip_src,
                ip_dst=pkt.ip_src,
            )
        elif final.verdict == "external" and "bridge" in final.detail:
            self._snat_reply(result, pkt, reply_type)
            return
        elif final.verdict == "external" and fip is not None and fip.address is not None:
            # The answer comes back from the physical network to the floating IP, at the
            # chassis that answers ARP for it.
            back = _answer(pkt, reply_type, source="external", destination=str(fip.address))
        else:
            result.notes.append(
                "no reply simulated: the request was neither delivered to a port nor sent "
                "out through a floating IP"
            )
            return
        result.reply = self.trace(back, conntrack=result.conntrack)
        result.reply.assumptions.insert(
            0, "the reply reuses the conntrack entries the request committed"
        )

    def _snat_reply(self, result: TraceResult, pkt: Packet, reply_type: int | None) -> None:
        """The answer to a chassis-SNAT connection enters through the SNAT bridge's patch."""
        back = pkt.evolve(
            eth_src=EXTERNAL_MAC,
            eth_dst=pkt.eth_src,
            ip_src=pkt.ip_dst,
            ip_dst=pkt.ip_src,
            sport=pkt.dport,
            dport=pkt.sport,
            icmp_type=reply_type,
            ttl=64,
        )
        chassis = result.final.chassis
        walk = Walk(self.index, self.sg, self.apps, STEPS, conntrack=list(result.conntrack))
        frame = Frame(back, chassis)
        walk.hop(frame, None, "external", f"the answer arrives at {chassis} from the SNAT bridge")
        walk.run(frame, Stage.SNAT_RETURN)
        final = walk.outcomes[0]
        result.reply = TraceResult(
            request=TraceRequest(source="external", destination=back.ip_dst, chassis=chassis),
            packet=back,
            final=final,
            outcomes=walk.outcomes,
            hops=walk.hops,
            assumptions=[
                "the reply reuses the conntrack entries the request committed",
                f"the external host answers from {back.ip_src}",
            ],
            conntrack=walk.conntrack,
            apps=self.apps,
        )


def _answer(
    pkt: Packet,
    reply_type: int | None,
    source: str,
    destination: str | None,
    ip_dst: str | None = None,
) -> TraceRequest:
    """The request for the reply to ``pkt``: ports swapped, from the address it went to."""
    return TraceRequest(
        source=source,
        destination=destination,
        proto=pkt.proto,
        sport=pkt.dport,
        dport=pkt.sport,
        icmp_type=reply_type,
        icmp_code=pkt.icmp_code,
        ip_src=pkt.ip_dst,
        ip_dst=ip_dst,
    )


def trace(
    snapshot: Snapshot, request: TraceRequest, apps: frozenset[str] = DEFAULT_APPS
) -> TraceResult:
    """One-shot convenience: index ``snapshot`` and trace ``request``."""
    return Tracer(snapshot, apps).trace(request)
