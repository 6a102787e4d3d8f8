"""The metadata indexes: kept current by graph events, equal to a scan, used by Gremlin."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dragonscope.graph.index import Indexer
from dragonscope.graph.model import Edge, Graph, GraphError, Node
from dragonscope.gremlin import run
from dragonscope.gremlin.subgraph import SubGraphView


def make_graph() -> Graph:
    g = Graph()
    g.add_node(Node("p1", {"Type": "lport", "Name": "web-1", "IPV4": ["10.0.0.5/24"], "MTU": 1500}))
    g.add_node(Node("p2", {"Type": "lport", "Name": "web-2", "Neutron": {"PortID": "u-2"}}))
    g.add_node(Node("s1", {"Type": "lswitch", "Name": "net", "Tenant": "t1", "Chassis": "7"}))
    g.add_node(Node("d1", {"Type": "lport", "Dragonflow": {"ID": ["a", "b"]}}))
    g.add_edge(Edge("e1", {"RelationType": "layer2"}, parent="s1", child="p1"))
    g.add_edge(Edge("e2", {"RelationType": "ownership"}, parent="s1", child="p2"))
    return g


def test_lookup_follows_mutations() -> None:
    g = make_graph()
    Indexer.attach(g)
    assert sorted(g.lookup("Type", "lport") or ()) == ["d1", "p1", "p2"]
    assert list(g.lookup("Neutron.PortID", "u-2") or ()) == ["p2"]
    assert list(g.lookup("Metadata.Name", "net") or ()) == ["s1"]
    assert list(g.lookup("IPV4", "10.0.0.5/24") or ()) == ["p1"]
    assert list(g.lookup("Dragonflow.ID", "b") or ()) == ["d1"]
    assert list(g.lookup("Chassis", 7) or ()) == ["s1"]  # numeric text is found by its number
    assert g.lookup("MTU", 1500) is None  # not an indexed key
    assert list(g.lookup_edges("RelationType", "layer2") or ()) == ["e1"]

    g.replace_node(Node("p1", {"Type": "lrouter_port", "Name": "web-1"}))
    assert sorted(g.lookup("Type", "lport") or ()) == ["d1", "p2"]
    assert list(g.lookup("Type", "lrouter_port") or ()) == ["p1"]
    assert list(g.lookup("IPV4", "10.0.0.5/24") or ()) == []

    g.delete_node("s1")
    assert list(g.lookup("Name", "net") or ()) == []
    assert list(g.lookup_edges("RelationType", "layer2") or ()) == []


def test_a_renamed_node_moves_in_the_index_and_the_stored_one_cannot_change_in_place() -> None:
    """The index tells where a replaced element was from the element the graph held, so
    that element must be left as it was (the history keeps it as the past, too)."""
    g = make_graph()
    Indexer.attach(g)
    node = g.node("p2")
    assert node is not None
    with pytest.raises(GraphError, match="new object"):
        g.replace_node(node)
    edge = g.edge("e1")
    assert edge is not None
    with pytest.raises(GraphError, match="new object"):
        g.replace_edge(edge)
    g.replace_node(Node("p2", {**node.metadata, "Name": "renamed"}))
    assert list(g.lookup("Name", "web-2") or ()) == []
    assert list(g.lookup("Name", "renamed") or ()) == ["p2"]
    assert list(g.lookup("Neutron.PortID", "u-2") or ()) == ["p2"]
    assert sorted(g.lookup("Type", "lport") or ()) == ["d1", "p1", "p2"]


def test_detach_stops_lookups() -> None:
    g = make_graph()
    indexer = Indexer.attach(g)
    indexer.detach(g)
    assert g.lookup("Type", "lport") is None


QUERIES = [
    "G.V().Has('Type', 'lport')",
    "G.V().Has('Type', 'lport', 'Name', 'web-2')",
    "G.V().Has('Type', Within('lport', 'lswitch'))",
    "G.V().HasEither('Name', 'web-1', 'Tenant', 't1')",
    "G.V().HasEither('Name', 'web-1', 'MTU', 1500)",
    "G.V().Has('Chassis', 7)",
    "G.V().Has('Chassis', '7')",
    "G.V().Has('@ID', 'p1')",
    "G.V().Has('@ID', Within('p1', 'nope', 's1'))",
    "G.V().Has('@ID', Within('p1', 'p1'))",
    "G.E().Has('@ID', Within('e1', 'e1', 'e9'))",
    "G.V().Has('Dragonflow.ID', 'a')",
    "G.V().Has('Type', 'lswitch').Out().Has('Type', 'lport')",
    "G.E().Has('RelationType', 'layer2')",
    "G.V('s1').ShortestPathTo(Metadata('Name', 'web-2'))",
]


@pytest.mark.parametrize("query", QUERIES)
def test_indexed_equals_scan(query: str) -> None:
    g = make_graph()
    plain = SubGraphView(g.nodes(), g.edges())  # same graph, no lookups
    Indexer.attach(g)
    assert canon(run(query, g)) == canon(run(query, plain))


def canon(result: Any) -> Any:
    if isinstance(result, list):
        return sorted(repr(x) for x in result)
    return result


def test_indexed_has_does_not_scan() -> None:
    g = make_graph()
    Indexer.attach(g)

    class NoScan:
        def __getattr__(self, name: str) -> Any:
            if name in ("nodes", "edges"):
                raise AssertionError("the query scanned the whole graph")
            return getattr(g, name)

    result = run("G.V().Has('Type', 'lswitch').Out().Has('Name', 'web-1')", NoScan())  # type: ignore[arg-type]
    assert [n["ID"] for n in result] == ["p1"]
    assert run("G.E().Has('RelationType', 'ownership').InV()", NoScan())[0]["ID"] == "s1"  # type: ignore[arg-type]


# -- the index stays equal to a scan through any sequence of changes -------------------

VALUES = st.sampled_from(["a", "b", "1", 1, 2, True, 2.5])
METADATA = st.fixed_dictionaries(
    {},
    optional={
        "Type": st.one_of(VALUES, st.lists(VALUES, max_size=3)),
        "Name": VALUES,
        "Neutron": st.fixed_dictionaries({}, optional={"PortID": VALUES}),
        "Dragonflow": st.fixed_dictionaries(
            {}, optional={"ID": st.lists(st.fixed_dictionaries({"x": VALUES}), max_size=2)}
        ),
    },
)
OPS = st.lists(
    st.tuples(
        st.sampled_from(["add", "replace", "delete", "link", "unlink"]),
        st.integers(0, 5),
        st.integers(0, 5),
        METADATA,
    ),
    max_size=30,
)


@settings(max_examples=150, deadline=None)
@given(ops=OPS)
def test_index_matches_scan_after_changes(ops: list[tuple[str, int, int, dict[str, Any]]]) -> None:
    g = Graph()
    Indexer.attach(g, node_keys=("Type", "Name", "Neutron.PortID"), edge_keys=("Type",))
    for op, a, b, metadata in ops:
        na, nb, edge_id = f"n{a}", f"n{b}", f"e{a}-{b}"
        if op == "add" and g.node(na) is None:
            g.add_node(Node(na, metadata))
        elif op == "replace" and g.node(na) is not None:
            g.replace_node(Node(na, metadata))
        elif op == "delete" and g.node(na) is not None:
            g.delete_node(na)
        elif op == "link" and g.node(na) and g.node(nb) and g.edge(edge_id) is None:
            g.add_edge(Edge(edge_id, metadata, parent=na, child=nb))
        elif op == "unlink" and g.edge(edge_id) is not None:
            g.delete_edge(edge_id)
    plain = SubGraphView(g.nodes(), g.edges())
    for key in ("Type", "Name", "Neutron.PortID"):
        for value in ("a", "b", "1", 1, 2, True):
            query = f"G.V().Has('{key}', {value!r})".replace("True", "true")
            assert canon(run(query, g)) == canon(run(query, plain)), query
            assert run(query + ".Count()", g) == run(query + ".Count()", plain), query
    for value in ("a", 1, True):
        query = f"G.E().Has('Type', {value!r})".replace("True", "true")
        assert canon(run(query, g)) == canon(run(query, plain)), query
