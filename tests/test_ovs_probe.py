"""The chassis agent against etcd and a real userspace Open vSwitch per chassis.

Two chassis share one VXLAN network; each has a br-int with its VM interfaces (iface-id set
as Nova does), a vxlan-vtp tunnel port and Dragonflow-shaped flows for its ports and for the
other chassis's ports. A collector per chassis publishes to one analyzer.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from dragonscope.analyzer.app import Analyzer
from dragonscope.analyzer.settings import AnalyzerSettings
from dragonscope.collector import Collector, CollectorSettings
from dragonscope.nb import tables
from dragonscope.ovs import OvsdbMonitor
from dragonscope.topology import ids
from ovs_support import CHASSIS, PORTS, OvsSwitch, remote_flow, switch_for, write_nb
from servers import EtcdServer
from stopping import stop_tasks


@pytest.fixture(scope="module")
def etcd() -> Iterator[EtcdServer]:
    server = EtcdServer()
    server.start()
    try:
        write_nb(server)
        yield server
    finally:
        server.cleanup()


@pytest.fixture
async def cloud(etcd: EtcdServer, tmp_path: Any) -> AsyncIterator[dict[str, Any]]:
    analyzer = Analyzer(AnalyzerSettings(port=0))
    await analyzer.start()
    switches = {name: switch_for(name) for name in CHASSIS}
    tasks = []
    try:
        for name, switch in switches.items():
            collector = Collector(
                CollectorSettings(
                    nb=etcd.url, analyzer=f"127.0.0.1:{analyzer.port}", extensions=[],
                    chassis=name, ovsdb=switch.remote, ovs_flow_interval=0.2,
                    ovs_allocation_file=str(tmp_path / "absent.json"),
                )
            )  # fmt: skip
            tasks.append(asyncio.create_task(collector.run()))
        yield {"analyzer": analyzer, "switches": switches}
    finally:
        await stop_tasks(*tasks)
        await analyzer.stop()
        for switch in switches.values():
            switch.cleanup()


def nodes(analyzer: Analyzer) -> dict[str, Any]:
    return {n.id: n for n in analyzer.graph.nodes()}


def lport(analyzer: Analyzer, port: str) -> dict[str, Any]:
    node = nodes(analyzer).get(ids.node_id(tables.LPORT, port))
    return node.metadata if node is not None else {}


def interface(analyzer: Analyzer, chassis: str, name: str) -> dict[str, Any] | None:
    node = nodes(analyzer).get(ids.chassis_node_id(chassis, "interface", name))
    return node.metadata if node is not None else None


async def until(check: Any, timeout: float = 15.0) -> float:
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < timeout, "condition not reached in time"
        await asyncio.sleep(0.02)
    return time.monotonic() - started


DRIFT = "flow drift:"


def problems(analyzer: Analyzer, port: str) -> list[str]:
    """The probe's problems of a port. The switches hold a few hand-written rules, not all
    those Dragonflow's apps install, so once the collector's first drift check is done every
    local port also has their drift from the rules the NB asks for (see ``drifts``)."""
    return [p for p in lport(analyzer, port).get("Problems", []) if not p.startswith(DRIFT)]


def drifts(analyzer: Analyzer, port: str) -> list[str]:
    """The drift problems of a port (test_ovs_drift checks them against Dragonflow's rules)."""
    return [p for p in lport(analyzer, port).get("Problems", []) if p.startswith(DRIFT)]


async def test_interfaces_joined_to_their_ports(cloud: dict[str, Any]) -> None:
    analyzer = cloud["analyzer"]
    await until(lambda: lport(analyzer, "p1").get("OVS", {}).get("Flows", {}).get("115"))
    tap = interface(analyzer, "c1", "tap-p1")
    assert tap is not None
    assert tap["Type"] == "dummy" and tap["OfPort"] == 7 and tap["ExtID.iface-id"] == "p1"
    assert tap["ExtID.attached-mac"] == "fa:16:3e:00:00:0a" and tap["ExtID.vm-uuid"] == "vm-tap-p1"
    vtp = interface(analyzer, "c1", "vxlan-vtp")
    assert vtp is not None and vtp["Type"] == "vxlan" and vtp["Options"]["remote_ip"] == "flow"
    edges = {(e.parent, e.child, e.metadata["RelationType"]) for e in analyzer.graph.edges()}
    tap_id = ids.chassis_node_id("c1", "interface", "tap-p1")
    assert (ids.node_id(tables.LPORT, "p1"), tap_id, "layer2") in edges
    port_id = ids.chassis_node_id("c1", "ovsport", "tap-p1")
    bridge_id = ids.chassis_node_id("c1", "ovsbridge", "br-int")
    assert (port_id, tap_id, "ownership") in edges and (bridge_id, port_id, "ownership") in edges
    assert nodes(analyzer)[bridge_id].metadata["Type"] == "ovsbridge"
    section = lport(analyzer, "p1")["OVS"]
    assert section["Interface"] == "tap-p1" and section["OfPort"] == 7
    assert section["Flows"] == {"0": 1, "55": 1, "115": 1}
    assert section["FlowTables"]["115"] == "ingress dispatch"
    assert not problems(analyzer, "p1") and not problems(analyzer, "p2")
    # The tunnel mesh, from the table-75 egress flows towards the other chassis's ports.
    await until(lambda: lport(analyzer, "p3").get("OVS", {}).get("Flows"))
    assert nodes(analyzer)[bridge_id].metadata["Tunnels"] == {
        "c2": {"RemoteIP": "10.0.1.2", "Ports": 2}
    }
    c1, c2 = ids.node_id(tables.CHASSIS, "c1"), ids.node_id(tables.CHASSIS, "c2")
    await until(lambda: (c2, c1, "tunnel") in tunnel_edges(analyzer))
    assert (c1, c2, "tunnel") in tunnel_edges(analyzer)
    assert not problems(analyzer, "p3")


def tunnel_edges(analyzer: Analyzer) -> set[tuple[str, str, str]]:
    return {
        (e.parent, e.child, e.metadata["RelationType"])
        for e in analyzer.graph.edges()
        if e.metadata["RelationType"] == "tunnel"
    }


async def test_unplug_and_plug_back(cloud: dict[str, Any]) -> None:
    analyzer, switch = cloud["analyzer"], cloud["switches"]["c1"]
    await until(lambda: interface(analyzer, "c1", "tap-p2") is not None)
    switch.vsctl("del-port", "tap-p2")
    elapsed = await until(lambda: any("no OVS interface" in p for p in problems(analyzer, "p2")))
    assert elapsed < 1.0, f"the unplug took {elapsed:.2f}s to show"
    assert interface(analyzer, "c1", "tap-p2") is None
    switch.add_vm_port("br-int", "tap-p2", "p2", PORTS["p2"][3], 8)
    await until(lambda: not problems(analyzer, "p2"), timeout=5)
    assert interface(analyzer, "c1", "tap-p2") is not None
    # Back on its ofport, p2 drifts exactly as p1 does: their hand-written rules are alike.
    await until(lambda: drifts(analyzer, "p2") == drifts(analyzer, "p1"), timeout=5)


async def test_missing_wrong_and_stale_flows(cloud: dict[str, Any]) -> None:
    analyzer, switch = cloud["analyzer"], cloud["switches"]["c1"]
    await until(lambda: lport(analyzer, "p1").get("OVS", {}).get("Flows", {}).get("115"))
    switch.ofctl("del-flows", "br-int", "table=115,reg7=0xa")
    await until(lambda: "115" not in lport(analyzer, "p1")["OVS"]["Flows"])
    assert lport(analyzer, "p1")["OVS"]["Flows"] == {"0": 1, "55": 1}
    await until(lambda: any("no classifier flows" in p for p in problems(analyzer, "p1")))
    # A flow left behind for a port that no longer exists (key 0x63).
    switch.add_flows("br-int", ["table=115,priority=100,reg7=0x63 actions=output:9"])
    bridge = ids.chassis_node_id("c1", "ovsbridge", "br-int")
    await until(lambda: nodes(analyzer)[bridge].metadata.get("StaleFlows") == 1)
    samples = nodes(analyzer)[bridge].metadata["StaleFlowSamples"]
    assert "reg7=0x63 names no logical port" in samples[0]
    # A remote port's egress flow pointing at another chassis IP than its binding.
    switch.ofctl("del-flows", "br-int", "table=75,reg7=0xd")

    def said(text: str) -> bool:
        return any(text in p for p in nodes(analyzer)[bridge].metadata.get("Problems", []))

    await until(lambda: said("remote port p4: no tunnel egress flow"))
    switch.add_flows("br-int", [remote_flow(13, "10.0.1.9")])
    await until(lambda: said("remote port p4: tunnel egress flow goes to 10.0.1.9"))
    assert not said("remote port p3")


async def test_ovsdb_restart_is_survived(cloud: dict[str, Any]) -> None:
    analyzer, switch = cloud["analyzer"], cloud["switches"]["c2"]
    await until(lambda: interface(analyzer, "c2", "tap-p3") is not None)
    switch.restart_ovsdb()
    switch.vsctl("del-port", "tap-p3")
    await until(lambda: any("no OVS interface" in p for p in problems(analyzer, "p3")))
    switch.vsctl("del-port", "vxlan-vtp")
    bridge = ids.chassis_node_id("c2", "ovsbridge", "br-int")
    await until(
        lambda: any(
            "no vxlan tunnel port" in p
            for p in nodes(analyzer)[bridge].metadata.get("Problems", [])
        )
    )


async def test_the_probe_never_writes_to_ovsdb() -> None:
    switch = OvsSwitch("ro", vswitchd=False)
    switch.start()
    try:
        switch.vsctl("add-br", "br-int")
        switch.vsctl("add-port", "br-int", "tap1", "--", "set", "Interface", "tap1",
                     "external_ids:iface-id=p1")  # fmt: skip
        before = switch.db_transactions()
        versions = switch.vsctl("list", "Open_vSwitch", "--", "list", "Interface")
        seen: list[Any] = []
        monitor = OvsdbMonitor(switch.remote, lambda *a: seen.append(a), asyncio.get_running_loop())
        monitor.start()
        await until(lambda: seen)
        await asyncio.sleep(1.0)
        await monitor.stop()
        assert [i.name for i in seen[-1][0].interfaces.values() if i.name == "tap1"] == ["tap1"]
        assert switch.db_transactions() == before
        assert switch.vsctl("list", "Open_vSwitch", "--", "list", "Interface") == versions
    finally:
        switch.cleanup()
