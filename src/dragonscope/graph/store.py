"""The one graph that every publisher writes into, with Skydive's rules and our merge rule.

Skydive's rules: the first writer of an ID creates it, an update is applied only
when its ``Revision`` is newer, an edge needs both ends, a ``Sync`` replaces
what its origin published, and ``DeleteOnDisconnect`` removes it.

Merge rule (beyond Skydive): an element published by several origins under the
same ID is *held* by each of them. It exists while at least one origin holds
it; its metadata comes from the most recent accepted write, whoever sent it.
Revisions are compared per origin (each collector counts its own), and an
origin's counter is forgotten when it reconnects, so a restarted publisher is
not locked out by the revisions of its previous life.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from dragonscope.graph.metadata_ops import OpError, apply_ops
from dragonscope.graph.model import Edge, Graph, GraphError, GraphListener, Node, now_ms
from dragonscope.graph.validation import (
    ValidationError,
    check_edge,
    check_node,
    normalize,
)

# A held revision of -1 means "this origin reconnected: accept any revision".
_ANY = -1


class Rejected(ValueError):
    """A message or element refused by a rule; ``rule`` names it (for metrics and replies)."""

    def __init__(self, rule: str, detail: str, element_id: str | None = None) -> None:
        super().__init__(detail)
        self.rule = rule
        self.detail = detail
        self.element_id = element_id


class Holds:
    """Who holds which element, both ways, so that releasing an origin is cheap.

    Most elements have one holder: it is stored as an (origin, revision) tuple,
    a dict only when several origins hold the element (a third of the memory).
    """

    def __init__(self) -> None:
        self.by_element: dict[str, tuple[str, int] | dict[str, int]] = {}
        self.by_origin: dict[str, set[str]] = {}

    def revision(self, element_id: str, origin: str) -> int | None:
        """The last revision ``origin`` sent for the element, None if it does not hold it."""
        entry = self.by_element.get(element_id)
        if entry is None:
            return None
        if isinstance(entry, tuple):
            return entry[1] if entry[0] == origin else None
        return entry.get(origin)

    def holders(self, element_id: str) -> list[str]:
        entry = self.by_element.get(element_id)
        if entry is None:
            return []
        return [entry[0]] if isinstance(entry, tuple) else sorted(entry)

    def hold(self, element_id: str, origin: str, revision: int) -> None:
        entry = self.by_element.get(element_id)
        if entry is None or (isinstance(entry, tuple) and entry[0] == origin):
            self.by_element[element_id] = (origin, revision)
        elif isinstance(entry, tuple):
            self.by_element[element_id] = {entry[0]: entry[1], origin: revision}
        else:
            entry[origin] = revision
        self.by_origin.setdefault(origin, set()).add(element_id)

    def release(self, element_id: str, origin: str) -> list[str]:
        """Drop ``origin``'s hold; returns the remaining holders."""
        entry = self.by_element.get(element_id)
        owned = self.by_origin.get(origin)
        if owned is not None:
            owned.discard(element_id)
        if entry is None:
            return []
        if isinstance(entry, tuple):
            if entry[0] != origin:
                return [entry[0]]
            del self.by_element[element_id]
            return []
        entry.pop(origin, None)
        if len(entry) == 1:
            ((only, revision),) = entry.items()
            self.by_element[element_id] = (only, revision)
        elif not entry:
            del self.by_element[element_id]
        return sorted(entry)

    def forget(self, element_id: str) -> None:
        for origin in self.holders(element_id):
            owned = self.by_origin.get(origin)
            if owned is not None:
                owned.discard(element_id)
        self.by_element.pop(element_id, None)

    def held_by(self, origin: str) -> set[str]:
        return self.by_origin.get(origin, set())

    def reset_revisions(self, origin: str) -> None:
        for element_id in self.by_origin.get(origin, ()):
            self.hold(element_id, origin, _ANY)


def _decode(kind: type[Node], obj: Any, floats: bool) -> Node:
    try:
        element = kind.from_json(obj)
    except GraphError as exc:
        raise Rejected(
            "decode", str(exc), obj.get("ID") if isinstance(obj, dict) else None
        ) from None
    if floats:
        element.metadata = normalize(element.metadata)
    return element


def decode_node(obj: Any, *, floats: bool = True) -> Node:
    """``floats=False`` when the caller knows the JSON had no float (nothing to normalize)."""
    return _decode(Node, obj, floats)


def decode_edge(obj: Any, *, floats: bool = True) -> Edge:
    edge = _decode(Edge, obj, floats)
    assert isinstance(edge, Edge)
    return edge


class GraphStore(GraphListener):
    """Applies writes from publishers, REST and rules to the live ``Graph``.

    Every method either changes the graph (listeners see the events) or raises
    ``Rejected`` and changes nothing.
    """

    def __init__(self, graph: Graph, clock: Callable[[], int] = now_ms) -> None:
        self.graph = graph
        self._clock = clock
        self._nodes = Holds()
        self._edges = Holds()
        graph.add_listener(self)

    # -- listener: keep holds in step with deletions done by the graph itself ----
    def on_node_deleted(self, node: Node) -> None:
        self._nodes.forget(node.id)

    def on_edge_deleted(self, edge: Edge) -> None:
        self._edges.forget(edge.id)

    # -- sessions ------------------------------------------------------------
    def begin_session(self, origin: str) -> None:
        """A publisher (re)connected: its revision counters start afresh."""
        self._nodes.reset_revisions(origin)
        self._edges.reset_revisions(origin)

    def holders_of_node(self, node_id: str) -> list[str]:
        return self._nodes.holders(node_id)

    def holders_of_edge(self, edge_id: str) -> list[str]:
        return self._edges.holders(edge_id)

    def origin_counts(self) -> dict[str, tuple[int, int]]:
        """(nodes, edges) held per origin."""
        origins = set(self._nodes.by_origin) | set(self._edges.by_origin)
        return {
            o: (len(self._nodes.held_by(o)), len(self._edges.held_by(o)))
            for o in sorted(origins)
            if self._nodes.held_by(o) or self._edges.held_by(o)
        }

    # -- nodes ---------------------------------------------------------------
    def _stamp(self, element: Node, origin: str) -> None:
        now = self._clock()
        element.origin = origin
        if element.created_at is None:
            element.created_at = now
        if element.updated_at is None:
            element.updated_at = element.created_at
        element.deleted_at = None

    def add_node(self, node: Node, origin: str, *, validate: bool = True) -> bool:
        """NodeAdded. Returns True when the graph changed."""
        if validate:
            _validate(check_node, node)
        self._stamp(node, origin)
        stored = self.graph.node(node.id)
        if stored is None:
            self.graph.add_node(node)
            self._nodes.hold(node.id, origin, node.revision)
            return True
        held = self._nodes.revision(node.id, origin)
        if held is not None and held != _ANY:
            raise Rejected("duplicate", f"node {node.id} already exists", node.id)
        self._nodes.hold(node.id, origin, node.revision)
        return self._merge_node(stored, node.metadata, node.updated_at, node.revision, origin)

    def update_node(self, node: Node, origin: str, *, validate: bool = True) -> bool:
        """NodeUpdated: replace metadata if the revision is newer for this origin."""
        if validate:
            _validate(check_node, node)
        stored = self._existing_node(node.id)
        self._check_revision(self._nodes, stored, node.revision, origin)
        updated_at = node.updated_at if node.updated_at is not None else self._clock()
        return self._merge_node(stored, node.metadata, updated_at, node.revision, origin)

    def patch_node(self, obj: Any, origin: str) -> bool:
        """NodePartiallyUpdated: ``{ID, UpdatedAt, Revision, Ops}``."""
        node_id, revision, updated_at, ops = _partial(obj)
        stored = self._existing_node(node_id)
        self._check_revision(self._nodes, stored, revision, origin)
        metadata = _apply(stored.metadata, ops, node_id)
        return self._merge_node(stored, metadata, updated_at or self._clock(), revision, origin)

    def delete_node(self, node: Node | str, origin: str | None) -> bool:
        """NodeDeleted: an origin holding the node releases it (it goes when nobody
        holds it any more); anyone else deletes it outright, as in Skydive."""
        node_id = node if isinstance(node, str) else node.id
        deleted_at = None if isinstance(node, str) else node.deleted_at
        self._existing_node(node_id)
        if self._released(self._nodes, self.graph.node, node_id, origin):
            return False
        self.graph.delete_node(node_id, deleted_at)
        return True

    def _existing_node(self, node_id: str) -> Node:
        stored = self.graph.node(node_id)
        if stored is None:
            raise Rejected("not-found", f"node {node_id} not found", node_id)
        return stored

    def _merge_node(
        self,
        stored: Node,
        metadata: dict[str, Any],
        updated_at: int | None,
        revision: int,
        origin: str,
    ) -> bool:
        return self._merge(
            self._nodes, self.graph.replace_node, stored, metadata, updated_at, revision, origin
        )

    def _merge(
        self,
        holdings: Holds,
        replace: Callable[[Any], object],
        stored: Any,
        metadata: dict[str, Any],
        updated_at: int | None,
        revision: int,
        origin: str,
    ) -> bool:
        """Apply an update from ``origin`` to a stored node or edge: the origin's revision
        moves on, and the element is replaced only when its metadata really changed."""
        if holdings.revision(stored.id, origin) is not None:
            holdings.hold(stored.id, origin, revision)
        if metadata == stored.metadata:
            return False
        new = copy.copy(stored)
        new.metadata = metadata
        new.updated_at = updated_at if updated_at is not None else self._clock()
        new.revision = max(stored.revision, revision)
        new.origin = origin
        replace(new)
        return True

    def _released(
        self, holdings: Holds, get: Callable[[str], Any], element_id: str, origin: str | None
    ) -> bool:
        """An origin holding a shared element lets go of it; True while others still hold it."""
        if origin is None or holdings.revision(element_id, origin) is None:
            return False
        remaining = holdings.release(element_id, origin)
        if remaining:
            self._reassign_origin(get(element_id), remaining)
            return True
        return False

    # -- edges ---------------------------------------------------------------
    def add_edge(self, edge: Edge, origin: str, *, validate: bool = True) -> bool:
        if validate:
            _validate(check_edge, edge)
        self._stamp(edge, origin)
        stored = self.graph.edge(edge.id)
        if stored is None:
            if self.graph.node(edge.parent) is None:
                raise Rejected("missing-end", "Parent node not found", edge.id)
            if self.graph.node(edge.child) is None:
                raise Rejected("missing-end", "Child node not found", edge.id)
            self.graph.add_edge(edge)
            self._edges.hold(edge.id, origin, edge.revision)
            return True
        if (stored.parent, stored.child) != (edge.parent, edge.child):
            raise Rejected(
                "duplicate", f"edge {edge.id} already exists between other nodes", edge.id
            )
        held = self._edges.revision(edge.id, origin)
        if held is not None and held != _ANY:
            raise Rejected("duplicate", f"edge {edge.id} already exists", edge.id)
        self._edges.hold(edge.id, origin, edge.revision)
        return self._merge_edge(stored, edge.metadata, edge.updated_at, edge.revision, origin)

    def update_edge(self, edge: Edge, origin: str, *, validate: bool = True) -> bool:
        if validate:
            _validate(check_edge, edge)
        stored = self._existing_edge(edge.id)
        self._check_revision(self._edges, stored, edge.revision, origin)
        updated_at = edge.updated_at if edge.updated_at is not None else self._clock()
        return self._merge_edge(stored, edge.metadata, updated_at, edge.revision, origin)

    def patch_edge(self, obj: Any, origin: str) -> bool:
        edge_id, revision, updated_at, ops = _partial(obj)
        stored = self._existing_edge(edge_id)
        self._check_revision(self._edges, stored, revision, origin)
        metadata = _apply(stored.metadata, ops, edge_id)
        return self._merge_edge(stored, metadata, updated_at or self._clock(), revision, origin)

    def delete_edge(self, edge: Edge | str, origin: str | None) -> bool:
        edge_id = edge if isinstance(edge, str) else edge.id
        deleted_at = None if isinstance(edge, str) else edge.deleted_at
        self._existing_edge(edge_id)
        if self._released(self._edges, self.graph.edge, edge_id, origin):
            return False
        self.graph.delete_edge(edge_id, deleted_at)
        return True

    def _existing_edge(self, edge_id: str) -> Edge:
        stored = self.graph.edge(edge_id)
        if stored is None:
            raise Rejected("not-found", f"edge {edge_id} not found", edge_id)
        return stored

    def _merge_edge(
        self,
        stored: Edge,
        metadata: dict[str, Any],
        updated_at: int | None,
        revision: int,
        origin: str,
    ) -> bool:
        return self._merge(
            self._edges, self.graph.replace_edge, stored, metadata, updated_at, revision, origin
        )

    # -- REST PATCH and rules: edits that are not revisioned by a publisher ------
    def set_metadata(self, element: Node, metadata: dict[str, Any]) -> Node | None:
        """Replace an element's metadata (Revision + 1); None when nothing changes."""
        if metadata == element.metadata:
            return None
        new = copy.copy(element)
        new.metadata = metadata
        new.revision = element.revision + 1
        new.updated_at = self._clock()
        if isinstance(new, Edge):
            self.graph.replace_edge(new)
        else:
            self.graph.replace_node(new)
        return new

    # -- shared rules ----------------------------------------------------------
    def _check_revision(self, holds: Holds, stored: Node, revision: int, origin: str) -> None:
        held = holds.revision(stored.id, origin)
        baseline = stored.revision if held is None else held
        if revision <= baseline:
            raise Rejected(
                "revision",
                f"{stored.id}: revision {revision} is not newer than {baseline}",
                stored.id,
            )

    def _reassign_origin(self, element: Node | None, remaining: list[str]) -> None:
        """The element's Origin names a holder; when that one leaves, name another."""
        if element is None or element.origin in remaining:
            return
        new = copy.copy(element)
        new.origin = min(remaining)
        if isinstance(new, Edge):
            self.graph.replace_edge(new)
        else:
            self.graph.replace_node(new)

    # -- whole-origin operations -----------------------------------------------
    def release_origin(self, origin: str) -> int:
        """Drop every hold of ``origin`` (DeleteOnDisconnect); returns elements deleted."""
        deleted = 0
        for edge_id in list(self._edges.held_by(origin)):
            if self.graph.edge(edge_id) is not None and self.delete_edge(edge_id, origin):
                deleted += 1
        for node_id in list(self._nodes.held_by(origin)):
            if self.graph.node(node_id) is not None and self.delete_node(node_id, origin):
                deleted += 1
        self._nodes.by_origin.pop(origin, None)
        self._edges.by_origin.pop(origin, None)
        return deleted

    def sync(self, obj: Any, origin: str) -> list[Rejected]:
        """A publisher's ``Sync``: make what ``origin`` holds exactly this graph.

        Elements kept across the sync are updated in place (no delete/re-add
        flap). A malformed element fails the whole message, as in Skydive;
        an edge with a missing end is rejected alone.
        """
        if obj is None:
            obj = {}
        if not isinstance(obj, dict):
            raise Rejected("decode", "Sync must carry an object with Nodes and Edges")
        nodes = [decode_node(o) for o in _list(obj, "Nodes")]
        edges = [decode_edge(o) for o in _list(obj, "Edges")]
        node_ids = {n.id for n in nodes}
        edge_ids = {e.id for e in edges}
        for edge_id in list(self._edges.held_by(origin) - edge_ids):
            if self.graph.edge(edge_id) is not None:
                self.delete_edge(edge_id, origin)
        for node_id in list(self._nodes.held_by(origin) - node_ids):
            if self.graph.node(node_id) is not None:
                self.delete_node(node_id, origin)
        for node in nodes:
            self._upsert(self._nodes, node, origin, self.add_node, self._merge_node)
        rejected: list[Rejected] = []
        for edge in edges:
            try:
                self._upsert(self._edges, edge, origin, self.add_edge, self._merge_edge)
            except Rejected as exc:
                rejected.append(exc)
        return rejected

    def _upsert(
        self,
        holds: Holds,
        element: Any,
        origin: str,
        add: Callable[..., bool],
        merge: Callable[..., bool],
    ) -> None:
        stored = (
            self.graph.edge(element.id) if holds is self._edges else self.graph.node(element.id)
        )
        if stored is None:
            add(element, origin, validate=False)
            return
        if isinstance(stored, Edge) and (stored.parent, stored.child) != (
            element.parent,
            element.child,
        ):
            raise Rejected("duplicate", f"edge {element.id} already exists between other nodes")
        holds.hold(element.id, origin, element.revision)
        merge(stored, normalize(element.metadata), element.updated_at, element.revision, origin)


def _validate(check: Callable[[Any], None], element: Node) -> None:
    try:
        check(element)
    except ValidationError as exc:
        raise Rejected(exc.rule, exc.detail, element.id) from None


def _list(obj: dict[str, Any], key: str) -> list[Any]:
    value = obj.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise Rejected("decode", f"{key} must be a list or null")
    return value


def _partial(obj: Any) -> tuple[str, int, int | None, Any]:
    if not isinstance(obj, dict):
        raise Rejected("decode", "a partial update must be an object")
    element_id = obj.get("ID")
    if not isinstance(element_id, str) or not element_id:
        raise Rejected("decode", "ID must be a non-empty string")
    revision = obj.get("Revision", 0)
    if revision is None:
        revision = 0
    if isinstance(revision, bool) or not isinstance(revision, int):
        raise Rejected("decode", f"Revision must be an integer, got {revision!r}", element_id)
    updated_at = obj.get("UpdatedAt")
    if updated_at is not None and (isinstance(updated_at, bool) or not isinstance(updated_at, int)):
        raise Rejected("decode", "UpdatedAt must be an integer number of milliseconds", element_id)
    return element_id, revision, updated_at, obj.get("Ops")


def _apply(metadata: dict[str, Any], ops: Any, element_id: str) -> dict[str, Any]:
    try:
        return normalize(apply_ops(metadata, ops))
    except OpError as exc:
        raise Rejected("ops", str(exc), element_id) from None
