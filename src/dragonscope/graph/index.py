"""Hash indexes on the metadata keys people filter by, kept current by listening
to graph events, so ``G.V().Has('Name', 'x')`` is a lookup, not a scan.

An entry matches exactly what a Gremlin equality would: a string value is found
by that string (and, when it is a number in text, by that number), a number by
its truncated integer, a bool by itself, and every element of a node's list
value is indexed too. Attach with ``Indexer.attach(graph)``.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from typing import Any

from dragonscope.graph.keys import MISSING, getter, normalize_key, to_int
from dragonscope.graph.model import Edge, Graph, GraphListener, Node

# "@Origin": every collector asks for what it published when it (re)connects; with
# hundreds of per-chassis collectors those scans would be most of the analyzer's work.
NODE_KEYS = (
    "@Origin",
    "Type",
    "Name",
    "Manager",
    "MAC",
    "IPV4",
    "Neutron.PortID",
    "Dragonflow.ID",
    "Tenant",
    "Chassis",
)
EDGE_KEYS = ("@Origin", "RelationType")

Term = tuple[str, Any]


def terms(value: Any, *, lists: bool) -> set[Term]:
    """The lookup terms under which a metadata value can be found."""
    if value is MISSING or type(value) is dict:
        return set()
    if type(value) is list:
        if not lists:
            return set()
        scalars: list[Any] = []
        for item in value:
            if type(item) is list:
                scalars.extend(x for x in item if type(x) not in (list, dict))
            elif type(item) is not dict:
                scalars.append(item)
    else:
        scalars = [value]
    out: set[Term] = set()
    for x in scalars:
        if type(x) is bool:
            out.add(("b", x))
            continue
        if type(x) is str:
            out.add(("s", x))
        number = to_int(x)
        if number is not None:
            out.add(("i", number))
    return out


def term_of(value: str | int | float | bool) -> Term:
    if isinstance(value, bool):
        return ("b", value)
    if isinstance(value, str):
        return ("s", value)
    return ("i", int(value))


# The IDs under one term: most values (names, MACs, addresses, UUIDs) belong to
# one element, stored as its bare ID; a dict (an ordered set) only for shared ones.
Bucket = str | dict[str, None]


def _enter(buckets: dict[Term, Bucket], term: Term, element_id: str) -> None:
    bucket = buckets.get(term)
    if bucket is None:
        buckets[term] = element_id
    elif isinstance(bucket, str):
        if bucket != element_id:
            buckets[term] = {bucket: None, element_id: None}
    else:
        bucket[element_id] = None


def _leave(buckets: dict[Term, Bucket], term: Term, element_id: str) -> None:
    bucket = buckets.get(term)
    if bucket is None:
        return
    if isinstance(bucket, str):
        if bucket == element_id:
            del buckets[term]
        return
    bucket.pop(element_id, None)
    if len(bucket) == 1:
        buckets[term] = next(iter(bucket))
    elif not bucket:
        del buckets[term]


class _Table:
    """One family of indexes (nodes or edges): key → term → ordered set of IDs.

    Where an element is indexed is not kept: it is told again from the element itself
    when it is replaced or deleted (stored elements never change in place, and the graph
    hands listeners the element that was stored). Kept, it took a tuple per element and a
    term per key: about 290 bytes per element, 150 MiB of an analyzer holding 530k."""

    def __init__(self, keys: Iterable[str], *, lists: bool) -> None:
        self.lists = lists
        self.buckets: dict[str, dict[Term, Bucket]] = {}
        self.columns: list[tuple[Callable[[Node], Any], dict[Term, Bucket]]] = []
        for key in keys:
            self.buckets[key] = {}
            self.columns.append((getter(key), self.buckets[key]))

    def _terms(self, get: Callable[[Node], Any], element: Node) -> Collection[Term]:
        value = get(element)
        if value is MISSING:
            return ()
        if type(value) is str and value and not (value[0].isdigit() or value[0] in "+-"):
            return (("s", value),)  # the common case, without a set
        return terms(value, lists=self.lists)

    def add(self, element: Node) -> None:
        element_id = element.id
        for get, buckets in self.columns:
            for term in self._terms(get, element):
                _enter(buckets, term, element_id)

    def remove(self, element: Node) -> None:
        element_id = element.id
        for get, buckets in self.columns:
            for term in self._terms(get, element):
                _leave(buckets, term, element_id)

    def replace(self, element: Node, old: Node) -> None:
        """Re-index only the keys whose terms changed (a rename touches one of ten)."""
        element_id = element.id
        for get, buckets in self.columns:
            before, after = self._terms(get, old), self._terms(get, element)
            if before == after:
                continue
            for term in before:
                _leave(buckets, term, element_id)
            for term in after:
                _enter(buckets, term, element_id)

    def lookup(self, key: str, value: str | int | float | bool) -> Collection[str] | None:
        buckets = self.buckets.get(normalize_key(key))
        if buckets is None:
            return None
        bucket = buckets.get(term_of(value))
        if bucket is None:
            return ()
        if isinstance(bucket, str):
            return (bucket,)
        return bucket.keys()


class Indexer(GraphListener):
    """Indexes nodes on ``node_keys`` and edges on ``edge_keys``."""

    def __init__(
        self, node_keys: Iterable[str] = NODE_KEYS, edge_keys: Iterable[str] = EDGE_KEYS
    ) -> None:
        self._nodes = _Table(node_keys, lists=True)
        self._edges = _Table(edge_keys, lists=False)

    @classmethod
    def attach(
        cls,
        graph: Graph,
        node_keys: Iterable[str] = NODE_KEYS,
        edge_keys: Iterable[str] = EDGE_KEYS,
    ) -> Indexer:
        """Index what ``graph`` holds, follow its changes, and answer its lookups."""
        indexer = cls(node_keys, edge_keys)
        for node in graph.nodes():
            indexer._nodes.add(node)
        for edge in graph.edges():
            indexer._edges.add(edge)
        graph.add_listener(indexer)
        graph.set_index(indexer)
        return indexer

    def detach(self, graph: Graph) -> None:
        graph.remove_listener(self)
        graph.set_index(None)

    # -- GraphIndex --------------------------------------------------------------
    def lookup(self, key: str, value: str | int | bool) -> Collection[str] | None:
        return self._nodes.lookup(key, value)

    def lookup_edges(self, key: str, value: str | int | bool) -> Collection[str] | None:
        return self._edges.lookup(key, value)

    # -- GraphListener -------------------------------------------------------------
    def on_node_added(self, node: Node) -> None:
        self._nodes.add(node)

    def on_node_updated(self, node: Node, old: Node) -> None:
        self._nodes.replace(node, old)

    def on_node_deleted(self, node: Node) -> None:
        self._nodes.remove(node)

    def on_edge_added(self, edge: Edge) -> None:
        self._edges.add(edge)

    def on_edge_updated(self, edge: Edge, old: Edge) -> None:
        self._edges.replace(edge, old)

    def on_edge_deleted(self, edge: Edge) -> None:
        self._edges.remove(edge)
