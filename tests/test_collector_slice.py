"""A chassis collector follows its slice: what a port brings comes and goes with it.

Against a real etcd and a real analyzer: a port moving onto the chassis pulls in
its network (with the subnet and the router on it, and the router's interface
port), its subnet and its security group, read again from etcd at that moment;
when the port leaves, they leave, and the collector shrinks them back to skeletons.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest

from dragonscope.analyzer.app import Analyzer
from dragonscope.analyzer.settings import AnalyzerSettings
from dragonscope.collector import STATUS_NODE_TYPE, Collector, CollectorSettings
from dragonscope.nb import open_reader
from dragonscope.topology import node_id, translate
from servers import EtcdServer
from stopping import stop_tasks

HERE = "compute-1"
ELSEWHERE = "compute-2"
# What the moving port brings into the slice: (table, id).
BROUGHT = [
    ("lswitch", "net-b"),
    ("lsubnet", "subnet-b"),
    ("secgroup", "sg-b"),
    ("lrouter", "router-b"),
    ("lport", "router-b-port"),
]


@pytest.fixture
async def analyzer() -> AsyncIterator[Analyzer]:
    server = Analyzer(AnalyzerSettings(port=0))
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def until(predicate, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


def put(etcd: EtcdServer, table: str, obj: dict[str, Any]) -> None:
    etcd.put(f"/{table}/{obj['id']}", json.dumps(obj))


def port(
    port_id: str, network: str, subnet: str, ip: str, chassis: str | None, **extra: Any
) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "id": port_id, "name": port_id, "topic": "tenant-1", "version": 1, "enabled": True,
        "lswitch": network, "subnets": [subnet], "ips": [ip], "macs": ["fa:16:3e:00:00:01"],
        **extra,
    }  # fmt: skip
    if chassis:
        obj["binding"] = {"type": "chassis", "chassis": chassis}
    return obj


def seed(etcd: EtcdServer) -> None:
    for chassis, ip in ((HERE, "10.0.0.1"), (ELSEWHERE, "10.0.0.2")):
        put(etcd, "chassis", {"id": chassis, "ip": ip})
    for name, cidr in (("a", "10.1.0.0/24"), ("b", "10.2.0.0/24")):
        put(etcd, "lswitch", {"id": f"net-{name}", "name": f"net-{name}", "topic": "tenant-1"})
        put(etcd, "lsubnet", {"id": f"subnet-{name}", "lswitch": f"net-{name}", "cidr": cidr})
    put(etcd, "secgroup", {"id": "sg-b", "name": "sg-b", "topic": "tenant-1", "rules": []})
    put(etcd, "lrouter", {
        "id": "router-b", "name": "router-b", "topic": "tenant-1",
        "ports": [{"id": "router-b-port", "lswitch": "net-b", "mac": "fa:16:3e:00:00:fe",
                   "network": "10.2.0.1/24", "topic": "tenant-1"}],
    })  # fmt: skip
    put(etcd, "lport", port(
        "router-b-port", "net-b", "subnet-b", "10.2.0.1", None,
        device_owner="network:router_interface", device_id="router-b",
    ))  # fmt: skip
    put(etcd, "lport", port("vm-a", "net-a", "subnet-a", "10.1.0.5", HERE))
    put(etcd, "lport", moving(ELSEWHERE))


def moving(chassis: str) -> dict[str, Any]:
    return port("vm-b", "net-b", "subnet-b", "10.2.0.5", chassis, security_groups=["sg-b"])


async def expected(etcd: EtcdServer, chassis: str = HERE) -> tuple[dict[str, Any], dict[str, Any]]:
    """The slice of the NB as it is in etcd now, translated by a full topology."""
    async with open_reader(etcd.url) as reader:
        snapshot, _ = await reader.snapshot()
    nodes, edges = translate(snapshot, chassis=chassis, extensions=[])
    return (
        {n.id: n.metadata for n in nodes.values()},
        {e.id: (e.parent, e.child, e.metadata) for e in edges.values()},
    )


def published(analyzer: Analyzer) -> tuple[dict[str, Any], dict[str, Any]]:
    nodes = {
        n.id: n.metadata
        for n in analyzer.graph.nodes()
        if n.metadata.get("Type") != STATUS_NODE_TYPE
    }
    edges = {e.id: (e.parent, e.child, e.metadata) for e in analyzer.graph.edges()}
    return nodes, edges


def held_whole(collector: Collector, key: tuple[str, str]) -> bool:
    return type(collector.topology.snapshot[key]).__name__ != "Skeleton"


async def test_a_port_moving_onto_the_chassis_brings_its_world_and_takes_it_away(
    analyzer: Analyzer, etcd_server: EtcdServer
) -> None:
    seed(etcd_server)
    collector = Collector(
        CollectorSettings(
            nb=etcd_server.url, analyzer=f"127.0.0.1:{analyzer.port}", extensions=[],
            chassis=HERE, update_interval=0.2,
        )
    )  # fmt: skip
    task = asyncio.create_task(collector.run())
    try:
        await until(lambda: collector.synced)
        before = await expected(etcd_server)
        await until(lambda: published(analyzer) == before)
        assert node_id("lport", "vm-a") in before[0]
        for key in [("lport", "vm-b"), *BROUGHT]:
            assert node_id(*key) not in before[0], key
            assert not held_whole(collector, key), key

        put(etcd_server, "lport", moving(HERE))
        after = await expected(etcd_server)
        for key in [("lport", "vm-b"), *BROUGHT]:
            assert node_id(*key) in after[0], key
        await until(lambda: published(analyzer) == after)
        for key in [("lport", "vm-b"), *BROUGHT]:
            assert held_whole(collector, key), key
        port_node = analyzer.graph.node(node_id("lport", "vm-b"))
        assert port_node is not None
        assert port_node.metadata["Neutron"]["NetworkName"] == "net-b"
        assert port_node.metadata["IPV4"] == ["10.2.0.5/24"]

        put(etcd_server, "lport", moving(ELSEWHERE))
        await until(lambda: published(analyzer) == before)
        for key in [("lport", "vm-b"), *BROUGHT]:
            assert not held_whole(collector, key), key
        assert collector.stats["reconcile_fixes"] == 0
    finally:
        await stop_tasks(task)


async def test_a_slice_read_from_etcd_publishes_each_element_once(
    analyzer: Analyzer, etcd_server: EtcdServer
) -> None:
    """Published while read, a compact slice sends each element once, as it finally is:
    what a slice of the snapshot draws is published only once the objects it reads, held
    as skeletons until then (its networks, read pages earlier), are read whole (published
    first, this slice of 3,666 elements took 261 messages more). The ports span pages and
    are read in parts, the objects read pages earlier are fetched while the next page is
    translated: the slice published is still exactly the slice of the NB."""
    from dragonscope.demo import generate
    from dragonscope.demo.writers import write

    dump = generate("medium", seed=2)
    await write(dump, etcd_server.url)
    bound = Counter(
        port["binding"]["chassis"]
        for port in dump["lport"]
        if isinstance(port.get("binding"), dict) and port["binding"].get("chassis")
    )
    busiest = bound.most_common(1)[0][0]
    collector = Collector(
        CollectorSettings(
            nb=etcd_server.url, analyzer=f"127.0.0.1:{analyzer.port}", chassis=busiest,
            extensions=[], update_interval=0.05,
        )
    )  # fmt: skip
    task = asyncio.create_task(collector.run())
    try:
        await until(lambda: collector.synced or task.done())
        assert collector.topology.compact
        elements = len(collector.topology.nodes) + len(collector.topology.edges)
        assert elements > 3000
        assert collector.stats["messages_out_total"] == elements + 1  # and the status node
        assert published(analyzer) == await expected(etcd_server, busiest)
    finally:
        await stop_tasks(task)
