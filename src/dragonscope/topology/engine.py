"""The desired graph of an NB, kept current change by change.

``Topology`` renders every NB object into a contribution (see ``contribution``)
and merges them: nodes claimed by objects, ``missing`` placeholders for
referenced objects that do not exist, ``tenant`` nodes for the topics in use,
and the edges whose two ends are present. A change re-renders the changed
object and the objects that read it (tracked dependencies and reverse
indexes), and only the graph elements those renders touched are compared, so
its cost follows the change's reach, not the NB's size.
"""

from __future__ import annotations

import gc
import logging
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

from dragonscope.graph import Edge, Node
from dragonscope.nb import Change, NbObject, Snapshot
from dragonscope.topology import ids, multimap, squeeze
from dragonscope.topology import metadata as md
from dragonscope.topology.contribution import (
    EMPTY,
    NOTHING_DRAWN,
    Contribution,
    Drawn,
    Key,
    RenderContext,
    is_plain,
)
from dragonscope.topology.deps import Dependencies
from dragonscope.topology.extensions import Extension, ExtensionFailure, ExtensionRunner
from dragonscope.topology.packed import (
    Metadata,
    PackedEdge,
    Split,
    held_form,
    keep,
    make_node,
    pack,
    same_metadata,
)
from dragonscope.topology.rules import (
    INDEXES,
    PLACING,
    elsewhere,
    missing_label,
    render,
    render_plain,
    tenant_label,
)
from dragonscope.topology.store import ObjectStore

log = logging.getLogger(__name__)

NO_KINDS: frozenset[str] = frozenset()

_V = TypeVar("_V")


class Action(StrEnum):
    """What a ``GraphOp`` does to its element."""

    ADD = "add"
    UPDATE = "update"
    DELETE = "delete"


@dataclass(frozen=True, slots=True)
class GraphOp:
    """One step that moves a consumer's copy of the graph: an action on a node or an edge.

    The vocabulary is the graph's, not a protocol's: a publisher maps it to its messages.
    """

    action: Action
    element: Node | Edge

    @property
    def is_node(self) -> bool:
        return not isinstance(self.element, Edge)


def tenant_metadata(topic: str) -> dict[str, Any]:
    return {"Name": tenant_label(topic), "Type": md.TENANT, "Manager": md.MANAGER, "Tenant": topic}


def missing_metadata(table: str, object_id: str) -> dict[str, Any]:
    """A referenced object that does not exist: shown, in red, naming what is missing."""
    return {
        "Name": missing_label(table, object_id),
        "Type": md.MISSING,
        "Manager": md.MANAGER,
        "Missing": {"Table": table, "ID": object_id},
        "State": "DOWN",
    }


class Topology:
    """The graph of one NB (``chassis=None``) or of one chassis' slice of it.

    ``load(snapshot)`` and ``apply(change)`` return the graph operations, in a
    valid order, that bring a consumer's copy from the previous graph to the new
    one; ``nodes``/``edges`` are the current graph. Treat returned elements as
    read-only: they are shared with ``nodes``/``edges``.

    A ``compact`` slice keeps whole only the objects it draws (see ``store``): after
    each call, ``wanted`` names the objects to read from the NB again and pass to
    ``apply_all`` (the slice is complete once ``wanted`` is empty). A snapshot may be
    given in batches, ``begin_load``, ``load_batch``..., ``end_load``, so that it is
    never held whole; until ``end_load`` a reference to an object not seen yet is not
    drawn as missing.

    A ``packed`` topology (the default, for one that lives long) keeps its node metadata
    and NB objects as compact JSON (see ``packed``); a one-off graph skips the packing.
    """

    def __init__(
        self,
        extensions: list[Extension] | None = None,
        chassis: str | None = None,
        compact: bool = False,
        packed: bool = True,
    ) -> None:
        self.chassis = chassis
        self._extensions = ExtensionRunner(extensions)
        self._store_ = ObjectStore(compact and chassis is not None, packed)
        self._pack = pack if packed else keep
        self._objects = self._store_.objects
        self._loading = False
        # Most values are held by one object (a floating IP's port): its ID alone, not a set.
        self._index: dict[str, dict[str, multimap.Entry[str]]] = {name: {} for name in INDEXES}
        self._index_by_table: dict[str, list[str]] = {}
        for name, (table, _values) in INDEXES.items():
            self._index_by_table.setdefault(table, []).append(name)
        self._drawn: dict[Key, Drawn] = {}
        self._deps = Dependencies()
        # Which objects draw each element (nearly always one); what each draws is in its
        # contribution, so the graph holds every element once.
        self._node_claims: dict[str, multimap.Entry[Key]] = {}
        self._refs: Counter[str] = Counter()
        self._ref_target: dict[str, Key] = {}
        self._ref_node: dict[Key, str] = {}  # the inverse of _ref_target
        self._tenants: Counter[str] = Counter()
        self._tenant_topic: dict[str, str] = {}
        self._edge_claims: dict[str, multimap.Entry[Key]] = {}
        self._edges_at: dict[str, multimap.Entry[str]] = {}
        self._slice_claims: dict[Key, Counter[str]] = {}
        self._nodes: dict[str, Node] = {}
        self._edges: dict[str, Edge] = {}
        self._existence_moved: dict[str, None] = {}

    # -- public --------------------------------------------------------------------------------
    @property
    def nodes(self) -> Mapping[str, Node]:
        """The nodes, most of them packed (``packed.PackedNode``: read a node's metadata once)."""
        return self._nodes

    @property
    def edges(self) -> Mapping[str, Edge]:
        return self._edges

    @property
    def snapshot(self) -> Mapping[Key, NbObject]:
        """The NB state the graph was computed from."""
        return self._objects

    @property
    def compact(self) -> bool:
        """Whether this slice keeps skeletons of what it does not draw (see ``store``)."""
        return self._store_.compact

    @compact.setter
    def compact(self, value: bool) -> None:
        if self._objects:
            raise ValueError("compactness is chosen before the first object is loaded")
        self._store_.compact = value and self.chassis is not None

    def skeleton(
        self, table: str, object_id: str, stored: Callable[[], Mapping[str, Any] | None]
    ) -> NbObject | None:
        """What a compact slice keeps of an object read from the NB, if it does not need
        it whole (``stored`` decodes the object's value, called only if a field is kept):
        it may be loaded instead of the parsed object."""
        return self._store_.skeleton((table, object_id), stored)

    def keep_fields(self, fields: Mapping[str, Iterable[str] | None]) -> None:
        """Fields another reader of ``snapshot`` needs on every object, drawn or not
        (a compact slice keeps them in its skeletons too; None keeps a table whole)."""
        if self._objects:
            raise ValueError("kept fields are chosen before the first object is loaded")
        self._store_.keep_also(fields)

    @property
    def wanted(self) -> frozenset[Key]:
        """Objects a compact slice holds as skeletons but now needs whole."""
        return frozenset(self._store_.wanted)

    @property
    def extension_errors(self) -> list[ExtensionFailure]:
        """Extensions that failed, each disabled at its first failure (most recent last)."""
        return self._extensions.failures

    def load(self, snapshot: Snapshot | Iterable[NbObject]) -> list[GraphOp]:
        """Replace the NB state with ``snapshot``: from an empty topology, the operations
        that build the whole graph; otherwise only those of the difference."""
        objects = snapshot.values() if isinstance(snapshot, Mapping) else snapshot
        target = {obj.key: obj for obj in objects}
        if not self._objects:
            return self._load_empty(target)
        changes = [(k, obj) for k, obj in target.items() if not self._store_.unchanged(k, obj)]
        changes += [(key, None) for key in self._objects if key not in target]
        return self._apply(changes)

    def begin_load(self) -> None:
        """A snapshot follows in batches (``load_batch``), ended by ``end_load``."""
        self._loading = True

    def load_batch(self, objects: Iterable[NbObject]) -> list[GraphOp]:
        """Objects of the snapshot being loaded; their operations, to publish at once."""
        return self._apply([(obj.key, obj) for obj in objects])

    def end_load(self) -> list[GraphOp]:
        """The snapshot is complete: references to objects it lacks are now missing."""
        self._loading = False
        for nid, key in self._ref_target.items():
            if key not in self._objects:
                self._existence_moved[nid] = None
        return self._settle({})

    def apply(self, change: Change) -> list[GraphOp]:
        """The operations for one NB change (an unchanged object yields none)."""
        return self._apply([(change.key, change.obj)])

    def apply_all(self, changes: Iterable[Change]) -> list[GraphOp]:
        """The operations for a batch of changes, merged (an element changed twice appears once)."""
        return self._apply([(change.key, change.obj) for change in changes])

    # -- NB state and indexes ---------------------------------------------------------------------
    def _get(self, table: str, object_id: str) -> NbObject | None:
        return self._objects.get((table, object_id))

    def _lookup(self, index: str, value: str) -> frozenset[str]:
        return frozenset(multimap.members(self._index[index].get(value)))

    def _store(self, key: Key, obj: NbObject | None, dirty: dict[Key, None]) -> None:
        """Record the new state of one object and mark everything that read it."""
        old = self._objects.get(key)
        self._store_.put(key, obj)
        for name in self._index_by_table.get(key[0], ()):
            _table, values = INDEXES[name]
            before = set(values(old)) if old is not None else set()
            after = set(values(obj)) if obj is not None else set()
            if before == after:
                continue
            entries = self._index[name]
            for value in before - after:
                multimap.discard(entries, value, key[1])
            for value in after - before:
                multimap.add(entries, value, key[1])
            placed = PLACING.get(name)
            for value in before ^ after:
                dirty.update(dict.fromkeys(self._deps.readers(("idx", name, value))))
                if placed is not None:
                    dirty[(placed, value)] = None
                    dirty.update(dict.fromkeys(self._deps.readers(("obj", placed, value))))
        dirty[key] = None
        dirty.update(dict.fromkeys(self._deps.readers(("obj", *key))))
        # A placeholder for this key resolves differently once the object exists (or not).
        referenced = self._ref_node.get(key)
        if referenced is not None:
            self._existence_moved[referenced] = None

    # -- rendering ------------------------------------------------------------------------------
    def _render(self, key: Key) -> Contribution:
        obj = self._objects.get(key)
        if obj is None:
            self._deps.record(key, set())
            self._store_.set_needs(key, False, ())
            return EMPTY
        claims = self._slice_claims.get(key)
        if not claims and self.chassis is not None and elsewhere(obj, self.chassis):
            self._deps.record(key, set())
            self._store_.set_needs(key, False, ())
            return EMPTY
        kinds = frozenset(k for k, n in claims.items() if n > 0) if claims else NO_KINDS
        ctx = RenderContext(obj, self._get, self._lookup, self.chassis, kinds)
        try:
            shown = render(ctx)
        except Exception:  # a rule must never take the whole graph down with one odd row
            log.exception("cannot translate %s/%s; shown with its stored fields only", *key)
            ctx = RenderContext(obj, self._get, self._lookup, self.chassis, kinds)
            shown = render_plain(ctx)
        if shown:
            self._extensions.contribute(ctx)
        self._deps.record(key, ctx.deps)
        reads = [(dep[1], dep[2]) for dep in ctx.deps if dep[0] == "obj"] if shown else ()
        self._store_.set_needs(key, shown, reads)
        # Outside the slice: nothing drawn (most of a chassis's NB).
        return ctx.contribution if shown else EMPTY

    def _rerender(
        self, key: Key, touched_nodes: dict[str, None], touched_edges: dict[str, None]
    ) -> list[Key]:
        """Re-render one object, update the claims; returns objects whose slice status moved."""
        old = self._drawn.get(key, NOTHING_DRAWN)
        new = self._render(key)
        if new is EMPTY and old is NOTHING_DRAWN:  # was and stays outside the slice
            return []
        if new is EMPTY or not (new.nodes or new.edges or new.refs or new.tenants or new.claims):
            drawn = NOTHING_DRAWN
            self._drawn.pop(key, None)
        else:
            self._reuse_published(new.edges, key[0])
            drawn = self._drawn[key] = Drawn(new, self._pack, self._own_text(key), key[0])
        self._extensions.track(key, old.extensions, new.extensions)
        old_nodes, new_nodes = old.nodes(), drawn.nodes()
        for nid in old_nodes.keys() - new_nodes.keys():
            multimap.discard(self._node_claims, nid, key)
            touched_nodes[nid] = None
        for nid, metadata in new_nodes.items():
            previous = old_nodes.get(nid)
            if previous is None:
                multimap.add(self._node_claims, nid, key)
                touched_nodes[nid] = None
            elif not same_metadata(previous, metadata):
                touched_nodes[nid] = None
        _count(self._refs, self._ref_target, old.refs, new.refs, touched_nodes, self._ref_node)
        _count(self._tenants, self._tenant_topic, old.tenants, new.tenants, touched_nodes)
        old_edges = old.edges_by_id()
        for eid in old_edges.keys() - new.edges.keys():
            if multimap.discard(self._edge_claims, eid, key):
                self._unlink_edge(old_edges[eid])
            touched_edges[eid] = None
        for eid, edge in new.edges.items():
            previous_edge = old_edges.get(eid)
            if previous_edge is None:
                if multimap.add(self._edge_claims, eid, key):
                    multimap.add(self._edges_at, edge.parent, eid)
                    multimap.add(self._edges_at, edge.child, eid)
                touched_edges[eid] = None
            elif not same_metadata(held_form(previous_edge), held_form(edge)):
                touched_edges[eid] = None
        return self._update_slice_claims(dict(old.claims), new.claims)

    def _reuse_published(self, edges: dict[str, Edge], table: str) -> None:
        """An edge drawn again as the graph holds it: keep the graph's element, not an equal
        copy (an object rendered again while the NB loads drew a second copy of most edges,
        some 13 MiB in a 100k-object NB)."""
        for eid, edge in edges.items():
            current = self._edges.get(eid)
            if (
                current is not None
                and current.parent == edge.parent
                and current.child == edge.child
                and (
                    current.metadata is edge.metadata
                    if is_plain(edge.metadata)
                    else same_metadata(held_form(current), self._pack(edge.metadata, table))
                )
            ):
                edges[eid] = current

    def _own_text(self, key: Key) -> tuple[str, str | bytes] | None:
        """The object's node ID and the text the store keeps of it (none in a topology that
        packs nothing), for its node to share."""
        fields = self._store_.text(key)
        return None if fields is None else (ids.node_id(*key), fields)

    def _unlink_edge(self, edge: Edge) -> None:
        multimap.discard(self._edges_at, edge.parent, edge.id)
        multimap.discard(self._edges_at, edge.child, edge.id)

    def _update_slice_claims(self, old: dict[Key, str], new: dict[Key, str]) -> list[Key]:
        moved: list[Key] = []
        for target in old.keys() | new.keys():
            before, after = old.get(target), new.get(target)
            if before == after:
                continue
            counts = self._slice_claims.setdefault(target, Counter())
            kinds_before = {k for k, n in counts.items() if n > 0}
            if before is not None:
                counts[before] -= 1
            if after is not None:
                counts[after] += 1
            kinds_after = {k for k, n in counts.items() if n > 0}
            if not kinds_after:
                del self._slice_claims[target]
            if kinds_before != kinds_after:
                moved.append(target)
        return moved

    # -- resolution: what the graph holds now -----------------------------------------------------
    def _resolve_node(self, nid: str) -> Metadata | None:
        claims = self._node_claims.get(nid)
        if claims is not None:
            return self._drawn[multimap.lowest(claims)].node(nid)
        if nid in self._tenants:
            return self._pack(tenant_metadata(self._tenant_topic[nid]))
        if nid in self._refs:
            table, object_id = self._ref_target[nid]
            if (table, object_id) in self._objects or self._loading:
                # Exists but outside this slice (or may still come in the snapshot
                # being loaded): the edge is simply not shown.
                return None
            return self._pack(missing_metadata(table, object_id))
        return None

    def _resolve_edge(self, eid: str) -> Edge | None:
        claims = self._edge_claims.get(eid)
        if claims is None:
            return None
        edge = self._drawn[multimap.lowest(claims)].edge(eid)
        if edge is not None and edge.parent in self._nodes and edge.child in self._nodes:
            return edge
        return None

    # -- batches --------------------------------------------------------------------------------
    def _load_empty(self, target: dict[Key, NbObject]) -> list[GraphOp]:
        # A bulk build allocates millions of acyclic objects: the cyclic collector would
        # rescan the growing heap again and again for nothing.
        collecting = gc.isenabled()
        gc.disable()
        try:
            dirty: dict[Key, None] = {}
            for key, obj in target.items():
                self._store(key, obj, dirty)
            return self._settle(dirty)
        finally:
            if collecting:
                gc.enable()

    def _apply(self, changes: list[tuple[Key, NbObject | None]]) -> list[GraphOp]:
        dirty: dict[Key, None] = {}
        for key, obj in changes:
            if obj is not None and obj.key != key:
                # The change's key is what the store holds; the object must agree with it.
                obj = NbObject(key[0], key[1], obj.data, obj.problems)
            if self._store_.unchanged(key, obj):
                continue
            self._store(key, obj, dirty)
        return self._settle(dirty) if dirty else []

    def _settle(self, dirty: dict[Key, None]) -> list[GraphOp]:
        touched_nodes, self._existence_moved = self._existence_moved, {}
        touched_edges: dict[str, None] = {}
        while dirty:
            for key in list(dirty):
                del dirty[key]
                for moved in self._rerender(key, touched_nodes, touched_edges):
                    dirty[moved] = None
                for retry in self._extensions.take_disabled_sources():
                    dirty[retry] = None
        self._store_.settled()
        self._learn()
        return self._emit(touched_nodes, touched_edges)

    def _learn(self) -> None:
        """A table a global topology holds many objects of learns its dictionary (see
        ``squeeze``) from the texts of its first objects and of their nodes."""
        if self._pack is not pack or self._store_.compact:
            return
        for table, count in self._store_.counts():
            if count >= squeeze.LEARN_AT and not squeeze.learned(table):
                squeeze.learn(table, self._samples(table))

    def _samples(self, table: str) -> Iterator[object]:
        """The texts of the table's first objects, of their nodes and of their edges."""
        for object_id, text in self._store_.texts(table, squeeze.LEARN_AT):
            yield text
            drawn = self._drawn.get((table, object_id))
            if drawn is None:
                continue
            node = drawn.node(ids.node_id(table, object_id))
            yield node.head if isinstance(node, Split) else node
            yield from (edge.packed for edge in drawn.edges if isinstance(edge, PackedEdge))

    def _emit(
        self, touched_nodes: dict[str, None], touched_edges: dict[str, None]
    ) -> list[GraphOp]:
        added: list[Node] = []
        updated: list[Node] = []
        deleted: list[Node] = []
        for nid in touched_nodes:
            metadata = self._resolve_node(nid)
            current = self._nodes.get(nid)
            if metadata is None:
                if current is not None:
                    deleted.append(current)
                    touched_edges.update(dict.fromkeys(multimap.members(self._edges_at.get(nid))))
            elif current is None:
                added.append(make_node(nid, metadata))
                touched_edges.update(dict.fromkeys(multimap.members(self._edges_at.get(nid))))
            elif not same_metadata(held_form(current), metadata):
                updated.append(make_node(nid, metadata))
        # Edges of deleted nodes are resolved against the graph without those nodes.
        for node in deleted:
            del self._nodes[node.id]
        for node in added + updated:
            self._nodes[node.id] = node
        edge_added: list[Edge] = []
        edge_updated: list[Edge] = []
        edge_deleted: list[Edge] = []
        for eid in touched_edges:
            edge = self._resolve_edge(eid)
            current = self._edges.get(eid)
            if edge is None:
                if current is not None:
                    edge_deleted.append(current)
                    del self._edges[eid]
            elif current is None:
                edge_added.append(edge)
                self._edges[eid] = edge
            elif not same_metadata(held_form(current), held_form(edge)):
                edge_updated.append(edge)
                self._edges[eid] = edge
            # Otherwise drawn again alike: the element already published stays, so that
            # consumers still recognise it by identity.
        return [
            *(GraphOp(Action.DELETE, e) for e in edge_deleted),
            *(GraphOp(Action.DELETE, n) for n in deleted),
            *(GraphOp(Action.ADD, n) for n in added),
            *(GraphOp(Action.UPDATE, n) for n in updated),
            *(GraphOp(Action.ADD, e) for e in edge_added),
            *(GraphOp(Action.UPDATE, e) for e in edge_updated),
        ]


def _count(
    counts: Counter[str],
    values: dict[str, _V],
    old: Collection[str],
    new: Mapping[str, _V],
    touched: dict[str, None],
    inverse: dict[_V, str] | None = None,
) -> None:
    """Nodes several objects may point at (placeholders, tenants) exist while counted;
    ``old`` names those the object pointed at, ``new`` what it points at now."""
    for nid in [nid for nid in old if nid not in new]:
        counts[nid] -= 1
        if not counts[nid]:
            del counts[nid]
            value = values.pop(nid)
            if inverse is not None:
                del inverse[value]
        touched[nid] = None
    for nid in new.keys() - old:
        counts[nid] += 1
        values[nid] = new[nid]
        if inverse is not None:
            inverse[new[nid]] = nid
        touched[nid] = None


def translate(
    snapshot: Snapshot | Iterable[NbObject],
    chassis: str | None = None,
    extensions: list[Extension] | None = None,
) -> tuple[dict[str, Node], dict[str, Edge]]:
    """The graph of a whole snapshot (or of one chassis' slice), in one call: nothing
    packed, a one-off graph is read (queried, compared, shown), not kept."""
    topology = Topology(extensions=extensions, chassis=chassis, packed=False)
    topology.load(snapshot)
    return dict(topology.nodes), dict(topology.edges)
