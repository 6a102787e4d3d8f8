"""Gremlin at cloud scale: a synthetic Dragonflow-shaped graph of 100k nodes and
~150k edges (tenants, networks, subnets, ports, chassis, routers, security
groups), indexed the way the analyzer indexes its live graph."""

from __future__ import annotations

import asyncio
import gc
import random
import statistics
import time
from collections.abc import Callable
from typing import Any

from bench.report import Figure
from dragonscope.graph.index import Indexer
from dragonscope.graph.model import Edge, Graph, Node
from dragonscope.gremlin import AS_JSON, AS_TEXT, Form, compile_query

TENANTS, NETWORKS_PER_TENANT, CHASSIS, SECGROUPS_PER_TENANT = 200, 5, 500, 5
NODES = 100_000


def build_graph(seed: int = 7) -> Graph:
    rnd = random.Random(seed)
    g = Graph()
    edge_count = 0

    def node(node_id: str, metadata: dict[str, object]) -> None:
        g.add_node(Node(node_id, {"Manager": "dragonflow", **metadata}))

    def edge(parent: str, child: str, relation: str) -> None:
        nonlocal edge_count
        edge_count += 1
        g.add_edge(Edge(f"e{edge_count}", {"RelationType": relation}, parent=parent, child=child))

    for c in range(CHASSIS):
        node(
            f"chassis-{c}",
            {"Type": "chassis", "Name": f"compute-{c}", "IP": f"172.16.{c // 250}.{c % 250}"},
        )
    networks = TENANTS * NETWORKS_PER_TENANT
    fixed = TENANTS * (1 + 1 + SECGROUPS_PER_TENANT) + networks * 3 + CHASSIS
    ports_per_network = (NODES - fixed) // networks
    port = 0
    for t in range(TENANTS):
        tenant = f"tenant-{t}"
        node(tenant, {"Type": "tenant", "Name": tenant})
        router = f"router-{t}"
        node(router, {"Type": "lrouter", "Name": router, "Tenant": tenant})
        edge(tenant, router, "ownership")
        groups = []
        for s in range(SECGROUPS_PER_TENANT):
            group = f"sg-{t}-{s}"
            node(group, {"Type": "secgroup", "Name": group, "Tenant": tenant})
            edge(tenant, group, "ownership")
            groups.append(group)
        for n in range(NETWORKS_PER_TENANT):
            net_index = t * NETWORKS_PER_TENANT + n
            switch, subnet, rport = f"net-{net_index}", f"subnet-{net_index}", f"rport-{net_index}"
            cidr = f"10.{net_index // 256}.{net_index % 256}"
            node(switch, {"Type": "lswitch", "Name": switch, "Tenant": tenant})
            node(
                subnet,
                {"Type": "lsubnet", "Name": subnet, "Tenant": tenant, "CIDR": cidr + ".0/24"},
            )
            node(rport, {"Type": "lrouter_port", "Name": rport, "IPV4": [cidr + ".1/24"]})
            edge(tenant, switch, "ownership")
            edge(switch, subnet, "ownership")
            edge(router, rport, "ownership")
            edge(switch, rport, "layer2")
            for p in range(ports_per_network):
                port_id = f"port-{port}"
                chassis = rnd.randrange(CHASSIS)
                node(
                    port_id,
                    {
                        "Type": "lport",
                        "Name": port_id,
                        "Tenant": tenant,
                        "Chassis": f"compute-{chassis}",
                        "MAC": "fa:16:3e:" + ":".join(f"{port >> s & 255:02x}" for s in (16, 8, 0)),
                        "IPV4": [f"{cidr}.{p + 2}/24"],
                        "Neutron": {"PortID": f"uuid-{port}", "NetworkID": switch},
                        "Dragonflow": {"ID": f"uuid-{port}", "Table": "lport", "enabled": True},
                    },
                )
                edge(switch, port_id, "layer2")
                if port % 2:
                    edge(f"chassis-{chassis}", port_id, "ownership")
                if port % 40 == 0:
                    edge(port_id, groups[p % SECGROUPS_PER_TENANT], "secgroup")
                port += 1
    return g


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p50 = statistics.median(ordered)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return p50 * 1000, p99 * 1000


def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return samples


async def longest_stall(query: str, g: Graph, form: Form[Any]) -> tuple[float, float, float]:
    """Longest time between two turns of the event loop while ``run_async`` answers
    ``query`` in ``form``, as (CPU ms, wall ms), and the total wall ms. CPU time is what the
    query itself held the loop for; wall time adds whatever else the machine ran."""
    compiled = compile_query(query)
    stop = False
    longest_cpu = longest_wall = 0.0

    async def ticker() -> None:
        nonlocal longest_cpu, longest_wall
        last_cpu, last_wall = time.thread_time(), time.perf_counter()
        while not stop:
            await asyncio.sleep(0)
            cpu, wall = time.thread_time(), time.perf_counter()
            longest_cpu = max(longest_cpu, cpu - last_cpu)
            longest_wall = max(longest_wall, wall - last_wall)
            last_cpu, last_wall = cpu, wall

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    t0 = time.perf_counter()
    await compiled.run_async(g, form=form)
    total = time.perf_counter() - t0
    stop = True
    await task
    return longest_cpu * 1000, longest_wall * 1000, total * 1000


QUERIES = [
    ("indexed Has (Name)", "G.V().Has('Name', 'port-54321')", 200, "goal <= 5 ms"),
    ("indexed Has (Neutron.PortID)", "G.V().Has('Neutron.PortID', 'uuid-777')", 200, ""),
    (
        "two hops",
        "G.V().Has('Type', 'lswitch', 'Name', 'net-321').Out().Has('Type', 'lport').In()",
        100,
        "goal <= 50 ms; 95 ports, back to their switch",
    ),
    (
        "two hops (chassis)",
        "G.V().Has('Name', 'compute-17').Out().Has('Type', 'lport').In().Has('Type', 'lswitch')",
        100,
        "chassis -> its ports -> their networks",
    ),
    ("REGEX over all nodes", "G.V().Has('Name', Regex('port-9.*7'))", 10, "full scan"),
    (
        "ShortestPathTo far ports",
        "G.V().Has('Name', 'port-0').ShortestPathTo(Metadata('Name', 'port-94999'))",
        30,
        "goal <= 100 ms; first and last tenant",
    ),
    (
        "ShortestPathTo, layer2 only",
        "G.V().Has('Name', 'port-10').ShortestPathTo(Metadata('Name', 'port-90'),"
        " Metadata('RelationType', 'layer2'))",
        30,
        "same network",
    ),
    ("Count all", "G.V().Count()", 200, "counter read"),
    ("Count lports", "G.V().Has('Type', 'lport').Count()", 20, "index bucket of ~95k"),
]


def collect() -> list[Figure]:
    t0 = time.perf_counter()
    g = build_graph()
    built = time.perf_counter() - t0
    size = f"{g.node_count():,} nodes / {g.edge_count():,} edges"
    t0 = time.perf_counter()
    Indexer.attach(g)
    indexed = time.perf_counter() - t0
    figures = [Figure("gremlin: index build", indexed, "s", size, f"graph built in {built:.1f} s")]
    for name, query, repeat, note in QUERIES:
        compiled = compile_query(query)
        result = compiled.run(g)
        assert result not in (None, [], 0), (query, result)
        p50, p99 = percentiles(timed(lambda c=compiled: c.run(g), repeat))
        figures.append(Figure(f"gremlin: {name} p50", p50, "ms", size, note))
        figures.append(Figure(f"gremlin: {name} p99", p99, "ms", size, f"{repeat} runs"))
    updates = 20_000
    t0 = time.perf_counter()
    for i in range(updates):
        node = g.node(f"port-{i}")
        assert node is not None
        g.replace_node(Node(node.id, {**node.metadata, "Revision": i}))
    per_update = (time.perf_counter() - t0) / updates * 1e6
    figures.append(
        Figure("gremlin: node update with index", per_update, "us", size, "replace_node")
    )
    for name, query, form in STALLS:
        gc.collect()  # do not charge this query with garbage left by the previous one
        cpu, wall, total = asyncio.run(longest_stall(query, g, form))
        note = f"run_async as {form.name}; CPU time, wall {wall:.0f} ms; {total:.0f} ms in all"
        figures.append(Figure(f"gremlin: loop stall, {name}", cpu, "ms", size, note))
    return figures


STALLS: list[tuple[str, str, Form[Any]]] = [
    ("REGEX scan", "G.V().Has('Name', Regex('port-9.*7'))", AS_TEXT),
    ("95k ports", "G.V().Has('Type', 'lport')", AS_TEXT),
    ("95k ports as objects", "G.V().Has('Type', 'lport')", AS_JSON),
    ("layer2 SubGraph", "G.E().Has('RelationType', 'layer2').SubGraph()", AS_TEXT),
    ("whole graph G", "G", AS_TEXT),
]
