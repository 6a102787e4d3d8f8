"""The simulator never crashes on odd NB data: it answers with a verdict or a TraceError."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dragonscope.demo.generate import generate
from dragonscope.nb.model import NbObject, Snapshot
from dragonscope.trace import TraceError, Tracer, TraceRequest
from trace_cloud import build

BASE = build()
KEYS = sorted(BASE)
GARBAGE = st.one_of(
    st.none(),
    st.integers(-5, 70000),
    st.text(max_size=8),
    st.booleans(),
    st.lists(st.text(max_size=4), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
REQUESTS = [
    dict(source="web-1", destination="db-1", dport=22, reply=True),
    dict(source="web-1", destination="web-2", proto="icmp"),
    dict(source="external", destination="172.24.4.20", dport=80, reply=True),
    dict(source="web-2", destination="db-1", dport=80),
    dict(source="b-1", destination="192.168.50.1", proto="arp"),
    dict(source="app-1-child", destination="db-1", dport=22),
    dict(source="web-1", proto="dhcp"),
    dict(source="web-1", destination="8.8.8.8", dport=443),
]


def _mutate(snapshot: Snapshot, edits: list[tuple[int, str, Any, bool]]) -> Snapshot:
    out = dict(snapshot)
    for index, field, value, delete in edits:
        key = KEYS[index % len(KEYS)]
        if key not in out:
            continue
        if delete:
            del out[key]
            continue
        data = dict(out[key].data)
        names = sorted(data)
        name = names[len(field) * 7 % len(names)] if field else "id"
        current = data.get(name)
        if isinstance(current, list) and current and isinstance(current[0], dict):
            inner = dict(current[0])  # reach into embedded rows: rules, router ports, routes
            inner_names = sorted(inner)
            inner[inner_names[len(field) % len(inner_names)]] = value
            data[name] = [inner, *current[1:]]
        elif isinstance(current, dict) and current:
            data[name] = {**current, sorted(current)[len(field) % len(current)]: value}
        else:
            data[name] = value
        out[key] = NbObject(key[0], key[1], data)
    return out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(st.integers(0, 10_000), st.text(max_size=3), GARBAGE, st.booleans()),
        min_size=1,
        max_size=6,
    )
)
def test_mutated_nb_never_crashes_a_trace(edits: list[tuple[int, str, Any, bool]]) -> None:
    tracer = Tracer(_mutate(BASE, edits))
    for kw in REQUESTS:
        try:
            result = tracer.trace(TraceRequest(**kw))
        except TraceError:
            continue
        out = result.to_json()
        json.dumps(out)
        assert out["verdict"] in ("delivered", "dropped", "external", "replied")


def test_every_vm_pair_of_the_demo_cloud_traces() -> None:
    dump = generate("small", seed=0)
    snapshot = {
        (t, o["id"]): NbObject(t, o["id"], o)
        for t, objs in dump.items()
        for o in objs
        if isinstance(o, dict) and isinstance(o.get("id"), str)
    }
    tracer = Tracer(snapshot)
    vms = [p for p in tracer.index.ports.values() if p.device_owner.startswith("compute:")]
    verdicts = set()
    for src in vms:
        for dst in vms:
            if src is not dst:
                out = tracer.trace(
                    TraceRequest(source=src.id, destination=dst.id, dport=22, reply=True)
                ).to_json()
                json.dumps(out)
                verdicts.add(out["verdict"])
    assert "delivered" in verdicts
