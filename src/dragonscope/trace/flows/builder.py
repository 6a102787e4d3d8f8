"""Collects the rules of one chassis, one app at a time, without duplicates.

Two objects can ask for the same rule (two groups with the same clause, two rules of one
group); Open vSwitch keeps one rule per (table, priority, match), so the first asker owns it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from dragonscope.trace.flows.rule import ExpectedFlow, ExpectedGroup, Key
from dragonscope.trace.index import NbIndex
from dragonscope.trace.model import ObjRef
from dragonscope.trace.objects import Port

# Dragonflow's priorities (controller/common/constants.py).
DEFAULT, VERY_LOW, LOW, MEDIUM_LOW, MEDIUM, HIGH, VERY_HIGH = 1, 20, 50, 70, 100, 200, 300
CT_STATE = 65534
LAYOUT_EDGE = 32768  # os-ken's default: the layout's edges are sent without one
CONTROLLER = "CONTROLLER:65535"
MULTICAST = "01:00:00:00:00:00/01:00:00:00:00:00"


@dataclass(frozen=True, slots=True)
class ChassisOvs:
    """What the chassis's Open vSwitch adds to the NB: the OpenFlow port of each VM
    interface (by its ``iface-id``), of each ``<type>-vtp`` tunnel port and of the patch
    port to each physical network's bridge (by physnet), of the metadata service's tap, and
    of chassis SNAT's patch port with its bridge's MAC."""

    ofports: Mapping[str, int] = field(default_factory=dict)
    tunnels: Mapping[str, int] = field(default_factory=dict)
    patches: Mapping[str, int] = field(default_factory=dict)
    metadata: int | None = None  # the metadata service's tap (``tap-metadata``)
    snat: int | None = None  # chassis_snat's patch port to the external bridge
    snat_bridge_mac: str | None = None  # that bridge's own MAC (its ``mac_in_use``)


@dataclass(slots=True)
class Builder:
    index: NbIndex
    chassis: str
    apps: frozenset[str]
    ovs: ChassisOvs
    flows: list[ExpectedFlow] = field(default_factory=list)
    groups: dict[int, ExpectedGroup] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    # Ports (and router ports) whose own rules are not wanted: a reader that knows them
    # only by a skeleton could not check those rules.
    skip: frozenset[str] = frozenset()
    _seen: set[Key] = field(default_factory=set)

    def add(
        self,
        app: str,
        table: int,
        priority: int,
        match: str,
        actions: str,
        owner: ObjRef | None = None,
        lport: Port | None = None,
    ) -> None:
        if (lport is not None and lport.id in self.skip) or (
            owner is not None and owner.id in self.skip
        ):
            return
        pairs = tuple(
            (name, value)
            for name, _, value in (token.partition("=") for token in match.split(",") if token)
        )
        # One rule per (table, priority, match): the writers spell a field's value one way,
        # so the match as written identifies it (the normal form is for installed rules).
        key = (table, priority, frozenset(pairs))
        if key not in self._seen:
            self._seen.add(key)
            self.flows.append(
                ExpectedFlow(
                    table, priority, pairs, actions, app, owner,
                    lport.id if lport is not None else None,
                )
            )  # fmt: skip

    def add_group(
        self, app: str, group_id: int, buckets: list[str], owner: ObjRef | None = None
    ) -> None:
        """A select group; the rules that use it name it by ``group:<id>``. The switch
        keeps one group per ID, so the first asker owns it."""
        self.groups.setdefault(group_id, ExpectedGroup(group_id, tuple(buckets), app, owner))

    def local(self, port: Port) -> bool:
        return port.bound and port.chassis == self.chassis
