"""Packet simulator: index build, traces per second and a 200-port reachability matrix,
on the demo generator's ``large`` cloud (about 100k NB objects)."""

from __future__ import annotations

import random
import time
from collections import Counter
from typing import Any

from bench.report import Figure
from dragonscope.demo.generate import generate
from dragonscope.nb.model import NbObject, Snapshot
from dragonscope.trace import Tracer, TraceRequest
from dragonscope.trace.reach import matrix
from dragonscope.trace.whatif import apply_patch

TRACES = 2000
MATRIX_PORTS = 200


def _snapshot() -> Snapshot:
    dump = generate("large", seed=0)
    return {
        (table, o["id"]): NbObject(table, o["id"], o)
        for table, objs in dump.items()
        for o in objs
        if isinstance(o, dict) and isinstance(o.get("id"), str)
    }


def _grow_tenant(tracer: Tracer, snapshot: Snapshot, size: int) -> tuple[Snapshot, str]:
    """Clone the biggest tenant's VM ports (new ids, keys, MACs and free IPs in the same
    subnets) until it has ``size`` ports: a realistic 200-port tenant."""
    vms = [p for p in tracer.index.ports.values() if p.device_owner.startswith("compute:")]
    topic = Counter(p.topic for p in vms).most_common(1)[0][0]
    own = [p for p in vms if p.topic == topic]
    used = {a for p in tracer.index.ports.values() for a in p.ips}
    puts: list[dict[str, Any]] = []
    for i in range(size - len(own)):
        template = snapshot[("lport", own[i % len(own)].id)].data
        subnet = tracer.index.subnets[template["subnets"][0]]
        assert subnet.cidr is not None
        addr = next(a for a in subnet.cidr.hosts() if a not in used and int(a) & 0xFF > 20)
        used.add(addr)
        puts.append(
            {
                **template,
                "id": f"bench-port-{i}",
                "name": f"bench-{i}",
                "ips": [str(addr)],
                "subnets": [subnet.id],
                "unique_key": 10**6 + i,
                "macs": [f"fa:16:3e:be:{i >> 8:02x}:{i & 0xFF:02x}"],
                "allowed_address_pairs": [],
            }
        )
    return apply_patch(snapshot, {"put": {"lport": puts}}), topic


def _per_trace(tracer: Tracer, pairs: list[tuple[str, str]], record: bool) -> float:
    """CPU seconds per trace (CPU time, so other load on the machine does not count)."""
    t0 = time.process_time()
    for src, dst in pairs:
        tracer.trace(TraceRequest(source=src, destination=dst, dport=22), record=record)
    return (time.process_time() - t0) / len(pairs)


def collect() -> list[Figure]:
    snapshot = _snapshot()
    size = f"{len(snapshot):,} NB objects (demo large)"
    t0 = time.process_time()
    tracer = Tracer(snapshot)
    build = time.process_time() - t0
    vms = [
        p
        for p in tracer.index.ports.values()
        if p.device_owner.startswith("compute:") and p.chassis
    ]
    rng = random.Random(0)
    ids = sorted(p.id for p in vms)
    anywhere = [(rng.choice(ids), rng.choice(ids)) for _ in range(TRACES)]
    by_tenant: dict[str, list[str]] = {}
    for p in vms:
        by_tenant.setdefault(p.topic, []).append(p.id)
    tenants = sorted(t for t, ports in by_tenant.items() if len(ports) > 1)
    same: list[tuple[str, str]] = []
    while len(same) < TRACES:
        src, dst = rng.sample(sorted(by_tenant[rng.choice(tenants)]), 2)
        same.append((src, dst))
    mix: Counter[str] = Counter(
        tracer.trace(TraceRequest(source=s, destination=d, dport=22), record=False).verdict
        for s, d in same
    )
    full_same = _per_trace(tracer, same, True)
    full_any = _per_trace(tracer, anywhere, True)
    bare_same = _per_trace(tracer, same, False)
    verdicts = ", ".join(f"{k} {v}" for k, v in sorted(mix.items()))
    grown, topic = _grow_tenant(tracer, snapshot, MATRIX_PORTS)
    big = Tracer(grown)
    t0, w0 = time.process_time(), time.perf_counter()
    grid = matrix(big, tenant=topic, proto="tcp", dport=22)
    reach, wall = time.process_time() - t0, time.perf_counter() - w0
    cells = len(grid["ports"]) * (len(grid["ports"]) - 1)
    return [
        Figure("trace index build", build, "s CPU", size, "once per snapshot"),
        Figure(
            "trace, same tenant, full hops",
            full_same * 1000,
            "ms CPU/trace",
            size,
            f"{1 / full_same:,.0f} traces/s; tcp/22 verdicts: {verdicts}",
        ),
        Figure(
            "trace, any VM pair, full hops",
            full_any * 1000,
            "ms CPU/trace",
            size,
            f"{1 / full_any:,.0f} traces/s; mostly cross-tenant, ending early",
        ),
        Figure(
            "trace, same tenant, verdict only",
            bare_same * 1000,
            "ms CPU/trace",
            size,
            f"{1 / bare_same:,.0f} traces/s (reach matrix mode)",
        ),
        Figure(
            "reach matrix",
            reach,
            "s CPU",
            f"{len(grid['ports'])} ports of one tenant",
            f"{cells:,} cells, {cells / reach:,.0f} cells/s; {wall:.1f} s wall in this run",
        ),
    ]
