"""The chassis's Open vSwitch as one more source of the collector's desired graph.

The probe's own elements (bridges, ports, interfaces, rules) are published beside the
topology's; its additions to NB nodes (a local port's ``OVS`` section and problems) are a
:class:`~dragonscope.collector.desired.NodeLayer` over the topology's nodes, so neither side
copies the other's graph. Two kinds of probe edges end outside the probe's own nodes:

* the ``layer2`` edge from a logical port to its interface is published while that port is in
  the desired graph (the analyzer refuses an edge without both ends, and a port bound elsewhere
  is not in this chassis's slice);
* the ``tunnel`` edge to another chassis: that chassis lies outside the slice, so this source
  publishes its node too, exactly as the NB draws it (same ID, same metadata as every other
  collector's). The analyzer merges it into one node held by each publisher, so the mesh
  shows whether or not the remote chassis runs a collector, and survives it stopping.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, Protocol

from dragonscope.collector.desired import DesiredGraph, Source
from dragonscope.collector.nb_feed import NbFeed
from dragonscope.collector.ovs_drift import KEPT_FIELDS, DriftWatch
from dragonscope.collector.settings import CollectorSettings
from dragonscope.collector.sync import SyncState
from dragonscope.graph import Edge, Node
from dragonscope.nb import Change, tables
from dragonscope.ovs import NB_FIELDS, OvsProbe, ProbeSettings
from dragonscope.topology import Topology, node_id

# The NB tables the probe checks the switch against (see dragonscope.ovs.nbview).
_PROBE_TABLES = frozenset({tables.CHASSIS, tables.LSWITCH, tables.LPORT})


class Host(Protocol):
    """The parts of a collector a source plugs into."""

    settings: CollectorSettings
    sync: SyncState
    desired: DesiredGraph
    nb: NbFeed

    def add_source(
        self,
        source: Source,
        loop: Callable[[], Coroutine[object, object, None]] | None = None,
        name: str = "source",
    ) -> None: ...


def probe_settings(settings: CollectorSettings) -> ProbeSettings | None:
    """The probe a collector runs (see ``CollectorSettings.ovsdb_remote``)."""
    remote = settings.ovsdb_remote
    if remote is None or settings.chassis is None:
        return None
    probe = ProbeSettings(
        chassis=settings.chassis,
        ovsdb=remote,
        bridge=settings.integration_bridge,
        flow_interval=settings.ovs_flow_interval,
        counter_interval=settings.ovs_counter_interval,
        rules=settings.ovs_rules,
        bridge_mappings=settings.bridge_mappings,
    )
    if settings.ovs_allocation_file:
        probe.allocation_file = settings.ovs_allocation_file
    return probe


def attach_ovs(host: Host) -> OvsSource | None:
    """Add the chassis's OVS probe to a collector when its settings ask for one."""
    settings = probe_settings(host.settings)
    if settings is None:
        return None
    source = OvsSource(settings, host)
    host.add_source(source, source.run, "ovs")
    host.desired.layers.append(source)
    host.nb.listeners.append(source.nb_changed)
    host.nb.loaded.append(source.nb_loaded)
    # The probe reads every port, network and chassis, local or not.
    host.nb.topology.keep_fields(NB_FIELDS)
    host.nb.topology.keep_fields(KEPT_FIELDS)
    return source


class OvsSource:
    """Owns the probe; tells the collector which of its elements changed."""

    def __init__(self, settings: ProbeSettings, host: Host) -> None:
        self._host = host
        topology = host.nb.topology
        self.probe = OvsProbe(settings, lambda: topology.snapshot, self._probe_changed)
        self.drift = DriftWatch(
            self.probe,
            lambda: topology.snapshot,
            lambda ids: host.sync.mark_many(ids, set()),
            min_interval=settings.flow_interval,
            ready=lambda: host.nb.settled,
        )
        self.probe.rebuilt.append(self.drift.poke)
        # The far ends of the tunnel mesh, drawn by the NB's rules as the global graph has them.
        self._far = Topology(extensions=host.settings.extensions)
        self._far_nodes: dict[str, Node] = {}
        self._foreign: dict[str, Edge] = {}  # probe edges with an end outside the probe
        self._shown: set[str] = set()  # those whose both ends are published
        self._nodes: dict[str, Node] = {}
        self._edges: dict[str, Edge] = {}
        # node ID -> (NB node, probe patch, drift patch, the patched node)
        self._patched: dict[
            str, tuple[Node, dict[str, Any] | None, dict[str, Any] | None, Node]
        ] = {}

    async def run(self) -> None:
        """The probe, and the drift checks that follow what it dumps."""
        async with asyncio.TaskGroup() as group:
            group.create_task(self.probe.run(), name="ovs-probe")
            group.create_task(self.drift.run(), name="ovs-drift")

    @property
    def nodes(self) -> Mapping[str, Node]:
        return self._nodes

    @property
    def edges(self) -> Mapping[str, Edge]:
        return self._edges

    def nb_changed(self, change: Change) -> None:
        """After every NB change: the probe re-checks the switch when a table it reads moved;
        a port may have entered or left the slice, so the edges to it are looked at again."""
        if change.table in _PROBE_TABLES:
            self.probe.nb_changed()
        self.drift.nb_changed()
        self._publish(set(), set(), False)

    def nb_loaded(self) -> None:
        """A snapshot is wholly loaded: the probe's joins and the drift checks made while it
        was still arriving (ports come after the networks they use) are made again."""
        self.probe.nb_changed()
        self.drift.nb_changed()
        self._publish(set(), set(), False)

    def _probe_changed(self, nodes: set[str], edges: set[str]) -> None:
        probe = self.probe
        self._foreign = {
            eid: edge
            for eid, edge in probe.edges.items()
            if edge.parent not in probe.nodes or edge.child not in probe.nodes
        }
        self._publish(nodes, edges, True)

    def _publish(self, nodes: set[str], edges: set[str], probe_moved: bool) -> None:
        """Recompute the far ends and the edges that reach outside the probe; mark what
        differs from before. Costs only the few foreign edges when the probe did not move."""
        far = self._far_ends()
        for nid in far.keys() | self._far_nodes.keys():
            if far.get(nid) is not self._far_nodes.get(nid):
                nodes.add(nid)
        if probe_moved or far.keys() != self._far_nodes.keys() or nodes:
            self._nodes = {**far, **self.probe.nodes}
        self._far_nodes = far
        desired = self._host.desired.nodes
        shown = {
            eid
            for eid, edge in self._foreign.items()
            if all(end in self._nodes or end in desired for end in (edge.parent, edge.child))
        }
        edges |= shown ^ self._shown
        if probe_moved or shown != self._shown:
            self._edges = {
                eid: edge
                for eid, edge in self.probe.edges.items()
                if eid not in self._foreign or eid in shown
            }
        self._shown = shown
        self._host.sync.mark_many(nodes, edges)

    def _far_ends(self) -> dict[str, Node]:
        """The nodes of the chassis the tunnel edges go to, as the NB draws them."""
        snapshot, names = self._host.nb.topology.snapshot, self.probe.remote_chassis
        self._far.load(
            {key: obj for name in names if (obj := snapshot.get(key := (tables.CHASSIS, name)))}
        )
        return {
            nid: node
            for name in names
            if (node := self._far.nodes.get(nid := node_id(tables.CHASSIS, name))) is not None
        }

    def patch(self, node: Node) -> Node:
        """The NB node with the probe's additions (the same object while nothing changed)."""
        probe, drifted = self.probe.patches.get(node.id), self.drift.patches.get(node.id)
        if probe is None and drifted is None:
            return node
        cached = self._patched.get(node.id)
        if cached and cached[0] is node and cached[1] is probe and cached[2] is drifted:
            return cached[3]
        metadata = dict(node.metadata)
        for patch in (probe, drifted):
            if patch is not None:
                problems = [*metadata.get("Problems", []), *patch.get("Problems", [])]
                metadata.update(patch)
                if problems:
                    metadata["Problems"] = problems
        patched = Node(node.id, metadata)
        self._patched[node.id] = (node, probe, drifted, patched)
        return patched
