"""The demo's documentation stays true: its example queries run on the sample cloud and
find something, and the demo commands it shows exist with the options it names."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from demo_snapshot import demo_snapshot
from dragonscope.cli import build_parser
from dragonscope.graph import Graph
from dragonscope.gremlin import run
from dragonscope.topology import translate

DOCS = Path(__file__).parent.parent / "docs"
PAGES = ("quickstart.md", "operator-guide.md")
# A Gremlin query as the pages write it: alone on a line, or quoted in a command.
QUERY = re.compile(r"""(G\.(?:V|E)\(\)(?:\.[A-Za-z]+\((?:[^()'"]|'[^']*')*\))*)""")


def doc_queries() -> list[tuple[str, str]]:
    found = []
    for page in PAGES:
        for query in QUERY.findall((DOCS / page).read_text()):
            found.append((page, query))
    return sorted(set(found))


@pytest.fixture(scope="module")
def sample_graph() -> Graph:
    snapshot = demo_snapshot("small", seed=0)
    nodes, edges = translate(snapshot)
    graph = Graph()
    for node in nodes.values():
        graph.add_node(node)
    for edge in edges.values():
        graph.add_edge(edge)
    return graph


def test_the_pages_have_queries() -> None:
    assert len(doc_queries()) >= 6


@pytest.mark.parametrize(("page", "query"), doc_queries())
def test_every_documented_query_runs_on_the_sample_cloud(sample_graph, page, query) -> None:
    result = run(query, sample_graph)
    if query.endswith(".Count()"):
        assert isinstance(result, int) and result > 0
    elif "'State', 'DOWN'" not in query:  # the sample has no port set down until churn
        assert result, f"{page}: {query} finds nothing on the sample cloud"


def test_every_documented_demo_option_exists() -> None:
    text = "\n".join((DOCS / page).read_text() for page in PAGES)
    parser = build_parser()
    subcommands = parser._subparsers._group_actions[0].choices
    demo = subcommands["demo"]
    generate_parser = demo._subparsers._group_actions[0].choices["generate"]
    known = set(demo._option_string_actions) | set(generate_parser._option_string_actions)
    for line in text.splitlines():
        if "dragonscope demo" not in line and not line.startswith("| `--"):
            continue
        for option in re.findall(r"(?<![\w-])(--[a-z][a-z-]+)", line):
            assert option in known, f"{option} in: {line.strip()}"


def test_the_size_table_matches_the_generator() -> None:
    from dataclasses import fields

    from dragonscope.demo import SIZES, Counts

    rows = {}
    for line in (DOCS / "quickstart.md").read_text().splitlines():
        match = re.match(r"\| `(\w+)` \| (\d+) \| (\d+) \| (\d+) \|", line)
        if match:
            rows[match[1]] = tuple(int(n) for n in match.groups()[1:])
    assert set(rows) == {f.name for f in fields(Counts)}
    for name, values in rows.items():
        assert values == tuple(getattr(SIZES[s], name) for s in ("small", "medium", "large"))
