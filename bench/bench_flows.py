"""Expected rules and drift: generating the rules of a chassis with about 200 ports in the
demo's ``large`` cloud (about 100k NB objects) and comparing 20k installed rules with them
(the first check keys the expected rules; later checks of the same rules reuse them)."""

from __future__ import annotations

import time
from collections import Counter

from bench.bench_trace import _snapshot
from bench.report import Figure
from dragonscope.ovs.flows import parse
from dragonscope.trace import DEFAULT_APPS, Tracer
from dragonscope.trace.flows import ChassisOvs, drift, expected_flows

INSTALLED = 20_000
PORTS = 200  # the chassis whose port count is the nearest to this


def collect() -> list[Figure]:
    tracer = Tracer(_snapshot())
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
    ]  # fmt: skip
