"""Expected rules and drift: generating the rules of a chassis with about 200 ports in the
demo's ``large`` cloud (about 100k NB objects) and comparing 20k installed rules with them
(the first check keys the expected rules; later checks of the same rules reuse them).

A chassis collector reading etcd holds the ports bound elsewhere as skeletons: its drift
watch makes only the rules it can check. Measured on the NB as such a collector holds it:
the CPU of one generation, and the memory its rules keep between checks, beside what all
the rules made from that same view would keep."""

from __future__ import annotations

import gc
import sys
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.bench_trace import _snapshot
from bench.report import Figure
from dragonscope.collector.ovs_drift import generate
from dragonscope.nb import Snapshot
from dragonscope.ovs.flows import parse
from dragonscope.trace import DEFAULT_APPS, Tracer
from dragonscope.trace.flows import ChassisOvs, drift, expected_flows

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from ovs_support import held_by_chassis_collector

INSTALLED = 20_000
PORTS = 200  # the chassis whose port count is the nearest to this


def collect() -> list[Figure]:
    snapshot = _snapshot()
    tracer = Tracer(snapshot)
    index = tracer.index
    counts = Counter(p.chassis for p in index.ports.values() if p.bound and p.chassis)
    chassis, local = min(counts.items(), key=lambda item: abs(item[1] - PORTS))
    ofports = {
        p.id: 10 + n for n, p in enumerate(p for p in index.ports.values() if p.chassis == chassis)
    }
    ovs = ChassisOvs(ofports, {"vxlan": 4, "geneve": 5, "gre": 6})
    started = time.process_time()
    flows = expected_flows(index, chassis, DEFAULT_APPS, ovs)
    generate = time.process_time() - started
    text = "\n".join(f" cookie=0x0, {f.text()}" for f in flows.flows[:INSTALLED])
    installed = parse(text)
    started = time.process_time()
    report = drift(flows, installed)
    check = time.process_time() - started
    started = time.process_time()
    drift(flows, installed)
    again = time.process_time() - started
    size = f"{len(index.ports):,} lports, {local} on the chassis"
    return [
        Figure("expected rules, one chassis", generate, "s CPU", size,
               f"{len(flows.flows):,} rules"),
        Figure("drift check", check, "s CPU", f"{len(installed):,} installed rules",
               f"{len(report.missing):,} missing (rules past the first {INSTALLED:,})"),
        Figure("drift check, rules already keyed", again, "s CPU",
               f"{len(installed):,} installed rules", "the chassis agent's later checks"),
        *_chassis_collector(snapshot, chassis, ovs),
    ]  # fmt: skip


def _chassis_collector(snapshot: Snapshot, chassis: str, ovs: ChassisOvs) -> list[Figure]:
    view = held_by_chassis_collector(snapshot, chassis)
    size = f"{sum(t == 'lport' for t, _ in view):,} lports, remote ones as skeletons"
    started = time.process_time()
    _, flows, _, _ = generate(view, chassis, DEFAULT_APPS, ovs)
    took = time.process_time() - started
    del flows
    kept, made = _kept(lambda: generate(view, chassis, DEFAULT_APPS, ovs)[1])
    every, made_all = _kept(lambda: expected_flows(Tracer(view).index, chassis, DEFAULT_APPS, ovs))
    return [
        Figure("expected rules, chassis collector on etcd", took, "s CPU", size,
               f"{made:,} rules made (the remote ports' are not)"),
        Figure("expected rules kept, chassis collector on etcd", kept, "MiB", size,
               f"{made:,} rules; {every:.0f} MiB for all {made_all:,} from the same view"),
    ]  # fmt: skip


def _kept(make: Callable[[], Any]) -> tuple[float, int]:
    """MiB that the rules ``make`` returns keep once keyed (as a drift watch keeps them),
    and how many rules they are."""
    gc.collect()
    tracemalloc.start()
    try:
        flows = make()
        flows.keyed()
        gc.collect()
        kept, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return kept / 2**20, len(flows.flows)
