"""Flow drift in the chassis collector: a real Open vSwitch holding the rules ``dragonscope
flows`` writes, a collector reading it and publishing to an analyzer. Clean, the chassis node
says so; a deleted rule shows on its port (counts, the rule, a problem) and on the chassis
(per app) within a flow scan or two; put back, the port's drift goes.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from analyzer_support import eventually, settings
from dragonscope.analyzer import Analyzer
from dragonscope.collector import Collector, CollectorSettings
from dragonscope.collector.ovs_drift import DriftWatch, generate
from dragonscope.demo import generate as generate_cloud
from dragonscope.nb import NbObject, Snapshot, dump_json, tables
from dragonscope.ovs import OvsProbe, ProbeSettings
from dragonscope.ovs.flows import parse as parse_flows
from dragonscope.topology import node_id
from dragonscope.trace import DEFAULT_APPS, Tracer
from dragonscope.trace.flows import ChassisOvs, drift, expected_flows
from ovs_support import held_by_chassis_collector
from realtrace_support import Chassis, start_cloud, stop_cloud
from servers import EtcdServer
from stopping import stop_tasks
from trace_cloud import build

pytestmark = pytest.mark.timeout(120)

NAME = "compute-1"


@pytest.fixture(scope="module")
def chassis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Chassis, str]]:
    dump: dict[str, list[dict[str, Any]]] = {}
    for (table, _), obj in build().items():
        dump.setdefault(table, []).append(obj.data)
    nb = tmp_path_factory.mktemp("drift") / "nb.json"
    nb.write_bytes(dump_json(dump))
    cloud = start_cloud([NAME])
    try:
        yield cloud[NAME], f"file://{nb}"
    finally:
        stop_cloud(cloud)


@pytest.fixture
async def running(chassis: tuple[Chassis, str]) -> AsyncIterator[tuple[Analyzer, Collector]]:
    here, nb = chassis
    async with Analyzer(settings()) as analyzer:
        collector = Collector(
            CollectorSettings(
                nb=nb, analyzer=f"127.0.0.1:{analyzer.port}", chassis=NAME, extensions=[],
                ovsdb=here.switch.remote, ovs_flow_interval=0.2,
                bridge_mappings=here.mappings,
            )
        )  # fmt: skip
        task = asyncio.create_task(collector.run())
        try:
            yield analyzer, collector
        finally:
            await stop_tasks(task)


def drift_of(analyzer: Analyzer, nid: str) -> dict[str, Any] | None:
    node = analyzer.graph.node(nid)
    return node.metadata.get("Drift") if node is not None else None


async def test_drift_is_published_per_port_and_per_chassis(
    running: tuple[Analyzer, Collector], chassis: tuple[Chassis, str]
) -> None:
    analyzer, collector = running
    here, _ = chassis
    chassis_id, web1 = node_id(tables.CHASSIS, NAME), node_id(tables.LPORT, "web-1")
    clean = await eventually(lambda: drift_of(analyzer, chassis_id), timeout=30)
    assert clean["Missing"] == clean["Unexpected"] == clean["Differ"] == 0
    assert clean["Expected"] == len(here.flows.flows) and clean["Installed"] == clean["Expected"]
    assert "Problems" not in analyzer.graph.node(chassis_id).metadata
    assert drift_of(analyzer, web1) is None
    checks = collector.ovs.drift.checks if collector.ovs else 0
    await asyncio.sleep(1.0)  # several flow scans of an unchanged bridge: no new check
    assert collector.ovs is not None and collector.ovs.drift.checks == checks

    rule = next(f for f in here.flows.flows if f.table == 115 and f.lport == "web-1")
    match = ",".join(f"{k}={v}" for k, v in rule.match)
    here.switch.ofctl("del-flows", "br-int", "--strict", f"table=115,priority=100,{match}")
    try:
        port = await eventually(lambda: drift_of(analyzer, web1), timeout=30)
        assert port["Missing"] == 1 and port["Unexpected"] == port["Differ"] == 0
        assert port["Rules"] == [{"Kind": "missing", "Rule": rule.text(), "App": "classifier"}]
        problems = analyzer.graph.node(web1).metadata["Problems"]
        assert any(p.startswith("flow drift: 1 missing") for p in problems)
        total = drift_of(analyzer, chassis_id)
        assert total is not None and total["Missing"] == 1
        assert total["PerApp"]["classifier"] == {"missing": 1}
        assert json.dumps(total)  # plain JSON all the way
    finally:
        here.switch.add_flows("br-int", [rule.text()])
    await eventually(lambda: drift_of(analyzer, web1) is None, timeout=30)
    assert "Problems" not in analyzer.graph.node(web1).metadata
    assert drift_of(analyzer, chassis_id)["Missing"] == 0  # type: ignore[index]


async def test_a_changed_action_is_checked_though_the_ovs_graph_stays(
    running: tuple[Analyzer, Collector], chassis: tuple[Chassis, str]
) -> None:
    """A rule whose actions change keeps its place in the per-table counts of the OVS graph,
    so the probe's graph does not move: the new dump must be checked all the same."""
    analyzer, collector = running
    here, _ = chassis
    chassis_id, web1 = node_id(tables.CHASSIS, NAME), node_id(tables.LPORT, "web-1")
    await eventually(lambda: drift_of(analyzer, chassis_id), timeout=30)
    assert collector.ovs is not None
    nodes, rebuilds = dict(collector.ovs.probe.nodes), collector.ovs.probe.stats["rebuilds"]
    rule = next(f for f in here.flows.flows if f.table == 115 and f.lport == "web-1")
    match = ",".join(f"{k}={v}" for k, v in rule.match)
    here.switch.ofctl(
        "mod-flows", "br-int", "--strict", f"table=115,priority=100,{match},actions=drop"
    )
    try:
        port = await eventually(lambda: drift_of(analyzer, web1), timeout=10)
        assert port["Differ"] == 1 and port["Missing"] == port["Unexpected"] == 0
        assert port["Rules"] == [{"Kind": "differ", "Rule": rule.text(), "App": "classifier"}]
        # The case at hand: the probe saw the new dump, and its graph stayed as it was.
        assert collector.ovs.probe.stats["rebuilds"] > rebuilds
        assert collector.ovs.probe.nodes == nodes
    finally:
        here.switch.add_flows("br-int", [rule.text()])
    await eventually(lambda: drift_of(analyzer, web1) is None, timeout=30)


async def test_an_nb_change_while_the_rules_are_generated_is_not_lost(
    chassis: tuple[Chassis, str],
) -> None:
    """The expected rules are generated in a thread, and the NB may move meanwhile: the rules
    of the NB as it was must not be kept as those of the NB as it is now."""
    here, _ = chassis
    whole, web1 = build(), (tables.LPORT, "web-1")
    nb: dict[str, Snapshot] = {"now": {k: o for k, o in whole.items() if k != web1}}
    taken: list[Snapshot] = []

    def snapshot() -> Snapshot:
        taken.append(nb["now"])
        return nb["now"]

    settings = ProbeSettings(NAME, here.switch.remote, bridge_mappings=here.mappings)
    probe = OvsProbe(settings, lambda: nb["now"], lambda nodes, edges: None)
    probing = asyncio.create_task(probe.run())
    try:
        await eventually(lambda: probe.flows and probe.ports().ofports, timeout=30)
        watch = DriftWatch(probe, snapshot, lambda ids: None)
        checking = asyncio.create_task(watch.check())
        while not taken:  # one step at a time: the check must not get past its generation
            await asyncio.sleep(0)
        nb["now"] = whole  # web-1 arrives while the rules of the NB without it are made
        watch.nb_changed()
        assert not checking.done()
        await checking
        await watch.check()  # the one nb_changed asked for
        assert watch.last is not None and watch.last.clean, watch.last.to_json()["counts"]
        assert len(taken) == 2
    finally:
        await stop_tasks(probing)


async def test_a_wake_that_finds_nothing_moved_is_no_check(chassis: tuple[Chassis, str]) -> None:
    """Most probe rebuilds (counters, OVSDB statistics) move neither the rules nor the ports:
    such a wake is answered by an identity check, which must not count as a check (the next
    real one would wait a whole interval for it)."""
    here, _ = chassis
    whole = build()
    settings = ProbeSettings(NAME, here.switch.remote, bridge_mappings=here.mappings)
    probe = OvsProbe(settings, lambda: whole, lambda nodes, edges: None)
    probing = asyncio.create_task(probe.run())
    try:
        await eventually(lambda: probe.flows and probe.ports().ofports, timeout=30)
        watch = DriftWatch(probe, lambda: whole, lambda ids: None)
        assert await watch.check() is True
        assert await watch.check() is False
        assert watch.checks == 1
        dumped = probe.flows
        rule = next(f for f in here.flows.flows if f.table == 115 and f.lport == "web-1")
        match = ",".join(f"{k}={v}" for k, v in rule.match)
        here.switch.ofctl(
            "mod-flows", "br-int", "--strict", f"table=115,priority=100,{match},actions=drop"
        )
        try:
            await eventually(lambda: probe.flows is not dumped, timeout=30)
            assert await watch.check() is True
            assert watch.last is not None and len(watch.last.differ) == 1
        finally:
            here.switch.add_flows("br-int", [rule.text()])
    finally:
        await stop_tasks(probing)


async def test_a_slice_read_from_etcd_checks_what_it_knows_and_no_more(
    chassis: tuple[Chassis, str], etcd_server: EtcdServer
) -> None:
    """A chassis collector on etcd keeps only skeletons of the ports bound elsewhere: the
    rules Dragonflow installs for them cannot be told right or wrong from a skeleton, so
    they are counted as not checked, never as missing or unexpected. No check is made before
    the NB is wholly read. The local ports' rules are still checked: a deleted one is
    missing, a stray one naming a key no port has is unexpected."""
    here, _ = chassis
    for (table, object_id), obj in build().items():
        etcd_server.put(f"/{table}/{object_id}", json.dumps(obj.data))
    async with Analyzer(settings()) as analyzer:
        collector = Collector(
            CollectorSettings(
                nb=etcd_server.url, analyzer=f"127.0.0.1:{analyzer.port}", chassis=NAME,
                extensions=[], ovsdb=here.switch.remote, ovs_flow_interval=0.2,
                bridge_mappings=here.mappings,
            )
        )  # fmt: skip
        task = asyncio.create_task(collector.run())
        try:
            chassis_id, web1 = node_id(tables.CHASSIS, NAME), node_id(tables.LPORT, "web-1")
            first = await eventually(lambda: drift_of(analyzer, chassis_id), timeout=30)
            assert first["Missing"] == first["Unexpected"] == first["Differ"] == 0, first
            assert first["Unchecked"] > 0
            assert first["Expected"] < len(here.flows.flows)  # the remote ports' are not
            assert "Problems" not in analyzer.graph.node(chassis_id).metadata

            local = next(f for f in here.flows.flows if f.table == 115 and f.lport == "web-1")
            match = ",".join(f"{k}={v}" for k, v in local.match)
            here.switch.ofctl("del-flows", "br-int", "--strict", f"table=115,priority=100,{match}")
            stray = "table=75,priority=100,reg7=0x7ff actions=drop"  # no port has key 0x7ff
            here.switch.add_flows("br-int", [stray])
            try:
                port = await eventually(lambda: drift_of(analyzer, web1), timeout=30)
                assert port["Missing"] == 1 and port["Rules"][0]["Rule"] == local.text()
                total = await eventually(
                    lambda: (d := drift_of(analyzer, chassis_id)) and d["Unexpected"] and d,
                    timeout=30,
                )
                assert total["Missing"] == 1 and total["Unexpected"] == 1
                assert total["Unchecked"] == first["Unchecked"]
            finally:
                here.switch.add_flows("br-int", [local.text()])
                here.switch.ofctl(
                    "del-flows", "br-int", "--strict", "table=75,priority=100,reg7=0x7ff"
                )
            await eventually(lambda: drift_of(analyzer, web1) is None, timeout=30)
        finally:
            await stop_tasks(task)


SERVICE_CHAIN_TABLES = {100, 120, 121, 201}  # MPLS dispatch, encapsulation, port security
"""Where the rules of a service chain whose classifier names a local port live: a slice
holds such a chain as a skeleton, so its rules are a known gap (unexpected)."""


@pytest.mark.parametrize("chassis_rank", [0, 1, 2])
def test_a_slices_view_finds_no_drift_in_the_rules_the_whole_nb_asks_for(
    chassis_rank: int,
) -> None:
    """The rules the whole NB asks for, installed, against what the drift watch of a chassis
    collector reading etcd makes of its view: nothing missing or differing, nothing
    unexpected but the service-chain gap; the remote ports' rules, and those of routers the
    slice holds as skeletons, not checked."""
    dump = generate_cloud("medium", seed=0)
    snapshot: Snapshot = {
        (table, obj["id"]): NbObject(table, obj["id"], obj)
        for table, objs in dump.items()
        for obj in objs
        if isinstance(obj, dict) and isinstance(obj.get("id"), str)
    }
    index = Tracer(snapshot).index
    busiest = Counter(p.chassis for p in index.ports.values() if p.bound and p.chassis)
    name = busiest.most_common(3)[chassis_rank][0]
    local = (p for p in index.ports.values() if p.chassis == name)
    ovs = ChassisOvs({p.id: 10 + n for n, p in enumerate(local)}, {"vxlan": 4, "geneve": 5})
    whole = expected_flows(index, name, DEFAULT_APPS, ovs)
    installed = parse_flows("\n".join(f" cookie=0x0, {f.text()}" for f in whole.flows))

    _, expected, ports, unknown = generate(
        held_by_chassis_collector(snapshot, name), name, DEFAULT_APPS, ovs
    )
    report = drift(expected, installed, ports, unknown)
    assert report.missing == [] and report.differ == []
    for text, _ in report.unexpected:  # the chain's rules, and its classifier's
        table = int(text.split(",")[0].removeprefix("table="))
        assert table in SERVICE_CHAIN_TABLES or "goto_table:120" in text, text
    assert report.unchecked > len(installed) // 2  # the remote ports' rules, mostly
    assert len(expected.flows) < len(whole.flows) // 2  # and not even made
