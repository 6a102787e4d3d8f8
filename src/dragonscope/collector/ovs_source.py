"""Glue between a chassis collector and its OVS probe.

The probe's own elements (bridges, ports, interfaces, rules, tunnel and iface-id edges) are
published beside the topology's; its additions to NB nodes (a port's ``OVS`` section and
problems) are laid over the topology's nodes when the collector reads them, so neither side
copies the other's graph.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from typing import Any

from dragonscope.graph.model import Edge, Node
from dragonscope.ovs.probe import DEFAULT_OVSDB, OvsProbe, ProbeSettings


def probe_settings(settings: Any) -> ProbeSettings | None:
    """The probe a collector runs: none globally, with ``--no-ovs``, or when no OVSDB is
    named and the default socket does not exist."""
    if not settings.chassis or settings.ovs is False:
        return None
    remote = settings.ovsdb
    if remote is None:
        if not os.path.exists(DEFAULT_OVSDB[len("unix:") :]):
            return None
        remote = DEFAULT_OVSDB
    return ProbeSettings(
        chassis=settings.chassis,
        ovsdb=remote,
        bridge=settings.integration_bridge,
        flow_interval=settings.ovs_flow_interval,
        counter_interval=settings.ovs_counter_interval,
        rules=settings.ovs_rules,
        **(
            {"allocation_file": settings.ovs_allocation_file}
            if settings.ovs_allocation_file
            else {}
        ),
    )


class OvsSource:
    """Owns the probe; marks what it changes dirty in the collector."""

    def __init__(self, collector: Any, settings: ProbeSettings) -> None:
        self._collector = collector
        self.probe = OvsProbe(settings, lambda: collector.topology.snapshot, self._changed)
        self._patched: dict[str, tuple[Node, dict[str, Any], Node]] = {}

    async def run(self) -> None:
        await self.probe.run()

    def nb_changed(self) -> None:
        self.probe.nb_changed()
        # An NB node may have appeared at one end of an OVS edge: let the flush look again.
        for edge_id in self.probe.edges:
            self._collector._mark_dirty(edge_id, False)

    def _changed(self, nodes: set[str], edges: set[str]) -> None:
        for node_id in nodes:
            self._collector._mark_dirty(node_id, True)
        for edge_id in edges:
            self._collector._mark_dirty(edge_id, False)

    # -- what the collector publishes ------------------------------------------------------------
    @property
    def nodes(self) -> Mapping[str, Node]:
        return self.probe.nodes

    def patched(self, base: Mapping[str, Node]) -> Mapping[str, Node]:
        return _Patched(base, self)

    def edges_over(self, base: Mapping[str, Edge], nodes: Mapping[str, Node]) -> Mapping[str, Edge]:
        return _Edges(base, self.probe.edges, nodes)

    def patch(self, node: Node) -> Node:
        """The NB node with the probe's additions (the same object while nothing changed)."""
        patch = self.probe.patches.get(node.id)
        if patch is None:
            return node
        cached = self._patched.get(node.id)
        if cached is not None and cached[0] is node and cached[1] is patch:
            return cached[2]
        metadata = {**node.metadata, **patch}
        if "Problems" in patch and "Problems" in node.metadata:
            metadata["Problems"] = [*node.metadata["Problems"], *patch["Problems"]]
        patched = Node(node.id, metadata)
        self._patched[node.id] = (node, patch, patched)
        return patched


class _Patched(Mapping[str, Node]):
    def __init__(self, base: Mapping[str, Node], source: OvsSource) -> None:
        self._base = base
        self._source = source

    def __getitem__(self, key: str) -> Node:
        return self._source.patch(self._base[key])

    def __iter__(self) -> Iterator[str]:
        return iter(self._base)

    def __contains__(self, key: object) -> bool:
        return key in self._base

    def __len__(self) -> int:
        return len(self._base)


class _Edges(Mapping[str, Edge]):
    """The topology's edges plus the probe's whose two ends are published."""

    def __init__(
        self, base: Mapping[str, Edge], extra: Mapping[str, Edge], nodes: Mapping[str, Node]
    ) -> None:
        self._base = base
        self._extra = extra
        self._nodes = nodes

    def _shown(self, edge: Edge) -> bool:
        return edge.parent in self._nodes and edge.child in self._nodes

    def __getitem__(self, key: str) -> Edge:
        edge = self._extra.get(key)
        if edge is not None and self._shown(edge):
            return edge
        return self._base[key]

    def __iter__(self) -> Iterator[str]:
        yield from self._base
        yield from (key for key, edge in self._extra.items() if self._shown(edge))

    def __contains__(self, key: object) -> bool:
        edge = self._extra.get(key) if isinstance(key, str) else None
        return (edge is not None and self._shown(edge)) or key in self._base

    def __len__(self) -> int:
        return len(self._base) + sum(1 for edge in self._extra.values() if self._shown(edge))
