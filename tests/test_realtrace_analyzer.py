"""Real traces through the analyzer: a collector per chassis, each on its own real Open vSwitch
holding the rules ``dragonscope flows`` writes; ``POST /api/trace/real`` asks the source
chassis's collector over its publisher connection, then the destination's. Admins only,
rate-limited; the command line's ``trace --real --analyzer`` goes the same way.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from analyzer_support import eventually, settings
from dragonscope.analyzer import Analyzer
from dragonscope.analyzer.rest import real_trace
from dragonscope.cli import main
from dragonscope.collector import Collector, CollectorSettings
from dragonscope.trace import DEFAULT_APPS
from realtrace_support import Chassis, start_cloud, stop_cloud, users_and_nb
from stopping import stop_tasks

pytestmark = pytest.mark.timeout(120)

CHASSIS = ["compute-1", "compute-2"]
WEB = {"source": "web-1", "destination": "web-2", "dport": 80}


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    base = tmp_path_factory.mktemp("realtrace")
    users, nb = users_and_nb(base)
    switches = start_cloud(CHASSIS)
    try:
        yield {"switches": switches, "users": users, "nb": f"file://{nb}"}
    finally:
        stop_cloud(switches)


@contextlib.asynccontextmanager
async def analyzer_and_collectors(cloud: dict[str, Any]) -> AsyncIterator[Analyzer]:
    """The analyzer and one collector per chassis, once every chassis answers."""
    async with Analyzer(settings(users_file=cloud["users"])) as analyzer:
        switches: dict[str, Chassis] = cloud["switches"]
        collectors = [
            Collector(
                CollectorSettings(
                    nb=cloud["nb"], analyzer=f"127.0.0.1:{analyzer.port}", chassis=name,
                    user="pub", password="pubpw", extensions=[],
                    backoff_initial=0.05, backoff_max=0.2,
                    ovsdb=chassis.switch.remote if chassis else None,
                    bridge_mappings=chassis.mappings if chassis else (),
                )
            )
            # The global collector, then each chassis's.
            for name, chassis in [(None, None), *switches.items()]
        ]  # fmt: skip
        tasks = [asyncio.create_task(collector.run()) for collector in collectors]
        try:
            answering = sorted(switches)
            await eventually(lambda: analyzer.chassis_calls.chassis() == answering, timeout=30)
            await eventually(lambda: all(c.synced for c in collectors), timeout=30)
            yield analyzer
        finally:
            await stop_tasks(*tasks)


@pytest.fixture
async def running(cloud: dict[str, Any]) -> AsyncIterator[Analyzer]:
    async with analyzer_and_collectors(cloud) as analyzer:
        yield analyzer


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


async def post(
    analyzer: Analyzer, user: str, password: str, body: dict[str, Any]
) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{analyzer.url}/api/trace/real", json=body, headers=basic(user, password)
        ) as response,
    ):
        return response.status, await response.json(content_type=None)


async def test_real_trace_through_the_analyzer_shows_both_chassis(running: Analyzer) -> None:
    status, out = await post(running, "root", "rootpw", WEB)
    assert status == 200, out
    assert [c["chassis"] for c in out["real"]["chassis"]] == CHASSIS
    first, second = out["real"]["chassis"]
    assert first["command"][:3] == ["ovs-appctl", "ofproto/trace", "br-int"]
    assert any(h["table"] == 75 and h["app"] == "tunneling" for h in first["hops"])
    assert second["hops"][-1]["table"] == 115 and second["delivered"] == ["web-2"]
    assert out["real"]["verdict"] == "delivered" and out["simulated"]["verdict"] == "delivered"
    assert out["agreement"]["status"] == "agree" and out["first_difference"] is None
    assert out["chassis_answering"] == CHASSIS
    assert running.chassis_calls.calls >= 4  # ports and a trace on each chassis


async def test_a_service_chain_resumed_through_the_collectors(running: Analyzer) -> None:
    """The passes ofproto/trace freezes (the chain's select group, its MPLS pops) are asked
    of the chassis's collector again, as a table to go on from."""
    chain = {"source": "web-2", "destination": "db-1", "dport": 80}
    status, out = await post(running, "root", "rootpw", chain)
    assert status == 200, out
    commands = [c["command"][1] for c in out["real"]["chassis"]]
    assert commands.count("ofproto/trace-packet-out") >= 3
    hops = [h for c in out["real"]["chassis"] for h in c["hops"]]
    assert (125, "fc") in [(h["table"], h["app"]) for h in hops]  # back from the function
    assert hops[-1]["table"] == 75 and hops[-1]["outcome"] == "tunnel"  # on to compute-3


async def test_chassis_snat_through_the_analyzer(cloud: dict[str, Any]) -> None:
    """The chassis's collector says which port leads to the external bridge, and that
    bridge's MAC: the analyzer's expected rules then hold chassis SNAT's, and agree."""
    apps = DEFAULT_APPS | {"chassis_snat"}
    snat = start_cloud(["compute-2"], apps=apps)
    try:
        async with analyzer_and_collectors({**cloud, "switches": snat}) as analyzer:
            body = {"source": "web-2", "destination": "8.8.8.8", "dport": 443}
            status, out = await post(analyzer, "root", "rootpw", {**body, "apps": "+chassis_snat"})
    finally:
        stop_cloud(snat)
    assert status == 200, out
    assert out["simulated"]["verdict"] == "external"
    assert out["agreement"] == {"status": "agree", "why": "both SNAT it out to br-ex"}
    leave = next(h for c in out["real"]["chassis"] for h in c["hops"] if h["table"] == 71)
    assert leave["app"] == "chassis_snat" and leave["outcome"] == "snat"


async def test_a_deleted_rule_seen_through_the_analyzer(
    running: Analyzer, cloud: dict[str, Any]
) -> None:
    target: Chassis = cloud["switches"]["compute-2"]
    rule = next(f for f in target.flows.flows if f.table == 115 and f.lport == "web-2")
    match = ",".join(f"{k}={v}" for k, v in rule.match)
    target.switch.ofctl("del-flows", "br-int", "--strict", f"table=115,priority=100,{match}")
    try:
        status, out = await post(running, "root", "rootpw", WEB)
        assert status == 200, out
        assert out["agreement"]["status"] == "disagree"
        assert out["first_difference"]["expected_rule"]["rule"] == rule.text()
    finally:
        target.switch.add_flows("br-int", [rule.text()])


async def test_only_admins_may_ask_and_bad_requests_are_refused(running: Analyzer) -> None:
    status, out = await post(running, "ro", "ropw", WEB)
    assert status == 403 and "admins" in out["Error"]
    status, out = await post(running, "pub", "pubpw", WEB)
    assert status == 403
    status, out = await post(running, "root", "rootpw", {**WEB, "patch": {}})
    assert status == 400 and "patch" in out["Error"]
    status, out = await post(running, "root", "rootpw", {"source": "nobody", "dport": 1})
    assert status == 400


async def test_rate_limit_answers_429_with_retry_after(running: Analyzer) -> None:
    statuses = []
    for _ in range(real_trace.PER_MINUTE):
        status, _out = await post(running, "root", "rootpw", {"source": "nobody", "dport": 1})
        statuses.append(status)
    assert statuses == [400] * real_trace.PER_MINUTE  # each one counts, even a bad one
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{running.url}/api/trace/real", json=WEB, headers=basic("root", "rootpw")
        ) as response,
    ):
        assert response.status == 429
        assert "a minute" in (await response.json())["Error"]
        assert 1 <= int(response.headers["Retry-After"]) <= 60


def test_rate_limit_is_per_user() -> None:
    limit = real_trace.RateLimit(1)
    assert limit.admit("root") == 0
    assert 0 < limit.admit("root") <= 60
    assert limit.admit("other") == 0


async def test_a_chassis_without_a_collector_is_said(running: Analyzer) -> None:
    """web-1 to db-1 on compute-3, where no collector runs: the trace stops at the tunnel."""
    status, out = await post(running, "root", "rootpw", {**WEB, "destination": "db-1", "dport": 22})
    assert status == 200, out
    assert out["simulated"]["verdict"] == "delivered"
    assert [c["chassis"] for c in out["real"]["chassis"]] == ["compute-1"]
    assert "no Open vSwitch is known for chassis compute-3" in out["real"]["notes"]
    assert out["agreement"]["status"] != "agree"


def test_cli_trace_real_through_the_analyzer(
    cloud: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async def scenario() -> list[int]:
        codes = []
        async with analyzer_and_collectors(cloud) as analyzer:
            base = ["trace", "--analyzer", f"127.0.0.1:{analyzer.port}", "--from", "web-1",
                    "--to", "web-2", "--dport", "80", "--real", "--format", "json"]  # fmt: skip
            for user, password in (("root", "rootpw"), ("ro", "ropw")):
                argv = [*base, "--user", user, "--password", password]
                codes.append(await asyncio.to_thread(main, argv))
        return codes

    assert asyncio.run(scenario()) == [0, 2]
    out, err = capsys.readouterr()
    answer = json.loads(out)
    assert answer["agreement"]["status"] == "agree"
    assert "403" in err and "admins" in err
