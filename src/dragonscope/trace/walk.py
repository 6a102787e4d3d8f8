"""The state of one packet in flight and the bookkeeping of a walk (hops, forks, outcomes).

``Frame`` is what the OpenFlow registers hold (``metadata`` = network, ``reg6`` = source
port, ``reg7`` = destination port, ``reg5`` = router) plus the chassis executing it.
``Walk`` runs table functions depth-first so the hops of one fork stay together, and keeps
the conntrack entries that stateful security groups commit.

A step names the step that comes next by its ``Stage``, never by importing the module
that implements it: ``pipeline.STEPS`` maps each stage to its function, so the stage
modules depend on this one and not on each other.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from enum import Enum
from typing import Any

from dragonscope.trace.index import NbIndex
from dragonscope.trace.model import Hop, ObjRef, Outcome, Packet
from dragonscope.trace.objects import Network, Port, Router, RouterPort
from dragonscope.trace.secgroups import SgEvaluator

MAX_STEPS = 5000


@dataclass(slots=True)
class Frame:
    pkt: Packet
    chassis: str | None
    fork: str = "0"
    net: Network | None = None
    src: Port | None = None  # reg6
    dst: Port | None = None  # reg7
    router: Router | None = None  # reg5
    in_router_port: RouterPort | None = None
    in_port: Port | None = None  # the OVS port the packet entered by
    from_physnet: bool = False
    physnet: str | None = None
    sfc_done: bool = False
    flood: bool = False

    def copy(self, **changes: Any) -> Frame:
        """A copy with ``changes`` (cheaper than ``dataclasses.replace`` per hop)."""
        new = object.__new__(Frame)
        for name in FRAME_FIELDS:
            setattr(new, name, changes[name] if name in changes else getattr(self, name))
        return new


FRAME_FIELDS = tuple(f.name for f in fields(Frame))


class Stage(Enum):
    """Every step another step (or the engine) can send a packet to."""

    CLASSIFY = "classify"
    PORT_SECURITY = "port_security"
    EGRESS_SG = "egress_sg"
    SERVICES = "services"
    ARP_TABLE = "arp_table"
    ND_TABLE = "nd_table"
    DHCP_TABLE = "dhcp_table"
    L2_LOOKUP = "l2_lookup"
    L3_LOOKUP = "l3_lookup"
    L3_PROACTIVE = "l3_proactive"
    EGRESS = "egress"
    TUNNEL_ARRIVAL = "tunnel_arrival"
    TUNNEL_DISPATCH = "tunnel_dispatch"
    PHYSNET_ARRIVAL = "physnet_arrival"
    INGRESS_SG = "ingress_sg"
    DELIVER = "deliver"
    DNAT_EGRESS = "dnat_egress"
    DNAT_INGRESS = "dnat_ingress"
    SNAT_RETURN = "snat_return"


Moves = list[tuple[Frame, Stage]]  # the frames a step passes on, each to its next stage
Next = Moves | None  # None: the frame's walk ended (delivered, dropped, answered)
Step = Callable[["Walk", Frame], Next]


@dataclass(slots=True)
class ConntrackEntry:
    chassis: str
    zone: int
    proto: str | None
    src: str | None
    sport: int | None
    dst: str | None
    dport: int | None
    committed_by: str  # "egress" or "ingress" security group check, or "snat"
    port: str = ""  # for SNAT: the source port (Dragonflow keeps its key in ct_mark)

    def to_json(self) -> dict[str, Any]:
        return {
            "chassis": self.chassis,
            "zone": self.zone,
            "proto": self.proto,
            "src": self.src,
            "sport": self.sport,
            "dst": self.dst,
            "dport": self.dport,
            "by": self.committed_by,
            **({"port": self.port} if self.port else {}),
        }


@dataclass(slots=True)
class Walk:
    """One simulation: shared index and SG cache, its own hops, outcomes and conntrack."""

    index: NbIndex
    sg: SgEvaluator
    apps: frozenset[str]
    steps: Mapping[Stage, Step]
    assume_established: bool = False
    conntrack: list[ConntrackEntry] = field(default_factory=list)
    hops: list[Hop] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    record: bool = True
    _forks: dict[str, int] = field(default_factory=dict)

    def run(self, frame: Frame, stage: Stage) -> None:
        stack: list[tuple[Frame, Stage]] = [(frame, stage)]
        steps = 0
        while stack:
            current, next_stage = stack.pop()
            steps += 1
            if steps > MAX_STEPS:
                self.drop(current, None, "LOOP", f"stopped after {MAX_STEPS} steps")
                return
            nxt = self.steps[next_stage](self, current)
            if nxt:
                stack.extend(reversed(nxt))

    # -- recording -------------------------------------------------------------
    def hop(
        self,
        frame: Frame,
        table: int | None,
        decision: str,
        why: str,
        objects: list[ObjRef] | None = None,
        before: Packet | None = None,
    ) -> None:
        if not self.record:
            return
        changes = before.diff(frame.pkt) if before is not None else {}
        self.hops.append(
            Hop(
                len(self.hops) + 1,
                frame.fork,
                frame.chassis,
                table,
                decision,
                why,
                objects or [],
                changes,
            )
        )

    def fork(self, frame: Frame, **changes: Any) -> Frame:
        """A copy of ``frame`` on a new branch (flood copies)."""
        n = self._forks.get(frame.fork, 0) + 1
        self._forks[frame.fork] = n
        return frame.copy(fork=f"{frame.fork}.{n}", **changes)

    def drop(
        self,
        frame: Frame,
        table: int | None,
        code: str,
        why: str,
        obj: ObjRef | None = None,
        extra: list[ObjRef] | None = None,
    ) -> None:
        self.hop(frame, table, "drop", why, ([obj] if obj else []) + (extra or []))
        self.outcomes.append(
            Outcome(
                "dropped",
                frame.fork,
                frame.chassis,
                table,
                why,
                code=code,
                object=obj,
                seq=len(self.hops),
                packet=frame.pkt,
            )
        )

    def finish(self, frame: Frame, table: int | None, verdict: str, why: str, **kw: Any) -> None:
        self.hop(
            frame,
            table,
            verdict if verdict != "replied" else "reply",
            why,
            [o for o in (kw.get("port"), kw.get("object")) if o is not None],
        )
        self.outcomes.append(
            Outcome(
                verdict,
                frame.fork,
                frame.chassis,
                table,
                why,
                seq=len(self.hops),
                packet=frame.pkt,
                **kw,
            )
        )

    # -- conntrack ---------------------------------------------------------------
    def _tuple(self, pkt: Packet) -> tuple[str | None, int | None, str | None, int | None]:
        if pkt.proto in ("tcp", "udp"):
            return pkt.ip_src, pkt.sport, pkt.ip_dst, pkt.dport
        return pkt.ip_src, None, pkt.ip_dst, None

    def established(self, frame: Frame, zone: int) -> bool:
        """Whether conntrack reports the packet as part of an established connection.

        Only the reply direction of a committed entry (same chassis and zone) is: Linux
        conntrack keeps a connection new until it has seen a reply, so a packet going the
        way the entry was committed is still new and the security-group rules apply again
        (two ports of one network on one chassis share the zone). No simulated packet
        follows a reply in the original direction, so "seen reply" needs no state here.
        """
        if self.assume_established:
            return True
        src, sport, dst, dport = self._tuple(frame.pkt)
        return any(
            e.chassis == frame.chassis
            and e.zone == zone
            and e.proto == frame.pkt.proto
            and (e.src, e.sport, e.dst, e.dport) == (dst, dport, src, sport)
            for e in self.conntrack
        )

    def commit(self, frame: Frame, zone: int, by: str, port: str = "") -> bool:
        """Commit the packet's connection; False when the zone already holds it (a second
        commit of the same connection is a no-op in conntrack)."""
        src, sport, dst, dport = self._tuple(frame.pkt)
        chassis = frame.chassis or ""
        for e in self.conntrack:
            if (e.chassis, e.zone, e.proto, e.src, e.sport, e.dst, e.dport) == (
                chassis,
                zone,
                frame.pkt.proto,
                src,
                sport,
                dst,
                dport,
            ):
                return False
        self.conntrack.append(
            ConntrackEntry(chassis, zone, frame.pkt.proto, src, sport, dst, dport, by, port)
        )
        return True

    def snat_origin(self, frame: Frame) -> ConntrackEntry | None:
        """The SNAT entry a packet returning to the chassis' external IP belongs to."""
        remote, remote_port, _, local_port = self._tuple(frame.pkt)
        for e in self.conntrack:
            if (
                e.committed_by == "snat"
                and e.chassis == frame.chassis
                and e.proto == frame.pkt.proto
                and (e.dst, e.dport) == (remote, remote_port)
                and e.sport == local_port
            ):
                return e
        return None


# -- helpers shared by the stage modules ----------------------------------------
def keys(f: Frame) -> str:
    parts = []
    if f.net is not None:
        parts.append(f"metadata={f.net.key}")
    if f.src is not None:
        parts.append(f"reg6={f.src.key}")
    if f.dst is not None:
        parts.append(f"reg7={f.dst.key}")
    if f.router is not None:
        parts.append(f"reg5={f.router.key}")
    return " ".join(parts)


def is_local(w: Walk, f: Frame, port: Port) -> bool:
    return port.chassis is not None and port.chassis == f.chassis


def decrement_ttl(w: Walk, f: Frame, table: int, obj_why: str) -> bool:
    """TTL-1, or record TTL_EXPIRED; True when the packet may go on."""
    ttl = f.pkt.ttl if f.pkt.ttl is not None else 64
    if ttl <= 1:
        w.drop(
            f,
            table,
            "TTL_EXPIRED",
            f"TTL {ttl} would reach 0 {obj_why}; the controller answers ICMP time exceeded",
            w.index.router_ref(f.router) if f.router else None,
        )
        return False
    f.pkt = f.pkt.evolve(ttl=ttl - 1)
    return True
