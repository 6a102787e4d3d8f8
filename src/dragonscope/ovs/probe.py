"""The live OVS probe of one chassis: OVSDB monitor + flow scans + counters → graph elements.

Everything it learns (a new OVSDB view, a changed flow table, an NB change, counters that moved
enough) wakes one rebuild, which recomputes this chassis's small OVS graph and reports only
the elements that differ, so an idle switch costs nothing to publish.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dragonscope.graph import Edge, Node
from dragonscope.ovs import attribution, flows, graph, nbview, problems
from dragonscope.ovs.ovsdb import OvsdbMonitor
from dragonscope.ovs.state import (
    METADATA_INTERFACE,
    BridgePorts,
    Counters,
    OvsState,
    patch_name,
    snat_bridge,
    tunnel_kind,
)
from dragonscope.ovs.tables import DEFAULT_ALLOCATION_FILE, TableMap

log = logging.getLogger("dragonscope.ovs")

DEFAULT_OVSDB = "unix:/var/run/openvswitch/db.sock"
_METRICS = {
    "rx_packets": "RxPackets", "tx_packets": "TxPackets", "rx_bytes": "RxBytes",
    "tx_bytes": "TxBytes", "rx_dropped": "RxDropped", "tx_dropped": "TxDropped",
    "rx_errors": "RxErrors", "tx_errors": "TxErrors",
}  # fmt: skip
_PACKETS = ("RxPackets", "TxPackets")


@dataclass
class ProbeSettings:
    chassis: str
    ovsdb: str = DEFAULT_OVSDB
    bridge: str = "br-int"
    flow_interval: float = 5.0
    counter_interval: float = 30.0
    counter_change: float = 0.01  # relative packet-count change worth publishing
    allocation_file: str | None = DEFAULT_ALLOCATION_FILE
    rules: bool = False
    coalesce: float = 0.02
    bridge_mappings: tuple[tuple[str, str], ...] = ()  # (physnet, bridge patched to br-int)

    @property
    def flow_target(self) -> str:
        """Next to a local OVSDB socket lives the bridge's OpenFlow management socket."""
        if self.ovsdb.startswith("unix:"):
            return f"unix:{Path(self.ovsdb[5:]).parent / self.bridge}.mgmt"
        return self.bridge


def metric(statistics: Mapping[str, Any]) -> dict[str, int]:
    return {name: int(statistics[key]) for key, name in _METRICS.items() if key in statistics}


def moved_enough(old: dict[str, int] | None, new: dict[str, int], threshold: float) -> bool:
    """Any new drop or error matters; packets matter once they moved by ``threshold``."""
    if old is None:
        return bool(new)
    for name, value in new.items():
        before = old.get(name, 0)
        if value == before:
            continue
        if name in _PACKETS and abs(value - before) >= max(1.0, threshold * before):
            return True
        if "Dropped" in name or "Errors" in name:
            return True
    return False


class OvsProbe:
    """``nodes``/``edges``/``patches`` are the current OVS graph and ``remote_chassis`` the
    chassis at the far end of its tunnel edges; ``on_change(nodes, edges)`` gets the IDs
    (patched NB node IDs included) that differ after each rebuild, and each of ``rebuilt``
    is called after every rebuild, changed graph or not."""

    def __init__(
        self,
        settings: ProbeSettings,
        nb_snapshot: Callable[[], Mapping[Any, Any]],
        on_change: Callable[[set[str], set[str]], None],
    ) -> None:
        self.settings = settings
        self._nb_snapshot = nb_snapshot
        self._on_change = on_change
        self.tables = TableMap(settings.allocation_file)
        self.nodes: dict[str, Node] = {}
        self.edges: dict[str, Edge] = {}
        self.patches: dict[str, dict[str, Any]] = {}
        self.remote_chassis: frozenset[str] = frozenset()
        self.state: OvsState | None = None
        self.connected = False
        self._counters: Counters = {}
        self._metrics: dict[str, dict[str, int]] = {}
        self._nb: nbview.NbView | None = None
        self._flows: list[flows.Flow] | None = None
        self._flow_hash = b""
        self._flow_error: str | None = None
        # The last attribution and what it was computed from: most OVSDB changes touch
        # neither the flows, the NB nor the OpenFlow ports, so 20k flows are not re-read.
        self._summary: tuple[Any, attribution.FlowSummary] | None = None
        # A new dump or new OpenFlow ports need not move the graph (a rule's actions are not
        # drawn), yet a reader of ``flows`` or ``ports()`` must look again: it listens here.
        self.rebuilt: list[Callable[[], None]] = []
        self._wake = asyncio.Event()
        self.stats = {"ovsdb_updates": 0, "flow_scans": 0, "flow_parses": 0, "rebuilds": 0}

    def nb_changed(self) -> None:
        self._nb = None
        self._wake.set()

    @property
    def flows(self) -> list[flows.Flow] | None:
        """The bridge's rules as last dumped (the same list while the dump is unchanged);
        None before the first dump or while the bridge cannot be read."""
        return self._flows if self._flow_error is None else None

    def ports(self) -> BridgePorts:
        """The bridge's VM interfaces, tunnel ports, patch ports of mapped physical networks
        and metadata tap, as OVSDB last said (``Switch.ports`` asks the same of a switch)."""
        ofports: dict[str, int] = {}
        tunnels: dict[str, int] = {}
        patches: dict[str, int] = {}
        metadata = snat = bridge_mac = None
        by_patch = {patch_name(b): physnet for physnet, b in self.settings.bridge_mappings}
        bridge = self.state.bridge(self.settings.bridge) if self.state else None
        for _port, iface in self.state.interfaces_of(bridge) if self.state and bridge else ():
            if iface.ofport is None or iface.ofport <= 0:
                continue
            if iface.iface_id:
                ofports[iface.iface_id] = iface.ofport
            elif tunnel_kind(iface.name, iface.type):
                tunnels[iface.type] = iface.ofport
            elif iface.type == "patch" and iface.name in by_patch:
                patches[by_patch[iface.name]] = iface.ofport
            elif iface.name == METADATA_INTERFACE:
                metadata = iface.ofport
            elif (external := snat_bridge(iface.name, iface.type)) and self.state:
                snat = iface.ofport
                ext = self.state.bridge(external)  # its own internal interface's MAC
                own = self.state.interfaces_of(ext) if ext else []
                bridge_mac = next((i.mac for _, i in own if i.name == external), None)
        return BridgePorts(ofports, tunnels, patches, metadata, snat, bridge_mac)

    # -- tasks --------------------------------------------------------------------------------
    async def run(self) -> None:
        monitor = OvsdbMonitor(self.settings.ovsdb, self._on_state, asyncio.get_running_loop())
        monitor.start()
        tasks = [
            asyncio.create_task(self._flows_forever(), name="ovs-flows"),
            asyncio.create_task(self._counters_forever(), name="ovs-counters"),
            asyncio.create_task(self._rebuild_forever(), name="ovs-rebuild"),
        ]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                task.result()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await monitor.stop()

    def _on_state(self, state: OvsState, counters: Counters, connected: bool) -> None:
        self.stats["ovsdb_updates"] += 1
        self._counters = counters
        if state != self.state or connected != self.connected:
            self.state, self.connected = state, connected
            self._wake.set()

    async def _flows_forever(self) -> None:
        while True:
            await self.scan_flows()
            await asyncio.sleep(self.settings.flow_interval)

    async def scan_flows(self) -> None:
        """One dump; parsed only when the text differs from the last one."""
        self.stats["flow_scans"] += 1
        try:
            text = await flows.dump(self.settings.flow_target)
        except flows.FlowDumpError as exc:
            if self._flow_error != str(exc):
                log.warning("cannot read the flows of %s: %s", self.settings.bridge, exc)
                self._flow_error = str(exc)
                self._wake.set()
            return
        digest = hashlib.blake2b(text.encode(), digest_size=16).digest()
        if digest == self._flow_hash and self._flow_error is None:
            return
        self._flow_hash, self._flow_error = digest, None
        self.stats["flow_parses"] += 1
        self._flows = flows.parse(text)
        self._wake.set()

    async def _counters_forever(self) -> None:
        while True:
            await asyncio.sleep(self.settings.counter_interval)
            self.refresh_counters()

    def refresh_counters(self) -> None:
        """Publish the counters of interfaces whose traffic moved enough since last sent."""
        moved = False
        for uuid, statistics in self._counters.items():
            new = metric(statistics)
            if moved_enough(self._metrics.get(uuid), new, self.settings.counter_change):
                self._metrics[uuid] = new
                moved = True
        if moved:
            self._wake.set()

    async def _rebuild_forever(self) -> None:
        while True:
            await self._wake.wait()
            await asyncio.sleep(self.settings.coalesce)
            self._wake.clear()
            self.rebuild()

    # -- the graph ------------------------------------------------------------------------------
    def rebuild(self) -> None:
        state = self.state
        if state is None:
            return
        self.stats["rebuilds"] += 1
        if self._nb is None:
            self._nb = nbview.build(self._nb_snapshot())
        nb, s = self._nb, self.settings
        for uuid in state.interfaces.keys() - self._metrics.keys():
            self._metrics[uuid] = metric(self._counters.get(uuid, {}))
        summary = None
        if self._flows is not None and self._flow_error is None:
            ofports = {}
            bridge = state.bridge(s.bridge)
            for _port, iface in state.interfaces_of(bridge) if bridge else ():
                if iface.ofport is not None and iface.ofport > 0:
                    ofports[iface.ofport] = iface.iface_id or ""
            last = self._summary
            if last and last[0][0] is self._flows and last[0][1] is nb and last[0][2] == ofports:
                summary = last[1]
            else:
                summary = attribution.summarise(self._flows, nb, ofports, self.tables)
                self._summary = ((self._flows, nb, ofports), summary)
        findings = problems.check(s.chassis, s.bridge, state, nb, summary)
        if self._flow_error is not None:
            findings.bridge.append(f"cannot read the flows: {self._flow_error}")
        if not self.connected:
            findings.bridge.append("OVSDB unreachable: showing the last state seen")
        rules = self._flows if s.rules and summary is not None else None
        built = graph.build(
            s.chassis, s.bridge, state, nb, summary, findings, self.tables, self._metrics, rules
        )
        self._swap(built)
        for listener in self.rebuilt:
            listener()

    def _swap(self, built: graph.OvsGraph) -> None:
        changed_nodes: set[str] = set(self.nodes.keys() - built.nodes.keys())
        nodes: dict[str, Node] = {}
        for nid, metadata in built.nodes.items():
            old = self.nodes.get(nid)
            if old is not None and old.metadata == metadata:
                nodes[nid] = old
            else:
                nodes[nid] = Node(nid, metadata)
                changed_nodes.add(nid)
        changed_edges: set[str] = set(self.edges.keys() - built.edges.keys())
        edges: dict[str, Edge] = {}
        for eid, (parent, child, metadata) in built.edges.items():
            old_edge = self.edges.get(eid)
            if old_edge is not None and old_edge.metadata == metadata:
                edges[eid] = old_edge
            else:
                edges[eid] = Edge(eid, metadata, parent=parent, child=child)
                changed_edges.add(eid)
        patches: dict[str, dict[str, Any]] = {}
        for nid in self.patches.keys() | built.patches.keys():
            old_patch, new_patch = self.patches.get(nid), built.patches.get(nid)
            if old_patch == new_patch:
                if old_patch is not None:
                    patches[nid] = old_patch
                continue
            changed_nodes.add(nid)
            if new_patch is not None:
                patches[nid] = new_patch
        remote = frozenset(built.remote_chassis)
        moved = remote != self.remote_chassis
        self.nodes, self.edges, self.patches = nodes, edges, patches
        self.remote_chassis = remote
        if changed_nodes or changed_edges or moved:
            self._on_change(changed_nodes, changed_edges)
