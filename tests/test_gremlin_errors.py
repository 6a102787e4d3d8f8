"""Every kind of mistake gets a GremlinError whose message says what and where."""

from __future__ import annotations

import pytest

from dragonscope.graph.model import Edge, Graph, Node
from dragonscope.gremlin import GremlinError, compile_query, run


@pytest.fixture(scope="module")
def graph() -> Graph:
    g = Graph()
    g.add_node(Node("a", {"Name": "a", "Type": "lport", "Size": "big"}))
    g.add_node(Node("b", {"Name": "b", "Type": "lswitch"}))
    g.add_edge(Edge("ab", {"RelationType": "layer2"}, parent="b", child="a"))
    return g


@pytest.mark.parametrize(
    ("query", "message", "position"),
    [
        # syntax (§5.1)
        ("X.V()", 'found "X", expected `G` at column 1', 0),
        ("G.Foo()", "Expected step function, got: Foo at column 3", 2),
        ("G.V().Hass('a')", "Expected step function, got: Hass at column 7 (did you mean Has?)", 6),
        ("G.V().outv()", "Invalid step 'OutV' on nodes", 6),
        (
            "G.V().Has('a', Withn(1))",
            "Unknown predicate Withn() at column 16 (did you mean Within?)",
            15,
        ),
        ("G.V().Has('Name', 'x'", "Expected right parenthesis at column 22", 21),
        ("G.V().Has('Name' . 'x')", "Expected right parenthesis, got: . at column 18", 17),
        ("G.V", "Expected left parenthesis at column 4", 3),
        ("G.V().Out", "Expected left parenthesis at column 10", 9),
        ("G.V()Out()", "Expected '.' before the next step, got: Out at column 6", 5),
        ("G.", "Expected step function at column 3", 2),
        ("G.V().Has('Name", "Unterminated string starting at column 11", 10),
        (
            "G.V().Has(Name, 'x')",
            "Unexpected token while parsing parameters: Name at column 11",
            10,
        ),
        ("G.V().Has('Value', -1)", "Unexpected '-' at column 20: negative numbers", 19),
        ("G.V().Has('Value', 1e5)", "Invalid number at column 20", 19),
        ("G.V()\r", "Carriage return at column 6", 5),
        ("G.V().Has('Value', Outside(1, 5))", "Unknown predicate Outside() at column 20", 19),
        ("", "Empty query", 0),
        ("G.V().Has('a', Ne(Ne(1)))", "NE() takes plain values, got NE(...) at column 19", 18),
        (
            "G.V().Has('a', " + "Ne(" * 5000 + "1" + ")" * 5001,
            "Too many nested parentheses at column 24",
            23,
        ),
        ("G.V()\n .Has('a'", "Expected right parenthesis at line 2, column 10", 15),
        # parameters
        ("G.V().Has()", "Has() needs at least a key at column 7", 6),
        ("G.V().Has('Type', 'lport', 'x')", "params should be a list of key,value pairs", 6),
        ("G.V().Has(1, 'x')", "expects a metadata key as a quoted string, got 1", 10),
        ("G.V().HasKey('a', 'b')", "HasKey() takes exactly one key", 6),
        ("G.V().Count(1)", "Count() takes no parameters", 6),
        ("G.V().Limit('x')", "Limit() takes whole numbers", 12),
        ("G.V().Range(5, 1)", "Range() needs 0 <= from <= to", 6),
        ("G.V().Has('Name', Regex('^a'))", "Regex are anchored by default", 24),
        ("G.V().Has('Name', Regex('a$'))", "Regex are anchored by default", 24),
        ("G.V().Has('Name', Regex('(a'))", "Invalid regular expression '(a'", 24),
        ("G.V().Has('IPV4', Ipv4Range('10.0.0.0/33'))", "Invalid IPv4 range '10.0.0.0/33'", 28),
        ("G.V().Has('Value', Lt('x'))", "LT() compares numbers, got 'x'", 22),
        ("G.V().Has('Value', Inside(1))", "INSIDE() takes 2 values, got 1", 19),
        ("G.V().Has('Value', Within())", "WITHIN() needs at least one value", 19),
        ("G.V().Has('Value', Metadata('a', 1))", "only valid in ShortestPathTo", 19),
        ("G.V().Has('Value', ASC)", "ASC is not a value for Has()", 19),
        ("G.V().Select('x')", "Select(): no As('x') before this step", 13),
        ("G.V().ShortestPathTo('x')", "ShortestPathTo() expects Metadata('key', value, ...)", 21),
        ("G.V().Sort(NOW)", "Sort() takes ASC or DESC, got NOW", 6),
        ("G.V().Values('a').Dedup('b')", "Dedup() on values takes no keys", 18),
        ("G.At('yesterday')", "At() cannot read the time 'yesterday'", 5),
        ("G.At('-1m', 'long')", "At() cannot read the duration 'long'", 12),
        ("G.At(1.5)", "At() cannot read the time 1.5", 5),
        # kinds (§5.4)
        ("G.V().OutV()", "Invalid step 'OutV' on nodes: OutV() applies to edges", 6),
        ("G.E().Out()", "Invalid step 'Out' on edges: Out() applies to nodes", 6),
        ("G.E().Sort()", "Invalid step 'Sort' on edges", 6),
        ("G.V().Count().Count()", "Invalid step 'Count' on a number", 14),
        ("G.V().Values('Name').Count()", "Invalid step 'Count' on values", 21),
        ("G.Has('Name')", "Invalid step 'Has' on a graph", 2),
        ("G.V().At('-1m')", "Invalid step 'At' on nodes", 6),
        ("G.V().SubGraph().At('-1m')", "At() must come right after G", 17),
    ],
)
def test_compile_errors(query: str, message: str, position: int) -> None:
    with pytest.raises(GremlinError) as caught:
        compile_query(query)
    assert message in str(caught.value)
    assert caught.value.position == position


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("G.V('nope')", "Node 'nope' does not exist at column 5"),
        ("G.E('nope')", "Edge 'nope' does not exist at column 5"),
        ("G.V().Sum('Size')", "Sum(): 'Size' of node a is not a number: 'big' at column 7"),
        ("G.At('-1m').V()", "Backend does not support history"),
        ("G.Context(NOW, '5m').V()", "Backend does not support history"),
    ],
)
def test_run_errors(graph: Graph, query: str, message: str) -> None:
    with pytest.raises(GremlinError) as caught:
        run(query, graph)
    assert message in str(caught.value)


def test_error_is_a_value_error_with_plain_message() -> None:
    with pytest.raises(ValueError) as caught:
        compile_query("G.V(")
    assert str(caught.value) == "Expected right parenthesis at column 5"
    assert "Traceback" not in repr(caught.value)


def test_non_string_query() -> None:
    with pytest.raises(GremlinError, match="must be a string"):
        compile_query(42)  # type: ignore[arg-type]
