"""The churn stream: realistic events that keep the NB consistent, however long it runs."""

from __future__ import annotations

import itertools
from collections import Counter

import pytest

from dragonscope.demo.churn import Churn
from dragonscope.demo.generate import generate
from dragonscope.nb import encode
from dragonscope.nb.schema import check, parse


def problems_of(objects: dict[tuple[str, str], dict]) -> set[tuple[str, str, str, str]]:
    snapshot = {}
    found = set()
    for (table, obj_id), obj in objects.items():
        parsed = parse(table, obj_id, encode(obj))
        found.update((p.kind, p.table, p.id, p.field or "") for p in parsed.problems)
        snapshot[parsed.key] = parsed
    found.update((p.kind, p.table, p.id, p.field or "") for p in check(snapshot))
    return found


def _drain(churn: Churn):
    """The rest of the event under way, so that the NB is between events again."""
    while churn.pending:
        yield next(churn)


def as_objects(dump: dict) -> dict[tuple[str, str], dict]:
    return {(t, o["id"]): o for t, rows in dump.items() if t != "unique_key" for o in rows}


@pytest.mark.parametrize(("size", "events", "seed"), [("small", 3000, 0), ("medium", 2000, 3)])
def test_churn_keeps_the_nb_consistent(size: str, events: int, seed: int) -> None:
    dump = generate(size, seed=seed)
    objects = as_objects(dump)
    broken = problems_of(objects)
    assert {kind for kind, *_ in broken} == {"dangling-reference"}
    churn = Churn(dump, seed=seed)  # the same seed as the cloud must not repeat its ids
    counters = {row["id"]: row["unique_key"] for row in dump["unique_key"]}

    # Through the iterator first (stopping mid-event, then finishing that event), then
    # event by event.
    def writes():
        yield from itertools.islice(churn, 1001)
        yield from _drain(churn)
        while churn.events < events:
            yield from churn.step()

    for n, (table, obj_id, obj) in enumerate(writes(), 1):
        if table == "unique_key":
            assert obj is not None and obj["unique_key"] == counters[obj_id] + 1
            counters[obj_id] = obj["unique_key"]
            continue
        if obj is None:
            del objects[(table, obj_id)]
        else:
            assert obj["id"] == obj_id
            if obj.get("version") == 1:  # a creation: the id must be new
                assert (table, obj_id) not in objects
            objects[(table, obj_id)] = obj
        if n % (1000 if size == "small" else 5000) == 0:
            assert problems_of(objects) == broken, f"after {n} changes"
    assert churn.events >= events
    assert problems_of(objects) == broken
    assert as_objects(churn.state()) == objects
    keys = [o["unique_key"] for (t, _), o in objects.items() if t == "lport"]
    assert len(keys) == len(set(keys)) and max(keys) <= counters["lport"]
    addresses = [
        (subnet, ip)
        for (t, _), o in objects.items()
        if t == "lport"
        for ip, subnet in zip(o["ips"], o["subnets"], strict=True)
    ]
    assert len(addresses) == len(set(addresses)), "two ports share an address"
    hosts = {o.get("external_host_ip") for (t, _), o in objects.items() if t == "chassis"}
    assert not hosts & {ip for _, ip in addresses}, "a port took a chassis's external address"


def test_churn_is_deterministic_and_does_not_touch_the_given_dump() -> None:
    dump = generate("small", seed=1)
    before = encode({"dump": dump})
    first = list(itertools.islice(Churn(dump, seed=2), 500))
    assert first == list(itertools.islice(Churn(dump, seed=2), 500))
    assert first != list(itertools.islice(Churn(dump, seed=3), 500))
    assert encode({"dump": dump}) == before


def test_churn_covers_every_kind_of_event() -> None:
    dump = generate("small", seed=0)
    kinds: Counter[str] = Counter()
    existing = set(as_objects(dump))
    for table, obj_id, obj in itertools.islice(Churn(dump, seed=4), 3000):
        if obj is None:
            kinds[f"delete {table}"] += 1
            existing.discard((table, obj_id))
        elif (table, obj_id) in existing:
            kinds[f"update {table}"] += 1
        else:
            kinds[f"create {table}"] += 1
            existing.add((table, obj_id))
    for kind in (
        "create lport", "delete lport", "update lport", "update floatingip", "create floatingip",
        "delete floatingip", "update secgroup", "update service", "delete chassis",
        "create chassis", "update bgp_speaker", "create migration", "update activeport",
    ):  # fmt: skip
        assert kinds[kind], kind


def test_deleting_a_vm_disassociates_its_floating_ip_first() -> None:
    dump = generate("small", seed=0)
    churn = Churn(dump, seed=0)
    port_id = next(iter(churn.fip_of_port))
    fip_id = churn.fip_of_port[port_id]
    churn.vms = type(churn.vms)()
    churn.vms.add(port_id)
    changes = churn.delete_vm()
    tables = [(t, i) for t, i, _ in changes]
    assert tables.index(("floatingip", fip_id)) < tables.index(("lport", port_id))
    fip = next(o for t, i, o in changes if (t, i) == ("floatingip", fip_id))
    assert fip is not None and "lport" not in fip and "fixed_ip_address" not in fip
    speaker = next(o for t, _, o in changes if t == "bgp_speaker")
    assert speaker is not None
    assert all(
        r["destination"] != fip["floating_ip_address"] + "/32" for r in speaker["host_routes"]
    )
    assert changes[-1] == ("lport", port_id, None)


def test_updates_bump_neutron_revisions() -> None:
    dump = generate("small", seed=0)
    versions = {(t, o["id"]): o.get("version") for t, rows in dump.items() for o in rows}
    for table, obj_id, obj in itertools.islice(Churn(dump, seed=9), 1000):
        if obj is None or table == "unique_key":
            continue
        old = versions.get((table, obj_id))
        if old is not None:
            assert obj["version"] > old, (table, obj_id)
        versions[(table, obj_id)] = obj.get("version")


def test_heartbeats_follow_the_given_clock() -> None:
    churn = Churn(generate("small"), seed=0, clock=lambda: 1234.5)
    beats = [churn.heartbeat() for _ in range(3)]
    assert all(obj and obj["last_seen_up"] == 1234.5 for changes in beats for _, _, obj in changes)


def test_a_cloud_where_nothing_can_change_ends_the_stream() -> None:
    assert list(Churn({}, seed=0)) == []
    empty_tables = {table: [] for table in generate("small")}
    assert list(Churn(empty_tables, seed=0)) == []
