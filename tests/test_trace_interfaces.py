"""What-if patches, the reachability matrix, the text formats, the CLI and the analyzer API."""

from __future__ import annotations

import asyncio
import base64
import copy
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from dragonscope.graph.model import Edge, Node, now_ms
from dragonscope.nb.model import Snapshot
from dragonscope.topology import node_id, translate
from dragonscope.trace import TraceError, Tracer, TraceRequest
from dragonscope.trace.reach import matrix
from dragonscope.trace.render import render, render_matrix
from dragonscope.trace.whatif import apply_patch
from trace_cloud import ACME, GLOBEX, NET, SG_APP, build

MYSQL_RULE = {
    "direction": "ingress",
    "ethertype": "IPv4",
    "id": "app-mysql",
    "protocol": 6,
    "port_range_min": 3306,
    "port_range_max": 3306,
    "remote_ip_prefix": "10.10.1.0/24",
    "security_group_id": SG_APP,
    "topic": ACME,
    "version": 0,
}


def _frozen(snapshot: Snapshot) -> dict[Any, Any]:
    return {k: copy.deepcopy(v.data) for k, v in snapshot.items()}


def test_whatif_patch_changes_verdict_and_leaves_snapshot_untouched() -> None:
    snapshot = build()
    before = _frozen(snapshot)
    request = TraceRequest(source="web-1", destination="db-1", dport=3306)
    assert Tracer(snapshot).trace(request).to_json()["drop"]["code"] == "SG_INGRESS"
    patched = apply_patch(
        snapshot, {"append": {"secgroup": [{"id": SG_APP, "rules": [MYSQL_RULE]}]}}
    )
    result = Tracer(patched).trace(request).to_json()
    assert result["verdict"] == "delivered"
    allow = next(h for h in result["hops"] if h["table"] == 110)
    assert allow["objects"][0]["detail"] == "rule app-mysql"
    assert _frozen(snapshot) == before
    assert Tracer(snapshot).trace(request).verdict == "dropped"


def test_whatif_update_put_delete() -> None:
    snapshot = build()
    disabled = apply_patch(snapshot, {"update": {"lport": [{"id": "web-2", "enabled": False}]}})
    out = Tracer(disabled).trace(TraceRequest(source="web-2", destination="web-1", dport=80))
    assert out.to_json()["drop"]["code"] == "PORT_DISABLED"
    gone = apply_patch(snapshot, {"delete": {"floatingip": ["fip-web-1"]}})
    out = Tracer(gone).trace(TraceRequest(source="web-1", destination="8.8.8.8", dport=443))
    assert out.to_json()["drop"]["code"] == "NO_ROUTE"
    route = apply_patch(
        snapshot,
        {
            "put": {
                "floatingip": [
                    {
                        "id": "fip-web-2",
                        "floating_ip_address": "172.24.4.30",
                        "floating_lport": "fip-port",
                        "lport": "web-2",
                        "fixed_ip_address": "10.10.1.12",
                        "lrouter": "rtr-acme",
                        "topic": ACME,
                    }
                ]
            }
        },
    )
    assert (
        Tracer(route).trace(TraceRequest(source="web-2", destination="8.8.8.8", dport=443)).verdict
        == "external"
    )
    assert ("floatingip", "fip-web-2") not in snapshot


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ([], "must be a JSON object"),
        ({"remove": {}}, "unknown patch section"),
        ({"update": {"lport": [{"id": "nope"}]}}, "lport/nope is not in the snapshot"),
        ({"put": {"lport": [{"name": "x"}]}}, 'needs a string "id"'),
        ({"append": {"lport": [{"id": "web-1", "enabled": True}]}}, "is not a list"),
        ({"delete": {"lport": ["nope"]}}, "not in the snapshot"),
    ],
)
def test_whatif_bad_patches(patch: Any, message: str) -> None:
    with pytest.raises(TraceError, match=message):
        apply_patch(build(), patch)


def test_reach_matrix_for_a_network() -> None:
    tracer = Tracer(build())
    grid = matrix(tracer, network="b-net", proto="tcp", dport=22)
    names = [p["name"] for p in grid["ports"]]
    assert names == ["b-1", "b-2"]
    assert grid["rows"][0][0] is None
    assert grid["rows"][0][1]["verdict"] == "delivered"
    grid = matrix(tracer, tenant=ACME, proto="tcp", dport=3306)
    names = [p["name"] for p in grid["ports"]]
    cell = grid["rows"][names.index("web-1")][names.index("db-1")]
    assert cell["verdict"] == "dropped" and cell["code"] == "SG_INGRESS"
    assert cell["object"]["id"] == SG_APP
    assert "SG_INGRESS" in render_matrix(grid)
    with pytest.raises(TraceError):
        matrix(tracer)


def test_bad_requests_are_clear() -> None:
    tracer = Tracer(build())
    for kw, message in [
        (dict(source="nobody", destination="web-1"), "not a port id, port name or IP"),
        (dict(source="web-1", destination="web-2", proto="sctp"), "unknown protocol"),
        (dict(source="web-1", destination="web-2", dport=70000), "dport must be"),
        (dict(source="web-1"), "give a destination"),
        (dict(source="external", destination="10.10.1.12"), "floating IP"),
        (dict(source="web-1", destination="web-2", ip_src="x"), "not an IP"),
        (dict(source="web-1", destination="db-1", proto="icmp6"), "db-1 has no IPv6 address"),
        (dict(source="web-1", destination="10.10.1.12", proto="icmp6"), "icmp6 needs an IPv6"),
    ]:
        with pytest.raises(TraceError, match=message):
            tracer.trace(TraceRequest(**kw))
    with pytest.raises(TraceError, match="unknown field"):
        TraceRequest.from_json({"from": "web-1", "color": "red"})


@pytest.mark.parametrize("fmt", ["detailed", "summary", "minimal", "json"])
def test_text_formats(fmt: str) -> None:
    result = (
        Tracer(build())
        .trace(TraceRequest(source="web-1", destination="db-1", dport=3306, reply=True))
        .to_json()
    )
    text = render(result, fmt)
    if fmt == "json":
        assert json.loads(text)["drop"]["code"] == "SG_INGRESS"
    else:
        assert "DROPPED SG_INGRESS at table 110" in text
    if fmt == "detailed":
        assert "table 60 L3_LOOKUP (l3_proactive)" in text and "ttl: 64 → 63" in text


def _write_dump(tmp_path: Path) -> str:
    dump: dict[str, list[Any]] = {}
    for (table, _), obj in build().items():
        dump.setdefault(table, []).append(obj.data)
    path = tmp_path / "nb.json"
    path.write_text(json.dumps(dump))
    return f"file://{path}"


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dragonscope", *args], capture_output=True, text=True, timeout=120
    )


def test_cli_trace_and_reach_from_a_dump(tmp_path: Path) -> None:
    nb = _write_dump(tmp_path)
    ok = _cli(
        "trace", "--nb", nb, "--from", "web-1", "--to", "web-2", "--dport", "80", "--format", "json"
    )
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["verdict"] == "delivered"
    patch = tmp_path / "patch.json"
    patch.write_text(json.dumps({"update": {"lport": [{"id": "web-2", "enabled": False}]}}))
    dropped = _cli(
        "trace",
        "--nb",
        nb,
        "--from",
        "web-1",
        "--to",
        "10.10.1.12",
        "--dport",
        "80",
        "--patch",
        str(patch),
        "--format",
        "summary",
    )
    assert dropped.returncode == 1 and "PORT_DISABLED" in dropped.stdout
    bad = _cli("trace", "--nb", nb, "--from", "ghost", "--to", "web-2")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and "ghost" in bad.stderr
    reach = _cli("reach", "--nb", nb, "--network", "b-net", "--format", "json")
    assert reach.returncode == 0, reach.stderr
    assert json.loads(reach.stdout)["rows"][1][0]["verdict"] == "delivered"


def test_cli_reach_finds_a_tenant_by_name_and_prints_icmp_without_a_port(tmp_path: Path) -> None:
    nb = _write_dump(tmp_path)
    no_names = _cli("reach", "--nb", nb, "--tenant", "acme")
    assert no_names.returncode == 2 and "--tenant-names" in no_names.stderr
    names = tmp_path / "projects"
    names.write_text(f"# id name\n{ACME} acme\n{GLOBEX} globex\n")
    by_name = _cli("reach", "--nb", nb, "--tenant", "acme", "--tenant-names", str(names))
    by_id = _cli("reach", "--nb", nb, "--tenant", ACME)
    assert by_name.returncode == 0, by_name.stderr
    assert by_name.stdout == by_id.stdout and "web-1" in by_name.stdout
    unknown = _cli("reach", "--nb", nb, "--tenant", "initech", "--tenant-names", str(names))
    assert unknown.returncode == 2 and "known names: acme, globex" in unknown.stderr
    icmp = _cli("reach", "--nb", nb, "--network", "b-net", "--proto", "icmp")
    assert icmp.returncode == 0, icmp.stderr
    assert icmp.stdout.splitlines()[0] == "icmp, 2 ports"


async def test_analyzer_api_trace_and_reach() -> None:
    from dragonscope.analyzer import Analyzer, AnalyzerSettings

    nodes, edges = translate(build())
    async with Analyzer(AnalyzerSettings(host="127.0.0.1", port=0)) as analyzer:
        for node in nodes.values() if isinstance(nodes, dict) else nodes:
            analyzer.graph.add_node(Node.from_json(node.to_json()))
        for edge in edges.values() if isinstance(edges, dict) else edges:
            analyzer.graph.add_edge(Edge.from_json(edge.to_json()))
        async with aiohttp.ClientSession() as http:
            body = {"from": "web-1", "to": "db-1", "dport": 22, "reply": True}
            async with http.post(f"{analyzer.url}/api/trace", json=body) as resp:
                assert resp.status == 200
                result = await resp.json()
            assert result["verdict"] == "delivered" and result["reply"]["verdict"] == "delivered"
            route = next(h for h in result["hops"] if h["table"] == 60)
            assert all(analyzer.graph.node(o["node_id"]) for o in route["objects"])
            body = {
                "from": "web-1",
                "to": "db-1",
                "dport": 3306,
                "patch": {"append": {"secgroup": [{"id": SG_APP, "rules": [MYSQL_RULE]}]}},
            }
            async with http.post(f"{analyzer.url}/api/trace", json=body) as resp:
                assert (await resp.json())["verdict"] == "delivered"
            async with http.post(f"{analyzer.url}/api/trace", data=b"{not json") as resp:
                assert resp.status == 400
            async with http.post(f"{analyzer.url}/api/trace", json={"from": "ghost"}) as resp:
                assert resp.status == 400 and "ghost" in (await resp.json())["Error"]
            async with http.get(
                f"{analyzer.url}/api/reach", params={"network": NET["b"], "dport": "22"}
            ) as resp:
                assert resp.status == 200
                grid = await resp.json()
            assert grid["rows"][0][1]["verdict"] == "delivered"
            async with http.get(f"{analyzer.url}/api/reach", params={"dport": "x"}) as resp:
                assert resp.status == 400
            async with http.get(f"{analyzer.url}/api/reach", params={"tenant": "acme"}) as resp:
                assert resp.status == 400 and "acme" in (await resp.json())["Error"]
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "dragonscope",
                "trace",
                "--analyzer",
                f"127.0.0.1:{analyzer.port}",
                "--from",
                "web-1",
                "--to",
                "db-1",
                "--dport",
                "22",
                "--format",
                "json",
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            out, err = await asyncio.wait_for(proc.communicate(), 60)
            assert proc.returncode == 0, err.decode()
            assert json.loads(out)["final"]["port"]["name"] == "db-1"
            before = now_ms()
            await asyncio.sleep(0.01)
            analyzer.graph.delete_node(node_id("floatingip", "fip-web-1"))
            body = {"from": "web-1", "to": "8.8.8.8", "dport": 443}
            async with http.post(f"{analyzer.url}/api/trace", json=body) as resp:
                assert (await resp.json())["drop"]["code"] == "NO_ROUTE"
            async with http.post(f"{analyzer.url}/api/trace", json={**body, "at": before}) as resp:
                assert (await resp.json())["verdict"] == "external"
            async with http.post(f"{analyzer.url}/api/trace", json={**body, "at": "x"}) as resp:
                assert resp.status == 400


def test_docs_list_every_drop_code_and_table() -> None:
    from dragonscope.trace import DROP_CODES, TABLES

    text = (Path(__file__).parent.parent / "docs" / "trace.md").read_text()
    for code in DROP_CODES:
        assert f"`{code}`" in text, code
    for name, _app in TABLES.values():
        if name not in ("GUEST",):
            assert name in text or name.replace("_", " ").lower() in text.lower(), name


def test_big_matrix_renders_one_line_per_source() -> None:
    ports = [{"id": f"p{i}", "name": f"vm-{i}"} for i in range(45)]
    dropped = {"verdict": "dropped", "code": "SG_INGRESS"}
    rows = [
        [None if i == j else ({"verdict": "delivered"} if j % 2 else dropped) for j in range(45)]
        for i in range(45)
    ]
    text = render_matrix({"proto": "tcp", "dport": 22, "ports": ports, "rows": rows})
    lines = text.splitlines()
    assert lines[0] == "tcp/22, 45 ports"
    assert lines[1].startswith("vm-0") and "reaches 22/44; SG_INGRESS 22" in lines[1]


async def test_api_applies_analyzer_auth(tmp_path: Path) -> None:
    from dragonscope.analyzer import Analyzer, AnalyzerSettings
    from dragonscope.analyzer.users import add_user

    users = tmp_path / "users"
    add_user(users, "ops", "reader", "s3cret-pass")
    settings = AnalyzerSettings(host="127.0.0.1", port=0, users_file=users)
    async with Analyzer(settings) as analyzer, aiohttp.ClientSession() as http:
        body = {"from": "web-1", "to": "db-1"}
        async with http.post(f"{analyzer.url}/api/trace", json=body) as resp:
            assert resp.status == 401
        async with http.get(f"{analyzer.url}/api/reach", params={"network": "x"}) as resp:
            assert resp.status == 401
        auth = {"Authorization": "Basic " + base64.b64encode(b"ops:s3cret-pass").decode()}
        async with http.post(f"{analyzer.url}/api/trace", json=body, headers=auth) as resp:
            assert resp.status == 400  # authenticated; the empty graph has no port web-1
            assert "web-1" in (await resp.json())["Error"]
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "dragonscope",
            "reach",
            "--analyzer",
            f"127.0.0.1:{analyzer.port}",
            "--user",
            "ops",
            "--network",
            "b-net",
            env={**os.environ, "DRAGONSCOPE_PASSWORD": "wrong"},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        _, err = await asyncio.wait_for(proc.communicate(), 60)
        assert proc.returncode == 2 and b"401" in err and b"Traceback" not in err


async def test_api_mirror_follows_graph_mutations() -> None:
    from types import SimpleNamespace

    from dragonscope.analyzer.rest.trace import TraceService
    from dragonscope.graph.model import Graph
    from dragonscope.topology import snapshot_from_graph

    graph = Graph()
    service = TraceService(SimpleNamespace(graph=graph))
    nodes, edges = translate(build())
    for node in nodes.values():
        graph.add_node(Node.from_json(node.to_json()))
    first, tables = await service.mirror.sync(graph)
    assert tables is None and first == snapshot_from_graph(graph.nodes(), graph.edges())
    for edge in edges.values():  # incremental from here on
        graph.add_edge(Edge.from_json(edge.to_json()))
    web2 = graph.node(node_id("lport", "web-2"))
    assert web2 is not None
    changed = Node.from_json(web2.to_json())
    changed.metadata = {
        **web2.metadata,
        "Dragonflow": {**web2.metadata["Dragonflow"], "enabled": False},
    }
    graph.replace_node(changed)
    graph.delete_node(node_id("floatingip", "fip-web-1"))
    mirrored, tables = await service.mirror.sync(graph)
    assert tables == {"lport", "floatingip", "child_port_segmentation"}
    assert mirrored == snapshot_from_graph(graph.nodes(), graph.edges())
    assert mirrored[("lport", "web-2")].data["enabled"] is False
    assert ("child_port_segmentation", "cps-app-1") in mirrored  # carried by an edge


async def test_api_keeps_indexes_across_heartbeats() -> None:
    from types import SimpleNamespace

    from dragonscope.analyzer.rest.trace import TraceService
    from dragonscope.graph.model import Graph
    from dragonscope.trace import DEFAULT_APPS

    beats = [
        {"id": f"svc-{c}", "binary": "df-local-controller", "chassis": c, "last_seen_up": 1000.0}
        for c in ("compute-1", "compute-2", "compute-3")
    ]
    nodes, edges = translate(apply_patch(build(), {"put": {"service": beats}}))
    graph = Graph()
    for node in nodes.values():
        graph.add_node(Node.from_json(node.to_json()))
    for edge in edges.values():
        graph.add_edge(Edge.from_json(edge.to_json()))
    service = TraceService(SimpleNamespace(graph=graph))
    tracer = await service.tracer(DEFAULT_APPS)
    request = TraceRequest(source="web-1", destination="web-2", dport=80)
    assert tracer.trace(request).notes == []
    for chassis, when in (("compute-1", 1200.0), ("compute-2", 1000.0)):  # compute-2 stops
        old = graph.node(node_id("service", f"svc-{chassis}"))
        assert old is not None
        new = Node.from_json(old.to_json())
        new.metadata = {
            **old.metadata,
            "Dragonflow": {**old.metadata["Dragonflow"], "last_seen_up": when},
        }
        graph.replace_node(new)
    again = await service.tracer(DEFAULT_APPS)
    assert again is tracer  # heartbeats do not invalidate the index
    assert any("compute-2 looks down" in n for n in again.trace(request).notes)
    graph.delete_node(node_id("lport", "web-2"))
    assert await service.tracer(DEFAULT_APPS) is not tracer


async def test_analyzer_serves_project_names_and_reach_takes_them(tmp_path: Path) -> None:
    from dragonscope.analyzer import Analyzer, AnalyzerSettings

    names = tmp_path / "projects"
    names.write_text(f"{ACME} acme\n")
    nodes, edges = translate(build())
    settings = AnalyzerSettings(host="127.0.0.1", port=0, project_names_file=names)
    async with Analyzer(settings) as analyzer, aiohttp.ClientSession() as http:
        for node in nodes.values():
            analyzer.graph.add_node(Node.from_json(node.to_json()))
        for edge in edges.values():
            analyzer.graph.add_edge(Edge.from_json(edge.to_json()))
        async with http.get(f"{analyzer.url}/api/tenants") as resp:
            assert (await resp.json()) == {"Tenants": {ACME: "acme"}}
        async with http.get(f"{analyzer.url}/api/reach", params={"tenant": "acme"}) as resp:
            grid = await resp.json()
        assert grid["tenant"] == ACME and grid["tenant_name"] == "acme"
        names.write_text(f"{ACME} acme-corp\n{GLOBEX} globex\n")  # renamed: read again
        async with http.get(f"{analyzer.url}/api/tenants") as resp:
            assert (await resp.json())["Tenants"] == {ACME: "acme-corp", GLOBEX: "globex"}
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "dragonscope",
            "reach",
            "--analyzer",
            f"127.0.0.1:{analyzer.port}",
            "--tenant",
            "globex",
            "--format",
            "json",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await proc.communicate()
        assert proc.returncode == 0, err.decode()
        assert json.loads(out)["tenant"] == GLOBEX
