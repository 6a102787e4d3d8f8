"""Desired graph vs. what the analyzer holds, and the messages that close the gap.

The collector never keeps a log of messages. It keeps two things: the desired
graph (maintained by the topology from the NB) and, per element, what the
analyzer was last told (:class:`Held`). Changes only mark element IDs *dirty*;
a flush compares desired and held for the dirty IDs and emits the minimal
messages. A port that changes 100 times before the next flush costs one
message, memory is bounded by the number of elements however long the analyzer
is away, and "resync" is just "mark everything dirty".

On the wire, elements carry the times Skydive's graph keeps (``CreatedAt`` once,
``UpdatedAt`` per change, ``DeletedAt`` on deletion, milliseconds), and a metadata
change goes as a partial update with real ops (``NodePartiallyUpdated``) rather
than the whole element: Skydive relays a full update to partial-policy subscribers
(its own UI) with ``"Ops": null``.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from dragonscope.collector.revisions import RevisionClock
from dragonscope.graph import Edge, Node, diff_ops, now_ms
from dragonscope.skydive import (
    EDGE_ADDED,
    EDGE_DELETED,
    EDGE_PARTIALLY_UPDATED,
    EDGE_UPDATED,
    GRAPH,
    NODE_ADDED,
    NODE_DELETED,
    NODE_PARTIALLY_UPDATED,
    NODE_UPDATED,
    Message,
)
from dragonscope.topology import (
    Metadata,
    held_form,
    one_copy,
    pack,
    packed_text,
    same_metadata,
    unpack,
)

# Message UUIDs only correlate an analyzer's error reply with what we sent: a
# per-process prefix and a counter are unique enough and far cheaper than uuid4
# (which dominated the cost of planning a 500k-element initial sync).
_UUID_PREFIX = uuid.uuid4().hex[:12]
_uuid_counter = itertools.count(1)


def _message(type_: str, obj: dict[str, Any]) -> Message:
    return Message(GRAPH, type_, obj, f"{_UUID_PREFIX}-{next(_uuid_counter)}")


Stamp = tuple[int, str, int | None]
"""The revision, host and creation time an element went with: one tuple shared by the
elements sent in one flush chunk (or learned alike from the analyzer)."""

_STAMPS_MAX = 65536
"""Distinct stamps shared while learning from an analyzer, at most (an analyzer that
returns a stamp per element costs one tuple each, not an ever-growing map)."""


class Held:
    """What the analyzer holds of one element we sent: the desired element it was sent from
    (``source``: an unchanged element is recognised by identity, without comparing metadata)
    and its ``stamp``. A large graph keeps one per element, hence two slots; what it says of
    the element is read from ``source``."""

    __slots__ = ("source", "stamp")

    def __init__(self, source: Node, stamp: Stamp) -> None:
        self.source: Node | None = source
        self.stamp = stamp

    @property
    def revision(self) -> int:
        return self.stamp[0]

    @property
    def host(self) -> str:
        return self.stamp[1]

    @property
    def created_at(self) -> int | None:
        return self.stamp[2]

    @property
    def metadata(self) -> Metadata:
        """The element's own, packed when the element's is."""
        assert self.source is not None
        return held_form(self.source)

    @property
    def parent(self) -> str:
        return self.source.parent if isinstance(self.source, Edge) else ""

    @property
    def child(self) -> str:
        return self.source.child if isinstance(self.source, Edge) else ""


class Learned(Held):
    """An element as the analyzer returned it (a node has no ends): no desired element yet.
    Its metadata are kept as compact JSON, in the analyzer's order of keys."""

    __slots__ = ("_child", "_metadata", "_parent")

    def __init__(
        self,
        metadata: Metadata,
        revision: int,
        host: str,
        parent: str = "",
        child: str = "",
        created_at: int | None = None,
        stamps: dict[Stamp, Stamp] | None = None,
    ) -> None:
        """``stamps``: those learned so far, to share one tuple between elements alike."""
        stamp = (revision, host, created_at)
        self.source = None
        self.stamp = stamp if stamps is None else one_copy(stamps, stamp, stamp, _STAMPS_MAX)
        self._metadata = metadata
        self._parent = parent
        self._child = child

    @classmethod
    def from_json(cls, obj: dict[str, Any], stamps: dict[Stamp, Stamp] | None = None) -> Learned:
        created_at = obj.get("CreatedAt")
        metadata = obj.get("Metadata")
        return cls(
            pack(metadata) if isinstance(metadata, dict) else {},
            int(obj.get("Revision") or 0),
            obj.get("Host") or "",
            obj.get("Parent") or "",
            obj.get("Child") or "",
            created_at if isinstance(created_at, int) else None,
            stamps,
        )

    @property
    def metadata(self) -> Metadata:
        return self._metadata

    @property
    def parent(self) -> str:
        return self._parent

    @property
    def child(self) -> str:
        return self._child


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
        stamps: dict[Stamp, Stamp] = {}
        return cls(
            {obj["ID"]: Learned.from_json(obj, stamps) for obj in nodes},
            {obj["ID"]: Learned.from_json(obj, stamps) for obj in edges},
        )

    def max_revision(self) -> int:
        revisions = [h.revision for h in self.nodes.values()]
        revisions += [h.revision for h in self.edges.values()]
        return max(revisions, default=0)


def same(held: Held, element: Node, host: str) -> bool:
    """Would the analyzer hold ``element`` exactly as ``held`` says?"""
    if held.source is element:
        return True
    if held.host != host:
        return False
    if isinstance(element, Edge) and (held.parent, held.child) != (element.parent, element.child):
        return False
    want = held_form(element)
    if same_metadata(held.metadata, want):
        return True
    # What the analyzer returned may order keys its own way (Skydive's sorts them).
    return held.source is None and unpack(held.metadata) == unpack(want)


def adopt(held: dict[str, Held], element_id: str, element: Node) -> None:
    """What ``held`` holds for ``element_id`` says what ``element`` says: point it at the
    element, so that the next comparison is one identity check and a copy read from the
    analyzer is freed."""
    have = held[element_id]
    if have.__class__ is Held:
        have.source = element
    else:
        held[element_id] = Held(element, have.stamp)


def _wire_metadata(metadata: Metadata) -> object:
    """Packed metadata go into the message as they are."""
    return metadata if isinstance(metadata, dict) else orjson.Fragment(packed_text(metadata))


class Planner:
    """Turns dirty IDs into messages and records what the analyzer will hold
    once they are applied.

    A flush runs four phases over its dirty IDs, in chunks, so that a large
    flush never stalls the event loop: edge removals, node additions and
    updates, edge additions and updates, node removals. That order is the
    analyzer's (an edge needs both ends; deleting a node deletes its edges).
    Since NB changes keep arriving between chunks, an edge whose ends the
    analyzer does not hold yet is deferred to the next flush, and so is a node
    removal for a node changed again meanwhile.
    """

    def __init__(
        self,
        origin: str,
        host: str,
        clock: RevisionClock,
        now: Callable[[], int] = now_ms,
    ) -> None:
        self.origin = origin
        self.host = host
        self.clock = clock
        self.now = now

    def _wire(
        self, element_id: str, held: Held, is_edge: bool, at: int, deleted: bool = False
    ) -> dict[str, Any]:
        """The element as sent at time ``at``: what the analyzer will hold once it applies it."""
        obj: dict[str, Any] = {
            "ID": element_id,
            "Metadata": _wire_metadata(held.metadata),
            "Host": held.host,
            "Origin": self.origin,
            "Revision": held.revision,
            "CreatedAt": held.created_at,
            "UpdatedAt": at,
        }
        if deleted:
            obj["DeletedAt"] = at
        if is_edge:
            obj["Parent"], obj["Child"] = held.parent, held.child
        return obj

    def _update(self, element_id: str, have: Held, now: Held, is_edge: bool) -> Message:
        """A partial update with the ops from what the analyzer holds to what we want;
        a full update when the host changed or an op's key could not say it (Skydive
        reads a dot in a key as a path)."""
        ops, at = diff_ops(unpack(have.metadata), unpack(now.metadata)), self.now()
        if have.host != now.host or any("." in op["Key"] for op in ops):
            kind = EDGE_UPDATED if is_edge else NODE_UPDATED
            return _message(kind, self._wire(element_id, now, is_edge, at))
        partial = {"ID": element_id, "UpdatedAt": at, "Revision": now.revision, "Ops": ops}
        return _message(EDGE_PARTIALLY_UPDATED if is_edge else NODE_PARTIALLY_UPDATED, partial)

    def edge_removals(
        self, ids: Iterable[str], desired: Mapping[str, Edge], held: HeldState
    ) -> list[Message]:
        """Edges the analyzer holds that are no longer wanted, or must move to new ends."""
        out = []
        for edge_id in ids:
            have = held.edges.get(edge_id)
            if have is None:
                continue
            want = desired.get(edge_id)
            if want is None or (have.parent, have.child) != (want.parent, want.child):
                out.append(
                    _message(
                        EDGE_DELETED, self._wire(edge_id, have, True, self.now(), deleted=True)
                    )
                )
                del held.edges[edge_id]
        return out

    def node_upserts(
        self, ids: Iterable[str], desired: Mapping[str, Node], held: HeldState
    ) -> list[Message]:
        return self._upserts(ids, desired, held.nodes, NODE_ADDED)

    def edge_upserts(
        self,
        ids: Iterable[str],
        desired: Mapping[str, Edge],
        held: HeldState,
        deferred: set[str] | None = None,
    ) -> list[Message]:
        """Edges whose two ends the analyzer holds; the others go to ``deferred``."""
        return self._upserts(ids, desired, held.edges, EDGE_ADDED, held.nodes, deferred)

    def _upserts(
        self,
        ids: Iterable[str],
        desired: Mapping[str, Node],
        held: dict[str, Held],
        kind: str,
        ends: Mapping[str, Held] | None = None,
        deferred: set[str] | None = None,
    ) -> list[Message]:
        out = []
        at: int | None = None  # one time for the chunk: one int object shared by its elements
        revision: int | None = None
        added: Stamp | None = None  # one stamp for the elements the chunk adds
        for element_id in ids:
            want = desired.get(element_id)
            if want is None:
                continue
            have = held.get(element_id)
            if have is not None and same(have, want, self.host):
                adopt(held, element_id, want)
                continue
            is_edge = isinstance(want, Edge)
            if (
                ends is not None
                and isinstance(want, Edge)
                and (want.parent not in ends or want.child not in ends)
            ):
                if deferred is not None:
                    deferred.add(element_id)
                continue
            # One revision for the chunk, as one time: later than any sent before, and
            # one int object for all its elements rather than one each.
            revision = self.clock.next() if revision is None else revision
            if have is None:
                at = self.now() if at is None else at
                added = (revision, self.host, at) if added is None else added
                now = Held(want, added)
                out.append(_message(kind, self._wire(element_id, now, is_edge, at)))
            else:
                now = Held(want, (revision, self.host, have.created_at))
                out.append(self._update(element_id, have, now, is_edge))
            held[element_id] = now
        return out

    def node_removals(
        self,
        ids: Iterable[str],
        desired: Mapping[str, Node],
        held: HeldState,
        changed_since: set[str] | None = None,
    ) -> list[Message]:
        out = []
        for node_id in ids:
            if node_id in desired or (changed_since is not None and node_id in changed_since):
                continue
            have = held.nodes.pop(node_id, None)
            if have is not None:
                out.append(
                    _message(
                        NODE_DELETED, self._wire(node_id, have, False, self.now(), deleted=True)
                    )
                )
        return out

    def plan(
        self,
        dirty: Dirty,
        desired_nodes: Mapping[str, Node],
        desired_edges: Mapping[str, Edge],
        held: HeldState,
    ) -> list[Message]:
        """All four phases at once (for a graph that does not change meanwhile)."""
        return [
            *self.edge_removals(dirty.edges, desired_edges, held),
            *self.node_upserts(dirty.nodes, desired_nodes, held),
            *self.edge_upserts(dirty.edges, desired_edges, held),
            *self.node_removals(dirty.nodes, desired_nodes, held),
        ]
