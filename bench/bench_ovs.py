"""The OVS probe's cost on a chassis with 200 VM interfaces and 20k flows.

A real userspace Open vSwitch (as in the tests) gets 200 VM interfaces joined to 200 local
ports, 400 remote ports on the same VXLAN networks, and Dragonflow-shaped flows padded to
20k. Figures: CPU per OVSDB change (IDL thread + rebuild), wall and CPU time of one flow scan
(dump, parse, attribution, problems, graph), and the RSS the probe adds.
"""

from __future__ import annotations

import asyncio
import resource
import sys
import time
from pathlib import Path

from bench.report import Figure
from dragonscope.nb import NbObject, tables
from dragonscope.ovs import OvsProbe, ProbeSettings

sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))
from ovs_support import OvsSwitch

VMS = 200
REMOTE = 400
FLOWS = 20_000
NETWORKS = 20
CHANGES = 30
SIZE = f"{VMS} VM interfaces, {FLOWS // 1000}k flows"


def _nb() -> dict[tuple[str, str], NbObject]:
    objects = [
        NbObject(tables.CHASSIS, "c1", {"id": "c1", "ip": "10.0.0.1"}),
        NbObject(tables.CHASSIS, "c2", {"id": "c2", "ip": "10.0.0.2"}),
    ]
    for n in range(NETWORKS):
        objects.append(
            NbObject(tables.LSWITCH, f"net{n}", {"id": f"net{n}", "unique_key": n + 1,
                                                 "network_type": "vxlan"})
        )  # fmt: skip
    for i in range(VMS + REMOTE):
        chassis = "c1" if i < VMS else "c2"
        data = {"id": f"p{i}", "unique_key": 100 + i, "lswitch": f"net{i % NETWORKS}",
                "enabled": True, "binding": {"type": "chassis", "chassis": chassis}}  # fmt: skip
        objects.append(NbObject(tables.LPORT, f"p{i}", data))
    return {obj.key: obj for obj in objects}


def _flows() -> list[str]:
    flows = []
    for i in range(VMS):
        key, net, ofport = 100 + i, i % NETWORKS + 1, 10 + i
        flows += [
            f"table=0,priority=100,in_port={ofport} actions=set_field:{key:#x}->reg6,"
            f"set_field:{net:#x}->metadata,resubmit(,1)",
            f"table=115,priority=100,reg7={key:#x} actions=output:{ofport}",
            f"table=105,priority=100,ip,reg7={key:#x} "
            "actions=ct(table=110,zone=NXM_NX_REG6[0..15])",
        ]
    for i in range(VMS, VMS + REMOTE):
        flows.append(
            f"table=75,priority=100,reg7={100 + i:#x} actions=set_field:10.0.0.2->tun_dst,"
            "set_field:0x49->tun_id,output:4"
        )
    n = 0
    while len(flows) < FLOWS:  # per-IP ARP/L3 flows, the bulk of a real table
        key, net = 100 + n % (VMS + REMOTE), n % NETWORKS + 1
        ip = f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}"
        flows.append(
            f"table=65,priority=200,ip,metadata={net:#x},nw_dst={ip} "
            f"actions=set_field:{key:#x}->reg7,goto_table:75"
        )
        n += 1
    return flows


def _rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def _measure(switch: OvsSwitch) -> list[Figure]:
    snapshot = _nb()
    changed: list[int] = []
    settings = ProbeSettings(chassis="c1", ovsdb=switch.remote, flow_interval=3600,
                             allocation_file=None, coalesce=0.0)  # fmt: skip
    rss_before = _rss_kib()
    probe = OvsProbe(settings, lambda: snapshot, lambda n, e: changed.append(len(n) + len(e)))
    task = asyncio.create_task(probe.run())
    try:
        deadline = time.monotonic() + 60
        while probe.state is None or probe.stats["flow_parses"] == 0 or not probe.nodes:
            assert time.monotonic() < deadline, "the probe did not converge"
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)
        rss_added = (_rss_kib() - rss_before) / 1024
        # One flow scan, forced to parse: dump (ovs-ofctl, a child) + parse + rebuild.
        probe._flow_hash = b""
        cpu0, wall0 = time.process_time(), time.perf_counter()
        child0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        await probe.scan_flows()
        probe.rebuild()
        wall = time.perf_counter() - wall0
        cpu = time.process_time() - cpu0
        child1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        child_cpu = (child1.ru_utime + child1.ru_stime) - (child0.ru_utime + child0.ru_stime)
        # OVSDB changes: one external_ids update each, waited for before the next.
        cpu_changes = 0.0
        for n in range(CHANGES):
            seen = probe.stats["rebuilds"]
            args = ["set", "Interface", f"vm{n}", f"external_ids:bench={n}"]
            # process_time counts the IDL thread too; ovs-vsctl is a child and is not counted.
            start = time.process_time()
            await asyncio.to_thread(switch.vsctl, *args)
            while probe.stats["rebuilds"] == seen:
                await asyncio.sleep(0.001)
            cpu_changes += time.process_time() - start
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    return [
        Figure("ovs probe CPU per OVSDB change (IDL + rebuild)", cpu_changes / CHANGES * 1000,
               "ms", SIZE),
        Figure("ovs flow scan, wall (dump + parse + rebuild)", wall * 1000, "ms", SIZE),
        Figure("ovs flow scan, CPU in the collector", cpu * 1000, "ms", SIZE),
        Figure("ovs flow scan, CPU of ovs-ofctl", child_cpu * 1000, "ms", SIZE),
        Figure("ovs probe RSS added", rss_added, "MiB", SIZE),
    ]  # fmt: skip


def collect() -> list[Figure]:
    switch = OvsSwitch("bench")
    switch.start()
    try:
        switch.add_bridge("br-int")
        switch.add_tunnel_port("br-int", "vxlan", "10.0.0.1", 4)
        command: list[str] = []
        for i in range(VMS):
            command += ["--", "add-port", "br-int", f"vm{i}", "--", "set", "Interface", f"vm{i}"]
            command += ["type=dummy", f"ofport_request={10 + i}", f"external_ids:iface-id=p{i}"]
        switch.vsctl(*command[1:])
        switch.add_flows("br-int", _flows())
        return asyncio.run(_measure(switch))
    finally:
        switch.cleanup()
