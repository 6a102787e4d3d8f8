"""Skydive's graph-engine facts, stated on our Graph and through Gremlin."""

from __future__ import annotations

from typing import Any

import pytest

from dragonscope.graph.keys import MISSING, walk
from dragonscope.graph.model import Edge, Graph, GraphError, GraphListener, Node
from dragonscope.gremlin import run


def chain(*ids: str, edges: list[tuple[str, str, dict[str, Any]]]) -> Graph:
    g = Graph()
    for node_id in ids:
        g.add_node(Node(node_id, {"Value": int(node_id[1:])}))
    for i, (parent, child, metadata) in enumerate(edges):
        g.add_edge(Edge(f"e{i}", metadata, parent=parent, child=child))
    return g


def linked(g: Graph, parent: str, child: str, **metadata: Any) -> bool:
    query = f"G.V('{parent}').OutE({_params(metadata)}).OutV().Has('@ID', '{child}').Count()"
    return run(query, g) > 0


def _params(metadata: dict[str, Any]) -> str:
    return ", ".join(f"'{k}', '{v}'" for k, v in metadata.items())


def test_link_unlink_and_node_deletion() -> None:
    g = chain("n1", "n2", edges=[])
    assert not linked(g, "n1", "n2")
    g.add_edge(Edge("l", {}, parent="n1", child="n2"))
    assert linked(g, "n1", "n2")
    g.delete_edge("l")
    assert not linked(g, "n1", "n2")
    g.add_edge(Edge("l", {}, parent="n1", child="n2"))
    g.delete_node("n2")
    assert g.edge("l") is None and g.out_edges("n1") == []


def test_link_filter_direction_and_self_loop() -> None:
    g = chain("n1", "n2", edges=[("n1", "n2", {"Type": "aaa"})])
    assert linked(g, "n1", "n2", Type="aaa")
    assert not linked(g, "n1", "n2", Type="bbb")
    assert not linked(g, "n2", "n1")
    g.add_edge(Edge("loop", {}, parent="n2", child="n2"))
    assert linked(g, "n2", "n2") and not linked(g, "n1", "n2", Type="ccc")


def test_first_link_follows_direction() -> None:
    g = chain("n1", "n2", edges=[("n2", "n1", {"Field": "other"}), ("n1", "n2", {"Field": "me"})])
    edges = run("G.V('n1').OutE().Has('Child', 'n2')", g)
    assert [e["Metadata"]["Field"] for e in edges] == ["me"]


def test_numbers_compare_as_truncated_integers() -> None:
    g = Graph()
    g.add_node(Node("n", {"Value": 1, "Type": 44.5}))
    for query in ("G.V().Has('Value', 1)", "G.V().Has('Value', 1.0)", "G.V().Has('Type', 44.5)"):
        assert run(query, g)[0]["ID"] == "n"


def test_parents_and_children() -> None:
    g = chain(
        "n1", "n2", "n3", "n4",
        edges=[("n1", "n2", {}), ("n2", "n3", {}), ("n3", "n4", {}), ("n2", "n4", {})],
    )  # fmt: skip
    g.replace_node(Node("n2", {"Value": 2, "Type": "intf"}))
    g.replace_node(Node("n4", {"Value": 4, "Name": "Node4"}))
    ids = lambda query: sorted(n["ID"] for n in run(query, g))  # noqa: E731
    assert ids("G.V('n4').In()") == ["n2", "n3"]
    assert ids("G.V('n4').In('Type', 'intf')") == ["n2"]
    assert ids("G.V('n2').Out()") == ["n3", "n4"]
    assert ids("G.V('n2').Out('Name', 'Node4')") == ["n4"]


def path(g: Graph, query: str) -> list[str]:
    result = run(query, g)
    return "/".join(n["ID"][1:] for n in result[0]) if result else "none"  # type: ignore[return-value]


def test_shortest_paths_are_undirected_and_filterable() -> None:
    layer2 = {"Type": "Layer2"}
    g = chain(
        "n1", "n2", "n3", "n4",
        edges=[("n1", "n2", layer2), ("n2", "n3", layer2), ("n3", "n4", layer2)],
    )  # fmt: skip
    assert path(g, "G.V('n4').ShortestPathTo(Metadata('Value', 1))") == "4/3/2/1"
    assert path(g, "G.V('n4').ShortestPathTo(Metadata('Value', 2))") == "4/3/2"
    assert path(g, "G.V('n4').ShortestPathTo(Metadata('Value', 55))") == "none"
    query = "G.V('n4').ShortestPathTo(Metadata('Value', 2), Metadata('Type', 'Layer6'))"
    assert path(g, query) == "none"
    g.add_edge(Edge("l3", {"Type": "Layer3"}, parent="n1", child="n4"))
    via = "G.V('n4').ShortestPathTo(Metadata('Value', 1), Metadata('Type', '{}'))"
    assert path(g, via.format("Layer2")) == "4/3/2/1"
    assert path(g, via.format("Layer3")) == "4/1"
    assert path(g, "G.V('n4').ShortestPathTo(Metadata('Value', 1))") == "4/1"


def test_shortest_path_prefers_fewest_hops() -> None:
    g = chain(
        "n1", "n2", "n3", "n4", "n5", "n11", "n12", "n121", "n122",
        edges=[
            ("n1", "n2", {}), ("n2", "n3", {}), ("n3", "n4", {}), ("n4", "n5", {}),
            ("n1", "n11", {}), ("n11", "n12", {}), ("n12", "n5", {}),
            ("n12", "n121", {}), ("n121", "n122", {}), ("n122", "n5", {}),
        ],
    )  # fmt: skip
    assert path(g, "G.V('n1').ShortestPathTo(Metadata('Value', 5))") == "1/11/12/5"


def test_metadata_replacement() -> None:
    g = Graph()
    g.add_node(Node("n", {"Value": 1, "Type": "intf"}))
    g.replace_node(Node("n", {"Value": 1, "Type": "intf", "Name": "Node1"}))
    assert run("G.V().Has('Name', 'Node1').Count()", g) == 1
    g.replace_node(Node("n", {"Value": "Value1", "Type": "intf", "Name": "Node1"}))
    assert run("G.V().Values('Value')", g) == ["Value1"]
    g.replace_node(Node("n", {"Temp": 35}))
    assert run("G.V().HasKey('Value').Count()", g) == 0
    assert run("G.V().Has('Temp', 35).Count()", g) == 1


class Recorder(GraphListener):
    def __init__(self, log: list[str], name: str = "") -> None:
        self.log, self.name = log, name

    def on_node_added(self, node: Node) -> None:
        self.log.append(f"{self.name}NodeAdded:{node.id}")

    def on_node_updated(self, node: Node, old: Node) -> None:
        self.log.append(f"{self.name}NodeUpdated:{node.id}")

    def on_node_deleted(self, node: Node) -> None:
        self.log.append(f"{self.name}NodeDeleted:{node.id}")

    def on_edge_added(self, edge: Edge) -> None:
        self.log.append(f"{self.name}EdgeAdded:{edge.id}")

    def on_edge_deleted(self, edge: Edge) -> None:
        self.log.append(f"{self.name}EdgeDeleted:{edge.id}")


def test_listener_sees_every_event_in_order() -> None:
    g = Graph()
    log: list[str] = []
    g.add_listener(Recorder(log))
    g.add_node(Node("a", {}))
    g.add_node(Node("b", {}))
    g.add_edge(Edge("ab", {}, parent="a", child="b"))
    g.replace_node(Node("a", {"Name": "x"}))
    g.delete_edge("ab")
    g.delete_node("b")
    assert log == [
        "NodeAdded:a", "NodeAdded:b", "EdgeAdded:ab", "NodeUpdated:a",
        "EdgeDeleted:ab", "NodeDeleted:b",
    ]  # fmt: skip


def test_events_caused_by_a_listener_are_queued_fifo() -> None:
    g = Graph()
    log: list[str] = []

    class Spawner(GraphListener):
        def on_node_added(self, node: Node) -> None:
            if node.id == "first":
                g.add_node(Node("second", {}))

    g.add_listener(Spawner())
    g.add_listener(Recorder(log))
    g.add_node(Node("first", {}))
    assert log == ["NodeAdded:first", "NodeAdded:second"]


def test_edge_needs_both_ends() -> None:
    g = chain("n1", edges=[])
    with pytest.raises(GraphError, match="Child node not found"):
        g.add_edge(Edge("x", {}, parent="n1", child="n9"))
    with pytest.raises(GraphError, match="Parent node not found"):
        g.add_edge(Edge("x", {}, parent="n9", child="n1"))


DOC = {
    "a": {"b": {"c": "c_value"}},
    "d": {"f": [{"name": "x", "extra": {"g": "g_value"}}, {"name": "y"}, {"name": "z"}]},
}


def test_path_lookup() -> None:
    assert walk(DOC, ("a", "b")) == {"c": "c_value"}
    assert walk(DOC, ("a", "b", "c")) == "c_value"
    assert walk(DOC, ("d", "f", "name")) == ["x", "y", "z"]
    assert walk(DOC, ("d", "f", "extra", "g")) == ["g_value"]
    assert walk(DOC, ("a", "non_existing")) is MISSING


def test_path_queries_over_lists_of_objects() -> None:
    g = Graph()
    g.add_node(Node("n", DOC))
    assert run("G.V().Has('d.f.name', 'y').Count()", g) == 1
    assert run("G.V().Has('Metadata.a.b.c', 'c_value').Count()", g) == 1
    assert run("G.V().Has('d.f.extra.g', Regex('g_.*')).Count()", g) == 1
    assert run("G.V().HasKey('a.non_existing').Count()", g) == 0


def test_ipv4_range_boundaries() -> None:
    g = Graph()
    for x in range(254):
        g.add_node(Node(f"in{x}", {"IPV4": f"192.168.0.{x}/24"}))
    for address in ("192.168.1.0/24", "192.168.1.34/24", "192.169.3.34/24"):
        g.add_node(Node(address, {"IPV4": address}))
    assert run("G.V().Has('IPV4', Ipv4Range('192.168.0.0/24')).Count()", g) == 254
    assert run("G.V().Has('IPV4', Ipv4Range('192.168.0.0/16')).Count()", g) == 256


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        ({"Metadata": {}}, "ID must be a non-empty string"),
        ({"ID": 5}, "ID must be a non-empty string"),
        ({"ID": "a", "Host": 5}, "Host must be a string"),
        ({"ID": "a", "Metadata": []}, "Metadata must be a JSON object"),
        ({"ID": "a", "CreatedAt": 1.7e12}, "CreatedAt must be an integer"),
        ({"ID": "a", "Revision": "2"}, "Revision must be an integer"),
    ],
)
def test_node_decoding_rules(obj: dict[str, Any], message: str) -> None:
    with pytest.raises(GraphError, match=message):
        Node.from_json(obj)


def test_node_and_edge_wire_form_round_trips() -> None:
    node = Node.from_json({"ID": "a", "Metadata": None, "CreatedAt": 0, "Revision": None})
    assert (node.metadata, node.created_at, node.revision, node.host) == ({}, 0, 0, "")
    wire = {"ID": "e", "Metadata": {"RelationType": "layer2"}, "Host": "h", "Parent": "a",
            "Child": "b", "Origin": "o", "CreatedAt": 1, "UpdatedAt": 2, "DeletedAt": None,
            "Revision": 3}  # fmt: skip
    assert Edge.from_json(wire).to_json() == wire
    for missing in ("Parent", "Child"):
        with pytest.raises(GraphError, match=f"{missing.lower()} ID wrong format"):
            Edge.from_json({**wire, missing: ""})
