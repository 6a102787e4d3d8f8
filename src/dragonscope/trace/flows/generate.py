"""The rules Dragonflow's apps install on one chassis for an NB snapshot.

Built from the simulator's own model: the NB index it walks, the table numbers of
``trace.model`` and the decisions its stages share (port-security pairs, security-group
rule shapes, who answers ARP, the labels of a service chain). The sfc app's select groups
are ``FlowSet.groups``, to add before the rules that name them. Apps whose rules are not
written (those the simulator does not model) are listed in ``FlowSet.missing_apps``, so a
comparison can say what it cannot check.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dragonscope.trace.flows import (
    chains,
    dnat,
    metadata,
    provider,
    routing,
    secgroups,
    snat,
    switching,
)
from dragonscope.trace.flows.builder import Builder, ChassisOvs
from dragonscope.trace.flows.rule import ExpectedFlow, ExpectedGroup, Key
from dragonscope.trace.index import NbIndex
from dragonscope.trace.model import TraceError

# App -> what writes its rules, in the order the controller would install them.
WRITERS: dict[str, Callable[[Builder], None]] = {
    "classifier": switching.classifier,
    "portsec": switching.portsec,
    "l2": switching.l2,
    "tunneling": switching.tunneling,
    "trunk": switching.trunk,
    "provider": provider.provider,
    "dnat": dnat.dnat,
    "metadata_service": metadata.metadata_service,
    "sg": secgroups.sg,
    "l3_proactive": routing.l3_proactive,
    "l3_reactive": routing.l3_reactive,
    "legacy_snat": routing.legacy_snat,
    "dhcp": routing.dhcp,
    "fc": chains.fc,
    "sfc": chains.sfc,
    "chassis_snat": snat.chassis_snat,
}
GENERATED_APPS = frozenset(WRITERS)
# Apps that install no OpenFlow rules at all.
RULELESS_APPS = frozenset({"portbinding", "portqos", "migration"})


@dataclass(slots=True)
class FlowSet:
    chassis: str
    flows: list[ExpectedFlow]
    apps: frozenset[str]
    missing_apps: frozenset[str]
    notes: list[str] = field(default_factory=list)
    groups: list[ExpectedGroup] = field(default_factory=list)
    _keyed: dict[Key, ExpectedFlow] | None = field(default=None, repr=False, compare=False)

    def keyed(self) -> dict[Key, ExpectedFlow]:
        """The rules by normal form (``rule.normal_key``), built once: a drift check and each
        decoded real trace of the same rules share it."""
        if self._keyed is None:
            self._keyed = {flow.key(): flow for flow in self.flows}
        return self._keyed

    def to_json(self) -> dict[str, Any]:
        return {
            "chassis": self.chassis,
            "apps": sorted(self.apps),
            "not_generated": sorted(self.missing_apps),
            "notes": self.notes,
            "count": len(self.flows),
            "flows": [f.to_json() for f in self.flows],
            "groups": [g.to_json() for g in self.groups],
        }


def expected_flows(
    index: NbIndex,
    chassis: str,
    apps: frozenset[str],
    ovs: ChassisOvs | None = None,
    skip: frozenset[str] = frozenset(),
) -> FlowSet:
    """Every rule ``apps`` install on ``chassis``; ``ovs`` gives the OpenFlow ports that
    only the chassis's switch knows (without it, per-interface rules are left out); the
    rules of the ports in ``skip`` are left out."""
    if chassis not in index.chassis:
        raise TraceError(f"no chassis {chassis!r} in the NB")
    builder = Builder(index, chassis, apps, ovs or ChassisOvs(), skip=skip)
    switching.layout(builder)
    for app, write in WRITERS.items():
        if app in apps:
            write(builder)
    routing.responders(builder)
    if "l2" in apps:
        routing.nd_responders(builder)
    return FlowSet(
        chassis,
        builder.flows,
        apps & GENERATED_APPS,
        apps - GENERATED_APPS - RULELESS_APPS,
        sorted(set(builder.notes)),
        list(builder.groups.values()),
    )
