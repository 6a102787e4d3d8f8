"""One real trace end to end through the analyzer, in the demo's ``large`` cloud.

The analyzer holds the whole cloud's graph (about 100k NB objects); two chassis with about 200
ports each run a real userspace Open vSwitch holding every rule ``dragonscope flows`` writes for
them, and a collector that answers the analyzer. A ``POST /api/trace`` builds the analyzer's NB
index; then a ``POST /api/trace/real`` between a port of each: the first one (cold: both
chassis's expected rules are generated) and the next (warm).
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import aiohttp

from bench.bench_trace import _snapshot
from bench.report import Figure
from dragonscope.analyzer import Analyzer, AnalyzerSettings
from dragonscope.collector import Collector, CollectorSettings
from dragonscope.nb import Snapshot, dump_json, tables
from dragonscope.topology import Topology
from dragonscope.trace import DEFAULT_APPS
from dragonscope.trace.flows import ChassisOvs, expected_flows
from dragonscope.trace.index import NbIndex

sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))
from ovs_support import OvsSwitch

PORTS = 200
TUNNELS = {"vxlan": 4, "geneve": 5, "gre": 6}


def _pick(index: NbIndex) -> tuple[str, str, str, str]:
    """Two chassis near PORTS ports each, sharing a tunnelled network with a port on each."""
    counts = Counter(p.chassis for p in index.ports.values() if p.bound and p.chassis)
    near = sorted(counts, key=lambda c: abs(counts[c] - PORTS))
    for a in near[:20]:
        for b in near[:20]:
            if a == b:
                continue
            for (chassis, net), ports in index.local_ports.items():
                if chassis != a or index.is_router_port(ports[0]):
                    continue
                there = index.local_ports.get((b, net), [])
                src = next((p for p in ports if not index.is_router_port(p)), None)
                dst = next((p for p in there if not index.is_router_port(p)), None)
                if src is not None and dst is not None:
                    return a, b, src.id, dst.id
    raise RuntimeError("no two chassis share a network in the large cloud")


def _switch(index: NbIndex, chassis: str, switches: list[OvsSwitch]) -> int:
    """Start the chassis's switch (added to ``switches`` at once, for the cleanup) and
    install its expected rules; how many."""
    switch = OvsSwitch(chassis[:8])
    switches.append(switch)
    switch.start()
    switch.add_bridge("br-int")
    here = index.chassis[chassis]
    for kind in here.tunnel_types:
        switch.add_tunnel_port("br-int", kind, str(here.ip), TUNNELS[kind])
    local = [p for p in index.ports.values() if p.chassis == chassis and not p.runtime_binding]
    ofports = {p.id: 10 + n for n, p in enumerate(sorted(local, key=lambda p: p.key))}
    commands: list[str] = []
    for port in local:  # one ovs-vsctl per 50 interfaces: hundreds of ports in seconds
        name = f"t{port.key}"
        commands += [
            "--", "add-port", "br-int", name, "--", "set", "Interface", name, "type=dummy",
            f"external_ids:iface-id={port.id}", f"ofport_request={ofports[port.id]}",
        ]  # fmt: skip
        if len(commands) >= 50 * 13:
            switch.vsctl(*commands)
            commands = []
    if commands:
        switch.vsctl(*commands)
    tunnels = {k: TUNNELS[k] for k in here.tunnel_types}
    flows = expected_flows(index, chassis, DEFAULT_APPS, ChassisOvs(ofports, tunnels))
    if flows.groups:  # the sfc app's select groups, before the rules that name them
        groups = switch.dir / "groups.txt"
        groups.write_text("".join(f"{g.text()}\n" for g in flows.groups))
        switch.ofctl("add-groups", "br-int", str(groups))
    rules = switch.dir / "flows.txt"
    rules.write_text("\n".join(f.text() for f in flows.flows) + "\n")
    # 300k rules take longer than the helpers' timeout on a busy machine.
    command = ["ovs-ofctl", "-O", "OpenFlow13", "add-flows", switch.mgmt("br-int"), str(rules)]
    subprocess.run(command, check=True, capture_output=True, env=switch.env, timeout=900)
    return len(flows.flows)


async def _post(url: str, body: dict[str, object], path: str) -> tuple[float, dict[str, object]]:
    started = time.monotonic()
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=300)) as http,
        http.post(f"{url}{path}", json=body) as response,
    ):
        out = await response.json()
        if response.status != 200:
            raise RuntimeError(f"real trace failed: {response.status} {out}")
    return time.monotonic() - started, out


async def _run(snapshot: Snapshot, index: NbIndex) -> list[Figure]:
    a, b, src, dst = _pick(index)
    switches: list[OvsSwitch] = []
    tasks: list[asyncio.Task[None]] = []
    try:
        installed = [_switch(index, chassis, switches) for chassis in (a, b)]
        topology = Topology(extensions=[])
        topology.load(snapshot)
        settings = AnalyzerSettings(host="127.0.0.1", port=0, host_id="bench")
        async with Analyzer(settings) as analyzer:
            for node in topology.nodes.values():
                analyzer.store.add_node(node, "bench.global")
            for edge in topology.edges.values():
                analyzer.store.add_edge(edge, "bench.global")
            # The collectors only answer: their NB is their own chassis.
            nb = switches[0].dir / "nb.json"  # removed with the switch's directory
            own = [snapshot[(tables.CHASSIS, c)].data for c in (a, b)]
            nb.write_bytes(dump_json({tables.CHASSIS: own}))
            collectors = [
                Collector(
                    CollectorSettings(
                        nb=f"file://{nb}", analyzer=f"127.0.0.1:{analyzer.port}",
                        chassis=chassis, ovsdb=switch.remote, extensions=[],
                        ovs_flow_interval=3600,  # one flow scan, done before the figures
                    )
                )
                for chassis, switch in zip((a, b), switches, strict=True)
            ]  # fmt: skip
            tasks = [asyncio.create_task(c.run()) for c in collectors]
            while analyzer.chassis_calls.chassis() != sorted((a, b)) or not all(
                c.ovs is not None and c.ovs.probe.stats["rebuilds"] and c.ovs.probe.flows
                for c in collectors
            ):
                await asyncio.sleep(0.1)
            body: dict[str, object] = {"from": src, "to": dst, "proto": "icmp"}
            # The simulated trace first: it builds the analyzer's NB index, shared by both.
            simulated, _ = await _post(analyzer.url, body, "/api/trace")
            cold, out = await _post(analyzer.url, body, "/api/trace/real")
            warm, out = await _post(analyzer.url, body, "/api/trace/real")
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for switch in switches:
            switch.cleanup()
    agreement = out["agreement"]
    status = agreement.get("status") if isinstance(agreement, dict) else "?"
    real = out["real"]
    steps = sum(len(c["hops"]) for c in real["chassis"]) if isinstance(real, dict) else 0
    size = f"{len(index.ports):,} lports; switches with {installed[0]:,} and {installed[1]:,} rules"
    note = f"{steps} steps on 2 chassis, agreement {status}"
    return [
        Figure("simulated trace through the analyzer, first", simulated, "s", size,
               "builds the analyzer's NB index, which real traces share"),
        Figure("real trace through the analyzer, cold", cold, "s", size,
               f"{note}; includes generating both chassis's expected rules"),
        Figure("real trace through the analyzer, warm", warm, "s", size, note),
    ]  # fmt: skip


def collect() -> list[Figure]:
    snapshot = _snapshot()
    index = NbIndex(snapshot)
    return asyncio.run(_run(snapshot, index))
