"""Nodes, edges and an in-memory graph with adjacency, as Skydive models them.

The JSON form (``to_json``/``from_json``) is exactly Skydive's wire form, so the
same objects travel over WebSocket, REST and into Gremlin results unchanged.
Mutations notify listeners (indexes, history, subscribers) in the order they
happen; a change a listener makes while handling an event is queued and
delivered to everyone after that event.
"""

from __future__ import annotations

import copy
import time
from collections import deque
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol, Self, TypeAlias, TypeVar

Json: TypeAlias = bool | int | float | str | list["Json"] | dict[str, "Json"] | None
"""A JSON value as ``json.loads`` gives it: the one JSON type every package uses."""


def now_ms() -> int:
    return int(time.time() * 1000)


class GraphError(ValueError):
    """A graph element or operation breaks a rule; the message names the rule."""


def _opt_int(obj: dict[str, Any], key: str) -> int | None:
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise GraphError(f"{key} must be an integer number of milliseconds, got {value!r}")
    return value


def _opt_str(obj: dict[str, Any], key: str) -> str:
    value = obj.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise GraphError(f"{key} must be a string, got {type(value).__name__}")
    return value


@dataclass(slots=True)
class Node:
    id: str
    metadata: dict[str, Any] = field(default_factory=dict)
    host: str = ""
    origin: str = ""
    created_at: int | None = None
    updated_at: int | None = None
    deleted_at: int | None = None
    revision: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "ID": self.id,
            "Metadata": self.metadata,
            "Host": self.host,
            "Origin": self.origin,
            "CreatedAt": self.created_at,
            "UpdatedAt": self.updated_at,
            "DeletedAt": self.deleted_at,
            "Revision": self.revision,
        }

    @classmethod
    def from_json(cls, obj: object) -> Self:
        """Decode a wire object with Skydive's decoding rules (raises GraphError)."""
        if not isinstance(obj, dict):
            raise GraphError("node must be a JSON object")
        node_id = obj.get("ID")
        if not isinstance(node_id, str) or not node_id:
            raise GraphError("ID must be a non-empty string")
        metadata = obj.get("Metadata")
        if metadata is None:
            metadata = {}
        if not isinstance(metadata, dict):
            raise GraphError("Metadata must be a JSON object")
        revision = obj.get("Revision", 0)
        if revision is None:
            revision = 0
        if isinstance(revision, bool) or not isinstance(revision, int):
            raise GraphError(f"Revision must be an integer, got {revision!r}")
        return cls(
            id=node_id,
            metadata=metadata,
            host=_opt_str(obj, "Host"),
            origin=_opt_str(obj, "Origin"),
            created_at=_opt_int(obj, "CreatedAt"),
            updated_at=_opt_int(obj, "UpdatedAt"),
            deleted_at=_opt_int(obj, "DeletedAt"),
            revision=revision,
        )


@dataclass(slots=True)
class Edge(Node):
    parent: str = ""
    child: str = ""

    def to_json(self) -> dict[str, Any]:
        out = Node.to_json(self)
        out["Parent"] = self.parent
        out["Child"] = self.child
        return out

    @classmethod
    def from_json(cls, obj: object) -> Self:
        node = Node.from_json(obj)
        assert isinstance(obj, dict)  # Node.from_json refused anything else
        parent, child = obj.get("Parent"), obj.get("Child")
        if not isinstance(parent, str) or not parent:
            raise GraphError("parent ID wrong format")
        if not isinstance(child, str) or not child:
            raise GraphError("child ID wrong format")
        return cls(
            id=node.id,
            metadata=node.metadata,
            host=node.host,
            origin=node.origin,
            created_at=node.created_at,
            updated_at=node.updated_at,
            deleted_at=node.deleted_at,
            revision=node.revision,
            parent=parent,
            child=child,
        )


class GraphView(Protocol):
    """Read-only access that Gremlin and exporters need; the live graph and a
    historical snapshot both provide it."""

    def node(self, node_id: str) -> Node | None: ...

    def edge(self, edge_id: str) -> Edge | None: ...

    def nodes(self) -> Iterable[Node]: ...

    def edges(self) -> Iterable[Edge]: ...

    def out_edges(self, node_id: str) -> Iterable[Edge]: ...

    def in_edges(self, node_id: str) -> Iterable[Edge]: ...

    def node_count(self) -> int: ...

    def edge_count(self) -> int: ...


class GraphIndex(Protocol):
    """Hash lookups a graph may offer to Gremlin (see ``graph/index.py``).

    ``None`` means "this key is not indexed": the caller scans instead."""

    def lookup(self, key: str, value: str | int | bool) -> Collection[str] | None: ...

    def lookup_edges(self, key: str, value: str | int | bool) -> Collection[str] | None: ...


class GraphListener:
    """Receives every mutation after it is applied. Override what you need."""

    def on_node_added(self, node: Node) -> None: ...

    def on_node_updated(self, node: Node, old: Node) -> None: ...

    def on_node_deleted(self, node: Node) -> None: ...

    def on_edge_added(self, edge: Edge) -> None: ...

    def on_edge_updated(self, edge: Edge, old: Edge) -> None: ...

    def on_edge_deleted(self, edge: Edge) -> None: ...


class Graph:
    """The mutable in-memory graph. Enforces the invariant that every edge's
    ends exist: adding an edge with a missing end fails, deleting a node deletes
    its edges first (each notified)."""

    def __init__(self) -> None:
        self._nodes: dict[str, Node] = {}
        self._edges: dict[str, Edge] = {}
        self._out: dict[str, dict[str, Edge]] = {}
        self._in: dict[str, dict[str, Edge]] = {}
        self._listeners: list[GraphListener] = []
        self._index: GraphIndex | None = None
        self._pending: deque[tuple[str, tuple[Any, ...]]] = deque()
        self._notifying = False

    # -- listeners -------------------------------------------------------
    def add_listener(self, listener: GraphListener) -> None:
        self._listeners.append(listener)

    def remove_listener(self, listener: GraphListener) -> None:
        self._listeners.remove(listener)

    def _notify(self, event: str, *args: Any) -> None:
        """Deliver events first in, first out: a change made by a listener while it
        handles an event reaches every listener after the event that caused it."""
        self._pending.append((event, args))
        if self._notifying:
            return
        self._notifying = True
        try:
            while self._pending:
                name, event_args = self._pending.popleft()
                for listener in list(self._listeners):
                    getattr(listener, name)(*event_args)
        finally:
            self._notifying = False
            self._pending.clear()

    def set_index(self, index: GraphIndex | None) -> None:
        """Answer ``lookup``/``lookup_edges`` from ``index`` (which must keep itself
        current, normally by being a listener of this graph)."""
        self._index = index

    def lookup(self, key: str, value: str | int | bool) -> Collection[str] | None:
        """IDs of nodes whose ``key`` equals ``value``; None when ``key`` is not indexed."""
        return None if self._index is None else self._index.lookup(key, value)

    def lookup_edges(self, key: str, value: str | int | bool) -> Collection[str] | None:
        """IDs of edges whose ``key`` equals ``value``; None when ``key`` is not indexed."""
        return None if self._index is None else self._index.lookup_edges(key, value)

    # -- read (GraphView) --------------------------------------------------
    def node(self, node_id: str) -> Node | None:
        return self._nodes.get(node_id)

    def edge(self, edge_id: str) -> Edge | None:
        return self._edges.get(edge_id)

    def nodes(self) -> Iterator[Node]:
        return iter(list(self._nodes.values()))

    def edges(self) -> Iterator[Edge]:
        return iter(list(self._edges.values()))

    def out_edges(self, node_id: str) -> Iterable[Edge]:
        return list(self._out.get(node_id, {}).values())

    def in_edges(self, node_id: str) -> Iterable[Edge]:
        return list(self._in.get(node_id, {}).values())

    def node_count(self) -> int:
        return len(self._nodes)

    def edge_count(self) -> int:
        return len(self._edges)

    # -- write -------------------------------------------------------------
    def add_node(self, node: Node) -> None:
        if node.id in self._nodes:
            raise GraphError(f"node {node.id} already exists")
        self._nodes[node.id] = node
        self._out.setdefault(node.id, {})
        self._in.setdefault(node.id, {})
        self._notify("on_node_added", node)

    def replace_node(self, node: Node) -> Node:
        """Store ``node`` in place of the node with the same ID; returns the old one.

        ``node`` is a new object: a stored element never changes in place, since the
        history keeps it as the past and the index tells from it where it is indexed."""
        old = self._nodes.get(node.id)
        if old is None:
            raise GraphError(f"node {node.id} not found")
        if old is node:
            raise GraphError(f"node {node.id} is the stored one: replace it with a new object")
        self._nodes[node.id] = node
        self._notify("on_node_updated", node, old)
        return old

    def delete_node(self, node_id: str, deleted_at: int | None = None) -> Node:
        node = self._nodes.get(node_id)
        if node is None:
            raise GraphError(f"node {node_id} not found")
        for edge in [*self._out.get(node_id, {}).values(), *self._in.get(node_id, {}).values()]:
            if edge.id in self._edges:
                self.delete_edge(edge.id, deleted_at)
        del self._nodes[node_id]
        self._out.pop(node_id, None)
        self._in.pop(node_id, None)
        node = _stamped_deleted(node, deleted_at)
        self._notify("on_node_deleted", node)
        return node

    def add_edge(self, edge: Edge) -> None:
        if edge.id in self._edges:
            raise GraphError(f"edge {edge.id} already exists")
        if edge.parent not in self._nodes:
            raise GraphError("Parent node not found")
        if edge.child not in self._nodes:
            raise GraphError("Child node not found")
        self._edges[edge.id] = edge
        self._out[edge.parent][edge.id] = edge
        self._in[edge.child][edge.id] = edge
        self._notify("on_edge_added", edge)

    def replace_edge(self, edge: Edge) -> Edge:
        """Store ``edge`` in place of the edge with the same ID (same ends); returns the old one."""
        old = self._edges.get(edge.id)
        if old is None:
            raise GraphError(f"edge {edge.id} not found")
        if old is edge:
            raise GraphError(f"edge {edge.id} is the stored one: replace it with a new object")
        if (old.parent, old.child) != (edge.parent, edge.child):
            raise GraphError(f"edge {edge.id} cannot change its ends")
        self._edges[edge.id] = edge
        self._out[edge.parent][edge.id] = edge
        self._in[edge.child][edge.id] = edge
        self._notify("on_edge_updated", edge, old)
        return old

    def delete_edge(self, edge_id: str, deleted_at: int | None = None) -> Edge:
        edge = self._edges.pop(edge_id, None)
        if edge is None:
            raise GraphError(f"edge {edge_id} not found")
        self._out.get(edge.parent, {}).pop(edge_id, None)
        self._in.get(edge.child, {}).pop(edge_id, None)
        edge = _stamped_deleted(edge, deleted_at)
        self._notify("on_edge_deleted", edge)
        return edge

    def to_json(self) -> dict[str, list[dict[str, Any]]]:
        """The SyncReply graph shape: {"Nodes": [...], "Edges": [...]}."""
        return {
            "Nodes": [n.to_json() for n in self._nodes.values()],
            "Edges": [e.to_json() for e in self._edges.values()],
        }

    def snapshot(self) -> tuple[dict[str, Node], dict[str, Edge]]:
        """Copies of the ID → element maps, taken in one step (a C-level copy, ~1 ms
        per 100k elements). Stored elements are never changed in place, so the
        copies describe the graph as it is now for as long as they are kept."""
        return dict(self._nodes), dict(self._edges)


_Element = TypeVar("_Element", bound=Node)


def _stamped_deleted(element: _Element, deleted_at: int | None) -> _Element:
    """The deleted element as listeners see it: a copy carrying ``DeletedAt``, so the
    object that was stored (and that snapshots may still hold) stays unchanged."""
    gone = copy.copy(element)
    gone.deleted_at = deleted_at if deleted_at is not None else now_ms()
    return gone
