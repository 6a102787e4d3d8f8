"""A real trace: the simulated packet, traced by each chassis's own switch in turn.

``RealRun`` says which ``ofproto/trace`` to run next (``next_probe``), reads each answer
(``feed``) and follows the packet across tunnels to the chassis behind the tunnel
destination. It runs nothing itself: the caller runs ``ovs-appctl`` where the switch is
(locally, or through that chassis's collector). ``ofproto/trace`` never sends a packet.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dragonscope.trace.engine import Tracer, TraceResult
from dragonscope.trace.flows import ChassisOvs, FlowSet, expected_flows
from dragonscope.trace.real.decode import Decoder, RealHop
from dragonscope.trace.real.ofproto import inner_flow, packet_flow, parse
from dragonscope.trace.request import TraceRequest

MAX_PROBES = 8
CT_ESTABLISHED = ("trk,est",) * 4
RESPONDER = "move:NXM_NX_REG6[]->NXM_NX_REG7[]"
_SET = re.compile(r"set_field:([^-]+)->(tun_dst|tun_id)")


@dataclass(frozen=True, slots=True)
class Probe:
    """One ``ovs-appctl ofproto/trace`` to run on ``chassis``."""

    chassis: str
    flow: str
    ct_next: tuple[str, ...] = ()
    bridge: str = "br-int"

    def args(self) -> list[str]:
        extra = [arg for state in self.ct_next for arg in ("--ct-next", state)]
        return ["ofproto/trace", self.bridge, self.flow, *extra]

    def to_json(self) -> dict[str, Any]:
        return {"chassis": self.chassis, "command": ["ovs-appctl", *self.args()]}


@dataclass(slots=True)
class ChassisTrace:
    chassis: str
    probe: Probe
    hops: list[RealHop] = field(default_factory=list)
    delivered: list[str] = field(default_factory=list)  # lport ids
    controller: bool = False
    replied: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "chassis": self.chassis,
            "flow": self.probe.flow,
            "command": self.probe.to_json()["command"],
            "hops": [h.to_json() for h in self.hops],
            "delivered": self.delivered,
            "controller": self.controller,
            "replied": self.replied,
        }


class RealTracer:
    """Real traces on one NB snapshot: the simulator, plus each chassis's switch ports."""

    def __init__(self, tracer: Tracer, switches: Mapping[str, ChassisOvs]) -> None:
        self.tracer, self.switches = tracer, switches
        self._expected: dict[str, FlowSet] = {}

    def expected(self, chassis: str) -> FlowSet:
        if chassis not in self._expected:
            self._expected[chassis] = expected_flows(
                self.tracer.index, chassis, self.tracer.apps, self.switches.get(chassis)
            )
        return self._expected[chassis]

    def begin(self, request: TraceRequest) -> RealRun:
        return RealRun(self, request, self.tracer.trace(request))


class RealRun:
    def __init__(self, real: RealTracer, request: TraceRequest, simulated: TraceResult) -> None:
        self.real, self.request, self.simulated = real, request, simulated
        self.traces: list[ChassisTrace] = []
        self.notes: list[str] = []
        self._pending: list[Probe] = []
        self._seq = 0
        self._start()

    @property
    def index(self) -> Any:
        return self.real.tracer.index

    def _start(self) -> None:
        start = self.real.tracer.resolver.resolve(self.request)
        ct = CT_ESTABLISHED if self.request.ct else ()
        if start.failure is not None or start.packet is None:
            self.notes.append("the guest never sends this packet, so there is nothing to trace")
            return
        if start.kind == "physnet":
            self.notes.append(
                "the packet enters from the physical network: the provider app's rules are not "
                "generated, so the real trace cannot start"
            )
            return
        switch = self.real.switches.get(start.chassis or "")
        if switch is None:
            self.notes.append(f"no Open vSwitch is known for chassis {start.chassis}")
            return
        if start.kind == "vtep":
            net, sender = start.network, start.sender
            assert net is not None and sender is not None
            here = self.index.chassis.get(start.chassis)
            vtp = switch.tunnels.get(net.type)
            if vtp is None or here is None or net.segmentation_id is None:
                self.notes.append(f"chassis {start.chassis} has no {net.type}-vtp port")
                return
            tunnel = f"tun_id={net.segmentation_id:#x},tun_src={sender.vtep},tun_dst={here.ip}"
            self._pending.append(
                Probe(start.chassis or "", packet_flow(start.packet, vtp, tunnel), ct)
            )
            return
        assert start.port is not None
        ofport = switch.ofports.get(start.port.id)
        if ofport is None:
            self.notes.append(
                f"no interface carries iface-id={start.port.id} ({start.port.name}) on "
                f"{start.chassis}: the packet cannot enter the switch"
            )
            return
        self._pending.append(Probe(start.chassis or "", packet_flow(start.packet, ofport), ct))

    def next_probe(self) -> Probe | None:
        if not self._pending or len(self.traces) >= MAX_PROBES:
            return None
        return self._pending.pop(0)

    def feed(self, probe: Probe, text: str) -> ChassisTrace:
        """Read one chassis's ``ofproto/trace`` output; queue the tunnels it leaves by."""
        switch = self.real.switches.get(probe.chassis, ChassisOvs())
        ofports = {n: p for p, n in switch.ofports.items()}
        ofports.update({n: f"{kind}-vtp" for kind, n in switch.tunnels.items()})
        decoder = Decoder(self.index, probe.chassis, self.real.expected(probe.chassis), ofports)
        trace = ChassisTrace(probe.chassis, probe)
        responder = False
        sections = parse(text)
        if not sections:
            self.notes.append(f"ofproto/trace on {probe.chassis} answered: {text.strip()[:300]}")
        for section in sections:
            for step in section.steps:
                self._seq += 1
                hop = decoder.decode(self._seq, step)
                trace.hops.append(hop)
                responder = responder or RESPONDER in step.actions
                trace.controller = trace.controller or hop.outcome == "controller"
                for action in step.actions:
                    if action.startswith("output:"):
                        self._output(
                            trace,
                            int(action[7:]),
                            ofports,
                            step.actions,
                            section.final_flow,
                            responder,
                        )
        self.traces.append(trace)
        return trace

    def _output(
        self, trace: ChassisTrace, ofport: int, ofports: dict[int, str], actions: list[str],
        final_flow: str, responder: bool,
    ) -> None:  # fmt: skip
        owner = ofports.get(ofport, "")
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
        far = self.real.switches.get(remote)
        kind = owner[: -len("-vtp")]
        if far is None or kind not in far.tunnels:
            self.notes.append(f"the packet tunnels to {remote}, whose Open vSwitch is not known")
            return
        here = self.index.chassis.get(trace.chassis)
        tunnel = f"tun_id={vni},tun_src={here.ip if here else '0.0.0.0'},tun_dst={dst}"
        flow = inner_flow(final_flow, far.tunnels[kind], tunnel)
        self._pending.append(Probe(remote, flow, trace.probe.ct_next))
