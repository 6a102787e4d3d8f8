"""One ``ofproto/trace`` step in Dragonflow's terms: the table's name and app, the rule's
owner (found among the rules ``trace.flows`` expects, by table, priority and match, since
Dragonflow's cookies name no owner), and what the registers, tunnel ID, conntrack zone and
outputs it touches stand for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from dragonscope.nb.tables import CHASSIS, SFC_FLOWCLASSIFIER
from dragonscope.trace.flows import ExpectedFlow, FlowSet, table_name
from dragonscope.trace.flows.rule import Key, normal_key
from dragonscope.trace.index import NbIndex
from dragonscope.trace.model import TABLES, ObjRef
from dragonscope.trace.objects import Network, Port
from dragonscope.trace.real.ofproto import Step, fields

_SET = re.compile(r"set_field:([^-]+)->(\w+)")
_OUTPUT = re.compile(r"^output:(\d+)$")
_CT_ZONE = re.compile(r"zone=(\w+(?:\[[^\]]*\])?)")


PHYSNET = "physnet:"  # how a patch port to a physical network's bridge is named in ofports
METADATA_TAP = "tap-metadata"  # and the metadata service's tap
SNAT = "snat:"  # and chassis SNAT's patch port to the external bridge (snat:<bridge>)


@dataclass(slots=True)
class RealHop:
    seq: int
    chassis: str
    table: int
    priority: int | None
    match: str
    actions: list[str]
    owner: ExpectedFlow | None
    meaning: list[str] = field(default_factory=list)
    objects: list[ObjRef] = field(default_factory=list)
    outcome: str | None = None  # "output", "tunnel", "controller", "drop", "miss"
    notes: list[str] = field(default_factory=list)

    @property
    def rule(self) -> str:
        if self.priority is None:
            return f"table={self.table}: no rule matched"
        match = f",{self.match}" if self.match else ""
        return (
            f"table={self.table},priority={self.priority}{match} actions={','.join(self.actions)}"
        )

    def to_json(self) -> dict[str, Any]:
        entry = TABLES.get(self.table)
        out: dict[str, Any] = {
            "seq": self.seq,
            "chassis": self.chassis,
            "table": self.table,
            "table_name": table_name(self.table),
            "app": self.owner.app if self.owner else (entry[1] if entry else "unknown"),
            "rule": self.rule,
            "expected": self.owner is not None,
            "meaning": self.meaning,
            "objects": [o.to_json() for o in self.objects],
        }
        if self.owner is not None and self.owner.owner is not None:
            out["owner"] = self.owner.owner.to_json()
        if self.outcome:
            out["outcome"] = self.outcome
        if self.notes:
            out["notes"] = self.notes
        return out


def _int(value: str) -> int | None:
    try:
        return int(value.split("/")[0], 0)
    except ValueError:
        return None


class Decoder:
    """Decodes the steps of one chassis against the NB index and its expected rules."""

    def __init__(self, index: NbIndex, chassis: str, expected: FlowSet, ofports: dict[int, str]):
        self.index, self.chassis = index, chassis
        self.ofports = ofports  # OpenFlow port -> lport id, or "<type>-vtp" for tunnels
        self.rules: dict[Key, ExpectedFlow] = expected.keyed()
        self.ports = {p.key: p for p in index.ports.values()}
        self.networks = {n.key: n for n in index.networks.values()}
        self.routers = {r.key: r for r in index.routers.values()}
        self.tunnels = {(n.segmentation_id): n for n in index.networks.values() if n.is_tunnel}
        self.chassis_by_ip = {str(c.ip): c.id for c in index.chassis.values() if c.ip}
        self.groups = {
            g.get("unique_key"): sg for sg, g in index.secgroups.items() if isinstance(g, dict)
        }
        self.classifiers = {
            fc.get("unique_key"): fc
            for table in (index.classifiers_by_src, index.classifiers_by_dst)
            for fcs in table.values()
            for fc in fcs
        }

    def _port(self, key: int | None, role: str, hop: RealHop) -> Port | None:
        port = self.ports.get(key) if key is not None else None
        if key == 0:
            hop.meaning.append(f"{role} = 0 (none)")
        elif port is None:
            hop.meaning.append(f"{role} = {key} names no logical port")
        else:
            hop.meaning.append(f"{role} = {port.name}")
            hop.objects.append(self.index.port_ref(port))
        return port

    def _network(self, key: int | None, hop: RealHop, how: str = "network") -> Network | None:
        network = self.networks.get(key) if key is not None else None
        if network is not None:
            hop.meaning.append(f"{how} = {network.name}")
            hop.objects.append(self.index.net_ref(network))
        elif key is not None:
            hop.meaning.append(f"{how} = {key} names no network")
        return network

    def _value(self, name: str, value: str, hop: RealHop, written: bool) -> None:
        number = _int(value)
        verb = "sets " if written else ""
        if name == "reg6":
            self._port(number, f"{verb}source port (reg6)", hop)
        elif name == "reg7":
            self._port(number, f"{verb}destination port (reg7)", hop)
        elif name == "metadata":
            self._network(number, hop, f"{verb}network (metadata)")
        elif name == "reg5" and number is not None:
            router = self.routers.get(number)
            hop.meaning.append(f"{verb}router (reg5) = {router.name if router else number}")
            if router is not None:
                hop.objects.append(self.index.router_ref(router))
        elif name == "tun_id" and number is not None:
            network = self.tunnels.get(number)
            hop.meaning.append(
                f"{verb}tunnel ID {number} = segmentation ID of "
                + (network.name if network else "no network")
            )
        elif name == "conj_id" and number is not None:
            group = self.groups.get(number)
            hop.meaning.append(
                f"security group {self.index.sg_ref(group).name if group else number}"
            )
            if group:
                hop.objects.append(self.index.sg_ref(group))
        elif name == "reg2" and number:
            fc = self.classifiers.get(number)
            hop.meaning.append(
                f"{verb}flow classifier (reg2) = {fc.get('name') or fc.get('id') if fc else number}"
            )
            if fc is not None:
                hop.objects.append(self.index.ref(SFC_FLOWCLASSIFIER, str(fc.get("id"))))
        elif name == "mpls_label" and number is not None:
            hop.meaning.append(
                f"{verb}MPLS label {number}: chain {number >> 11}, its classifier "
                f"#{number >> 8 & 0x7}, port pair group #{number & 0xFF}"
            )
        elif name == "in_port" and number is not None and not written:
            owner = self.ofports.get(number)
            hop.meaning.append(
                f"enters by OpenFlow port {number}" + (f" ({self._name(owner)})" if owner else "")
            )
        elif name == "tun_dst":
            remote = self.chassis_by_ip.get(value)
            hop.meaning.append(
                f"{verb}tunnel destination {value}" + (f" (chassis {remote})" if remote else "")
            )
            if remote:
                hop.objects.append(self.index.ref(CHASSIS, remote))

    def _name(self, owner: str) -> str:
        port = self.index.ports.get(owner)
        return port.name if port is not None else owner

    def decode(self, seq: int, step: Step) -> RealHop:
        hop = RealHop(seq, self.chassis, step.table, step.priority, step.match, step.actions, None)
        hop.notes = list(step.notes)
        if step.missed:
            hop.outcome = "miss"
            hop.meaning.append("no rule matches: the packet is dropped (table miss)")
            return hop
        match = fields(step.match)
        hop.owner = self.rules.get(normal_key(step.table, step.priority or 0, match))
        if hop.owner is None:
            hop.meaning.append("not a rule dragonscope expects here")
        for name, value in match.items():
            self._value(name, value, hop, written=False)
        for action in step.actions:
            self._action(action, hop)
        return hop

    def _action(self, action: str, hop: RealHop) -> None:
        if found := _SET.match(action):
            self._value(found.group(2), found.group(1), hop, written=True)
        elif action.startswith("ct("):
            zone = _CT_ZONE.search(action)
            where = {
                "OXM_OF_METADATA[0..15]": "the network key",
                "NXM_NX_CT_ZONE[]": "the current zone",
            }
            commit = "commit the connection" if "commit" in action else "look the connection up"
            named = where.get(zone.group(1), zone.group(1)) if zone else "0"
            hop.meaning.append(f"conntrack: {commit} in the zone of {named}")
        elif found := _OUTPUT.match(action):
            owner = self.ofports.get(int(found.group(1)), "")
            hop.outcome = "tunnel" if owner.endswith("-vtp") else "output"
            if owner == METADATA_TAP:
                hop.outcome = "metadata"
                hop.meaning.append("out of the metadata tap, to the local metadata proxy")
            elif owner.startswith(PHYSNET):
                hop.outcome = "physnet"
                physnet = owner[len(PHYSNET) :]
                hop.meaning.append(f"out by the patch port to physical network {physnet}")
            elif owner.startswith(SNAT):
                hop.outcome = "snat"
                hop.meaning.append(f"out by chassis SNAT's patch port to {owner[len(SNAT) :]}")
            elif owner and not owner.endswith("-vtp"):
                port = self.index.ports.get(owner)
                hop.meaning.append(f"output to {self._name(owner)}")
                if port is not None:
                    hop.objects.append(self.index.port_ref(port))
            elif owner:
                hop.meaning.append(f"output to tunnel port {owner}")
            else:
                hop.meaning.append(f"output to OpenFlow port {found.group(1)}, no known interface")
        elif action.startswith("group:") and (group := _int(action[6:])) is not None:
            pairs = "the pairs on this chassis" if group & 0xFF == 2 else "all its pairs"
            hop.meaning.append(
                f"select group {group}: the port pair group of MPLS label {group >> 8}, "
                f"one of {pairs}"
            )
        elif action.startswith(("CONTROLLER", "controller")) or (
            action == "dec_ttl" and any("TTL" in n for n in hop.notes)
        ):
            hop.outcome = "controller"
            hop.meaning.append(
                "sent to the local controller" + (" (TTL expired)" if action == "dec_ttl" else "")
            )
        elif (
            action == "drop"
            and hop.outcome is None
            and not any(a.startswith("ct(") for a in hop.actions)
        ):
            hop.outcome = "drop"
            hop.meaning.append("dropped by this rule")
