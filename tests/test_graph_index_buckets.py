"""The index keeps a value held by one element as a bare ID and by several as a set;
lookups answer the same through every change of shape."""

from __future__ import annotations

from dragonscope.graph.index import Indexer
from dragonscope.graph.model import Graph, Node


def _ids(graph: Graph, key: str, value: str) -> list[str]:
    found = graph.lookup(key, value)
    assert found is not None
    return list(found)


def test_buckets_grow_and_shrink_between_one_and_many_ids() -> None:
    graph = Graph()
    Indexer.attach(graph)
    graph.add_node(Node("a", {"Name": "a", "Type": "port", "MAC": "m1"}))
    assert _ids(graph, "MAC", "m1") == ["a"] and _ids(graph, "MAC", "m2") == []
    graph.add_node(Node("b", {"Name": "b", "Type": "port", "MAC": "m1"}))
    graph.add_node(Node("c", {"Name": "c", "Type": "port", "MAC": "m1"}))
    assert _ids(graph, "MAC", "m1") == ["a", "b", "c"]
    graph.delete_node("a")
    graph.delete_node("c")
    assert _ids(graph, "MAC", "m1") == ["b"]
    graph.replace_node(Node("b", {"Name": "b", "Type": "port", "MAC": "m2"}))
    assert _ids(graph, "MAC", "m1") == [] and _ids(graph, "MAC", "m2") == ["b"]
    graph.add_node(Node("d", {"Name": "d", "Type": "port", "MAC": "m2"}))
    graph.delete_node("b")
    assert _ids(graph, "MAC", "m2") == ["d"] and _ids(graph, "Type", "port") == ["d"]
    graph.delete_node("d")
    assert _ids(graph, "Type", "port") == [] and _ids(graph, "Name", "d") == []


def test_a_list_value_with_repeats_is_indexed_once() -> None:
    graph = Graph()
    Indexer.attach(graph)
    graph.add_node(Node("a", {"Name": "a", "Type": "port", "IPV4": ["10.0.0.1", "10.0.0.1"]}))
    assert _ids(graph, "IPV4", "10.0.0.1") == ["a"]
    graph.delete_node("a")
    assert _ids(graph, "IPV4", "10.0.0.1") == []
