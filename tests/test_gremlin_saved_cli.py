"""Saved queries and ``dragonscope query`` against an analyzer, a memory NB and real etcd."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest

from dragonscope.cli import main
from dragonscope.cli.query import run_on_nb
from dragonscope.graph.model import Node
from dragonscope.gremlin import GremlinError, compile_query
from dragonscope.gremlin.saved import SAVED_QUERIES, expand

sys.path.insert(0, str(Path(__file__).parent))
from analyzer_support import ThreadedAnalyzer

pytestmark = pytest.mark.timeout(120)

SAMPLE = "memory://sample"


@pytest.mark.parametrize("name", sorted(SAVED_QUERIES))
def test_every_saved_query_compiles_to_a_graph(name: str) -> None:
    saved = SAVED_QUERIES[name]
    query = expand(name, {p: "x" for p in saved.params})
    assert compile_query(query).returns_graph
    assert saved.to_json()["Params"] == list(saved.params)


def test_positional_and_named_parameters() -> None:
    by_name = expand("path", {"from": "a", "to": "b"})
    assert by_name == expand("path", ["a", "b"])
    assert "Has('Name', 'a')" in by_name and "Metadata('Name', 'b')" in by_name


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("nope", {}, "No saved query named 'nope'; known: broken-references"),
        ("tenant", {}, "'tenant' needs parameter(s): id"),
        ("tenant", {"id": "a", "x": "b"}, "'tenant' has no parameter x; it takes: id"),
        ("tenant", ["a", "b"], "'tenant' takes 1 parameter(s), got 2"),
        ("tenant", {"id": "x').V().Has('Name"}, "cannot contain quotes or control characters"),
        ("tenant", {"id": 'x"'}, "cannot contain quotes"),
        ("tenant", {"id": "a\nb"}, "cannot contain quotes or control characters"),
        ("tenant", {"id": 5}, "Parameter 'id' of 'tenant' must be a string"),
        ("tenant", {"id": "x" * 300}, "longer than 256 characters"),
    ],
)
def test_bad_parameters_are_refused(name: str, params: object, message: str) -> None:
    with pytest.raises(GremlinError) as caught:
        expand(name, params)  # type: ignore[arg-type]
    assert message in str(caught.value)


async def test_saved_queries_select_the_right_things() -> None:
    async def q(query: str) -> list:
        return await run_on_nb(query, SAMPLE)

    chassis = (await q("G.V().Has('Type', 'chassis').Limit(1)"))[0]["Metadata"]["Dragonflow"]["ID"]
    view = (await q(expand("chassis", {"name": chassis})))[0]
    types = {n["Metadata"]["Type"] for n in view["Nodes"]}
    assert {"chassis", "lport", "lswitch"} <= types
    bound = await q(f"G.V().Has('Type', 'lport', 'Chassis', '{chassis}').Count()")
    assert sum(n["Metadata"]["Type"] == "lport" for n in view["Nodes"]) >= bound > 0

    security = (await q(expand("security")))[0]
    assert {e["Metadata"]["RelationType"] for e in security["Edges"]} == {"secgroup"}
    broken = (await q(expand("broken-references")))[0]
    missing = [n for n in broken["Nodes"] if n["Metadata"]["Type"] == "missing"]
    assert missing and len(broken["Nodes"]) > len(missing)
    l3 = (await q(expand("l3")))[0]
    assert {"lrouter", "lrouter_port", "lswitch"} <= {n["Metadata"]["Type"] for n in l3["Nodes"]}


# -- the command -------------------------------------------------------------------


def test_query_on_memory_nb(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["query", "--nb", SAMPLE, "G.V().Has('Type', 'lswitch').Sort('Name')"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split()[:3] == ["ID", "Type", "Name"]
    assert "acme-web" in out and "nodes)" in out
    assert main(["query", "--nb", SAMPLE, "--json", "G.V().Has('Type', 'lswitch').Count()"]) == 0
    assert json.loads(capsys.readouterr().out) > 0
    assert main(["query", "--nb", SAMPLE, "--saved", "path", "--param", "from=acme-web",
                 "--param", "to=globex-db"]) == 0  # fmt: skip
    assert "edges)" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["G.V().Has('a'"], "Expected right parenthesis at column 14"),
        (["--saved", "tenant", "--param", "id=a'b"], "cannot contain quotes"),
        (["--saved", "tenant", "--param", "oops"], "--param 'oops': write KEY=VALUE"),
        (["G.V()", "--param", "a=b"], "--param only goes with --saved"),
        ([], "give a query"),
        (["G.V('nope')"], "Node 'nope' does not exist"),
    ],
)
def test_query_mistakes(capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    assert main(["query", "--nb", SAMPLE, *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_query_bad_nb_url(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["query", "--nb", "gopher://x", "G.V()"]) == 2
    err = capsys.readouterr().err
    assert "cannot read gopher://x" in err and "unknown scheme 'gopher'" in err


def test_query_on_etcd(etcd_server, capsys: pytest.CaptureFixture[str]) -> None:
    from dragonscope.demo.generate import generate
    from dragonscope.demo.writers import write

    url = f"etcd://127.0.0.1:{etcd_server.port}"
    asyncio.run(write(generate("small"), url))
    assert main(["query", "--nb", url, "--json", "G.V().Has('Type', 'lrouter').Count()"]) == 0
    assert json.loads(capsys.readouterr().out) == 3


@pytest.fixture(scope="module")
def analyzer(tmp_path_factory: pytest.TempPathFactory):
    from dragonscope.analyzer.users import add_user

    users = tmp_path_factory.mktemp("users") / "users"
    add_user(users, "ro", "reader", "ropw")
    threaded = ThreadedAnalyzer(users_file=users)
    with threaded as running:
        threaded.call(
            lambda: running.store.add_node(Node("seed", {"Name": "seed", "Type": "fabric"}), "t.x")
        )
        yield running


def test_query_on_analyzer(analyzer, capsys: pytest.CaptureFixture[str]) -> None:
    where = ["--analyzer", f"127.0.0.1:{analyzer.port}", "--user", "ro", "--password", "ropw"]
    assert main(["query", *where, "G.V().Has('Name', 'seed')"]) == 0
    out = capsys.readouterr().out
    assert "seed" in out and "fabric" in out and "(1 node)" in out
    assert main(["query", *where, "--json", "G.V().Count()"]) == 0
    assert json.loads(capsys.readouterr().out) == 1


def test_query_on_analyzer_errors(
    analyzer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    where = ["--analyzer", f"127.0.0.1:{analyzer.port}", "--user", "ro"]
    monkeypatch.setenv("DRAGONSCOPE_PASSWORD", "wrong")
    assert main(["query", *where, "G.V()"]) == 2
    err = capsys.readouterr().err
    assert "refused" in err and "wrong" not in err
    monkeypatch.setenv("DRAGONSCOPE_PASSWORD", "ropw")
    assert main(["query", *where, "G.V().Out("]) == 2
    assert "Expected right parenthesis" in capsys.readouterr().err


def test_long_tables_are_cut(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["query", "--nb", SAMPLE, "--max-rows", "2", "G.V().Has('Type', 'lport')"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2 + 2 + 1 and "first 2 shown; --json prints all" in out[-1]
