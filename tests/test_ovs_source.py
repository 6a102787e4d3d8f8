"""The OVS probe as a collector source: its settings, rules, provider bridges, counters and
the tunnel mesh across publishers, against etcd and a real userspace Open vSwitch.

Beside the two-chassis cloud of ``ovs_support``, a third chassis ``c3`` is in the NB with one
port but runs no collector; c1 has an egress flow towards it and a provider bridge ``br-ex``
patched to br-int.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from dragonscope.analyzer.app import Analyzer
from dragonscope.analyzer.settings import AnalyzerSettings
from dragonscope.cli import build_parser
from dragonscope.collector import Collector, CollectorSettings, settings_from_args
from dragonscope.collector.ovs_source import probe_settings
from dragonscope.config import ConfigError
from dragonscope.nb import tables
from dragonscope.ovs.probe import moved_enough
from dragonscope.topology import ids
from ovs_support import OvsSwitch, remote_flow, switch_for, write_nb
from servers import EtcdServer
from stopping import stop_tasks

C3_IP = "10.0.1.3"
C3_PORT_KEY = 20


def chassis_id(name: str) -> str:
    return ids.node_id(tables.CHASSIS, name)


def on(chassis: str, kind: str, name: str) -> str:
    return ids.chassis_node_id(chassis, kind, name)


# -- settings -------------------------------------------------------------------------------------
def settings(*argv: str, env: dict[str, str] | None = None) -> CollectorSettings:
    args = build_parser().parse_args(["collector", "--nb", "etcd://127.0.0.1:2379", *argv])
    return settings_from_args(args, env or {})


def test_ovs_flags_environment_and_ini(tmp_path: Path) -> None:
    ini = tmp_path / "df.ini"
    ini.write_text("[df]\nintegration_bridge = br-df\n")
    flagged = settings("--chassis", "c1", "--ovsdb", "tcp:127.0.0.1:6640", "--ovs-rules")
    assert flagged.ovsdb == "tcp:127.0.0.1:6640" and flagged.ovs_rules and flagged.ovs
    assert flagged.integration_bridge == "br-int"
    from_env = settings(
        "--chassis", "c1", "--config", str(ini), env={"DRAGONSCOPE_OVSDB": "unix:/x/db.sock"}
    )
    assert from_env.ovsdb == "unix:/x/db.sock" and from_env.integration_bridge == "br-df"
    probe = probe_settings(from_env)
    assert probe is not None and probe.ovsdb == "unix:/x/db.sock" and probe.bridge == "br-df"
    assert probe.flow_target == "unix:/x/br-df.mgmt" and not probe.rules
    # The flag wins over the environment; --no-ovs and the global collector probe nothing.
    both = settings(
        "--chassis", "c1", "--ovsdb", "unix:/y/db.sock", env={"DRAGONSCOPE_OVSDB": "unix:/x"}
    )
    assert both.ovsdb == "unix:/y/db.sock"
    assert (
        probe_settings(settings("--chassis", "c1", "--ovsdb", "unix:/y/db.sock", "--no-ovs"))
        is None
    )
    assert probe_settings(settings("--ovsdb", "unix:/y/db.sock")) is None
    with pytest.raises(ConfigError, match="unix:PATH or tcp:HOST:PORT"):
        settings("--chassis", "c1", "--ovsdb", "/var/run/openvswitch/db.sock")


def test_counters_are_sent_when_they_moved_enough() -> None:
    first = {"RxPackets": 1000, "TxPackets": 1000, "RxDropped": 0}
    assert moved_enough(None, first, 0.01)
    assert not moved_enough(first, dict(first), 0.01)
    assert not moved_enough(first, {**first, "RxPackets": 1009}, 0.01)  # under 1 %
    assert moved_enough(first, {**first, "RxPackets": 1010}, 0.01)
    assert moved_enough(first, {**first, "RxDropped": 1}, 0.01)  # any new drop matters
    assert not moved_enough(first, {**first, "RxBytes": 5}, 0.01)  # bytes follow packets


# -- a live cloud ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def etcd() -> Iterator[EtcdServer]:
    server = EtcdServer()
    server.start()
    try:
        write_nb(server)
        server.put("/chassis/c3", json.dumps({"id": "c3", "ip": C3_IP, "tunnel_types": ["vxlan"]}))
        port = {
            "id": "p5", "topic": "t1", "name": "p5", "unique_key": C3_PORT_KEY, "lswitch": "net1",
            "macs": ["fa:16:3e:00:00:14"], "enabled": True,
            "binding": {"type": "chassis", "chassis": "c3"},
        }  # fmt: skip
        server.put("/lport/p5", json.dumps(port))
        yield server
    finally:
        server.cleanup()


def start(
    etcd: EtcdServer, analyzer: Analyzer, chassis: str, switch: OvsSwitch, **extra: Any
) -> asyncio.Task[None]:
    collector = Collector(
        CollectorSettings(
            nb=etcd.url, analyzer=f"127.0.0.1:{analyzer.port}", extensions=[], chassis=chassis,
            ovsdb=switch.remote, ovs_flow_interval=0.2, ovs_allocation_file="/nonexistent",
            **extra,
        )
    )  # fmt: skip
    return asyncio.create_task(collector.run())


@pytest.fixture
async def cloud(etcd: EtcdServer) -> AsyncIterator[dict[str, Any]]:
    analyzer = Analyzer(AnalyzerSettings(port=0))
    await analyzer.start()
    switches = {name: switch_for(name) for name in ("c1", "c2")}
    c1 = switches["c1"]
    c1.add_flows("br-int", [remote_flow(C3_PORT_KEY, C3_IP)])
    c1.add_bridge("br-ex")
    c1.add_patch_pair("br-int", "br-ex")
    tasks = {
        "c1": start(etcd, analyzer, "c1", c1, ovs_rules=True, ovs_counter_interval=0.2),
        "c2": start(etcd, analyzer, "c2", switches["c2"]),
    }
    try:
        yield {"analyzer": analyzer, "switches": switches, "tasks": tasks}
    finally:
        await stop_tasks(*tasks.values())
        await analyzer.stop()
        for switch in switches.values():
            switch.cleanup()


def node(analyzer: Analyzer, node_id: str) -> dict[str, Any] | None:
    found = analyzer.graph.node(node_id)
    return found.metadata if found is not None else None


def edges(analyzer: Analyzer, relation: str) -> set[tuple[str, str]]:
    return {
        (e.parent, e.child)
        for e in analyzer.graph.edges()
        if e.metadata["RelationType"] == relation
    }


async def until(check: Callable[[], Any], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


async def test_every_rule_as_an_ofrule_node(cloud: dict[str, Any]) -> None:
    analyzer = cloud["analyzer"]
    bridge = on("c1", "ovsbridge", "br-int")

    def rules() -> list[dict[str, Any]]:
        owned = {child for parent, child in edges(analyzer, "ownership") if parent == bridge}
        found = [node(analyzer, nid) for nid in owned]
        return [m for m in found if m is not None and m["Type"] == "ofrule"]

    await until(lambda: len(rules()) == 9)  # 3 for each local port, 1 per remote port
    dispatch = next(r for r in rules() if r["Table"] == 115 and r["Filters"] == "reg7=0xa")
    assert dispatch["Priority"] == 100 and dispatch["Cookie"] == "0x0"
    assert dispatch["Actions"] == "output:7"
    # c2 runs without --ovs-rules: its bridge owns no rule.
    c2_bridge = on("c2", "ovsbridge", "br-int")
    await until(lambda: node(analyzer, c2_bridge) is not None)
    c2_owned = {child for parent, child in edges(analyzer, "ownership") if parent == c2_bridge}
    assert all((node(analyzer, c) or {}).get("Type") != "ofrule" for c in c2_owned)


async def test_patch_ports_join_the_provider_bridge(cloud: dict[str, Any]) -> None:
    analyzer = cloud["analyzer"]
    ex = on("c1", "ovsbridge", "br-ex")
    await until(lambda: node(analyzer, ex) is not None)
    assert (chassis_id("c1"), ex) in edges(analyzer, "ownership")
    ends = {on("c1", "interface", "patch-br-ex"), on("c1", "interface", "patch-br-int")}
    await until(lambda: any({p, c} == ends for p, c in edges(analyzer, "patch")))
    patch = node(analyzer, on("c1", "interface", "patch-br-ex"))
    assert patch is not None and patch["Type"] == "patch"
    assert patch["Options"] == {"peer": "patch-br-int"}
    assert "Integration" not in (node(analyzer, ex) or {})


async def test_the_tunnel_mesh_reaches_chassis_without_a_collector(cloud: dict[str, Any]) -> None:
    analyzer = cloud["analyzer"]
    c1, c2, c3 = chassis_id("c1"), chassis_id("c2"), chassis_id("c3")
    await until(lambda: {(c1, c2), (c1, c3), (c2, c1)} <= edges(analyzer, "tunnel"))
    # c3 runs no collector: c1 publishes its node, as the NB draws it.
    far = node(analyzer, c3) or {}
    assert far["Type"] == "chassis" and far["Name"] == "c3" and far["IPV4"] == [f"{C3_IP}/32"]
    assert analyzer.store.holders_of_node(c3) == ["dragonscope-collector.c1"]
    bridge = node(analyzer, on("c1", "ovsbridge", "br-int")) or {}
    assert bridge["Tunnels"]["c3"] == {"RemoteIP": C3_IP, "Ports": 1}
    # Both c1 and c2 publish c2's node with the same metadata: one node, two holders, and it
    # stays, with c1's tunnel to it, when c2's collector stops.
    await until(lambda: len(analyzer.store.holders_of_node(c2)) == 2)
    cloud["tasks"]["c2"].cancel()
    await asyncio.gather(cloud["tasks"]["c2"], return_exceptions=True)
    await until(lambda: len(analyzer.store.holders_of_node(c2)) == 1)
    assert node(analyzer, c2) is not None and (c1, c2) in edges(analyzer, "tunnel")
    assert (c2, c1) not in edges(analyzer, "tunnel")
    # The egress flow towards c3 goes: so do the tunnel and c1's hold on c3's node.
    cloud["switches"]["c1"].ofctl("del-flows", "br-int", f"table=75,reg7={C3_PORT_KEY:#x}")
    await until(lambda: (c1, c3) not in edges(analyzer, "tunnel"))
    await until(lambda: node(analyzer, c3) is None)


async def test_interface_counters_are_published(cloud: dict[str, Any]) -> None:
    analyzer, switch = cloud["analyzer"], cloud["switches"]["c1"]
    tap = on("c1", "interface", "tap-p1")
    await until(lambda: node(analyzer, tap) is not None)
    frame = bytes.fromhex("fa163e00000afa163e0000ff0800") + bytes(46)
    for _ in range(3):
        switch.receive("tap-p1", frame)
    # OVS writes the statistics column every 5 s; the probe then sends them within its interval.
    await until(lambda: (node(analyzer, tap) or {}).get("Metric", {}).get("RxPackets") == 3, 15)
    port = node(analyzer, ids.node_id(tables.LPORT, "p1")) or {}
    assert port["OVS"]["Metric"]["RxPackets"] == 3


async def test_a_global_collector_beside_never_hides_the_ovs_side(
    cloud: dict[str, Any], etcd: EtcdServer
) -> None:
    """The global collector publishes the same port without its OVS section: the analyzer
    keeps the chassis collector's section through the global collector's writes."""
    analyzer = cloud["analyzer"]
    port_id = ids.node_id(tables.LPORT, "p1")
    await until(lambda: "OVS" in (node(analyzer, port_id) or {}))
    # The global collector's initial sync writes the port after the chassis collector did.
    global_collector = Collector(
        CollectorSettings(nb=etcd.url, analyzer=f"127.0.0.1:{analyzer.port}", extensions=[])
    )
    task = asyncio.create_task(global_collector.run())
    try:
        await until(lambda: global_collector.synced)
        assert len(analyzer.store.holders_of_node(port_id)) == 2
        assert (node(analyzer, port_id) or {})["OVS"]["Interface"] == "tap-p1"
        # The NB renames the port: both write it again, in either order.
        port = json.loads(etcd.get("/lport/p1") or "{}")
        etcd.put("/lport/p1", json.dumps({**port, "name": "renamed-p1"}))
        await until(lambda: (node(analyzer, port_id) or {}).get("Name") == "renamed-p1")
        for _ in range(20):
            assert (node(analyzer, port_id) or {})["OVS"]["Interface"] == "tap-p1"
            await asyncio.sleep(0.05)
    finally:
        await stop_tasks(task)
