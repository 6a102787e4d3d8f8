"""Skydive's traversal acceptance cases, on the same four-node graph they use."""

from __future__ import annotations

from typing import Any

import pytest

from dragonscope.graph.model import Edge, Graph, Node
from dragonscope.gremlin import GremlinError, run


@pytest.fixture(scope="module")
def graph() -> Graph:
    g = Graph()
    g.add_node(
        Node(
            "n1",
            {"Value": 1, "Type": "intf", "Bytes": 1024, "List": ["111", "222"], "Map": {"a": 1}},
        )
    )
    g.add_node(
        Node("n2", {"Value": 2, "Type": "intf", "Bytes": 2024, "IPV4": ["10.0.0.1", "10.0.1.2"]})
    )
    g.add_node(Node("n3", {"Value": 3, "IPV4": "192.168.0.34/24", "Map": {}, "MTU": 1500}))
    g.add_node(
        Node(
            "n4",
            {"Value": 4, "Name": "Node4", "Bytes": 4024, "IPV4": "192.168.1.34", "Indexes": [5, 6]},
        )
    )
    for edge_id, parent, child, metadata in [
        ("e1", "n1", "n2", {"Direction": "Left", "Name": "e1"}),
        ("e2", "n2", "n3", {"Direction": "Left", "Name": "e2"}),
        ("e3", "n3", "n4", {"Name": "e3"}),
        ("e4", "n1", "n4", {"Name": "e4"}),
        ("e5", "n1", "n3", {"Mode": "Direct", "Name": "e5"}),
    ]:
        g.add_edge(Edge(edge_id, metadata, parent=parent, child=child))
    return g


def q(graph: Graph, query: str) -> Any:
    return run(query, graph)


def ids(result: list[dict[str, Any]]) -> list[str]:
    return sorted(element["ID"] for element in result)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("G.V().Has('Value', 1)", ["n1"]),
        ("G.V().Has('Type', 'intf')", ["n1", "n2"]),
        ("G.V().HasEither('Type', 'intf', 'Name', 'Node4')", ["n1", "n2", "n4"]),
        ("G.V().HasEither('Bytes', 1024, 'Bytes', 2024)", ["n1", "n2"]),
        ("G.V().Has('List', '111')", ["n1"]),
        ("G.V().Has('Indexes', 6)", ["n4"]),
        ("G.V().Has('Value', 1).Out().Has('Value', 4)", ["n4"]),
        ("G.V().Has('Value', 1).Out().Has('Name', 'Node4')", ["n4"]),
        ("G.V().Has('Value', 1).OutE().Has('Mode', 'Slow').OutV()", []),
        ("G.V().Has('Value', 1).OutE().Has('Mode', 'Direct').OutV()", ["n3"]),
        ("G.V().Has('Type')", ["n1", "n2"]),
        ("G.V().Has('Value', Within(1, 2, 4))", ["n1", "n2", "n4"]),
        ("G.V().Has('Value', Within(1.0, 2, 4))", ["n1", "n2", "n4"]),
        ("G.V().Has('Value', Without(1, 3))", ["n2", "n4"]),
        ("G.V().Has('Value', 2).Both()", ["n1", "n3"]),
        ("G.E().Has('Name', 'e3').BothV()", ["n3", "n4"]),
        ("G.V().Out().Has('Value', 4)", ["n4", "n4"]),
        ("G.V().Out().Has('Value', 4).Dedup()", ["n4"]),
        ("G.V('n1')", ["n1"]),
    ],
)
def test_node_sets(graph: Graph, query: str, expected: list[str]) -> None:
    assert ids(q(graph, query)) == expected


def test_out_edge_then_outv_is_the_child(graph: Graph) -> None:
    query = (
        "G.V().Has('Value', 1).Out().Has('Value', 2).OutE().Has('Direction', 'Left').OutV().Out()"
    )
    result = q(graph, query)
    assert [n["Metadata"].get("Name") for n in result] == ["Node4"]


def test_both_edges(graph: Graph) -> None:
    assert ids(q(graph, "G.V().Has('Value', 3).BothE()")) == ["e2", "e3", "e5"]


def test_odd_params_is_an_error(graph: Graph) -> None:
    with pytest.raises(GremlinError, match="key,value"):
        q(graph, "G.V().Has('Type', 'intf', 'badparams')")


def test_keys(graph: Graph) -> None:
    keys = q(graph, "G.V().Keys()")
    pseudo = ["@ID", "@Host", "@Origin", "@CreatedAt", "@UpdatedAt", "@DeletedAt", "@Revision"]
    metadata = ["Value", "Type", "Bytes", "List", "Map", "IPV4", "MTU", "Name", "Indexes"]
    assert set(keys) == {*metadata, *pseudo, "Map.a"}
    assert len(keys) == len(set(keys)) == 17


def test_values_sum_count(graph: Graph) -> None:
    assert q(graph, "G.V().Values('Type')") == ["intf", "intf"]
    assert q(graph, "G.V().Values('Map')") == [{"a": 1}]
    assert q(graph, "G.V().Sum('Bytes')") == 7072
    assert q(graph, "G.V().Count()") == 4


@pytest.mark.parametrize(
    ("predicate", "count"),
    [
        ("Lt(3)", 2),
        ("Gt(3)", 1),
        ("Lte(3)", 3),
        ("Gte(3)", 2),
        ("Inside(1, 4)", 2),
        ("Between(1, 4)", 3),
        ("Ne(1)", 3),
        ("Nee(1)", 3),
    ],
)
def test_value_predicates(graph: Graph, predicate: str, count: int) -> None:
    assert q(graph, f"G.V().Has('Value', {predicate}).Count()") == count


@pytest.mark.parametrize(
    ("query", "count"),
    [
        ("G.V().Has('MTU', Ne(1200)).Count()", 1),
        ("G.V().Has('MTU', Ne('')).Count()", 1),
        ("G.V().Has('MTU', Ne(1500)).Count()", 0),
        ("G.V().Has('aaaaaaaaaaa', Ne('')).Count()", 0),
        ("G.V().Has('MTU', Nee(1200)).Count()", 4),
        ("G.V().Has('MTU', Nee('')).Count()", 4),
        ("G.V().Has('MTU', Nee(1500)).Count()", 3),
        ("G.V().Has('aaaaaaaaaaa', Nee('')).Count()", 4),
        ("G.V().HasKey('Name').Count()", 1),
        ("G.V().HasKey('Unknown').Count()", 0),
        ("G.V().HasKey('List').Count()", 1),
        ("G.V().HasNot('Name').Count()", 3),
        ("G.V().Has('Name', Regex('.*ode.*')).Count()", 1),
        ("G.V().Has('Name', Regex('ode5')).Count()", 0),
        ("G.V().Has('IPV4', Ipv4Range('192.168.0.0/24')).Count()", 1),
        ("G.V().Has('IPV4', Ipv4Range('192.168.0.0/16')).Count()", 2),
        ("G.V().Has('IPV4', Ipv4Range('192.168.0.0/26')).Count()", 1),
        ("G.V().Has('IPV4', Ipv4Range('192.168.0.77/26')).Count()", 0),
        ("G.V().Has('IPV4', Ipv4Range('192.168.2.0/24')).Count()", 0),
        ("G.V().Has('IPV4', Ipv4Range('10.0.0.0/24')).Count()", 1),
    ],
)
def test_counts(graph: Graph, query: str, count: int) -> None:
    assert q(graph, query) == count


def path_ids(result: list[list[dict[str, Any]]]) -> list[list[str]]:
    return [[n["ID"] for n in path] for path in result]


def test_shortest_paths(graph: Graph) -> None:
    assert path_ids(q(graph, "G.V().Has('Value', 1).ShortestPathTo(Metadata('Value', 3))")) == [
        ["n1", "n3"]
    ]
    within = "G.V().Has('Value', Within(1, 2)).ShortestPathTo(Metadata('Value', 3))"
    two = path_ids(q(graph, within))
    assert len(two) == 2 and len(two[0]) == 2
    left = (
        "G.V().Has('Value', 1).ShortestPathTo(Metadata('Value', 3), Metadata('Direction', 'Left'))"
    )
    assert path_ids(q(graph, left)) == [["n1", "n2", "n3"]]
    via = "G.V().Has('Value', 2).ShortestPathTo(Metadata('Value', 4)).SubGraph().V()"
    assert len(q(graph, via)) == 3


def test_subgraphs(graph: Graph) -> None:
    assert len(q(graph, "G.E().Has('Direction', 'Left').SubGraph().V()")) == 3
    assert len(q(graph, "G.E().Has('Direction', 'Left').SubGraph().E()")) == 2
    assert ids(q(graph, "G.V().Has('Type', 'intf').SubGraph().V()")) == ["n1", "n2"]
    assert ids(q(graph, "G.V().Has('Type', 'intf').SubGraph().E()")) == ["e1"]
    filtered = q(graph, "G.V().SubGraph('Name', Without('e2', 'e3', 'e4', 'e5')).E()")
    assert [e["Metadata"]["Name"] for e in filtered] == ["e1"]


def test_dedup_by_key(graph: Graph) -> None:
    assert len(q(graph, "G.E().Dedup('Direction')")) == 4
    assert len(q(graph, "G.V().Dedup('Type')")) == 3


@pytest.mark.parametrize(
    "query",
    [
        "G.V().Has('Value', Ne('ZZZ')).Limit(1)",
        "G.V().HasNot('ZZZ').Limit(1)",
        "G.V().HasKey('Value').Limit(1)",
        "G.V().Out().Limit(1)",
        "G.V().In().Limit(1)",
        "G.V().Both().Limit(1)",
        "G.V().Dedup().Limit(1)",
        "G.V().OutE().Limit(1)",
        "G.V().InE().Limit(1)",
        "G.V().BothE().Limit(1)",
        "G.V().BothE().InV().Limit(1)",
        "G.V().BothE().OutV().Limit(1)",
    ],
)
def test_limit_one(graph: Graph, query: str) -> None:
    assert len(q(graph, query)) == 1


@pytest.fixture(scope="module")
def dedup_graph() -> Graph:
    g = Graph()
    for i, metadata in enumerate(
        [
            {"Name": "aaa", "Type": "intf", "Value": "v1"},
            {"Name": "bbb", "Type": "intf", "Value": "v1"},
            {"Name": "aaa", "Type": "veth"},
            {"Name": "aaa", "Type": "intf"},
        ]
    ):
        g.add_node(Node(f"d{i}", metadata))
    return g


@pytest.mark.parametrize(
    ("query", "count"),
    [
        ("G.V().Dedup('Name')", 2),
        ("G.V().Dedup('Name', 'Type')", 3),
        ("G.V().Dedup('Value')", 3),
        ("G.V().Dedup('Misc', 'Value')", 3),
    ],
)
def test_dedup_multiple_fields(dedup_graph: Graph, query: str, count: int) -> None:
    assert len(q(dedup_graph, query)) == count
