"""Desired graph vs. what the analyzer holds, and the messages that close the gap.

The collector never keeps a log of messages. It keeps two things: the desired
graph (maintained by the topology from the NB) and, per element, what the
analyzer was last told (:class:`Held`). Changes only mark element IDs *dirty*;
a flush compares desired and held for the dirty IDs and emits the minimal
messages. A port that changes 100 times before the next flush costs one
message, memory is bounded by the number of elements however long the analyzer
is away, and "resync" is just "mark everything dirty".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from dragonscope.collector.revisions import RevisionClock
from dragonscope.graph.model import Edge, Node
from dragonscope.skydive.messages import (
    EDGE_ADDED,
    EDGE_DELETED,
    EDGE_UPDATED,
    NODE_ADDED,
    NODE_DELETED,
    NODE_UPDATED,
    Message,
    new_message,
)


@dataclass(slots=True)
class Held:
    """What the analyzer holds for one element we publish."""

    metadata: dict[str, Any]
    revision: int
    host: str
    parent: str = ""
    child: str = ""


@dataclass(slots=True)
class Dirty:
    """Element IDs whose desired and held state may differ."""

    nodes: set[str] = field(default_factory=set)
    edges: set[str] = field(default_factory=set)

    def __len__(self) -> int:
        return len(self.nodes) + len(self.edges)

    def take(self) -> Dirty:
        taken = Dirty(self.nodes, self.edges)
        self.nodes, self.edges = set(), set()
        return taken


@dataclass(slots=True)
class HeldState:
    """The analyzer's view of our origin, as far as we know it."""

    nodes: dict[str, Held] = field(default_factory=dict)
    edges: dict[str, Held] = field(default_factory=dict)

    @classmethod
    def from_analyzer(
        cls, nodes: Iterable[dict[str, Any]], edges: Iterable[dict[str, Any]]
    ) -> HeldState:
        """Build from ``/api/topology`` JSON elements (already filtered to our origin)."""
        state = cls()
        for obj in nodes:
            state.nodes[obj["ID"]] = Held(
                obj.get("Metadata") or {}, int(obj.get("Revision") or 0), obj.get("Host") or ""
            )
        for obj in edges:
            state.edges[obj["ID"]] = Held(
                obj.get("Metadata") or {},
                int(obj.get("Revision") or 0),
                obj.get("Host") or "",
                obj.get("Parent") or "",
                obj.get("Child") or "",
            )
        return state

    def max_revision(self) -> int:
        revisions = [h.revision for h in self.nodes.values()]
        revisions += [h.revision for h in self.edges.values()]
        return max(revisions, default=0)


def _same(held: Held, element: Node, host: str) -> bool:
    if held.host != host:
        return False
    if isinstance(element, Edge) and (held.parent, held.child) != (element.parent, element.child):
        return False
    return held.metadata is element.metadata or held.metadata == element.metadata


def diff_ids(desired: Mapping[str, Node], held: Mapping[str, Held], host: str) -> Iterable[str]:
    """IDs whose held state differs from desired (the reconciliation scan)."""
    for element_id, element in desired.items():
        h = held.get(element_id)
        if h is None or not _same(h, element, host):
            yield element_id
    for element_id in held:
        if element_id not in desired:
            yield element_id


class Planner:
    """Turns dirty IDs into messages, in an order the analyzer accepts (edges
    deleted before their nodes, nodes added before their edges), and records
    what the analyzer will hold once they are applied."""

    def __init__(self, origin: str, host: str, clock: RevisionClock) -> None:
        self.origin = origin
        self.host = host
        self.clock = clock

    def _wire(self, element: Node, metadata: dict[str, Any], revision: int) -> dict[str, Any]:
        obj: dict[str, Any] = {
            "ID": element.id,
            "Metadata": metadata,
            "Host": self.host,
            "Origin": self.origin,
            "Revision": revision,
        }
        if isinstance(element, Edge):
            obj["Parent"], obj["Child"] = element.parent, element.child
        return obj

    def _held_wire(self, element_id: str, held: Held, is_edge: bool) -> dict[str, Any]:
        obj: dict[str, Any] = {
            "ID": element_id,
            "Metadata": held.metadata,
            "Host": held.host,
            "Origin": self.origin,
            "Revision": held.revision,
        }
        if is_edge:
            obj["Parent"], obj["Child"] = held.parent, held.child
        return obj

    def plan(
        self,
        dirty: Dirty,
        desired_nodes: Mapping[str, Node],
        desired_edges: Mapping[str, Edge],
        held: HeldState,
    ) -> list[Message]:
        edge_deletes: list[Message] = []
        node_deletes: list[Message] = []
        node_adds: list[Message] = []
        node_updates: list[Message] = []
        edge_adds: list[Message] = []
        edge_updates: list[Message] = []

        for node_id in dirty.nodes:
            want, have = desired_nodes.get(node_id), held.nodes.get(node_id)
            if want is None:
                if have is not None:
                    node_deletes.append(
                        new_message(NODE_DELETED, self._held_wire(node_id, have, False))
                    )
                    del held.nodes[node_id]
                continue
            if have is not None and _same(have, want, self.host):
                continue
            revision = self.clock.next()
            kind = NODE_ADDED if have is None else NODE_UPDATED
            (node_adds if have is None else node_updates).append(
                new_message(kind, self._wire(want, want.metadata, revision))
            )
            held.nodes[node_id] = Held(want.metadata, revision, self.host)

        for edge_id in dirty.edges:
            want_e, have = desired_edges.get(edge_id), held.edges.get(edge_id)
            moved = (
                want_e is not None
                and have is not None
                and (have.parent, have.child) != (want_e.parent, want_e.child)
            )
            if have is not None and (want_e is None or moved):
                edge_deletes.append(new_message(EDGE_DELETED, self._held_wire(edge_id, have, True)))
                del held.edges[edge_id]
                have = None
            if want_e is None:
                continue
            if have is not None and _same(have, want_e, self.host):
                continue
            revision = self.clock.next()
            kind = EDGE_ADDED if have is None else EDGE_UPDATED
            (edge_adds if have is None else edge_updates).append(
                new_message(kind, self._wire(want_e, want_e.metadata, revision))
            )
            held.edges[edge_id] = Held(
                want_e.metadata, revision, self.host, want_e.parent, want_e.child
            )

        return edge_deletes + node_deletes + node_adds + node_updates + edge_adds + edge_updates
