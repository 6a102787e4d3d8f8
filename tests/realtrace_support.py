"""The trace scenarios' cloud on real Open vSwitch: one userspace switch per chassis, with a
VM interface for every port bound there, the chassis's tunnel ports, a patch port to each
physical network's bridge, the metadata tap, and the rules
``dragonscope flows`` writes for it installed with ``ovs-ofctl add-flows``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dragonscope.analyzer.users import add_user
from dragonscope.nb import Snapshot, dump_json
from dragonscope.trace import DEFAULT_APPS
from dragonscope.trace.flows import ChassisOvs, FlowSet, expected_flows
from dragonscope.trace.index import NbIndex
from dragonscope.trace.nat import SNAT_BRIDGE
from ovs_support import OvsSwitch
from trace_cloud import build

TUNNEL_OFPORTS = {"vxlan": 4, "geneve": 5, "gre": 6}
SNAT_OFPORT = 3  # chassis_snat's patch-snat-br-ex
FIRST_VM_OFPORT = 10
FIRST_PATCH_OFPORT = 7
METADATA_OFPORT = 9


@dataclass
class Chassis:
    name: str
    switch: OvsSwitch
    ovs: ChassisOvs
    flows: FlowSet
    ifaces: dict[str, str] = field(default_factory=dict)  # lport id -> interface name

    @property
    def mappings(self) -> tuple[tuple[str, str], ...]:
        """The chassis's bridge mappings, as a collector is given them."""
        return tuple((p, bridge(p)) for p in self.ovs.patches)

    @property
    def spec(self) -> str:
        """The ``--ovs`` value a local run uses for this chassis."""
        mappings = "".join(f",physnet={p}:{b}" for p, b in self.mappings)
        appctl = self.switch.dir / "ovs-vswitchd.ctl"
        return f"{self.name}={self.switch.remote},appctl={appctl}{mappings}"


def bridge(physnet: str) -> str:
    """The bridge of a physical network on every test chassis (its bridge mapping)."""
    return f"br-{physnet}"[:15]


def add_physnet(switch: OvsSwitch, physnet: str, ofport: int) -> None:
    """The physical network's bridge and its patch pair with br-int, named as Dragonflow's
    provider app names the br-int side (``<bridge>-patch``)."""
    phys = bridge(physnet)
    switch.add_bridge(phys)
    inner, outer = f"{phys}-patch", f"int-{physnet}"[:15]
    for name, on, peer, request in ((inner, "br-int", outer, [f"ofport_request={ofport}"]),
                                    (outer, phys, inner, [])):  # fmt: skip
        switch.vsctl(
            "add-port", on, name, "--", "set", "Interface", name, "type=patch",
            f"options:peer={peer}", *request,
        )  # fmt: skip


def add_snat_patch(switch: OvsSwitch) -> str:
    """chassis_snat's patch pair to its external bridge, br-ex (named as the app names
    them); the bridge's own MAC, which its rules send to."""
    switch.add_bridge(SNAT_BRIDGE)
    inner, outer = f"patch-snat-{SNAT_BRIDGE}", "patch-snat-int"
    for name, on, peer, request in ((inner, "br-int", outer, [f"ofport_request={SNAT_OFPORT}"]),
                                    (outer, SNAT_BRIDGE, inner, [])):  # fmt: skip
        switch.vsctl(
            "add-port", on, name, "--", "set", "Interface", name, "type=patch",
            f"options:peer={peer}", *request,
        )  # fmt: skip
    return switch.vsctl("get", "Interface", SNAT_BRIDGE, "mac_in_use").strip().strip('"')


def start_cloud(
    names: list[str], snapshot: Snapshot | None = None, apps: frozenset[str] = DEFAULT_APPS
) -> dict[str, Chassis]:
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
            physnets = sorted({n.physnet for n in index.networks.values() if n.physnet})
            patches = {p: FIRST_PATCH_OFPORT + n for n, p in enumerate(physnets)}
            for physnet, ofport in patches.items():
                add_physnet(switch, physnet, ofport)
            switch.vsctl(
                "add-port", "br-int", "tap-metadata", "--", "set", "Interface", "tap-metadata",
                "type=dummy", f"ofport_request={METADATA_OFPORT}",
            )  # fmt: skip
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
            snat = add_snat_patch(switch) if "chassis_snat" in apps else None
            ovs = ChassisOvs(ofports, tunnels, patches, METADATA_OFPORT, snat and SNAT_OFPORT, snat)
            flows = expected_flows(index, name, apps, ovs)
            if flows.groups:  # before the rules that name them
                path = switch.dir / "groups.txt"
                path.write_text("".join(f"{g.text()}\n" for g in flows.groups))
                switch.ofctl("add-groups", "br-int", str(path))
            switch.add_flows("br-int", [f.text() for f in flows.flows])
            cloud[name] = Chassis(name, switch, ovs, flows, ifaces)
    except BaseException:
        stop_cloud(cloud)
        raise
    return cloud


def stop_cloud(cloud: dict[str, Chassis]) -> None:
    for chassis in cloud.values():
        chassis.switch.cleanup()


def users_and_nb(base: Path) -> tuple[Path, Path]:
    """A users file (root: admin, pub: publisher, ro: reader; each password is the name
    followed by "pw") and the scenario cloud as an NB dump file, in ``base``."""
    users = base / "users"
    add_user(users, "root", "admin", "rootpw")
    add_user(users, "pub", "publisher", "pubpw")
    add_user(users, "ro", "reader", "ropw")
    dump: dict[str, list[dict[str, Any]]] = {}
    for (table, _), obj in build().items():
        dump.setdefault(table, []).append(obj.data)
    nb = base / "nb.json"
    nb.write_bytes(dump_json(dump))
    return users, nb
