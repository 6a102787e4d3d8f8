"""A real trace: the simulated packet, traced by each chassis's own switch in turn.

``RealRun`` says whose switch ports it needs (``wanted``), which ``ofproto/trace`` to run next
(``next_probe``), reads each answer (``feed``) and follows the packet across tunnels to the
chassis behind the tunnel destination. It runs nothing itself: ``drive`` asks the caller's
functions, which run ``ovs-appctl`` where the switch is (locally, or through that chassis's
collector). ``ofproto/trace`` never sends a packet.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from dragonscope.graph import Json
from dragonscope.trace.engine import Tracer, TraceResult
from dragonscope.trace.flows import ChassisOvs, FlowSet, expected_flows
from dragonscope.trace.index import NbIndex
from dragonscope.trace.nat import SNAT_BRIDGE
from dragonscope.trace.real.decode import METADATA_TAP, PHYSNET, SNAT, Decoder, RealHop
from dragonscope.trace.real.ofproto import (
    Section,
    Step,
    fields,
    inner_flow,
    packet_flow,
    parse,
    resume_flow,
    thawed_flow,
)
from dragonscope.trace.request import TraceRequest

MAX_PROBES = 16
CT_ESTABLISHED = ("trk,est",) * 4
# A rule that turns the packet into an answer: back to its sender, or an ARP reply (the
# floating IP's goes back to the physical network it came from).
REPLIES = frozenset({"move:NXM_NX_REG6[]->NXM_NX_REG7[]", "set_field:2->arp_op"})
_SET = re.compile(r"set_field:([^-]+)->(tun_dst|tun_id)")
_VLAN = re.compile(r"set_field:(0x[0-9a-f]+|\d+)->vlan_vid")
MAX_FLOW, MAX_CT_NEXT = 2000, 8
_FLOW = re.compile(rf"[A-Za-z0-9_=,:./+-]{{1,{MAX_FLOW}}}")
_CT_STATE = re.compile(r"[a-z+,-]{1,64}")
# A pass ofproto/trace froze and does not follow: the datapath must hash the packet for a
# select group, or parse it again after an MPLS pop, before the next table.
_FROZEN = re.compile(r"recirc\(0x[0-9a-f]+\)$")
_RESUMED = re.compile(r"resumed at table (\d+)")
_JUMP = re.compile(r"^(?:resubmit\(,(\d+)\)|goto_table:(\d+))$")
MAX_TABLE = 254


@dataclass(frozen=True, slots=True)
class Probe:
    """One ``ovs-appctl ofproto/trace`` to run on ``chassis``."""

    chassis: str
    flow: str
    ct_next: tuple[str, ...] = ()
    bridge: str = "br-int"
    resume: int | None = None  # go on from this table (a pass ofproto/trace froze)

    def args(self) -> list[str]:
        extra = [arg for state in self.ct_next for arg in ("--ct-next", state)]
        if self.resume is not None:
            # The same trace, starting with the packet at that table, state in the flow.
            return [
                "ofproto/trace-packet-out", self.bridge, self.flow, *extra,
                f"resubmit(,{self.resume})",
            ]  # fmt: skip
        return ["ofproto/trace", self.bridge, self.flow, *extra]

    def to_json(self) -> dict[str, Any]:
        return {"chassis": self.chassis, "command": ["ovs-appctl", *self.args()]}

    def request(self) -> dict[str, Json]:
        """The probe as the analyzer asks a chassis's collector for it."""
        out: dict[str, Json] = {"Op": "trace", "Flow": self.flow, "CtNext": list(self.ct_next)}
        if self.resume is not None:
            out["Resume"] = self.resume
        return out

    @classmethod
    def from_request(cls, chassis: str, bridge: str, obj: Json) -> Probe:
        """A probe asked for over the wire, checked: a flow in ``ofproto/trace``'s own words
        (no option, no shell), a few conntrack states. ValueError says what is wrong."""
        if not isinstance(obj, dict):
            raise ValueError("a trace request is a JSON object")
        flow, ct_next = obj.get("Flow"), obj.get("CtNext", [])
        if not isinstance(flow, str) or not _FLOW.fullmatch(flow) or flow.startswith("-"):
            raise ValueError(f"Flow must be an OpenFlow match of at most {MAX_FLOW} characters")
        if (
            not isinstance(ct_next, list)
            or len(ct_next) > MAX_CT_NEXT
            or not all(isinstance(c, str) and _CT_STATE.fullmatch(c) for c in ct_next)
        ):
            raise ValueError(f"CtNext must be at most {MAX_CT_NEXT} conntrack states")
        resume = obj.get("Resume")
        if resume is not None and (
            not isinstance(resume, int) or isinstance(resume, bool) or not 0 <= resume <= MAX_TABLE
        ):
            raise ValueError(f"Resume must be a table number, 0 to {MAX_TABLE}")
        return cls(chassis, flow, tuple(str(c) for c in ct_next), bridge, resume)


@dataclass(slots=True)
class ChassisTrace:
    chassis: str
    probe: Probe
    hops: list[RealHop] = field(default_factory=list)
    delivered: list[str] = field(default_factory=list)  # lport ids
    # physical networks it left to, or snat:<bridge> for chassis SNAT's external bridge
    external: list[str] = field(default_factory=list)
    controller: bool = False
    replied: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "chassis": self.chassis,
            "flow": self.probe.flow,
            "command": self.probe.to_json()["command"],
            "hops": [h.to_json() for h in self.hops],
            "delivered": self.delivered,
            "external": self.external,
            "controller": self.controller,
            "replied": self.replied,
        }


ExpectedCache = dict[str, tuple[ChassisOvs | None, FlowSet]]
SFC_DISPATCH = frozenset({121, 122})  # where a chain hands the packet to a port pair


def split_actions(actions: str) -> list[str]:
    """A rule's actions one by one (commas inside parentheses belong to the action)."""
    out, depth, start = [], 0, 0
    for i, char in enumerate(actions):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            out.append(actions[start:i])
            start = i + 1
    return [*out, actions[start:]] if actions else out


class RealTracer:
    """Real traces on one NB snapshot: the simulator, plus each chassis's switch ports."""

    def __init__(
        self,
        tracer: Tracer,
        switches: dict[str, ChassisOvs] | None = None,
        expected: ExpectedCache | None = None,
    ) -> None:
        """``expected`` may be shared by the runs of one tracer (one NB): a chassis's rules
        are generated again only when its switch ports changed."""
        self.tracer = tracer
        self.switches: dict[str, ChassisOvs] = dict(switches or {})
        self.unknown: set[str] = set()  # chassis whose switch could not be asked
        self._expected = expected if expected is not None else {}

    def learn(self, chassis: str, ovs: ChassisOvs | None) -> None:
        """What a chassis's switch holds (its ports), or None when it cannot be asked."""
        if ovs is None:
            self.unknown.add(chassis)
            self.switches.pop(chassis, None)
        else:
            self.unknown.discard(chassis)
            self.switches[chassis] = ovs

    def expected(self, chassis: str) -> FlowSet:
        """The chassis's expected rules, kept while its switch ports stay the same."""
        ovs = self.switches.get(chassis)
        cached = self._expected.get(chassis)
        if cached is None or cached[0] != ovs:
            flows = expected_flows(self.tracer.index, chassis, self.tracer.apps, ovs)
            cached = self._expected[chassis] = (ovs, flows)
        return cached[1]

    def begin(self, request: TraceRequest) -> RealRun:
        return RealRun(self, request, self.tracer.trace(request))


# A leg of the trip still to trace: on which chassis, and how its probe is made from what
# that chassis's switch holds (a text instead of a probe says why it cannot be traced).
Leg = tuple[str, Callable[[ChassisOvs], "Probe | str"]]


class RealRun:
    def __init__(self, real: RealTracer, request: TraceRequest, simulated: TraceResult) -> None:
        self.real, self.request, self.simulated = real, request, simulated
        self.traces: list[ChassisTrace] = []
        self.notes: list[str] = []
        self._legs: list[Leg] = []
        self._seq = 0
        self._inner: dict[str, str] = {}  # the last unlabelled headers (MPLS hides them)
        self._chained = False  # a service chain dispatched the packet
        self._start()

    @property
    def index(self) -> NbIndex:
        return self.real.tracer.index

    def _start(self) -> None:
        start = self.real.tracer.resolver.resolve(self.request)
        ct = CT_ESTABLISHED if self.request.ct else ()
        if start.failure is not None or start.packet is None:
            self.notes.append("the guest never sends this packet, so there is nothing to trace")
            return
        packet, chassis = start.packet, start.chassis or ""
        if start.kind == "physnet":
            physnet = start.physnet or ""

            def from_physnet(switch: ChassisOvs) -> Probe | str:
                patch = switch.patches.get(physnet)
                if patch is None:
                    return f"chassis {chassis} has no patch port to physical network {physnet}"
                return Probe(chassis, packet_flow(packet, patch), ct)

            self._legs.append((chassis, from_physnet))
            return
        if start.kind == "vtep":
            net, sender = start.network, start.sender
            assert net is not None and sender is not None
            here = self.index.chassis.get(chassis)

            def from_vtep(switch: ChassisOvs) -> Probe | str:
                vtp = switch.tunnels.get(net.type)
                if vtp is None or here is None or net.segmentation_id is None:
                    return f"chassis {chassis} has no {net.type}-vtp port"
                tunnel = f"tun_id={net.segmentation_id:#x},tun_src={sender.vtep},tun_dst={here.ip}"
                return Probe(chassis, packet_flow(packet, vtp, tunnel), ct)

            self._legs.append((chassis, from_vtep))
            return
        port = start.port
        assert port is not None

        def from_port(switch: ChassisOvs) -> Probe | str:
            ofport = switch.ofports.get(port.id)
            if ofport is None:
                return (
                    f"no interface carries iface-id={port.id} ({port.name}) on "
                    f"{chassis}: the packet cannot enter the switch"
                )
            return Probe(chassis, packet_flow(packet, ofport), ct)

        self._legs.append((chassis, from_port))

    def wanted(self) -> set[str]:
        """Chassis whose switch ports the next legs need and nobody has asked for yet."""
        known = self.real.switches.keys() | self.real.unknown
        return {chassis for chassis, _ in self._legs} - known

    def next_probe(self) -> Probe | None:
        while self._legs and len(self.traces) < MAX_PROBES:
            chassis, make = self._legs.pop(0)
            switch = self.real.switches.get(chassis)
            if switch is None:
                self.notes.append(f"no Open vSwitch is known for chassis {chassis}")
                continue
            probe = make(switch)
            if isinstance(probe, Probe):
                return probe
            self.notes.append(probe)
        return None

    def feed(self, probe: Probe, text: str) -> ChassisTrace:
        """Read one chassis's ``ofproto/trace`` output; queue the tunnels it leaves by."""
        switch = self.real.switches.get(probe.chassis, ChassisOvs())
        ofports = {n: p for p, n in switch.ofports.items()}
        ofports.update({n: f"{kind}-vtp" for kind, n in switch.tunnels.items()})
        ofports.update({n: f"{PHYSNET}{name}" for name, n in switch.patches.items()})
        if switch.metadata is not None:
            ofports[switch.metadata] = METADATA_TAP
        if switch.snat is not None:
            ofports[switch.snat] = f"{SNAT}{SNAT_BRIDGE}"
        decoder = Decoder(self.index, probe.chassis, self.real.expected(probe.chassis), ofports)
        trace = ChassisTrace(probe.chassis, probe)
        responder = False
        sections = parse(text)
        if not sections:
            self.notes.append(f"ofproto/trace on {probe.chassis} answered: {text.strip()[:300]}")
        last: tuple[Step, RealHop] | None = None  # the last step of the last pass
        for section in sections:
            if "mpls" not in fields(section.flow):
                self._inner = fields(section.flow)
            vlan = None  # the tag a trunk child's dispatch pushed, if any
            last = None
            for step in section.steps:
                if step.bridge and step.bridge != probe.bridge:
                    continue  # behind a patch port: the physical network's own bridge
                self._seq += 1
                hop = decoder.decode(self._seq, step)
                trace.hops.append(hop)
                last = (step, hop)
                self._chained = self._chained or step.table in SFC_DISPATCH
                responder = responder or any(a in REPLIES for a in step.actions)
                trace.controller = trace.controller or hop.outcome == "controller"
                for action in step.actions:
                    if tagged := _VLAN.match(action):
                        vlan = int(tagged.group(1), 0) & 0xFFF
                    elif action.startswith("output:"):
                        port = int(action[7:])
                        owner = ofports.get(port, "")
                        child = self.index.parents.get((owner, vlan)) if vlan else None
                        if child is not None:  # the parent's interface, tagged for a child
                            trace.delivered.append(child.child)
                            continue
                        self._output(
                            trace, port, ofports, step.actions, section.final_flow, responder
                        )
        conflict = next((i for i, x in enumerate(sections) if x.conflict and i), None)
        if conflict is not None:
            self._thaw(trace, sections[conflict - 1], sections[conflict])
        elif last is not None and _FROZEN.search(sections[-1].datapath):
            self._resume(trace, sections[-1], *last)
        self.traces.append(trace)
        return trace

    def _thaw(self, trace: ChassisTrace, forked: Section, thawed: Section) -> None:
        """A resumed trace (``trace-packet-out``) cannot resume its own conntrack passes;
        trace the pass again from the table the conntrack action resumes at."""
        notes = [n for step in forked.steps for n in step.notes]
        tables = [int(m.group(1)) for n in notes if (m := _RESUMED.search(n))]
        if not tables:
            self.notes.append(f"ofproto/trace could not resume a conntrack pass on {trace.chassis}")
            return
        probe = Probe(
            trace.chassis, thawed_flow(thawed), trace.probe.ct_next, trace.probe.bridge, tables[-1]
        )
        self._legs.insert(0, (trace.chassis, lambda _switch: probe))

    def _resume(self, trace: ChassisTrace, section: Section, step: Step, hop: RealHop) -> None:
        """Go on where ``ofproto/trace`` froze the packet and stopped: at the select group
        it could not hash (again, with a hash), or after the MPLS pop it could not parse
        (the rest of the rule, from the rule dragonscope expects there)."""
        popped = any(a.startswith("pop_mpls") for a in step.actions)
        hashing = bool(step.actions) and step.actions[-1].startswith("group:")
        table = step.table if hashing else None
        if table is None and popped and hop.owner is not None:
            rest = split_actions(hop.owner.actions)[len(step.actions) :]
            jumps = [_JUMP.match(a) for a in rest]
            table = next((int(j.group(1) or j.group(2)) for j in jumps if j), None)
        if table is None:
            self.notes.append(
                f"ofproto/trace stops on {trace.chassis} at table {step.table}, where the switch "
                "recirculates the packet, and the rule there is not one dragonscope expects"
            )
            return
        flow = resume_flow(section, self._inner, popped)
        probe = Probe(trace.chassis, flow, trace.probe.ct_next, trace.probe.bridge, table)
        self._legs.insert(0, (trace.chassis, lambda _switch: probe))

    def _output(
        self, trace: ChassisTrace, ofport: int, ofports: dict[int, str], actions: list[str],
        final_flow: str, responder: bool,
    ) -> None:  # fmt: skip
        owner = ofports.get(ofport, "")
        if owner == METADATA_TAP:
            trace.replied = True  # the local metadata proxy answers the sender
            return
        if owner.startswith(PHYSNET):
            if responder:
                trace.replied = True  # the answer goes back where the question came from
                return
            self._physnet(trace, owner[len(PHYSNET) :], final_flow)
            return
        if owner.startswith(SNAT):
            if responder:
                trace.replied = True  # an ARP answer for the chassis's external IP
            else:
                trace.external.append(owner)  # out to the external bridge, SNATed
            return
        pair = self.index.pair_by_ingress.get(owner) if self._chained else None
        if pair is not None:
            self._service_function(trace, owner, pair, final_flow)
            return
        if not owner.endswith("-vtp"):
            if owner:
                trace.delivered.append(owner)
                trace.replied = trace.replied or responder
            return
        values: dict[str, str] = {}
        for action in actions:  # the tunnel fields set before this output
            if action == f"output:{ofport}" and values:
                break
            if found := _SET.match(action):
                values[found.group(2)] = found.group(1)
        dst, vni = values.get("tun_dst"), values.get("tun_id")
        remote = next((c.id for c in self.index.chassis.values() if str(c.ip) == dst), None)
        if remote is None:
            vtep = next((p for p in self.index.ports.values() if str(p.vtep) == dst), None)
            if vtep is not None:
                trace.delivered.append(vtep.id)
            else:
                self.notes.append(f"tunnel to {dst}: no chassis has that IP")
            return
        kind = owner[: -len("-vtp")]
        here = self.index.chassis.get(trace.chassis)
        tunnel = f"tun_id={vni},tun_src={here.ip if here else '0.0.0.0'},tun_dst={dst}"
        ct_next = trace.probe.ct_next

        def arrive(far: ChassisOvs) -> Probe | str:
            if kind not in far.tunnels:
                return f"the packet tunnels to {remote}, which has no {kind}-vtp port"
            return Probe(remote, inner_flow(final_flow, far.tunnels[kind], tunnel), ct_next)

        self._legs.append((remote, arrive))

    def _service_function(
        self, trace: ChassisTrace, ingress: str, pair: dict[str, Any], final_flow: str
    ) -> None:
        """Into a port pair's ingress port: its service function sends the frame back, as
        it received it, by the pair's egress port (the simulation's assumption too)."""
        egress = self.index.ports.get(str(pair.get("egress_port")))
        name = self.index.ports[ingress].name if ingress in self.index.ports else ingress
        if egress is None or egress.chassis is None:
            self.notes.append(f"service function behind {name}: its egress port is not bound")
            return
        chassis, ct_next = egress.chassis, trace.probe.ct_next

        def back(switch: ChassisOvs) -> Probe | str:
            ofport = switch.ofports.get(egress.id)
            if ofport is None:
                return f"no interface carries iface-id={egress.id} ({egress.name}) on {chassis}"
            return Probe(chassis, inner_flow(final_flow, ofport, ""), ct_next)

        self._legs.insert(0, (chassis, back))

    def _physnet(self, trace: ChassisTrace, physnet: str, final_flow: str) -> None:
        """Out by the patch port: the physical network carries the frame to the chassis of
        its destination port (every chassis of the network for a broadcast)."""
        trace.external.append(physnet)
        got = fields(final_flow)
        vlan = int(got["dl_vlan"]) if got.get("dl_vlan", "").isdigit() else None
        networks = self.index.net_by_physnet.get((physnet, vlan), [])
        network = networks[0] if networks else None
        mac = got.get("dl_dst", "")
        if network is None:
            return
        port = self.index.l2_by_mac.get((network.id, mac))
        if port is not None:
            remotes = {port.chassis} if port.chassis else set()
        elif int(mac[:2] or "0", 16) & 1:  # broadcast and multicast: every chassis
            remotes = set(self.index.port_chassis_by_net.get(network.id, set()))
        else:
            return  # unknown unicast: for the physical network's hosts
        ct_next = trace.probe.ct_next
        for remote in sorted(remotes - {trace.chassis}):

            def arrive(far: ChassisOvs, remote: str = remote) -> Probe | str:
                patch = far.patches.get(physnet)
                if patch is None:
                    return f"{remote} has no patch port to physical network {physnet}"
                return Probe(remote, inner_flow(final_flow, patch, ""), ct_next)

            self._legs.append((remote, arrive))


async def drive(
    run: RealRun,
    ports: Callable[[str], Awaitable[ChassisOvs | None]],
    trace: Callable[[Probe], Awaitable[str]],
    in_thread: bool = False,
) -> RealRun:
    """Run ``run`` to its end: ``ports(chassis)`` asks a switch for its ports (None: that
    chassis's switch cannot be asked), ``trace(probe)`` runs one ``ofproto/trace``. With
    ``in_thread``, decoding (which may generate a chassis's expected rules: seconds on a big
    chassis) runs in a worker thread, for a server's event loop."""
    while True:
        for chassis in sorted(run.wanted()):
            run.real.learn(chassis, await ports(chassis))
        probe = run.next_probe()
        if probe is None:
            return run
        text = await trace(probe)
        if in_thread:
            await asyncio.to_thread(run.feed, probe, text)
        else:
            run.feed(probe, text)
