"""Problems across objects, and a mixed snapshot where bad rows never hide the good ones."""

from __future__ import annotations

import json
from typing import Any

from dragonscope.nb.model import NbObject
from dragonscope.nb.schema import check, parse
from nb_samples import MORE_EXAMPLES, SAMPLES, WORKED_EXAMPLE, split_key

ACME = "3f6a2c1e9b8d4f7a8e5c2b1a0d9e8f7c"
WEB_1 = "2dd2c80e-7071-408f-bd23-561d5753efad"
ROUTER = "74c95604-0434-47f0-bee1-d0e16bfa53af"


def worked_example() -> dict[tuple[str, str], NbObject]:
    objects = [parse(*split_key(key), value.encode()) for key, value in WORKED_EXAMPLE]
    return {obj.key: obj for obj in objects}


def stored(table: str, id_: str) -> dict[str, Any]:
    return json.loads(dict(WORKED_EXAMPLE + MORE_EXAMPLES)[f"/{table}/{id_}"])


def put(snapshot: dict[tuple[str, str], NbObject], table: str, data: dict[str, Any]) -> None:
    obj = parse(table, data["id"], json.dumps(data))
    snapshot[obj.key] = obj


def summary(problems: list[Any]) -> list[tuple[str, str, str | None, str]]:
    return [(p.table, p.id, p.field, p.kind) for p in problems]


def test_the_worked_example_is_consistent() -> None:
    snapshot = worked_example()
    assert len(snapshot) == 33
    assert all(obj.valid for obj in snapshot.values())
    assert check(snapshot) == []


def test_dangling_references_are_named_with_their_path() -> None:
    snapshot = worked_example()
    del snapshot[("chassis", "compute-2")]
    del snapshot[("secgroup", "db73ccf5-dbb3-422c-88c4-c9661e8f3a0e")]
    problems = check(snapshot)
    assert summary(problems) == [
        (
            "lport",
            "6279f97b-1a5b-4a20-ab7b-6764f6c12816",
            "security_groups[0]",
            "dangling-reference",
        ),
        ("lport", "ae582a78-e6c3-4318-84cd-a7067260f82f", "binding.chassis", "dangling-reference"),
        ("lport", "aecd5e5b-ecaf-45db-8d79-92512200b178", "binding.chassis", "dangling-reference"),
        (
            "lport",
            "aecd5e5b-ecaf-45db-8d79-92512200b178",
            "security_groups[0]",
            "dangling-reference",
        ),
        ("service", "cd3ec764-8b81-597c-8441-a54b7f72bafc", "chassis", "dangling-reference"),
    ]
    assert problems[1].message == (
        'expected an existing chassis, found id "compute-2", which no chassis in the NB DB has'
    )


def test_dangling_reference_inside_embedded_lists() -> None:
    snapshot = worked_example()
    del snapshot[("lswitch", "96dc148c-b43d-4ce1-9000-c26f752c1e68")]
    del snapshot[("lport", "424e1d26-cda2-491b-83c0-285f0428f2ea")]
    found = summary(check(snapshot))
    assert ("lrouter", ROUTER, "ports[1].lswitch", "dangling-reference") in found
    assert ("lrouter", ROUTER, "ports[1].id", "dangling-reference") in found
    assert ("lsubnet", "cbcaa143-9021-4d25-ba12-f6c9f2459be9", "lswitch", "dangling-reference") in (
        found
    )


def test_remote_group_may_point_to_its_own_group_but_not_to_a_missing_one() -> None:
    snapshot = worked_example()
    group = stored("secgroup", "50db5e1b-b82e-4da5-8ae3-fbbde5cb72a0")
    group["rules"][4]["remote_group_id"] = "0f0f0f0f-0000-4000-8000-000000000000"
    put(snapshot, "secgroup", group)
    assert summary(check(snapshot)) == [
        ("secgroup", group["id"], "rules[4].remote_group_id", "dangling-reference")
    ]


def test_the_same_object_under_two_topics_is_a_duplicate() -> None:
    # Redis keys embed the topic, so one id can be stored twice; a dict cannot hold both.
    moved = stored("lport", WEB_1) | {"topic": "b7e21a9c4d3f4e6b8a1c0d2e3f4a5b6c"}
    objects = [*worked_example().values(), parse("lport", WEB_1, json.dumps(moved))]
    problems = check(objects)
    assert summary(problems) == [("lport", WEB_1, "id", "duplicate-id")]
    assert problems[0].message == (
        f'expected one lport with this id, found it stored twice (topics string "{ACME}" '
        'and string "b7e21a9c4d3f4e6b8a1c0d2e3f4a5b6c")'
    )


def test_duplicate_unique_keys_collide_in_the_datapath() -> None:
    snapshot = worked_example()
    port = stored("lport", "ae582a78-e6c3-4318-84cd-a7067260f82f") | {"unique_key": 7}
    put(snapshot, "lport", port)
    problems = check(snapshot)
    assert summary(problems) == [("lport", port["id"], "unique_key", "duplicate-key")]
    assert problems[0].message == (
        f'expected a unique_key no other lport uses, found 7, also used by lport "{WEB_1}"'
    )


def test_router_port_must_copy_its_interface_lport() -> None:
    snapshot = worked_example()
    router = stored("lrouter", ROUTER)
    router["ports"][0]["unique_key"] = 99
    router["ports"][1]["mac"] = "fa:16:3e:5a:02:99"
    router["ports"][1]["network"] = "10.10.2.254/24"
    put(snapshot, "lrouter", router)
    problems = check(snapshot)
    assert summary(problems) == [
        ("lrouter", ROUTER, "ports[0].unique_key", "inconsistent"),
        ("lrouter", ROUTER, "ports[1].mac", "inconsistent"),
        ("lrouter", ROUTER, "ports[1].network", "inconsistent"),
    ]
    assert problems[2].message == (
        'expected the interface lport\'s first IP string "10.10.2.1", found string "10.10.2.254"'
    )
    assert (
        problems[0].message == "expected the interface lport's unique_key number 5, found number 99"
    )


def test_port_addresses_must_fit_their_subnets() -> None:
    snapshot = worked_example()
    port = stored("lport", WEB_1) | {"ips": ["10.10.9.11"]}
    put(snapshot, "lport", port)
    fip = stored("floatingip", "aa657f62-d577-4a27-af95-efb43e2b7d3e")
    fip["floating_ip_address"] = "172.24.4.99"
    put(snapshot, "floatingip", fip)
    found = check(snapshot)
    assert summary(found) == [
        ("floatingip", fip["id"], "fixed_ip_address", "inconsistent"),
        ("floatingip", fip["id"], "floating_ip_address", "inconsistent"),
        ("lport", WEB_1, "ips[0]", "inconsistent"),
    ]
    assert found[2].message == (
        "expected an address in subnet 9ff2abfe-6c20-49bb-bac7-bdca040882f9's cidr string "
        '"10.10.1.0/24", found string "10.10.9.11"'
    )


def test_port_subnet_on_another_network() -> None:
    snapshot = worked_example()
    port = stored("lport", WEB_1) | {"lswitch": "96dc148c-b43d-4ce1-9000-c26f752c1e68"}
    put(snapshot, "lport", port)
    assert summary(check(snapshot)) == [("lport", WEB_1, "subnets[0]", "inconsistent")]


def test_mixed_snapshot_bad_rows_are_reported_and_the_rest_loads() -> None:
    good = worked_example()
    entries: list[tuple[str, str, bytes]] = [
        (*split_key(key), value.encode()) for key, value in WORKED_EXAMPLE
    ]
    web_1 = stored("lport", WEB_1)
    bad_type = web_1 | {"id": "p-type", "unique_key": "15", "ips": ["10.10.1.30"], "macs": []}
    missing = {k: v for k, v in web_1.items() if k != "lswitch"} | {"id": "p-missing"}
    dangling = web_1 | {"id": "p-dangling", "unique_key": 16, "ips": ["10.10.1.31"], "macs": []}
    dangling["security_groups"] = ["ffffffff-0000-4000-8000-000000000000"]
    bad_ip = web_1 | {"id": "p-ip", "unique_key": 17, "ips": ["10.10.1.300"], "macs": []}
    entries += [
        ("lport", "p-json", b'{"id": "p-json", "ips": ['),
        ("lbaas_pool", "pool-1", b'{"id": "pool-1"}'),
        ("lport", "p-type", json.dumps(bad_type).encode()),
        ("lport", "p-missing", json.dumps(missing).encode()),
        ("lport", "p-dangling", json.dumps(dangling).encode()),
        ("lport", "p-ip", json.dumps(bad_ip).encode()),
        ("lport", "p-other-id", json.dumps(web_1).encode()),
        ("lport", "p-list", b"[]"),
        ("secgroup", "sg-x", b'{"id": "sg-x", "topic": "t", "unique_key": 1, "rules": []}'),
    ]
    objects = [parse(table, id_, raw) for table, id_, raw in entries]
    snapshot = {obj.key: obj for obj in objects}

    for key, obj in good.items():
        assert snapshot[key] == obj and obj.valid
    per_object = {
        obj.id: [(p.field, p.kind) for p in obj.problems] for obj in objects if obj.problems
    }
    assert per_object["p-json"] == [(None, "invalid-json")]
    assert per_object["pool-1"] == [(None, "unknown-table")]
    assert per_object["p-type"] == [("unique_key", "wrong-type")]
    assert per_object["p-ip"] == [("ips[0]", "invalid-value")]
    assert per_object["p-other-id"] == [("id", "id-mismatch")]
    assert per_object["p-list"] == [(None, "not-an-object")]
    assert "p-missing" not in per_object  # lswitch is optional on an lport
    assert "p-dangling" not in per_object  # only visible across objects

    across = summary(check(snapshot))
    assert ("lport", "p-dangling", "security_groups[0]", "dangling-reference") in across
    assert ("lport", "p-missing", "unique_key", "duplicate-key") in across
    assert ("secgroup", "sg-x", "unique_key", "duplicate-key") in across
    assert ("lport", "p-other-id", "ips[0]", "duplicate-address") in across
    assert ("lport", WEB_1, "ips[0]", "duplicate-address") in across  # the one it copies
    # The good objects are only involved where a bad one collides with them.
    assert {p[1] for p in across} == {"p-dangling", "p-missing", "p-other-id", "sg-x", WEB_1}
    assert check(snapshot) == check(list(snapshot.values()))


def test_every_sample_alone_only_reports_references() -> None:
    for table, (id_, value) in SAMPLES.items():
        obj = parse(table, id_, value)
        kinds = {p.kind for p in check({obj.key: obj})}
        assert kinds <= {"dangling-reference"}, table


def test_duplicate_addresses_on_one_network() -> None:
    snapshot = worked_example()
    web_2 = stored("lport", "ae582a78-e6c3-4318-84cd-a7067260f82f")
    put(snapshot, "lport", web_2 | {"ips": ["10.10.1.11"], "macs": ["fa:16:3e:11:00:01"]})
    problems = check(snapshot)
    # Both ports carry it: the NB cannot tell which one is stale.
    assert summary(problems) == [
        ("lport", WEB_1, "ips[0]", "duplicate-address"),
        ("lport", WEB_1, "macs[0]", "duplicate-address"),
        ("lport", web_2["id"], "ips[0]", "duplicate-address"),
        ("lport", web_2["id"], "macs[0]", "duplicate-address"),
    ]
    assert problems[2].message == (
        "expected an address no other port of lswitch 72463273-de1f-4666-b0b4-0362d0eb738c has, "
        f'found string "10.10.1.11", also on lport "{WEB_1}"'
    )
    assert problems[0].message.endswith(f'also on lport "{web_2["id"]}"')
    # A third port with the address: each names the others.
    third = stored("lport", "4816cc07-dc1a-44fe-b5ca-ab6c2f4e7ead")
    put(snapshot, "lport", third | {"lswitch": web_2["lswitch"], "ips": ["10.10.1.11"]})
    ips = [p for p in check(snapshot) if p.field == "ips[0]"]
    assert [p.id for p in ips] == [WEB_1, third["id"], web_2["id"]]
    assert all("also on lports " in p.message and p.id not in p.message for p in ips)


def test_an_ipvlan_child_may_share_its_parents_mac() -> None:
    snapshot = worked_example()
    parent = stored("lport", "4816cc07-dc1a-44fe-b5ca-ab6c2f4e7ead")
    child = stored("lport", "6455c194-c89c-4d18-b896-5b40bfc09e43")
    child |= {"lswitch": parent["lswitch"], "subnets": parent["subnets"], "ips": ["10.10.1.99"]}
    put(snapshot, "lport", child)
    assert check(snapshot) == []
    del snapshot[("child_port_segmentation", "da48650b-4236-5a63-8a33-00dd483e22c1")]
    assert summary(check(snapshot)) == [
        ("lport", parent["id"], "macs[0]", "duplicate-address"),
        ("lport", child["id"], "macs[0]", "duplicate-address"),
    ]


def test_migration_records_outlive_their_ports_without_a_problem() -> None:
    # Dragonflow never deletes migration records: a stale one is normal, not a fault.
    snapshot = worked_example()
    migration = stored("migration", WEB_1) | {"lport": "gone", "dest_chassis": "compute-9"}
    put(snapshot, "migration", migration)
    assert check(snapshot) == []


def test_port_bound_to_a_chassis_without_its_tunnel_type() -> None:
    snapshot = worked_example()
    chassis = stored("chassis", "compute-2") | {"tunnel_types": ["geneve"]}
    put(snapshot, "chassis", chassis)
    problems = check(snapshot)
    assert summary(problems) == [
        ("lport", "ae582a78-e6c3-4318-84cd-a7067260f82f", "binding.chassis", "inconsistent"),
        ("lport", "aecd5e5b-ecaf-45db-8d79-92512200b178", "binding.chassis", "inconsistent"),
    ]
    assert problems[0].message == (
        "expected a chassis terminating vxlan tunnels (lswitch "
        '72463273-de1f-4666-b0b4-0362d0eb738c is vxlan), found "compute-2", which terminates '
        "geneve"
    )
