"""The trace scenarios' cloud on real Open vSwitch: one userspace switch per chassis, with a
VM interface for every port bound there, the chassis's tunnel ports, and the rules
``dragonscope flows`` writes for it installed with ``ovs-ofctl add-flows``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dragonscope.nb import Snapshot
from dragonscope.trace import DEFAULT_APPS
from dragonscope.trace.flows import ChassisOvs, FlowSet, expected_flows
from dragonscope.trace.index import NbIndex
from ovs_support import OvsSwitch
from trace_cloud import build

TUNNEL_OFPORTS = {"vxlan": 4, "geneve": 5, "gre": 6}
FIRST_VM_OFPORT = 10


@dataclass
class Chassis:
    name: str
    switch: OvsSwitch
    ovs: ChassisOvs
    flows: FlowSet
    ifaces: dict[str, str] = field(default_factory=dict)  # lport id -> interface name

    @property
    def spec(self) -> str:
        """The ``--ovs`` value a local run uses for this chassis."""
        return f"{self.name}={self.switch.remote},appctl={self.switch.dir / 'ovs-vswitchd.ctl'}"


def start_cloud(names: list[str], snapshot: Snapshot | None = None) -> dict[str, Chassis]:
    snapshot = snapshot if snapshot is not None else build()
    index = NbIndex(snapshot)
    cloud: dict[str, Chassis] = {}
    try:
        for name in names:
            switch = OvsSwitch(name)
            cloud[name] = Chassis(
                name, switch, ChassisOvs(), FlowSet(name, [], frozenset(), frozenset())
            )
            switch.start()
            switch.add_bridge("br-int")
            here = index.chassis[name]
            tunnels = {}
            for kind in here.tunnel_types:
                switch.add_tunnel_port("br-int", kind, str(here.ip), TUNNEL_OFPORTS[kind])
                tunnels[kind] = TUNNEL_OFPORTS[kind]
            ofports, ifaces = {}, {}
            local = sorted(
                (p for p in index.ports.values() if p.chassis == name and not p.runtime_binding),
                key=lambda p: p.key,
            )
            for n, port in enumerate(local):
                iface = f"tap{port.key}"
                ofport = FIRST_VM_OFPORT + n
                switch.add_vm_port("br-int", iface, port.id, port.mac, ofport)
                ofports[port.id], ifaces[port.id] = ofport, iface
            ovs = ChassisOvs(ofports, tunnels)
            flows = expected_flows(index, name, DEFAULT_APPS, ovs)
            switch.add_flows("br-int", [f.text() for f in flows.flows])
            cloud[name] = Chassis(name, switch, ovs, flows, ifaces)
    except BaseException:
        stop_cloud(cloud)
        raise
    return cloud


def stop_cloud(cloud: dict[str, Chassis]) -> None:
    for chassis in cloud.values():
        chassis.switch.cleanup()
