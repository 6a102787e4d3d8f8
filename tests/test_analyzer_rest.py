"""REST details: topology shapes, node/edge edits, alerts with a webhook, plug-in routes,
operational endpoints, TLS and the command line."""

from __future__ import annotations

import asyncio
import base64
import os
import signal
import socket
import subprocess
import sys

import aiohttp
import pytest
from aiohttp import web

from analyzer_support import edge, eventually, node, settings
from dragonscope.analyzer import Analyzer, auth
from servers import self_signed_cert

pytestmark = pytest.mark.timeout(60)


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@pytest.fixture
async def analyzer():
    async with Analyzer(settings()) as running:
        yield running


@pytest.fixture
async def http():
    async with aiohttp.ClientSession() as session:
        yield session


async def test_topology_shapes_and_errors(analyzer, http):
    url = analyzer.url + "/api/topology"
    assert (await http.post(url, data=b"")).status == 204
    assert (await http.post(url, json={"GremlinQuery": ""})).status == 204
    response = await http.post(url, data=b"{nope")
    assert response.status == 400 and response.headers["Content-Type"].startswith("text/plain")
    response = await http.post(url, json={"GremlinQuery": 5})
    assert response.status == 400
    response = await http.post(url, json={"GremlinQuery": "G"}, headers={"Accept": "*/*"})
    assert response.headers["Content-Type"] == "application/json; charset=UTF-8"
    assert await response.json() == [{"Nodes": None, "Edges": None}]
    whole = await (await http.get(url)).json()
    assert whole == {"Nodes": None, "Edges": None}


async def test_topology_in_the_ui_projection(analyzer, http):
    base = analyzer.url + "/api"
    nb = {"ID": "df-1", "name": "web-1", "ips": ["10.0.0.5"], "version": 3, "Stale": True}
    neutron = {"PortID": "df-1", "NetworkName": "web", "VNI": 7}
    await http.post(
        base + "/node", json=node("a", "web-1", "lport", Dragonflow=nb, Neutron=neutron, MAC="m")
    )
    await http.post(base + "/node", json=node("b", "net", "lswitch", Dragonflow="not an object"))
    await http.post(base + "/edge", json=edge("e", "b", "a", "ownership", Join="iface-id"))
    url = base + "/topology?projection=ui"
    got = await (await http.get(url)).json()
    origin = "api.analyzer-test"
    # The raw NB object keeps only what the UI reads; the rest of the metadata is whole.
    assert sorted(got["Nodes"], key=lambda n: n["ID"]) == [  # the NB and Neutron objects trimmed
        {
            "ID": "a",
            "Origin": origin,
            "Metadata": {
                "Name": "web-1",
                "Type": "lport",
                "MAC": "m",
                "Dragonflow": {"ID": "df-1", "name": "web-1", "Stale": True},
                "Neutron": {"PortID": "df-1"},
            },
        },
        {
            "ID": "b",
            "Origin": origin,
            "Metadata": {"Name": "net", "Type": "lswitch", "Dragonflow": "not an object"},
        },
    ]
    # An edge is [ID, parent, child, metadata], its ends by their place in the nodes' list.
    [(edge_id, parent, child, metadata)] = got["Edges"]
    assert (edge_id, got["Nodes"][parent]["ID"], got["Nodes"][child]["ID"]) == ("e", "b", "a")
    assert metadata == {"RelationType": "ownership", "Join": "iface-id"}
    # Asked again after changes: what changed is new, and every edge's ends are right.
    patch = [{"op": "add", "path": "/Metadata/Color", "value": "red"}]
    assert (await http.patch(base + "/node/a", json=patch)).status == 200
    assert (await http.delete(base + "/node/b")).status == 200
    await http.post(base + "/node", json=node("c", "c", "lswitch"))
    await http.post(base + "/edge", json=edge("f", "c", "a"))
    again = await (await http.get(url)).json()
    assert {n["ID"]: n["Metadata"].get("Color") for n in again["Nodes"]} == {"a": "red", "c": None}
    ends = [(e[0], again["Nodes"][e[1]]["ID"], again["Nodes"][e[2]]["ID"]) for e in again["Edges"]]
    assert ends == [("f", "c", "a")]
    # The whole node is still there for the asking.
    whole = await (await http.get(base + "/node/a")).json()
    assert whole["Metadata"]["Dragonflow"] == nb
    response = await http.get(base + "/topology?projection=everything")
    assert response.status == 400 and "'ui'" in await response.text()


async def test_node_edge_rest_semantics(analyzer, http):
    base = analyzer.url + "/api"
    created = await http.post(base + "/node", json=node("a", Color="red"))
    assert created.status == 201
    body = await created.json()
    assert body["Origin"] == "api.analyzer-test" and body["CreatedAt"] == body["UpdatedAt"]
    await http.post(base + "/node", json=node("b"))
    response = await http.post(
        base + "/edge",
        json={"ID": "e", "Parent": "ghost", "Child": "b", "Metadata": {"RelationType": "x"}},
    )
    assert response.status == 400 and (await response.text()) == "Parent node not found\n"
    patch = [{"op": "replace", "path": "/Metadata/Name", "value": "renamed"}]
    response = await http.patch(base + "/node/a", json=patch)
    assert response.status == 304  # Name is protected, so nothing changed
    patch = [{"op": "remove", "path": "/Metadata/Color"}]
    response = await http.patch(base + "/node/a", json=patch)
    assert response.status == 200 and "Color" not in (await response.json())["Metadata"]
    response = await http.patch(base + "/node/a", json=[{"op": "remove", "path": "/Nope"}])
    assert response.status == 400 and "invalid JSON Patch" in await response.text()
    response = await http.get(base + "/node/ghost")
    assert response.status == 404 and await response.text() == "Node 'ghost' not found\n"
    assert (await http.delete(base + "/edge/ghost")).status == 404
    response = await http.post(base + "/node", data=b"")
    assert response.status == 400 and "empty" in await response.text()


async def test_alert_fires_webhook_and_notifies_subscribers(analyzer, http):
    received: list[dict] = []

    async def hook(request: web.Request) -> web.Response:
        received.append(await request.json())
        return web.Response(text="ok")

    receiver = web.Application()
    receiver.router.add_post("/hook", hook)
    runner = web.AppRunner(receiver)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    try:
        sub = await http.ws_connect(
            analyzer.url + "/ws/subscriber",
            headers={"X-Client-Type": "t", "X-Websocket-Namespace": "Alert"},
        )
        response = await http.post(
            analyzer.url + "/api/alert",
            json={
                "Action": f"http://127.0.0.1:{port}/hook",
                "Expression": "G.V().Has('Name', 'alarm')",
                "Trigger": "graph",
            },
        )
        assert response.status == 201
        alert = await response.json()
        assert set(alert) >= {"UUID", "Expression", "Action", "Trigger", "CreateTime"}
        await http.post(analyzer.url + "/api/node", json=node("quiet"))
        await http.post(analyzer.url + "/api/node", json=node("alarm"))
        await eventually(lambda: received)
        assert received[0]["UUID"] == alert["UUID"]
        assert received[0]["ReasonData"][0]["ID"] == "alarm"
        notice = await sub.receive_json(timeout=5)
        assert (notice["Namespace"], notice["Type"]) == ("Alert", "Alert")
        listed = await (await http.get(analyzer.url + "/api/alert")).json()
        assert list(listed) == [alert["UUID"]]
        bad = await http.post(
            analyzer.url + "/api/alert", json={"Action": "file:///bin/sh", "Expression": "G.V()"}
        )
        assert bad.status == 400 and "file://" in await bad.text()
        bad = await http.post(analyzer.url + "/api/alert", json={"Expression": "G.V("})
        assert bad.status == 400
        assert (await http.delete(analyzer.url + f"/api/alert/{alert['UUID']}")).status == 200
        assert await (await http.get(analyzer.url + "/api/alert")).json() == {}
    finally:
        await runner.cleanup()


async def test_update_rule_applies_to_later_nodes_and_is_undone(analyzer, http):
    rule = await http.post(
        analyzer.url + "/api/noderule",
        json={
            "Action": "update",
            "Metadata": {"Zone": "dmz"},
            "Query": "G.V().Has('Type', 'host')",
        },
    )
    assert rule.status == 201
    rule_id = (await rule.json())["UUID"]
    await http.post(analyzer.url + "/api/node", json=node("h1", type_="host"))
    await eventually(lambda: analyzer.graph.node("h1").metadata.get("Zone") == "dmz")
    bad = await http.post(
        analyzer.url + "/api/noderule", json={"Action": "update", "Metadata": {"Name": "x"}}
    )
    assert bad.status == 400
    await http.delete(analyzer.url + f"/api/noderule/{rule_id}")
    assert "Zone" not in analyzer.graph.node("h1").metadata
    assert (await http.patch(analyzer.url + f"/api/noderule/{rule_id}", json=[])).status == 400


async def test_plugin_routes_get_the_analyzer_and_its_auth(tmp_path):
    def setup(app: web.Application, analyzer: Analyzer) -> None:
        async def count(request: web.Request) -> web.Response:
            analyzer.authorize(request, auth.READ)
            return web.json_response({"Nodes": analyzer.graph.node_count()})

        app.router.add_get("/api/plugin", count)

    from dragonscope.analyzer.users import add_user

    users = tmp_path / "users"
    add_user(users, "ro", "reader", "pw")
    plugged = Analyzer(settings(users_file=users), routes=[setup])
    async with plugged as running, aiohttp.ClientSession() as http:
        assert (await http.get(running.url + "/api/plugin")).status == 401
        response = await http.get(running.url + "/api/plugin", headers=basic("ro", "pw"))
        assert await response.json() == {"Nodes": 0}


async def test_operational_endpoints(analyzer, http):
    health = await http.get(analyzer.url + "/healthz")
    assert health.status == 200 and (await health.json())["Status"] == "ok"
    metrics = await (await http.get(analyzer.url + "/metrics")).text()
    names = ["publishers", "subscribers", "graph_nodes", "graph_edges", "messages_in_total"]
    names += ["messages_out_total", "rejections_total", "subscriber_queue_depth_max"]
    for name in names:
        assert f"\ndragonscope_{name}" in "\n" + metrics
    spec = await (await http.get(analyzer.url + "/api/openapi.json")).json()
    assert spec["openapi"].startswith("3.")
    assert {"/api/topology", "/api/node/{id}", "/api/changes", "/login"} <= set(spec["paths"])
    # Every route of the API is described (the description itself aside).
    mounted = {
        route.resource.canonical
        for route in analyzer.app.router.routes()
        if route.resource is not None and route.resource.canonical.startswith("/api")
    }
    assert mounted - set(spec["paths"]) == {"/api/openapi.json"}
    assert spec["paths"]["/api/trace"]["post"]["requestBody"]
    info = await (await http.get(analyzer.url + "/api")).json()
    assert info["Service"] == "analyzer" and info["Host"] == "analyzer-test"
    status = await (await http.get(analyzer.url + "/api/status")).json()
    assert {"Publishers", "Subscribers", "Agents", "Peers"} <= set(status)
    index = await http.get(analyzer.url + "/")
    assert index.status in (200, 404)
    login = await http.post(analyzer.url + "/login", data={"username": "x", "password": "y"})
    assert login.status == 200 and (await login.json())["Token"] == ""
    assert (await http.get(analyzer.url + "/ws/publisher")).status == 426
    cors = {"Origin": "http://elsewhere.example"}
    preflight = await http.options(analyzer.url + "/api/topology", headers=cors)
    assert preflight.status == 200 and "POST" in preflight.headers["Access-Control-Allow-Methods"]
    response = await http.get(analyzer.url + "/api/node", headers=cors)
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    for i in range(300):
        await http.post(analyzer.url + "/api/node", json=node(f"bulk{i}"))
    compressed = await http.get(analyzer.url + "/api/node", headers={"Accept-Encoding": "gzip"})
    assert compressed.headers["Content-Encoding"] == "gzip" and len(await compressed.json()) == 300


async def test_tls(tmp_path):
    cert, key = self_signed_cert(tmp_path)
    async with Analyzer(settings(tls_cert=cert, tls_key=key)) as running:
        assert running.url.startswith("https://")
        async with aiohttp.ClientSession() as http:
            response = await http.get(running.url + "/healthz", ssl=False)
            assert response.status == 200
            ws = await http.ws_connect(
                running.url.replace("https", "wss") + "/ws/subscriber",
                headers={"X-Client-Type": "t"},
                ssl=False,
            )
            await ws.close()


def _cli(*args: str, env: dict | None = None, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "dragonscope", "analyzer", *args],
        capture_output=True, text=True, timeout=30, env={**os.environ, **(env or {})}, **kwargs,
    )  # fmt: skip


def test_cli_errors_are_one_line(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = _cli("--listen", f"127.0.0.1:{port}")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "cannot listen" in result.stderr
    bad = tmp_path / "users"
    bad.write_text("garbage\n")
    result = _cli("--users", str(bad))
    assert result.returncode == 2 and "users:1: expected name:role:hash" in result.stderr
    result = _cli("--listen", "0.0.0.0:0")
    assert result.returncode == 2 and "--insecure" in result.stderr
    result = _cli("--listen", "nonsense")
    assert result.returncode == 2 and "HOST:PORT" in result.stderr


def test_cli_adduser_and_serve(tmp_path):
    users = tmp_path / "users"
    result = _cli(
        "adduser", str(users), "ops", "--role", "admin", env={"DRAGONSCOPE_PASSWORD": "pw"}
    )
    assert result.returncode == 0 and "added ops (admin)" in result.stdout
    result = _cli("adduser", str(users), "ops", "--role", "reader", input="pw2\n")
    assert result.returncode == 0 and "updated ops (reader)" in result.stdout
    server = subprocess.Popen(
        [sys.executable, "-m", "dragonscope", "analyzer", "--listen", "127.0.0.1:0",
         "--users", str(users), "--history-retention", "1h"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        line = server.stdout.readline()
        assert "listening on http://127.0.0.1:" in line, server.stderr.read()
        url = line.split()[-1]

        async def probe() -> tuple[int, int]:
            async with aiohttp.ClientSession() as http:
                anonymous = await http.get(url + "/api/node")
                signed = await http.get(url + "/api/node", headers=basic("ops", "pw2"))
                return anonymous.status, signed.status

        assert asyncio.run(probe()) == (401, 200)
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(10) == 0


def test_history_from_the_flag_the_environment_or_the_data_directory(monkeypatch, tmp_path):
    from dragonscope.cli import build_parser
    from dragonscope.cli.analyzer import default_history, settings_from_args

    def history(*argv: str) -> str | None:
        return settings_from_args(build_parser().parse_args(["analyzer", *argv])).history

    monkeypatch.delenv("DRAGONSCOPE_HISTORY", raising=False)
    assert history() == default_history() and default_history().endswith("dragonscope/history.db")
    assert history("--history", "memory") is None
    monkeypatch.setenv("DRAGONSCOPE_HISTORY", f"sqlite://{tmp_path}/h.db")
    assert history() == f"sqlite://{tmp_path}/h.db"
    assert history("--history", "memory") is None
    monkeypatch.setenv("DRAGONSCOPE_HISTORY", "memory")
    assert history() is None
