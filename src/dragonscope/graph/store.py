"""The one graph that every publisher writes into, with Skydive's rules and our merge rule.

Skydive's rules: the first writer of an ID creates it, an update is applied only
when its ``Revision`` is newer, an edge needs both ends, a ``Sync`` replaces
what its origin published, and ``DeleteOnDisconnect`` removes it.

Merge rule (beyond Skydive): an element published by several origins under the
same ID is *held* by each of them. It exists while at least one origin holds
it; its metadata is the union of what its holders last sent, the most recent
write winning a key several send (``graph.shares``).
Revisions are compared per origin (each collector counts its own), and an
origin's counter is forgotten when it reconnects, so a restarted publisher is
not locked out by the revisions of its previous life.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from dragonscope.graph.metadata_ops import OpError, apply_ops
from dragonscope.graph.model import Edge, Graph, GraphError, GraphListener, Node, now_ms
from dragonscope.graph.shares import Shares
from dragonscope.graph.validation import (
    ValidationError,
    check_edge,
    check_node,
    normalize,
    normalize_value,
)

# A held revision of -1 means "this origin reconnected: accept any revision".
_ANY = -1

_E = TypeVar("_E", bound=Node)


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
        self.shares = Shares()

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
        self.shares.forget(element_id)

    def held_by(self, origin: str) -> set[str]:
        return self.by_origin.get(origin, set())

    def reset_revisions(self, origin: str) -> None:
        for element_id in self.by_origin.get(origin, ()):
            self.hold(element_id, origin, _ANY)


def _decode(kind: type[_E], obj: object, floats: bool) -> _E:
    try:
        element = kind.from_json(obj)
    except GraphError as exc:
        element_id = obj.get("ID") if isinstance(obj, dict) else None
        raise Rejected(
            "decode", str(exc), element_id if isinstance(element_id, str) else None
        ) from None
    if floats:
        element.metadata = normalize(element.metadata)
    return element


def decode_node(obj: object, *, floats: bool = True) -> Node:
    """``floats=False`` when the caller knows the JSON had no float (nothing to normalize)."""
    return _decode(Node, obj, floats)


def decode_edge(obj: object, *, floats: bool = True) -> Edge:
    return _decode(Edge, obj, floats)


@dataclass(frozen=True, slots=True)
class _Kind(Generic[_E]):
    """What differs between nodes and edges for the store: where they live, how they
    are checked, and who holds them. Every rule is written once, over a ``_Kind``."""

    name: str
    holds: Holds
    get: Callable[[str], _E | None]
    insert: Callable[[_E], None]
    replace: Callable[[_E], object]
    remove: Callable[[str, int | None], object]
    check: Callable[[_E], None]


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
        self._node_kind: _Kind[Node] = _Kind(
            "node",
            self._nodes,
            graph.node,
            graph.add_node,
            graph.replace_node,
            graph.delete_node,
            check_node,
        )
        self._edge_kind: _Kind[Edge] = _Kind(
            "edge",
            self._edges,
            graph.edge,
            graph.add_edge,
            graph.replace_edge,
            graph.delete_edge,
            check_edge,
        )
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
        nodes, edges = self._nodes, self._edges
        origins = set(nodes.by_origin) | set(edges.by_origin)
        return {
            o: (len(nodes.held_by(o)), len(edges.held_by(o)))
            for o in sorted(origins)
            if nodes.held_by(o) or edges.held_by(o)
        }

    # -- publisher messages, one entry point per message and element kind --------
    def add_node(self, node: Node, origin: str, *, validate: bool = True) -> bool:
        """NodeAdded. Returns True when the graph changed."""
        return self._add(self._node_kind, node, origin, validate)

    def add_edge(self, edge: Edge, origin: str, *, validate: bool = True) -> bool:
        return self._add(self._edge_kind, edge, origin, validate)

    def update_node(self, node: Node, origin: str, *, validate: bool = True) -> bool:
        """NodeUpdated: replace metadata if the revision is newer for this origin."""
        return self._update(self._node_kind, node, origin, validate)

    def update_edge(self, edge: Edge, origin: str, *, validate: bool = True) -> bool:
        return self._update(self._edge_kind, edge, origin, validate)

    def patch_node(self, obj: object, origin: str) -> bool:
        """NodePartiallyUpdated: ``{ID, UpdatedAt, Revision, Ops}``."""
        return self._patch(self._node_kind, obj, origin)

    def patch_edge(self, obj: object, origin: str) -> bool:
        return self._patch(self._edge_kind, obj, origin)

    def delete_node(self, node: Node | str, origin: str | None) -> bool:
        """NodeDeleted: an origin holding the node releases it (it goes when nobody
        holds it any more); anyone else deletes it outright, as in Skydive."""
        return self._delete(self._node_kind, node, origin)

    def delete_edge(self, edge: Edge | str, origin: str | None) -> bool:
        return self._delete(self._edge_kind, edge, origin)

    # -- the rules, once for both kinds --------------------------------------------
    def _stamp(self, element: Node, origin: str) -> None:
        now = self._clock()
        element.origin = origin
        if element.created_at is None:
            element.created_at = now
        if element.updated_at is None:
            element.updated_at = element.created_at
        element.deleted_at = None

    def _add(self, kind: _Kind[_E], element: _E, origin: str, validate: bool) -> bool:
        if validate:
            _validate(kind.check, element)
        self._stamp(element, origin)
        stored = kind.get(element.id)
        if stored is None:
            try:
                kind.insert(element)
            except GraphError as exc:  # only an edge can fail here: one of its ends is missing
                raise Rejected("missing-end", str(exc), element.id) from None
            kind.holds.hold(element.id, origin, element.revision)
            return True
        _check_same_ends(stored, element)
        held = kind.holds.revision(element.id, origin)
        if held is not None and held != _ANY:
            raise Rejected("duplicate", f"{kind.name} {element.id} already exists", element.id)
        kind.holds.hold(element.id, origin, element.revision)
        return self._merge(
            kind, stored, element.metadata, element.updated_at, element.revision, origin
        )

    def _update(self, kind: _Kind[_E], element: _E, origin: str, validate: bool) -> bool:
        if validate:
            _validate(kind.check, element)
        stored = self._existing(kind, element.id)
        self._check_revision(kind.holds, stored, element.revision, origin)
        updated_at = element.updated_at if element.updated_at is not None else self._clock()
        return self._merge(kind, stored, element.metadata, updated_at, element.revision, origin)

    def _patch(self, kind: _Kind[_E], obj: object, origin: str) -> bool:
        element_id, revision, updated_at, ops = _partial(obj)
        stored = self._existing(kind, element_id)
        self._check_revision(kind.holds, stored, revision, origin)
        base = kind.holds.shares.base(element_id, origin, stored.metadata)
        metadata = _apply(base, ops, element_id)
        return self._merge(kind, stored, metadata, updated_at or self._clock(), revision, origin)

    def _delete(self, kind: _Kind[_E], element: _E | str, origin: str | None) -> bool:
        element_id = element if isinstance(element, str) else element.id
        deleted_at = None if isinstance(element, str) else element.deleted_at
        self._existing(kind, element_id)
        if self._released(kind, element_id, origin):
            return False
        kind.remove(element_id, deleted_at)
        return True

    def _existing(self, kind: _Kind[_E], element_id: str) -> _E:
        stored = kind.get(element_id)
        if stored is None:
            raise Rejected("not-found", f"{kind.name} {element_id} not found", element_id)
        return stored

    def _merge(
        self,
        kind: _Kind[_E],
        stored: _E,
        metadata: dict[str, Any],
        updated_at: int | None,
        revision: int,
        origin: str,
    ) -> bool:
        """Apply an update from ``origin`` to a stored node or edge: the origin's revision
        moves on, and the element is replaced only when its metadata really changed."""
        if kind.holds.revision(stored.id, origin) is not None:
            kind.holds.hold(stored.id, origin, revision)
        holders = kind.holds.holders(stored.id)
        metadata = kind.holds.shares.contribute(
            stored.id, origin, metadata, holders, stored.metadata
        )
        if metadata == stored.metadata:
            return False
        new = copy.copy(stored)
        new.metadata = metadata
        new.updated_at = updated_at if updated_at is not None else self._clock()
        new.revision = max(stored.revision, revision)
        new.origin = origin
        kind.replace(new)
        return True

    def _released(self, kind: _Kind[_E], element_id: str, origin: str | None) -> bool:
        """An origin holding a shared element lets go of it; True while others still hold it."""
        if origin is None or kind.holds.revision(element_id, origin) is None:
            return False
        remaining = kind.holds.release(element_id, origin)
        if not remaining:
            kind.holds.shares.forget(element_id)
            return False
        # What only the leaving origin said goes with it; the element's Origin names a
        # holder, so when that one leaves, name another.
        metadata = kind.holds.shares.withdraw(element_id, origin, remaining)
        element = kind.get(element_id)
        if element is None:
            return True
        renamed = element.origin not in remaining
        if renamed or (metadata is not None and metadata != element.metadata):
            new = copy.copy(element)
            if renamed:
                new.origin = min(remaining)
            if metadata is not None and metadata != element.metadata:
                new.metadata = metadata
                new.updated_at = self._clock()
            kind.replace(new)
        return True

    def _check_revision(self, holds: Holds, stored: Node, revision: int, origin: str) -> None:
        held = holds.revision(stored.id, origin)
        baseline = stored.revision if held is None else held
        if revision <= baseline:
            raise Rejected(
                "revision",
                f"{stored.id}: revision {revision} is not newer than {baseline}",
                stored.id,
            )

    # -- REST PATCH and rules: edits that are not revisioned by a publisher ------
    def set_metadata(self, element: _E, metadata: dict[str, Any]) -> _E | None:
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

    # -- whole-origin operations -----------------------------------------------
    def release_origin(self, origin: str) -> int:
        """Drop every hold of ``origin`` (DeleteOnDisconnect); returns elements deleted."""
        deleted = self._drop(self._edge_kind, origin, keep=set())
        deleted += self._drop(self._node_kind, origin, keep=set())
        self._nodes.by_origin.pop(origin, None)
        self._edges.by_origin.pop(origin, None)
        return deleted

    def sync(self, obj: object, origin: str) -> list[Rejected]:
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
        self._drop(self._edge_kind, origin, keep={e.id for e in edges})
        self._drop(self._node_kind, origin, keep={n.id for n in nodes})
        for node in nodes:
            self._upsert(self._node_kind, node, origin)
        rejected: list[Rejected] = []
        for edge in edges:
            try:
                self._upsert(self._edge_kind, edge, origin)
            except Rejected as exc:
                rejected.append(exc)
        return rejected

    def _drop(self, kind: _Kind[_E], origin: str, keep: set[str]) -> int:
        """Let go of every element ``origin`` holds but ``keep``; returns elements deleted."""
        deleted = 0
        for element_id in list(kind.holds.held_by(origin) - keep):
            if kind.get(element_id) is not None and self._delete(kind, element_id, origin):
                deleted += 1
        return deleted

    def _upsert(self, kind: _Kind[_E], element: _E, origin: str) -> None:
        stored = kind.get(element.id)
        if stored is None:
            self._add(kind, element, origin, validate=False)
            return
        _check_same_ends(stored, element)
        kind.holds.hold(element.id, origin, element.revision)
        self._merge(kind, stored, element.metadata, element.updated_at, element.revision, origin)


def _check_same_ends(stored: Node, element: Node) -> None:
    """An edge ID names one pair of ends: a write under it between other nodes is refused."""
    if not (isinstance(stored, Edge) and isinstance(element, Edge)):
        return
    if (stored.parent, stored.child) != (element.parent, element.child):
        raise Rejected(
            "duplicate", f"edge {element.id} already exists between other nodes", element.id
        )


def _validate(check: Callable[[_E], None], element: _E) -> None:
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
        # What is stored is normalized already (every way in normalizes): only the
        # values the ops bring need it, and their normalized copy is the copy they need.
        return apply_ops(metadata, ops, copy_value=normalize_value)
    except OpError as exc:
        raise Rejected("ops", str(exc), element_id) from None
