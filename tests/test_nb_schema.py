"""Parsing stored NB objects: every table round-trips, every kind of bad data is named precisely."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dragonscope.nb.model import NbObject
from dragonscope.nb.schema import (
    NON_OBJECT_TABLES,
    PROBLEM_KINDS,
    TABLES,
    Field,
    Reference,
    Table,
    check,
    field_value,
    parse,
    redact,
    serialize,
)
from dragonscope.nb.secrets import has_secret
from nb_samples import SAMPLES, stored_objects

EVERY_TABLE = [
    *("chassis", "lswitch", "lsubnet", "lport", "lrouter", "floatingip", "secgroup"),
    *("qospolicy", "switch_port", "child_port_segmentation", "sfc_portpair"),
    *("sfc_portpairgroup", "sfc_flowclassifier", "sfc_portchain", "bgp_peer", "bgp_speaker"),
    *("activeport", "migration", "service", "publisher", "listener"),
]


def sample(table: str) -> dict[str, Any]:
    return json.loads(SAMPLES[table][1])


def problems_of(table: str, data: dict[str, Any]) -> list[tuple[str, str | None, str]]:
    obj = parse(table, data["id"], json.dumps(data))
    return [(p.kind, p.field, p.message) for p in obj.problems]


def only_problem(table: str, data: dict[str, Any]) -> tuple[str, str | None, str]:
    found = problems_of(table, data)
    assert len(found) == 1, found
    return found[0]


# --- the declarations ---------------------------------------------------------------------------


def test_every_dragonflow_table_is_declared_once() -> None:
    assert sorted(TABLES) == sorted(EVERY_TABLE)
    assert all(isinstance(t, Table) and t.name == name for name, t in TABLES.items())
    assert "unique_key" in NON_OBJECT_TABLES and "unique_key" not in TABLES
    assert not TABLES["switch_port"].stored


def test_every_table_has_a_required_id_and_topic_where_dragonflow_requires_one() -> None:
    for table in TABLES.values():
        assert table.fields["id"].required, table.name
    with_topic = {name for name, t in TABLES.items() if "topic" in t.fields}
    assert with_topic.isdisjoint({"chassis", "service", "migration", "publisher", "listener"})
    assert all(TABLES[name].fields["topic"].required for name in with_topic)


def test_fields_carry_type_requiredness_enum_target_and_substructure() -> None:
    lport = TABLES["lport"]
    assert lport.fields["unique_key"] == lport.fields["unique_key"]
    assert lport.fields["unique_key"].type == "int" and lport.fields["unique_key"].required
    assert lport.fields["ips"].type == "ip" and lport.fields["ips"].many
    assert lport.fields["security_groups"].target == "secgroup"
    assert "smart-nic" in lport.fields["binding_vnic_type"].enum
    binding = lport.fields["binding"]
    assert binding.type == "struct" and binding.struct is not None
    assert binding.struct.fields["type"].enum == ("chassis", "vtep")
    rule = TABLES["secgroup"].field_at("rules[].protocol")
    assert isinstance(rule, Field) and rule.type == "ip-proto"
    assert TABLES["lrouter"].field_at("ports[].network").type == "network"  # type: ignore[union-attr]
    assert TABLES["lrouter"].field_at("ports[].nope") is None


def test_references_are_derived_from_the_fields() -> None:
    assert set(TABLES["lport"].references) == {
        Reference("lswitch", "lswitch"),
        Reference("subnets", "lsubnet", many=True),
        Reference("binding.chassis", "chassis"),
        Reference("security_groups", "secgroup", many=True),
        Reference("qos_policy", "qospolicy"),
    }
    assert Reference("ports[].lswitch", "lswitch") in TABLES["lrouter"].references
    assert Reference("rules[].remote_group_id", "secgroup") in TABLES["secgroup"].references
    assert Reference("port_pair_groups", "sfc_portpairgroup", True) in (
        TABLES["sfc_portchain"].references
    )
    for table in TABLES.values():
        for reference in table.references:
            assert reference.target in TABLES, (table.name, reference)


def test_reference_locate_gives_concrete_paths() -> None:
    router = sample("lrouter")
    (ports,) = [r for r in TABLES["lrouter"].references if r.field == "ports[].lswitch"]
    assert list(ports.locate(router)) == [
        ("ports[0].lswitch", "72463273-de1f-4666-b0b4-0362d0eb738c"),
        ("ports[1].lswitch", "96dc148c-b43d-4ce1-9000-c26f752c1e68"),
    ]
    port = sample("lport")
    (groups,) = [r for r in TABLES["lport"].references if r.field == "security_groups"]
    assert list(groups.locate(port)) == [
        ("security_groups[0]", "50db5e1b-b82e-4da5-8ae3-fbbde5cb72a0")
    ]


def _structs(struct: Any) -> list[Any]:
    found = [struct]
    for spec in struct.fields.values():
        if spec.struct is not None:
            found += _structs(spec.struct)
    return found


def test_every_rule_names_declared_fields() -> None:
    for table in TABLES.values():
        for struct in _structs(table):
            for rule in struct.rules:
                names = {name for name in rule.involves() if name}
                assert names <= set(struct.fields), (table.name, struct.name, rule)


def test_secret_fields() -> None:
    assert TABLES["bgp_peer"].secret_fields == {"password"}
    assert all(not t.secret_fields for name, t in TABLES.items() if name != "bgp_peer")


# --- round trip ----------------------------------------------------------------------------------


@pytest.mark.parametrize("table", EVERY_TABLE)
def test_every_table_round_trips_byte_for_byte(table: str) -> None:
    id_, stored = SAMPLES[table]
    for raw in (stored.encode(), stored, json.loads(stored)):
        obj = parse(table, id_, raw)
        assert obj.problems == ()
        assert obj.valid and obj.key == (table, id_)
        assert obj.data == json.loads(stored)
        assert serialize(obj) == stored


@pytest.mark.parametrize(("table", "id_", "stored"), stored_objects())
def test_every_stored_example_parses_clean_and_round_trips(
    table: str, id_: str, stored: str
) -> None:
    obj = parse(table, id_, stored.encode())
    assert obj.problems == ()
    assert serialize(obj) == stored


def test_dhcp_options_keep_their_stored_order() -> None:
    obj = parse("lport", *SAMPLES["lport"])
    assert list(obj.data["dhcp_params"]["opts"]) == ["3", "121"]
    assert '"opts": {"3": "10.10.1.254", "121": ' in serialize(obj)


def test_unknown_fields_are_kept_and_serialized_in_order() -> None:
    data = sample("chassis") | {"zone": "az-2", "labels": {"b": 1, "a": None}}
    obj = parse("chassis", data["id"], json.dumps(data))
    assert obj.valid and obj.data["zone"] == "az-2"
    assert serialize(obj) == (
        '{"id": "compute-1", "ip": "192.168.100.11", "labels": {"b": 1}, '
        '"tunnel_types": ["vxlan", "geneve", "gre"], "zone": "az-2"}'
    )


def test_null_optional_field_counts_as_unset_and_is_omitted() -> None:
    data = sample("floatingip") | {"lport": None}
    obj = parse("floatingip", data["id"], json.dumps(data))
    assert obj.valid
    assert '"lport"' not in serialize(obj)


def test_non_ascii_names_are_escaped_as_dragonflow_writes_them() -> None:
    data = sample("lswitch") | {"name": "réseau"}
    obj = parse("lswitch", data["id"], json.dumps(data).encode())
    assert obj.valid and obj.data["name"] == "réseau"
    assert '"name": "r\\u00e9seau"' in serialize(obj)


# --- bad data: one precise problem each --------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        (b'{"id": "a", ', "Expecting property name"),
        (b"", "empty value"),
        (b'{"id": NaN}', "NaN is not valid JSON"),
        (b'{"id": "\xff"}', "found byte 0xff at offset 8 that is not UTF-8 (invalid start byte)"),
        ("[" * 100_000, "nested too deeply"),
    ],
)
def test_invalid_json(raw: bytes | str, needle: str) -> None:
    obj = parse("lport", "a", raw)
    assert obj.data == {} and not obj.valid
    (problem,) = obj.problems
    assert (problem.table, problem.id, problem.kind) == ("lport", "a", "invalid-json")
    assert needle in problem.message


def test_invalid_json_names_line_and_column_and_shows_where() -> None:
    (problem,) = parse("lport", "a", b'{"id": "a",\n "ips": [1,}').problems
    assert problem.message == (
        "expected a JSON object, found invalid JSON (Expecting value at line 2 column 12, "
        'near ..."d\\": \\"a\\",\\n \\"ips\\": [1,}")'
    )


@pytest.mark.parametrize(
    ("raw", "found"),
    [
        (b"14", "number 14"),
        (b'["a"]', "a list of 1 item"),
        (b'"x"', 'string "x"'),
        (b"null", "null"),
    ],
)
def test_not_an_object(raw: bytes, found: str) -> None:
    (problem,) = parse("lswitch", "a", raw).problems
    assert problem.kind == "not-an-object"
    assert problem.message == f"expected a JSON object, found {found}"


def test_unknown_table_keeps_the_object_and_never_raises() -> None:
    obj = parse("lbaas_pool", "p1", b'{"id": "p1", "members": []}')
    assert obj.data == {"id": "p1", "members": []}
    (problem,) = obj.problems
    assert problem.kind == "unknown-table" and "lbaas_pool" in problem.message
    assert serialize(obj) == '{"id": "p1", "members": []}'


def test_id_mismatch() -> None:
    data = sample("chassis")
    (problem,) = parse("chassis", "compute-9", json.dumps(data)).problems
    assert (problem.kind, problem.field) == ("id-mismatch", "id")
    assert problem.message == (
        'expected the id it is stored under, string "compute-9", found string "compute-1"'
    )


def test_missing_required_fields() -> None:
    data = sample("lport")
    del data["unique_key"]
    assert only_problem("lport", data) == (
        "missing-field",
        "unique_key",
        "expected an integer (required), found the field absent",
    )
    data = sample("lsubnet") | {"lswitch": None}
    assert only_problem("lsubnet", data) == (
        "missing-field",
        "lswitch",
        "expected the id of a lswitch (required), found null",
    )
    data = sample("lport")
    del data["id"]
    problems = parse("lport", "b0183b84", json.dumps(data)).problems
    assert [(p.kind, p.field) for p in problems] == [("missing-field", "id")]


def test_missing_field_inside_an_embedded_list() -> None:
    data = sample("secgroup")
    del data["rules"][2]["direction"]
    assert only_problem("secgroup", data) == (
        "missing-field",
        "rules[2].direction",
        'expected one of "ingress", "egress" (required), found the field absent',
    )


@pytest.mark.parametrize(
    ("table", "path", "value", "expected"),
    [
        (
            "lswitch",
            "mtu",
            "1450",
            ("wrong-type", "mtu", 'expected an integer, found string "1450"'),
        ),
        ("lswitch", "mtu", True, ("wrong-type", "mtu", "expected an integer, found true")),
        (
            "lswitch",
            "is_external",
            1,
            ("wrong-type", "is_external", "expected true or false, found number 1"),
        ),
        (
            "lport",
            "ips",
            "10.0.0.1",
            ("wrong-type", "ips", 'expected a list, found string "10.0.0.1"'),
        ),
        (
            "lport",
            "binding",
            "compute-1",
            ("wrong-type", "binding", 'expected an object, found string "compute-1"'),
        ),
        (
            "lport",
            "security_groups",
            [7],
            (
                "wrong-type",
                "security_groups[0]",
                "expected the id string of a secgroup, found number 7",
            ),
        ),
        (
            "lport",
            "lswitch",
            "",
            ("invalid-value", "lswitch", "expected the id of a lswitch, found an empty string"),
        ),
        (
            "service",
            "last_seen_up",
            "now",
            ("wrong-type", "last_seen_up", 'expected a number, found string "now"'),
        ),
        (
            "lport",
            "name",
            ["x"],
            ("wrong-type", "name", "expected a string, found a list of 1 item"),
        ),
        ("secgroup", "rules", [{}, 3], None),
    ],
)
def test_wrong_types(
    table: str, path: str, value: Any, expected: tuple[str, str, str] | None
) -> None:
    data = sample(table) | {path: value}
    if expected is None:
        found = problems_of(table, data)
        assert ("wrong-type", "rules[1]", "expected an object, found number 3") in found
        assert (
            "missing-field",
            "rules[0].id",
            "expected a string (required), found the field absent",
        ) in found
    else:
        assert only_problem(table, data) == expected


@pytest.mark.parametrize(
    ("table", "path", "value", "field", "message"),
    [
        (
            "chassis",
            "ip",
            "192.168.100.300",
            "ip",
            'expected an IPv4 or IPv6 address, found string "192.168.100.300"',
        ),
        (
            "chassis",
            "ip",
            "2001:DB8::1",
            "ip",
            'expected an IP address in canonical form ("2001:db8::1"), found string "2001:DB8::1"',
        ),
        (
            "chassis",
            "ip",
            "2001:db8:0:0::1",
            "ip",
            'expected an IP address in canonical form ("2001:db8::1"), '
            'found string "2001:db8:0:0::1"',
        ),
        (
            "lport",
            "ips",
            ["10.10.1.50", "10.10.1"],
            "ips[1]",
            'expected an IPv4 or IPv6 address, found string "10.10.1"',
        ),
        (
            "lsubnet",
            "cidr",
            "10.10.1.0/33",
            "cidr",
            'expected an IPv4 or IPv6 network as address/prefixlen, found string "10.10.1.0/33"',
        ),
        (
            "lsubnet",
            "cidr",
            "10.10.1.0",
            "cidr",
            'expected an IPv4 or IPv6 network as address/prefixlen, found string "10.10.1.0"',
        ),
        (
            "lsubnet",
            "cidr",
            "10.10.1.0/255.255.255.0",
            "cidr",
            "expected an IPv4 or IPv6 network as address/prefixlen, "
            'found string "10.10.1.0/255.255.255.0"',
        ),
        (
            "lport",
            "macs",
            ["FA:16:3E:77:00:01"],
            "macs[0]",
            'expected a MAC address in canonical form ("fa:16:3e:77:00:01"), '
            'found string "FA:16:3E:77:00:01"',
        ),
        (
            "lport",
            "macs",
            ["fa:16:3e:77:00"],
            "macs[0]",
            'expected a MAC address like "fa:16:3e:00:00:01", found string "fa:16:3e:77:00"',
        ),
        (
            "lport",
            "binding_vnic_type",
            "fancy",
            "binding_vnic_type",
            'expected one of "normal", "direct", "macvtap", "baremetal", "direct-physical", '
            '"virtio-forwarder", "smart-nic", found "fancy"',
        ),
        (
            "chassis",
            "tunnel_types",
            ["vxlan", "stt"],
            "tunnel_types[1]",
            'expected one of "geneve", "vxlan", "gre", found "stt"',
        ),
        (
            "sfc_flowclassifier",
            "dest_transport_ports",
            [8080, 80],
            "dest_transport_ports",
            "expected min <= max in the port range, found [8080, 80]",
        ),
        (
            "sfc_flowclassifier",
            "dest_transport_ports",
            [80, 70000],
            "dest_transport_ports",
            "expected ports between 0 and 65535, found [80, 70000]",
        ),
        (
            "sfc_flowclassifier",
            "dest_transport_ports",
            [80],
            "dest_transport_ports",
            "expected a port range [min, max] of two integers, found [number 80]",
        ),
        ("bgp_speaker", "ip_version", 5, "ip_version", "expected one of 4, 6, found 5"),
        (
            "bgp_peer",
            "remote_as",
            0,
            "remote_as",
            "expected an integer between 1 and 4294967295, found 0",
        ),
        ("lswitch", "unique_key", 0, "unique_key", "expected an integer at least 1, found 0"),
        (
            "lport",
            "dhcp_params",
            {"opts": {"255": "x"}},
            "dhcp_params.opts",
            'expected DHCP option tags "1" to "254" or "siaddr", found key "255"',
        ),
        (
            "lport",
            "dhcp_params",
            {"opts": {"3": 3}},
            "dhcp_params.opts",
            "expected a string value for DHCP option 3, found number 3",
        ),
    ],
)
def test_invalid_values(table: str, path: str, value: Any, field: str, message: str) -> None:
    data = sample(table) | {path: value}
    kind, found_field, found_message = only_problem(table, data)
    assert kind in ("invalid-value", "wrong-type")
    assert (found_field, found_message) == (field, message)


def test_bad_secgroup_rule_is_located_precisely() -> None:
    data = sample("secgroup")
    data["rules"][2]["port_range_min"] = 90000
    data["rules"][3]["protocol"] = 256
    found = problems_of("secgroup", data)
    assert found == [
        (
            "invalid-value",
            "rules[2].port_range_min",
            "expected an integer between 0 and 65535, found 90000",
        ),
        (
            "invalid-value",
            "rules[3].protocol",
            "expected an IP protocol number between 0 and 255, found 256",
        ),
    ]
    (problem,) = parse("secgroup", data["id"], json.dumps(data)).problems[:1]
    assert str(problem) == (
        "secgroup/50db5e1b-b82e-4da5-8ae3-fbbde5cb72a0.rules[2].port_range_min: "
        "expected an integer between 0 and 65535, found 90000"
    )


def test_router_port_network_keeps_host_bits_but_must_be_canonical() -> None:
    data = sample("lrouter")
    assert data["ports"][0]["network"] == "10.10.1.1/24"
    data["ports"][1]["network"] = "10.10.2.01/24"
    kind, field, _ = only_problem("lrouter", data)
    assert (kind, field) == ("invalid-value", "ports[1].network")


# --- rules across the fields of one structure ----------------------------------------------------


def test_required_when() -> None:
    data = sample("child_port_segmentation") | {"segmentation_type": "vlan"}
    data.pop("segmentation_id", None)
    assert only_problem("child_port_segmentation", data) == (
        "missing-field",
        "segmentation_id",
        'expected a value (required when segmentation_type is "vlan"), found the field absent',
    )
    port = sample("lport") | {"binding": {"type": "chassis"}}
    assert only_problem("lport", port)[:2] == ("missing-field", "binding.chassis")
    qos = sample("qospolicy")
    del qos["rules"][1]["dscp_mark"]
    assert only_problem("qospolicy", qos) == (
        "missing-field",
        "rules[1].dscp_mark",
        'expected a value (required when type is "dscp_marking"), found the field absent',
    )


def test_exactly_one() -> None:
    data = sample("sfc_flowclassifier")
    both = data | {"dest_port": data["source_port"]}
    assert only_problem("sfc_flowclassifier", both) == (
        "invalid-value",
        "dest_port",
        "expected only one of source_port or dest_port, found both",
    )
    del data["source_port"]
    assert only_problem("sfc_flowclassifier", data)[:2] == ("missing-field", "source_port")


def test_port_range_order_except_for_icmp_type_and_code() -> None:
    data = sample("secgroup")
    data["rules"][2].update(port_range_min=443, port_range_max=80)
    assert only_problem("secgroup", data) == (
        "invalid-value",
        "rules[2].port_range_min",
        "expected port_range_min <= port_range_max, found 443 > 80",
    )
    data["rules"][2].update(protocol=1, port_range_min=8, port_range_max=0)
    assert problems_of("secgroup", data) == []


def test_address_family_must_match() -> None:
    data = sample("secgroup")
    data["rules"][2]["remote_ip_prefix"] = "::/0"
    assert only_problem("secgroup", data) == (
        "invalid-value",
        "rules[2].remote_ip_prefix",
        'expected an IPv4 value as ethertype is "IPv4", found string "::/0"',
    )
    subnet = sample("lsubnet") | {"gateway_ip": "2001:db8::1"}
    assert only_problem("lsubnet", subnet)[:2] == ("invalid-value", "gateway_ip")
    router = sample("lrouter") | {"routes": [{"destination": "::/0", "nexthop": "10.10.1.254"}]}
    assert only_problem("lrouter", router) == (
        "invalid-value",
        "routes[0].nexthop",
        'expected an IPv6 value as destination is "::/0", found string "10.10.1.254"',
    )


def test_embedded_ids_are_distinct_and_rules_belong_to_their_group() -> None:
    data = sample("secgroup")
    data["rules"][4]["id"] = data["rules"][1]["id"]
    data["rules"][0]["security_group_id"] = "db73ccf5-dbb3-422c-88c4-c9661e8f3a0e"
    assert problems_of("secgroup", data) == [
        (
            "duplicate-id",
            "rules[4].id",
            'expected distinct ids in rules, found "fcb1c254-8abc-4d71-ab58-da0c7f98217e" '
            "also at rules[1]",
        ),
        (
            "inconsistent",
            "rules[0].security_group_id",
            'expected the id of the object holding it, "50db5e1b-b82e-4da5-8ae3-fbbde5cb72a0", '
            'found string "db73ccf5-dbb3-422c-88c4-c9661e8f3a0e"',
        ),
    ]


def test_ips_and_subnets_are_parallel() -> None:
    data = sample("lport")
    data["subnets"].pop()
    assert only_problem("lport", data) == (
        "inconsistent",
        "subnets",
        "expected one entry per entry of ips (2), found 1",
    )


def test_every_problem_kind_is_documented_in_the_constants() -> None:
    assert {
        "invalid-json",
        "not-an-object",
        "unknown-table",
        "missing-field",
        "wrong-type",
        "invalid-value",
        "id-mismatch",
        "dangling-reference",
        "duplicate-id",
    } <= set(PROBLEM_KINDS)


def test_parse_never_raises_on_odd_inputs() -> None:
    for raw in (None, 5, b"\x00", bytearray(b'{"id": "x"}'), memoryview(b"{}")):
        obj = parse("lport", "x", raw)  # type: ignore[arg-type]
        assert isinstance(obj, NbObject) and not obj.valid


# --- helpers for consumers ----------------------------------------------------------------------


def test_field_value_gives_typed_values() -> None:
    port = parse("lport", *SAMPLES["lport"])
    assert field_value(port, "ips") == [
        ipaddress.ip_address("10.10.1.50"),
        ipaddress.ip_address("2001:db8:10:1::50"),
    ]
    assert field_value(port, "binding.vtep_address") == ipaddress.ip_address("192.168.100.50")
    assert field_value(port, "macs") == ["fa:16:3e:77:00:01"]
    assert field_value(port, "qos_policy") == "abfb6e69-60a4-453b-93cc-aa2303221f71"
    assert field_value(port, "nothing") is None
    assert field_value(port, "binding.nothing") is None
    router = parse("lrouter", *SAMPLES["lrouter"])
    (first, _) = field_value(router, "ports")
    assert first["network"] == "10.10.1.1/24"
    fc = parse("sfc_flowclassifier", *SAMPLES["sfc_flowclassifier"])
    assert field_value(fc, "dest_transport_ports") == (80, 8080)
    network = field_value(fc, "dest_cidr")
    assert network.network == ipaddress.ip_network("10.10.2.0/24")
    broken = parse("chassis", "c", b'{"id": "c", "ip": "nope"}')
    assert field_value(broken, "ip") is None
    # Invalid values are never coerced: 1 is not the address 0.0.0.1.
    assert field_value(parse("lport", "p", {"id": "p", "ips": [1]}), "ips") is None
    odd = parse("sfc_flowclassifier", "f", {"id": "f", "dest_transport_ports": {}})
    assert field_value(odd, "dest_transport_ports") is None


def test_redact_drops_secrets_and_leaves_the_object_alone() -> None:
    peer = parse("bgp_peer", *SAMPLES["bgp_peer"])
    clean = redact(peer)
    assert "password" not in clean and clean["peer_ip"] == "172.24.4.1"
    assert peer.data["password"] == "REDACTED-SECRET"
    chassis = parse("chassis", *SAMPLES["chassis"])
    assert redact(chassis) is chassis.data


def test_redact_treats_unknown_credential_fields_as_secrets() -> None:
    newer = sample("bgp_peer") | {"md5_Password": "x", "bfd": {"auth_secret": "y", "on": True}}
    clean = redact(parse("bgp_peer", newer["id"], newer))
    assert "md5_Password" not in clean and clean["bfd"] == {"on": True}
    pool = {"id": "p", "members": [{"ip": "10.0.0.5", "api_token": "z"}], "name": "web"}
    clean = redact(parse("lbaas_pool", "p", pool))
    assert clean == {"id": "p", "members": [{"ip": "10.0.0.5"}], "name": "web"}
    assert pool["members"][0]["api_token"] == "z"


# --- properties ---------------------------------------------------------------------------------

IDS = st.uuids().map(str)
TEXT = st.text(max_size=12)


def written(address: str | ipaddress.IPv6Address | ipaddress.IPv4Address) -> str:
    """An address as Dragonflow (netaddr) writes it: IPv4-mapped IPv6 keeps a dotted tail."""
    parsed = ipaddress.ip_address(address)
    mapped = getattr(parsed, "ipv4_mapped", None)
    return f"::ffff:{mapped}" if mapped else str(parsed)


def _ip(version: int | None = None) -> st.SearchStrategy[str]:
    v4 = st.ip_addresses(v=4).map(str)
    v6 = st.ip_addresses(v=6).map(written)
    return {4: v4, 6: v6}.get(version or 0, v4 | v6)  # type: ignore[arg-type]


def _network() -> st.SearchStrategy[str]:
    v4 = st.tuples(_ip(4), st.integers(0, 32))
    v6 = st.tuples(_ip(6), st.integers(0, 128))
    return (v4 | v6).map(lambda pair: f"{pair[0]}/{pair[1]}")


def _scalar(spec: Field) -> st.SearchStrategy[Any]:
    if spec.struct is not None:
        return struct_values(spec.struct)
    kind = spec.type
    if kind == "int":
        if spec.enum:
            return st.sampled_from(spec.enum)
        return st.integers(
            spec.minimum if spec.minimum is not None else -(2**40),
            spec.maximum if spec.maximum is not None else 2**40,
        )
    simple: dict[str, st.SearchStrategy[Any]] = {
        "string": TEXT,
        "float": st.floats(allow_nan=False, allow_infinity=False),
        "bool": st.booleans(),
        "enum": st.sampled_from(spec.enum or ("x",)),
        "reference": IDS,
        "ip": _ip(),
        "network": _network(),
        "mac": st.binary(min_size=6, max_size=6).map(lambda b: ":".join(f"{x:02x}" for x in b)),
        "ip-proto": st.integers(0, 255),
        "port-range": st.lists(st.integers(0, 65535), min_size=2, max_size=2).map(sorted),
        "dhcp-opts": st.dictionaries(st.integers(1, 254).map(str), TEXT, max_size=3),
    }
    return simple[kind]


def field_values(spec: Field) -> st.SearchStrategy[Any]:
    if spec.many:
        return st.lists(_scalar(spec), max_size=3)
    return _scalar(spec)


@st.composite
def struct_values(draw: st.DrawFn, struct: Any) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for name, spec in struct.fields.items():
        if spec.required or spec.many or draw(st.booleans()):
            data[name] = draw(field_values(spec))
    return repair(draw, struct, data)


def repair(draw: st.DrawFn, struct: Any, data: dict[str, Any]) -> dict[str, Any]:
    """Make a random object obey its structure's cross-field rules, as Dragonflow's writers do."""
    for rule in struct.rules:
        name = type(rule).__name__
        if name == "RequiredWhen" and data.get(rule.when) in rule.values:
            data.setdefault(rule.field, draw(field_values(struct.fields[rule.field])))
        elif name == "ExactlyOne":
            keep = draw(st.sampled_from(rule.fields))
            for other in rule.fields:
                data.pop(other, None)
            data[keep] = draw(IDS)
        elif name == "Ordered" and rule.low in data and rule.high in data:
            data[rule.low], data[rule.high] = sorted((data[rule.low], data[rule.high]))
        elif name == "SameFamily" and rule.field in data and rule.family in data:
            family = data[rule.family]
            version = {"IPv4": 4, "IPv6": 6, 4: 4, 6: 6}.get(family)
            if version is None:
                version = ipaddress.ip_interface(family).version
            spec = struct.fields[rule.field]
            data[rule.field] = draw(
                _ip(version)
                if spec.type == "ip"
                else _network().filter(
                    lambda net, v=version: ipaddress.ip_interface(net).version == v
                )
            )
        elif name == "Distinct":
            for index, item in enumerate(data.get(rule.items, [])):
                item[rule.key] = f"{index}-{item[rule.key]}"
        elif name == "SameLength":
            size = min(len(data[rule.first]), len(data[rule.second]))
            data[rule.first], data[rule.second] = data[rule.first][:size], data[rule.second][:size]
        elif name == "OwnedBy":
            for item in data.get(rule.items, []):
                if rule.field in item:
                    item[rule.field] = data.get("id")
    return data


@st.composite
def valid_objects(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    table = draw(st.sampled_from(sorted(TABLES)))
    data = draw(struct_values(TABLES[table]))
    data = repair(draw, TABLES[table], data)  # the id is known now: re-own embedded rules
    return table, data


def dragonflow_dumps(data: dict[str, Any]) -> str:
    return json.dumps(data, sort_keys=True, separators=(", ", ": "))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_objects())
def test_random_valid_objects_round_trip(case: tuple[str, dict[str, Any]]) -> None:
    table, data = case
    stored = dragonflow_dumps(data)
    obj = parse(table, data["id"], stored.encode())
    assert obj.problems == (), obj.problems
    assert serialize(obj) == stored
    assert parse(table, data["id"], serialize(obj)).data == obj.data


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, str, Any]:
    table, data = draw(valid_objects())
    table = draw(st.sampled_from([table, table, "no_such_table"]))
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(data)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent: Any = data
        for step in path[:-1]:
            parent = parent[step]
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "replace":
            parent[path[-1]] = draw(JSON)
        elif action == "delete" and isinstance(parent, dict):
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(st.text(max_size=6))] = draw(JSON)
    raw: Any = dragonflow_dumps(data)
    form = draw(st.sampled_from(["bytes", "str", "dict", "cut", "junk"]))
    if form == "bytes":
        raw = raw.encode()
    elif form == "dict":
        raw = data
    elif form == "cut":
        raw = raw.encode()[: draw(st.integers(0, len(raw)))]
    elif form == "junk":
        raw = draw(st.binary(max_size=40))
    return table, data.get("id") if isinstance(data.get("id"), str) else "x", raw


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_random_mutations_never_raise(case: tuple[str, str, Any]) -> None:
    table, id_, raw = case
    obj = parse(table, id_, raw)
    assert isinstance(obj, NbObject) and isinstance(obj.data, dict)
    assert all(p.kind in PROBLEM_KINDS and p.table == table and p.id == id_ for p in obj.problems)
    assert all(isinstance(p.message, str) and p.message for p in obj.problems)
    serialize(obj)
    spec = TABLES.get(table)
    cleaned = redact(obj)
    assert not (spec.has_secret(cleaned) if spec else has_secret(cleaned))
    check({obj.key: obj})
    for name in spec.fields if spec else ():
        field_value(obj, name)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789abcdefABCDEF.:/%", max_size=45) | _ip() | _network())
def test_fast_address_checks_agree_with_the_ipaddress_module(text: str) -> None:
    def canonical_ip() -> bool:
        try:
            return "%" not in text and written(text) == text
        except ValueError:
            return False

    def canonical_net() -> bool:
        try:
            iface = ipaddress.ip_interface(text)
            address = written(text.partition("/")[0])
        except ValueError:
            return False
        return "/" in text and "%" not in text and f"{address}/{iface.network.prefixlen}" == text

    ip_ok = not parse("chassis", "c", {"id": "c", "ip": text}).problems
    net_ok = not parse(
        "lsubnet", "s", {"id": "s", "topic": "", "lswitch": "n", "cidr": text}
    ).problems
    assert ip_ok == canonical_ip()
    assert net_ok == canonical_net()


# --- documentation ------------------------------------------------------------------------------


def _field_paths(struct: Any, prefix: str = "") -> list[str]:
    paths = []
    for name, spec in struct.fields.items():
        paths.append(prefix + name)
        if spec.struct is not None:
            paths += _field_paths(spec.struct, f"{prefix}{name}{'[]' if spec.many else ''}.")
    return paths


def test_the_nb_page_documents_every_table_field_and_problem_kind() -> None:
    page = (Path(__file__).parent.parent / "docs" / "nb.md").read_text()
    sections = page.split("\n### ")
    for name, table in TABLES.items():
        (section,) = [s for s in sections if s.startswith(f"`{name}`\n")]
        for path in _field_paths(table):
            assert f"| `{path}` |" in section, (name, path)
    for kind in PROBLEM_KINDS:
        assert f"| `{kind}` |" in page, kind


def test_ipv4_mapped_addresses_in_netaddr_form_and_no_scope_ids() -> None:
    assert parse("chassis", "c", {"id": "c", "ip": "::ffff:10.0.0.1"}).valid
    (problem,) = parse("chassis", "c", {"id": "c", "ip": "::ffff:a00:1"}).problems
    assert problem.message == (
        'expected an IP address in canonical form ("::ffff:10.0.0.1"), found string "::ffff:a00:1"'
    )
    (problem,) = parse("chassis", "c", {"id": "c", "ip": "fe80::1%eth0"}).problems
    assert problem.message == 'expected an IPv4 or IPv6 address, found string "fe80::1%eth0"'
    subnet = {"id": "s", "topic": "", "lswitch": "n", "cidr": "fe80::%eth0/64"}
    (problem,) = parse("lsubnet", "s", subnet).problems
    assert problem.field == "cidr" and problem.kind == "invalid-value"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(mutated(), max_size=6), st.lists(st.sampled_from(stored_objects()), max_size=8))
def test_check_never_raises_on_a_damaged_snapshot(
    damaged: list[tuple[str, str, Any]], good: list[tuple[str, str, str]]
) -> None:
    objects = [parse(*entry) for entry in good + damaged]
    problems = check(objects)
    assert all(p.kind in PROBLEM_KINDS and p.message for p in problems)
    first: dict[tuple[str, str], NbObject] = {}
    for obj in objects:
        first.setdefault(obj.key, obj)
    twice = [p for p in problems if p.kind == "duplicate-id" and "stored twice" in p.message]
    assert len(twice) == len(objects) - len(first)
    assert [p for p in problems if p not in twice] == check(first)


@pytest.mark.parametrize("password", [12345678, ["hunter2-in-a-list"], {"v": "hunter2"}])
def test_a_malformed_secret_is_reported_without_its_value(password: Any) -> None:
    data = dict(json.loads(SAMPLES["bgp_peer"][1]), password=password)
    obj = parse("bgp_peer", data["id"], data)
    assert [p.field for p in obj.problems] == ["password"]
    shown = json.dumps(password).strip('"[]{}')
    assert all(shown not in str(p) and "hunter2" not in str(p) for p in obj.problems)
