"""The sample cloud generator: deterministic, realistic, and stored as Dragonflow stores it."""

from __future__ import annotations

import ipaddress
import json
import time
from collections import Counter

import pytest

from dragonscope.demo import Counts, generate
from dragonscope.demo.features import BROKEN_REFERENCES
from dragonscope.nb import dump_json, encode, object_count


@pytest.fixture(scope="module")
def small() -> dict:
    return generate("small", seed=0)


def rows(dump: dict, table: str) -> dict[str, dict]:
    return {obj["id"]: obj for obj in dump[table]}


def test_same_seed_same_bytes_and_different_seeds_differ() -> None:
    first = dump_json(generate("small", seed=7))
    assert first == dump_json(generate("small", seed=7))
    assert first != dump_json(generate("small", seed=8))
    assert dump_json(generate("medium", seed=1)) == dump_json(generate("medium", seed=1))


def test_small_is_about_a_hundred_objects(small: dict) -> None:
    assert 80 <= object_count(small) <= 120


def test_medium_is_about_five_thousand_objects() -> None:
    assert 4500 <= object_count(generate("medium")) <= 5500


@pytest.mark.slow
def test_large_is_about_a_hundred_thousand_objects_within_a_time_budget() -> None:
    started = time.monotonic()
    dump = generate("large")
    assert time.monotonic() - started < 20
    assert 90_000 <= object_count(dump) <= 110_000


def test_explicit_counts_and_their_errors() -> None:
    dump = generate(Counts(tenants=1, networks_per_tenant=1, vms_per_network=1, chassis=1))
    assert len(dump["chassis"]) == 1
    assert (
        generate("tenants=2,chassis=2")["chassis"]
        == generate(Counts(tenants=2, chassis=2))["chassis"]
    )
    with pytest.raises(ValueError, match="tenants must be a non-negative integer"):
        Counts(tenants=-1)
    with pytest.raises(ValueError, match="bad count 'bogus=3'"):
        generate("bogus=3")
    with pytest.raises(ValueError, match="unknown size 'huge'"):
        generate("huge")
    with pytest.raises(ValueError, match="vms_per_network must be at most"):
        Counts(vms_per_network=1000)
    with pytest.raises(ValueError, match="no address left in its /24"):
        generate(Counts(tenants=1, vms_per_network=200, trunks=100))


def test_serialization_follows_dragonflow(small: dict) -> None:
    for table, objects in small.items():
        for obj in objects:
            text = encode(obj).decode()
            assert json.loads(text) == obj
            assert ", " in text and ": " in text
            assert None not in obj.values(), (table, obj)
            if table in ("lswitch", "lsubnet", "lport", "lrouter", "floatingip", "secgroup"):
                assert obj["version"] >= 1
    for port in small["lport"]:
        for field in ("ips", "macs", "subnets", "security_groups", "allowed_address_pairs"):
            assert isinstance(port[field], list)
        assert port["dhcp_params"] == {"opts": port["dhcp_params"]["opts"]}
        assert len(port["ips"]) == len(port["subnets"])
        assert all(mac.startswith("fa:16:3e:") for mac in port["macs"])


def test_unique_keys_match_per_table_counters(small: dict) -> None:
    counters = {row["id"]: row["unique_key"] for row in small["unique_key"]}
    for table in ("lswitch", "lport", "lrouter", "secgroup", "sfc_flowclassifier"):
        keys = [obj["unique_key"] for obj in small[table]]
        assert len(set(keys)) == len(keys), table
        assert max(keys) <= counters[table]
        assert min(keys) == 1
    # Two keys were consumed by objects deleted since (the port and group behind the broken refs).
    assert counters["lport"] == len(small["lport"]) + 1
    assert counters["secgroup"] == len(small["secgroup"]) + 1


def test_the_cloud_has_every_feature(small: dict) -> None:
    ports = small["lport"]
    owners = Counter(p["device_owner"] for p in ports)
    for owner in ("compute:nova", "network:dhcp", "network:router_interface",
                  "network:router_gateway", "network:floatingip"):  # fmt: skip
        assert owners[owner], owner
    assert owners["network:dhcp"] == len(small["lswitch"]) - 1  # every tenant network
    assert len({p["topic"] for p in ports}) >= 3
    assert all(len(topic) == 32 for topic in {p["topic"] for p in ports})
    cidrs = [ipaddress.ip_network(s["cidr"]) for s in small["lsubnet"]]
    assert {c.version for c in cidrs} == {4, 6}
    externals = [s for s in small["lswitch"] if s["is_external"]]
    assert externals and externals[0]["network_type"] in ("flat", "vlan")
    assert externals[0]["physical_network"]
    routers = small["lrouter"]
    assert all(r["ports"] for r in routers) and any(r["routes"] for r in routers)
    chassis = {c["id"] for c in small["chassis"]}
    bound = Counter(p["binding"]["chassis"] for p in ports if "binding" in p)
    assert len(chassis & set(bound)) == len(chassis)  # VMs on every chassis
    assert any(r.get("remote_group_id") for sg in small["secgroup"] for r in sg["rules"])
    assert any(p["allowed_address_pairs"] for p in ports)
    for table in ("child_port_segmentation", "sfc_portpair", "sfc_portpairgroup",
                  "sfc_flowclassifier", "sfc_portchain", "qospolicy", "bgp_speaker",
                  "bgp_peer", "service", "activeport", "floatingip"):  # fmt: skip
        assert small[table], table
    assert any("password" in peer for peer in small["bgp_peer"])
    assert any("lport" not in fip for fip in small["floatingip"])  # some are unassociated


def test_router_ports_mirror_their_interface_lports(small: dict) -> None:
    ports = rows(small, "lport")
    for router in small["lrouter"]:
        for rport in router["ports"]:
            lport = ports[rport["id"]]
            assert lport["device_owner"] == "network:router_interface"
            assert lport["device_id"] == router["id"]
            assert rport["unique_key"] == lport["unique_key"]
            assert rport["mac"] == lport["macs"][0]
            assert rport["lswitch"] == lport["lswitch"]
            assert rport["network"].split("/")[0] == lport["ips"][0]
        gateways = [p for p in ports.values() if p["device_owner"] == "network:router_gateway"
                    and p["device_id"] == router["id"]]  # fmt: skip
        assert len(gateways) == 1


def test_deliberately_broken_references_are_the_only_dangling_ones(small: dict) -> None:
    ids = {table: set(rows(small, table)) for table in small if table != "unique_key"}
    dangling = set()
    for fip in small["floatingip"]:
        for field, table in (("lport", "lport"), ("floating_lport", "lport"),
                             ("lrouter", "lrouter")):  # fmt: skip
            if field in fip and fip[field] not in ids[table]:
                dangling.add(("floatingip", field))
    for port in small["lport"]:
        if port["lswitch"] not in ids["lswitch"]:
            dangling.add(("lport", "lswitch"))
        if any(sg not in ids["secgroup"] for sg in port["security_groups"]):
            dangling.add(("lport", "security_groups"))
        if "binding" in port and port["binding"]["chassis"] not in ids["chassis"]:
            dangling.add(("lport", "binding.chassis"))
        if any(s not in ids["lsubnet"] for s in port["subnets"]):
            dangling.add(("lport", "subnets"))
    assert dangling == set(BROKEN_REFERENCES)
