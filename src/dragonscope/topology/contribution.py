"""What one NB object contributes to the graph, and the context it is rendered in.

Each NB object is rendered on its own into a ``Contribution``: the nodes it owns,
the edges it draws, the NB objects its edges point at (placeholders appear for
those that do not exist), the tenants it belongs to and, in a chassis slice,
the objects it pulls into the slice. Everything a renderer reads about *other*
objects goes through ``RenderContext``, which records it as a dependency: when
one of those objects changes, exactly the objects that read it are rendered
again. That is what keeps an incremental change proportional to its reach
rather than to the size of the NB.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from dragonscope.graph import Edge
from dragonscope.nb import NbObject
from dragonscope.topology import ids
from dragonscope.topology.packed import (
    Metadata,
    PackedEdge,
    Packer,
    pack,
    pack_edge,
    pack_sharing,
)

Key = tuple[str, str]
"""(table, id) of an NB object."""

_K = TypeVar("_K")
_V = TypeVar("_V")

Dep = tuple[str, str, str]
"""("obj", table, id) or ("idx", index name, value): something a renderer read."""


@dataclass(slots=True)
class Contribution:
    """A render's output, as the renderer builds it."""

    nodes: dict[str, dict[str, Any]] = field(default_factory=dict)
    edges: dict[str, Edge] = field(default_factory=dict)
    refs: dict[str, Key] = field(default_factory=dict)
    tenants: dict[str, str] = field(default_factory=dict)
    claims: dict[Key, str] = field(default_factory=dict)
    extensions: set[str] = field(default_factory=set)


EMPTY = Contribution()

_NO_EXTENSIONS: frozenset[str] = frozenset()
_SCANNED = 16
"""Edges a ``Drawn`` finds by scanning its tuple; beyond, it keeps an index by ID."""


_HEAD = 4
"""A ``Drawn``'s items before its parts: layout, edge index, claims, extensions."""


class Drawn(tuple[Any, ...]):
    """What the topology keeps of a contribution until the object is rendered again.

    A 100k-object NB keeps one per object. As a ``Contribution`` each costs six dicts
    and a set, some 1.3 kB of which nearly all is empty hash table. Here it is one tuple:
    where its parts end (a layout shared by the objects drawn alike), an index of its edges
    by ID when it draws many, the objects it pulls into a slice, the extensions that drew
    into it, then the IDs of the nodes it draws, their metadata packed (see ``packed``),
    its edges, and only the IDs of the placeholders and tenants it points at (those are
    counted by ID; what they stand for is kept once, by the topology). Five tuples, one
    per part, cost some 14 MiB more in such an NB, and an object holding the tuple 4 MiB:
    most parts hold one or a few items. Compared and hashed by identity, as an object.
    """

    __slots__ = ()

    def __new__(
        cls,
        contribution: Contribution,
        pack: Packer = pack,
        own: tuple[str, str | bytes] | None = None,
        table: str | None = None,
    ) -> Drawn:
        """``own``: the object's own node ID and its stored fields' text, shared with that
        node's text when it shows them (``packed.Split``); ``table``: the object's, whose
        dictionary compresses what it draws (see ``squeeze``)."""
        nodes = contribution.nodes
        metadata = [
            pack(metadata, table)
            if own is None or node_id != own[0]
            else pack_sharing(metadata, own[1], table)
            for node_id, metadata in nodes.items()
        ]
        edges = [
            edge
            if edge.__class__ is PackedEdge or is_plain(edge.metadata)
            else pack_edge(edge, pack, table)
            for edge in contribution.edges.values()
        ]
        n = len(nodes)
        ends = _layout(n, 2 * n + len(edges), 2 * n + len(edges) + len(contribution.refs))
        claims = tuple(contribution.claims.items()) if contribution.claims else ()
        extensions = (
            frozenset(contribution.extensions) if contribution.extensions else _NO_EXTENSIONS
        )
        return super().__new__(
            cls,
            (
                ends,
                {edge.id: edge for edge in edges} if len(edges) > _SCANNED else None,
                claims,
                extensions,
                *nodes,
                *metadata,
                *edges,
                *contribution.refs,
                *contribution.tenants,
            ),
        )

    __eq__ = object.__eq__
    __hash__ = object.__hash__

    @property
    def claims(self) -> tuple[tuple[Key, str], ...]:
        return self[2]  # type: ignore[no-any-return]

    @property
    def extensions(self) -> frozenset[str]:
        return self[3]  # type: ignore[no-any-return]

    @property
    def edges(self) -> tuple[Edge, ...]:
        n, edges_end, _ = self[0]
        return self[_HEAD + 2 * n : _HEAD + edges_end]

    @property
    def refs(self) -> tuple[str, ...]:
        _, edges_end, refs_end = self[0]
        return self[_HEAD + edges_end : _HEAD + refs_end]

    @property
    def tenants(self) -> tuple[str, ...]:
        return self[_HEAD + self[0][2] :]

    def node(self, node_id: str) -> Metadata | None:
        """The metadata this object draws for ``node_id``, packed."""
        n = self[0][0]
        for index in range(_HEAD, _HEAD + n):
            if self[index] == node_id:
                return self[index + n]  # type: ignore[no-any-return]
        return None

    def edge(self, edge_id: str) -> Edge | None:
        index = self[1]
        if index is not None:
            return index.get(edge_id)  # type: ignore[no-any-return]
        for edge in self.edges:
            if edge.id == edge_id:
                return edge
        return None

    def nodes(self) -> dict[str, Metadata]:
        n = self[0][0]
        return dict(zip(self[_HEAD : _HEAD + n], self[_HEAD + n : _HEAD + 2 * n], strict=True))

    def edges_by_id(self) -> dict[str, Edge]:
        return self[1] or {edge.id: edge for edge in self.edges}


def one_copy(copies: dict[_K, _V], key: _K, value: _V, limit: int) -> _V:
    """The copy ``copies`` keeps for ``key``, else ``value``, kept as that copy while there
    are fewer than ``limit``: the many objects with equal values share one, and an odd NB
    cannot grow ``copies`` without bound."""
    kept = copies.get(key)
    if kept is not None:
        return kept
    if len(copies) < limit:
        copies[key] = value
    return value


_LAYOUTS: dict[tuple[int, int, int], tuple[int, int, int]] = {}
_LAYOUTS_MAX = 4096


def _layout(nodes: int, edges_end: int, refs_end: int) -> tuple[int, int, int]:
    """Where a ``Drawn``'s parts end: one tuple shared by the many objects drawn alike."""
    ends = (nodes, edges_end, refs_end)
    return one_copy(_LAYOUTS, ends, ends, _LAYOUTS_MAX)


NOTHING_DRAWN = Drawn(EMPTY)

LOCAL = "local"
"""Slice claim: the object serves a port placed on the chassis (pulls in routers, subnets...)."""
MEMBER = "member"
"""Slice claim: the object is shown because a slice member points at it; it pulls in little."""


# Edge metadata without extra fields, one dict per relation and role (read-only, like every
# element the topology returns): most of a large graph's edges share a handful of them.
_PLAIN: dict[tuple[str, str | None], dict[str, Any]] = {}
_PLAIN_MAX = 1024
_SHARED: set[int] = set()
"""The identities of ``_PLAIN``'s dicts, which live as long as the process."""


def _plain_metadata(relation: str, role: str | None) -> dict[str, Any]:
    shared = _PLAIN.get((relation, role))
    if shared is not None:
        return shared
    metadata: dict[str, Any] = {"RelationType": relation}
    if role is not None:
        metadata["Role"] = role
    if len(_PLAIN) < _PLAIN_MAX:
        _PLAIN[(relation, role)] = metadata
        _SHARED.add(id(metadata))
    return metadata


def is_plain(metadata: dict[str, Any]) -> bool:
    """Whether edge metadata are one of the shared dicts of a relation and role."""
    return id(metadata) in _SHARED


class RenderContext:
    """Read access to the NB for one renderer, plus the builders of its contribution."""

    __slots__ = ("_get", "_index", "chassis", "contribution", "deps", "kinds", "obj")

    def __init__(
        self,
        obj: NbObject,
        get: Callable[[str, str], NbObject | None],
        index: Callable[[str, str], frozenset[str]],
        chassis: str | None,
        kinds: frozenset[str],
    ) -> None:
        self.obj = obj
        self._get = get
        self._index = index
        self.chassis = chassis
        self.kinds = kinds
        self.deps: set[Dep] = set()
        self.contribution = Contribution()

    # -- reading (recorded) ------------------------------------------------
    def get(self, table: str, object_id: object) -> NbObject | None:
        if not isinstance(object_id, str) or not object_id:
            return None
        self.deps.add(("obj", table, object_id))
        return self._get(table, object_id)

    def lookup(self, index: str, value: object, recorded: bool = True) -> list[str]:
        """Ids of the objects whose ``index`` holds ``value``, sorted for determinism;
        not ``recorded`` only for an index the engine follows itself (``rules.PLACING``)."""
        if not isinstance(value, str) or not value:
            return []
        if recorded:
            self.deps.add(("idx", index, value))
        return sorted(self._index(index, value))

    # -- building ------------------------------------------------------------
    @property
    def own_id(self) -> str:
        return ids.node_id(self.obj.table, self.obj.id)

    def node(self, node_id: str, metadata: dict[str, Any]) -> str:
        self.contribution.nodes[node_id] = metadata
        return node_id

    def ref(self, table: str, object_id: str) -> str:
        """The node of an NB object this one points at; a placeholder if it does not exist."""
        nid = ids.node_id(table, object_id)
        if (table, object_id) != self.obj.key:
            self.contribution.refs[nid] = (table, object_id)
        return nid

    def tenant(self, topic: str) -> str:
        nid = ids.tenant_id(topic)
        self.contribution.tenants[nid] = topic
        return nid

    def edge(
        self,
        parent: str,
        relation: str,
        child: str,
        extra: dict[str, Any] | None = None,
        role: str | None = None,
        discriminator: str = "",
    ) -> str:
        """Draw an edge; ``role`` and ``discriminator`` tell apart edges with the same ends."""
        key = relation if role is None else f"{relation}/{role}"
        if discriminator:
            key = f"{key}#{discriminator}"
        if extra:
            metadata = {"RelationType": relation, **({} if role is None else {"Role": role})}
            metadata.update(extra)
        else:
            metadata = _plain_metadata(relation, role)
        eid = ids.edge_id(parent, key, child)
        # The graph's element itself: the topology publishes it as drawn, holding it once.
        self.contribution.edges[eid] = Edge(eid, metadata, parent=parent, child=child)
        return eid

    def claim(self, table: str, object_id: object, kind: str) -> None:
        """Pull an object into the chassis slice (``kind`` says how far it pulls in turn)."""
        if isinstance(object_id, str) and object_id and (table, object_id) != self.obj.key:
            claims = self.contribution.claims
            if claims.get((table, object_id)) != LOCAL:
                claims[(table, object_id)] = kind
