"""Scenario suite: expected verdicts written from Dragonflow's datapath semantics.

Each case names the rule of the reference walk that decides it. The cloud is
``tests/trace_cloud.py`` (acme web/db networks behind a router, globex b-net without one).
"""

from __future__ import annotations

from typing import Any

import pytest

from dragonscope.trace import DEFAULT_APPS, Tracer, TraceRequest
from trace_cloud import build


@pytest.fixture(scope="module")
def tracer() -> Tracer:
    return Tracer(build())


# (case id, request, verdict, drop code or delivered/replied port name, deciding table)
CASES: list[tuple[str, dict[str, Any], str, str | None, int | None]] = [
    # L2, same network
    (
        "same-net-remote",
        dict(source="web-1", destination="web-2", dport=80),
        "delivered",
        "web-2",
        115,
    ),
    (
        "same-net-local",
        dict(source="web-1", destination="app-1", dport=80),
        "delivered",
        "app-1",
        115,
    ),
    (
        "by-ip-and-name",
        dict(source="10.10.1.12", destination="web-3", dport=80),
        "delivered",
        "web-3",
        115,
    ),
    # L3, routed at the source chassis
    (
        "routed-ssh-cidr-allowed",
        dict(source="web-1", destination="db-1", dport=22),
        "delivered",
        "db-1",
        115,
    ),
    (
        "routed-http",
        dict(source="web-1", destination="10.10.2.11", dport=80),
        "delivered",
        "db-1",
        115,
    ),
    (
        "routed-ingress-deny",
        dict(source="web-1", destination="db-1", dport=3306),
        "dropped",
        "SG_INGRESS",
        110,
    ),
    (
        "ct-assume-established",
        dict(source="web-1", destination="db-1", dport=3306, ct=True),
        "delivered",
        "db-1",
        115,
    ),
    (
        "extra-route-from-nexthop-net",
        dict(source="db-1", destination="10.99.1.5", dport=443),
        "delivered",
        "vpn-gw",
        115,
    ),
    (
        "extra-route-other-net",
        dict(source="web-2", destination="10.99.1.5", dport=443),
        "dropped",
        "NO_ROUTE",
        60,
    ),
    (
        "subnet-host-route",
        dict(source="b-1", destination="10.50.3.3", dport=22),
        "delivered",
        "b-2",
        115,
    ),
    ("ttl-expired", dict(source="web-1", destination="db-1", ttl=1), "dropped", "TTL_EXPIRED", 60),
    ("router-interface-echo", dict(source="web-1", destination="10.10.1.1"), "replied", None, 60),
    (
        "router-far-interface-echo",
        dict(source="web-1", destination="10.10.2.1"),
        "replied",
        None,
        60,
    ),
    (
        "router-interface-tcp",
        dict(source="web-1", destination="10.10.1.1", dport=22),
        "dropped",
        "DESTINATION_UNBOUND",
        75,
    ),
    ("dhcp-port-echo", dict(source="web-1", destination="10.10.1.2"), "replied", None, 55),
    # NAT
    (
        "fip-inbound-http",
        dict(source="external", destination="172.24.4.20", dport=80),
        "delivered",
        "web-1",
        115,
    ),
    (
        "fip-inbound-by-port-name",
        dict(source="external", destination="web-1", dport=80),
        "delivered",
        "web-1",
        115,
    ),
    (
        "fip-inbound-https-denied",
        dict(source="external", destination="172.24.4.20", dport=443),
        "dropped",
        "SG_INGRESS",
        110,
    ),
    (
        "fip-inbound-ssh-cidr-denied",
        dict(source="external", destination="172.24.4.20", dport=22),
        "dropped",
        "SG_INGRESS",
        110,
    ),
    (
        "fip-inbound-icmp-remote-group-denied",
        dict(source="external", destination="172.24.4.20", proto="icmp"),
        "dropped",
        "SG_INGRESS",
        110,
    ),
    (
        "fip-inbound-wrong-chassis",
        dict(source="external", destination="172.24.4.20", dport=80, chassis="compute-3"),
        "dropped",
        "NO_LOCAL_PORT_FOR_TUNNEL",
        0,
    ),
    (
        "fip-arp-from-physical-network",
        dict(source="external", destination="172.24.4.20", proto="arp"),
        "replied",
        None,
        55,
    ),
    (
        "ip-at-network-source",
        dict(source="10.10.2.13@db-net", destination="db-1", dport=22),
        "delivered",
        "db-1",
        115,
    ),
    ("fip-outbound", dict(source="web-1", destination="8.8.8.8", dport=443), "external", None, 80),
    (
        "no-fip-no-route",
        dict(source="web-2", destination="8.8.8.8", dport=443),
        "dropped",
        "NO_ROUTE",
        60,
    ),
    # security groups
    (
        "remote-group-icmp-allowed",
        dict(source="web-1", destination="web-2", proto="icmp"),
        "delivered",
        "web-2",
        115,
    ),
    (
        "default-group-remote-members",
        dict(source="b-1", destination="b-2", dport=5000),
        "delivered",
        "b-2",
        115,
    ),
    (
        "egress-deny",
        dict(source="locked-1", destination="web-2", dport=80),
        "dropped",
        "SG_EGRESS",
        15,
    ),
    (
        "icmp-echo-type-allowed",
        dict(source="web-1", destination="ping-1", proto="icmp"),
        "delivered",
        "ping-1",
        115,
    ),
    (
        "icmp-timestamp-type-denied",
        dict(source="web-1", destination="ping-1", proto="icmp", icmp_type=13),
        "dropped",
        "SG_INGRESS",
        110,
    ),
    (
        "icmp-type-zero-means-any",
        dict(source="web-1", destination="ping-2", proto="icmp", icmp_type=13),
        "delivered",
        "ping-2",
        115,
    ),
    (
        "icmp6-remote-group",
        dict(source="web-1", destination="2001:db8:10:1::12", proto="icmp6"),
        "delivered",
        "web-2",
        115,
    ),
    # port security
    (
        "spoofed-source",
        dict(source="web-1", destination="web-2", dport=80, ip_src="10.10.1.99"),
        "dropped",
        "PORT_SECURITY",
        201,
    ),
    (
        "spoofed-mac",
        dict(source="web-1", destination="web-2", dport=80, eth_src="fa:16:3e:00:00:99"),
        "dropped",
        "PORT_SECURITY",
        201,
    ),
    (
        "allowed-address-pair-source",
        dict(source="web-3", destination="web-2", dport=80, ip_src="10.10.1.100"),
        "delivered",
        "web-2",
        115,
    ),
    (
        "allowed-address-pair-destination",
        dict(source="web-2", destination="10.10.1.100", dport=80),
        "delivered",
        "web-3",
        115,
    ),
    # responders
    (
        "arp-responder-port",
        dict(source="web-1", destination="10.10.1.12", proto="arp"),
        "replied",
        None,
        25,
    ),
    (
        "arp-responder-router",
        dict(source="web-1", destination="10.10.1.1", proto="arp"),
        "replied",
        None,
        25,
    ),
    (
        "arp-unresolved-no-router",
        dict(source="b-1", destination="192.168.50.1", proto="arp"),
        "dropped",
        "ARP_UNRESOLVED",
        25,
    ),
    (
        "arp-aap-answered-by-guest",
        dict(source="web-2", destination="10.10.1.100", proto="arp"),
        "delivered",
        "web-3",
        115,
    ),
    (
        "no-router-gateway-unanswered",
        dict(source="b-1", destination="web-1", dport=80),
        "dropped",
        "ARP_UNRESOLVED",
        None,
    ),
    (
        "nd-responder",
        dict(source="web-1", destination="2001:db8:10:1::12", proto="icmp6", icmp_type=135),
        "replied",
        None,
        45,
    ),
    ("dhcp-offer", dict(source="web-1", proto="dhcp"), "replied", None, 30),
    (
        "dhcp-blocked-by-egress-sg",
        dict(source="locked-1", proto="dhcp"),
        "dropped",
        "DHCP_BLOCKED",
        15,
    ),
    ("dhcp-no-server", dict(source="n-1", proto="dhcp"), "dropped", "NO_DHCP_SERVER", 30),
    ("metadata", dict(source="web-1", destination="metadata"), "replied", None, 40),
    # trunks
    (
        "trunk-child-sends",
        dict(source="app-1-child", destination="db-1", dport=22),
        "delivered",
        "db-1",
        115,
    ),
    (
        "trunk-child-receives",
        dict(source="db-1", destination="app-1-child", dport=80),
        "delivered",
        "app-1-child",
        115,
    ),
    # placement and state
    (
        "disabled-source",
        dict(source="down-1", destination="web-2", dport=80),
        "dropped",
        "PORT_DISABLED",
        0,
    ),
    (
        "disabled-destination",
        dict(source="web-1", destination="down-1", dport=80),
        "dropped",
        "PORT_DISABLED",
        None,
    ),
    (
        "disabled-destination-cached-mac",
        dict(source="web-1", destination="down-1", dport=80, eth_dst="fa:16:3e:11:00:05"),
        "dropped",
        "PORT_DISABLED",
        55,
    ),
    (
        "unbound-destination",
        dict(source="web-1", destination="unbound-1", dport=80),
        "dropped",
        "DESTINATION_UNBOUND",
        None,
    ),
    (
        "unbound-destination-routed",
        dict(source="db-1", destination="unbound-1", dport=80),
        "dropped",
        "DESTINATION_UNBOUND",
        65,
    ),
    (
        "routed-arp-unresolved",
        dict(source="db-1", destination="10.10.1.77", dport=80),
        "dropped",
        "ARP_UNRESOLVED",
        65,
    ),
    (
        "unknown-unicast",
        dict(source="web-1", destination="web-2", dport=80, eth_dst="fa:16:3e:99:99:99"),
        "dropped",
        "UNKNOWN_UNICAST",
        55,
    ),
    (
        "no-chassis-record",
        dict(source="web-1", destination="orphan-1", dport=80),
        "dropped",
        "NO_CHASSIS",
        75,
    ),
    (
        "vtep-source",
        dict(source="vtep-1", destination="web-1", dport=80),
        "delivered",
        "web-1",
        115,
    ),
    (
        "vtep-source-wrong-chassis",
        dict(source="vtep-1", destination="web-1", dport=80, chassis="compute-3"),
        "dropped",
        "NO_LOCAL_PORT_FOR_TUNNEL",
        0,
    ),
    (
        "vtep-destination",
        dict(source="web-1", destination="vtep-1", dport=80),
        "delivered",
        "vtep-1",
        75,
    ),
    (
        "tunnel-type-unsupported",
        dict(source="n-1", destination="gen-1", dport=80),
        "dropped",
        "TUNNEL_TYPE_UNSUPPORTED",
        0,
    ),
    # provider networks
    ("provider-vlan", dict(source="p-1", destination="p-2", dport=80), "delivered", "p-2", 115),
    (
        "provider-unknown-host",
        dict(source="p-1", destination="198.51.100.7", dport=80),
        "external",
        None,
        80,
    ),
    (
        "provider-broadcast-unanswered",
        dict(source="p-1", destination="10.20.0.99", proto="arp"),
        "dropped",
        "ARP_UNRESOLVED",
        25,
    ),
    (
        "ipv6-gateway-has-no-nd-responder",
        dict(source="web-1", destination="2001:db8:99::1", proto="icmp6"),
        "dropped",
        "ARP_UNRESOLVED",
        None,
    ),
    (
        "floating-ip-of-another-vm-needs-a-route",
        dict(source="web-2", destination="172.24.4.20", dport=80),
        "dropped",
        "NO_ROUTE",
        60,
    ),
    # SFC
    ("sfc-chain", dict(source="web-2", destination="db-1", dport=80), "delivered", "db-1", 115),
    (
        "sfc-not-classified",
        dict(source="web-2", destination="db-1", dport=22),
        "delivered",
        "db-1",
        115,
    ),
    (
        "sfc-broken",
        dict(source="db-1", destination="web-2", dport=5432),
        "dropped",
        "SFC_BROKEN",
        120,
    ),
]


@pytest.mark.parametrize(
    ("request_kw", "verdict", "what", "table"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_scenario(
    tracer: Tracer, request_kw: dict[str, Any], verdict: str, what: str | None, table: int | None
) -> None:
    result = tracer.trace(TraceRequest(**request_kw)).to_json()
    assert result["verdict"] == verdict, result["final"]
    assert result["final"]["table"] == table, result["final"]
    if verdict == "dropped":
        assert result["drop"]["code"] == what
        assert result["drop"]["reason"]
    elif verdict == "delivered":
        assert result["final"]["port"]["name"] == what


def test_suite_covers_every_issue_drop_code() -> None:
    codes = {c[3] for c in CASES if c[2] == "dropped"}
    required = {
        "PORT_DISABLED",
        "PORT_SECURITY",
        "SG_EGRESS",
        "SG_INGRESS",
        "UNKNOWN_UNICAST",
        "ARP_UNRESOLVED",
        "NO_ROUTE",
        "TTL_EXPIRED",
        "DESTINATION_UNBOUND",
        "NO_LOCAL_PORT_FOR_TUNNEL",
        "NO_CHASSIS",
        "SFC_BROKEN",
        "DHCP_BLOCKED",
    }
    assert required <= codes
    assert len(CASES) >= 40


def _hops(tracer: Tracer, **kw: Any) -> list[dict[str, Any]]:
    return tracer.trace(TraceRequest(**kw)).to_json()["hops"]


def test_remote_delivery_shows_tunnel_vni_and_chassis(tracer: Tracer) -> None:
    hops = _hops(tracer, source="web-1", destination="web-2", dport=80)
    tunnel = next(h for h in hops if h["decision"] == "tunnel")
    assert tunnel["chassis"] == "compute-1" and tunnel["table"] == 75
    assert tunnel["changes"]["tunnel"][1] == {
        "type": "vxlan",
        "vni": 1001,
        "outer_src": "192.168.100.11",
        "outer_dst": "192.168.100.12",
    }
    assert hops[-1]["chassis"] == "compute-2"
    assert [h["table"] for h in hops] == [0, 201, 15, 20, 55, 75, 0, 100, 110, 115]


def test_local_delivery_has_no_tunnel(tracer: Tracer) -> None:
    hops = _hops(tracer, source="web-1", destination="app-1", dport=80)
    assert all(h["chassis"] == "compute-1" for h in hops)
    assert not any(h["decision"] == "tunnel" for h in hops)


def test_routing_happens_at_source_chassis_and_uses_destination_vni(tracer: Tracer) -> None:
    hops = _hops(tracer, source="web-1", destination="db-1", dport=22)
    route = next(h for h in hops if h["table"] == 60)
    assert route["chassis"] == "compute-1"
    assert route["changes"]["ttl"] == [64, 63]
    assert route["changes"]["eth_src"] == ["fa:16:3e:11:00:01", "fa:16:3e:5a:02:01"]
    assert any(o["table"] == "lrouter_port" for o in route["objects"])
    tunnel = next(h for h in hops if h["decision"] == "tunnel")
    assert tunnel["changes"]["tunnel"][1]["vni"] == 1002
    assert tunnel["changes"]["tunnel"][1]["outer_dst"] == "192.168.100.13"


def test_fip_dnat_rewrites_headers(tracer: Tracer) -> None:
    inbound = _hops(tracer, source="external", destination="172.24.4.20", dport=80)
    dnat = next(h for h in inbound if h["table"] == 76)
    assert dnat["changes"]["ip_dst"] == ["172.24.4.20", "10.10.1.11"]
    assert dnat["changes"]["eth_src"][1] == "fa:16:3e:5a:01:01"
    outbound = tracer.trace(TraceRequest(source="web-1", destination="8.8.8.8", dport=443))
    out = outbound.to_json()
    snat = next(h for h in out["hops"] if h["table"] == 77)
    assert snat["changes"]["ip_src"] == ["10.10.1.11", "172.24.4.20"]
    assert out["final"]["chassis"] == "compute-1" and out["final"]["physnet"] == "public"


def test_chassis_snat_when_loaded() -> None:
    tracer = Tracer(build(), DEFAULT_APPS | {"chassis_snat"})
    result = tracer.trace(TraceRequest(source="web-2", destination="8.8.8.8", dport=443))
    out = result.to_json()
    assert out["verdict"] == "external" and out["final"]["chassis"] == "compute-2"
    nat_hop = next(h for h in out["hops"] if h["table"] == 70)
    assert nat_hop["changes"]["ip_src"] == ["10.10.1.12", "172.24.4.102"]


def test_chassis_snat_round_trip() -> None:
    tracer = Tracer(build(), DEFAULT_APPS | {"chassis_snat"})
    out = tracer.trace(
        TraceRequest(source="web-2", destination="8.8.8.8", dport=443, reply=True)
    ).to_json()
    reply = out["reply"]
    assert reply["packet"]["ip_dst"] == "172.24.4.102"
    assert reply["verdict"] == "delivered" and reply["final"]["port"]["name"] == "web-2"
    unnat = next(h for h in reply["hops"] if h["table"] == 51)
    assert unnat["changes"]["ip_dst"] == ["172.24.4.102", "10.10.1.12"]


def test_legacy_l3_agent_path() -> None:
    from dragonscope.trace.whatif import apply_patch

    bound = {"id": "rif-web", "binding": {"chassis": "compute-3", "type": "chassis"}}
    snapshot = apply_patch(build(), {"update": {"lport": [bound]}})
    tracer = Tracer(snapshot, DEFAULT_APPS | {"legacy_snat"})
    out = tracer.trace(TraceRequest(source="web-2", destination="8.8.8.8", dport=443)).to_json()
    assert out["verdict"] == "external" and out["final"]["chassis"] == "compute-3"
    assert out["final"]["port"]["name"] == "rif-web" and out["final"]["l3_agent"] == "compute-3"
    tunnel = next(h for h in out["hops"] if h["decision"] == "tunnel")
    assert tunnel["changes"]["tunnel"][1]["vni"] == 1001


def test_notes_flag_a_silent_controller_and_a_migration() -> None:
    from dragonscope.trace.whatif import apply_patch

    services = [
        {"id": f"svc-{c}", "binary": "df-local-controller", "chassis": c, "last_seen_up": t}
        for c, t in (("compute-1", 1000.0), ("compute-2", 1010.0), ("compute-3", 700.0))
    ]
    migration = {"id": "web-2", "dest_chassis": "compute-3", "status": "dest_plug"}
    patched = apply_patch(build(), {"put": {"service": services, "migration": [migration]}})
    out = Tracer(patched).trace(TraceRequest(source="web-1", destination="web-2", dport=80))
    notes = out.to_json()["notes"]
    assert not any("compute-3" in n and "looks down" in n for n in notes)  # not on the path
    assert any("web-2 has a migration record" in n for n in notes)
    routed = Tracer(patched).trace(TraceRequest(source="web-1", destination="db-1", dport=22))
    assert any("compute-3 looks down" in n and "310 s" in n for n in routed.to_json()["notes"])
    assert Tracer(build()).trace(TraceRequest(source="web-1", destination="db-1")).notes == []


def test_provider_broadcast_reaches_other_chassis_through_the_physnet(tracer: Tracer) -> None:
    out = tracer.trace(TraceRequest(source="p-1", destination="10.20.0.99", proto="arp"))
    hops = out.to_json()["hops"]
    pushed = next(h for h in hops if h["decision"] == "provider")
    assert pushed["changes"]["vlan"] == [None, 200]
    delivered = {(o.port.name, o.chassis) for o in out.outcomes if o.verdict == "delivered"}
    assert ("p-2", "compute-2") in delivered


def test_broadcast_fans_out_to_every_port_of_the_network(tracer: Tracer) -> None:
    out = tracer.trace(
        TraceRequest(source="b-1", destination="192.168.50.1", proto="arp")
    ).to_json()
    delivered = {
        (o["port"]["name"], o["chassis"]) for o in out["outcomes"] if o["verdict"] == "delivered"
    }
    assert delivered == {("b-1", "compute-2"), ("b-2", "compute-3")}
    assert len({o["fork"] for o in out["outcomes"]}) == 2


def test_trunk_vlan_is_popped_and_pushed(tracer: Tracer) -> None:
    sent = _hops(tracer, source="app-1-child", destination="db-1", dport=22)
    assert sent[0]["changes"]["vlan"] == [101, None]
    assert sent[0]["chassis"] == "compute-1"
    received = tracer.trace(TraceRequest(source="db-1", destination="app-1-child", dport=80))
    final = received.to_json()["final"]
    assert final["packet"]["vlan"] == 101 and final["object"]["name"] == "app-1"


def test_dhcp_offer_contents(tracer: Tracer) -> None:
    final = tracer.trace(TraceRequest(source="web-1", proto="dhcp")).to_json()["final"]
    reply = final["reply"]
    assert reply["yiaddr"] == "10.10.1.11" and reply["server_id"] == "10.10.1.2"
    assert reply["router"] == "10.10.1.1" and reply["mtu"] == 1450
    assert "169.254.169.254/32 via 10.10.1.11" in reply["classless_routes"]


def test_metadata_rewrites_source_to_port_key(tracer: Tracer) -> None:
    out = tracer.trace(TraceRequest(source="web-1", destination="metadata")).to_json()
    rewrite = next(h for h in out["hops"] if h["table"] == 35)
    assert rewrite["changes"]["ip_src"][1] == "128.0.0.7"  # 0x80000000 | web-1's key 7
    assert not any(h["table"] in (10, 15) for h in out["hops"])  # metadata skips SGs


def test_sfc_chain_visits_the_service_function(tracer: Tracer) -> None:
    hops = _hops(tracer, source="web-2", destination="db-1", dport=80)
    tables = [h["table"] for h in hops]
    assert 120 in tables and 125 in tables
    service = next(h for h in hops if h["decision"] == "service")
    assert {o["name"] for o in service["objects"]} == {"fw-in", "fw-out"}


def test_round_trip_uses_request_conntrack(tracer: Tracer) -> None:
    result = tracer.trace(TraceRequest(source="web-1", destination="db-1", dport=22, reply=True))
    out = result.to_json()
    assert out["verdict"] == "delivered"
    reply = out["reply"]
    assert reply["verdict"] == "delivered" and reply["final"]["port"]["name"] == "web-1"
    assert reply["packet"]["sport"] == 22 and reply["packet"]["dport"] == 49152
    established = [h for h in reply["hops"] if "established" in h["why"]]
    assert {h["table"] for h in established} == {10, 105}


def test_round_trip_through_fip(tracer: Tracer) -> None:
    out = tracer.trace(
        TraceRequest(source="external", destination="172.24.4.20", dport=80, reply=True)
    ).to_json()
    assert out["reply"]["verdict"] == "external"
    assert out["reply"]["packet"]["ip_dst"] == "203.0.113.10"


def test_round_trip_out_through_fip_and_back(tracer: Tracer) -> None:
    out = tracer.trace(
        TraceRequest(source="web-1", destination="8.8.8.8", dport=443, reply=True)
    ).to_json()
    reply = out["reply"]
    assert reply["packet"]["ip_src"] == "8.8.8.8" and reply["packet"]["ip_dst"] == "172.24.4.20"
    assert reply["verdict"] == "delivered" and reply["final"]["port"]["name"] == "web-1"
    assert any("established" in h["why"] for h in reply["hops"] if h["table"] == 105)


def test_reply_not_simulated_when_dropped(tracer: Tracer) -> None:
    out = tracer.trace(
        TraceRequest(source="web-1", destination="db-1", dport=3306, reply=True)
    ).to_json()
    assert "reply" not in out and out["notes"]


def test_extra_route_to_disabled_nexthop_is_not_delivered() -> None:
    from dragonscope.trace.whatif import apply_patch

    patched = apply_patch(build(), {"update": {"lport": [{"id": "vpn-gw", "enabled": False}]}})
    out = Tracer(patched).trace(TraceRequest(source="db-1", destination="10.99.1.5", dport=443))
    assert out.to_json()["drop"]["code"] == "PORT_DISABLED"


def test_every_hop_names_table_app_and_node_ids(tracer: Tracer) -> None:
    out = tracer.trace(TraceRequest(source="web-1", destination="db-1", dport=22)).to_json()
    for hop in out["hops"]:
        assert hop["table_name"] and hop["app"] and hop["stage"]
        for obj in hop["objects"]:
            assert len(obj["node_id"]) == 36
    assert out["drop"] if out["verdict"] == "dropped" else "drop" not in out


# -- conntrack: a connection stays new until a reply is seen ---------------------------
def _fullstack_sg_cloud() -> Tracer:
    """ping-1 admits ICMP only from ping-2's address; ping-2 and vpn-gw, whose groups let
    anything out, share its network and its chassis (compute-2), like the three ports of
    Dragonflow's fullstack test."""
    from dragonscope.trace.whatif import apply_patch

    group = {
        "id": "sg-from-ping-2",
        "name": "from-ping-2",
        "topic": "acme",
        "unique_key": 90,
        "rules": [
            {"direction": "egress", "ethertype": "IPv4", "id": "fp-eg"},
            {
                "direction": "ingress",
                "ethertype": "IPv4",
                "id": "fp-icmp",
                "protocol": 1,
                "remote_ip_prefix": "10.10.2.21/32",
            },
        ],
    }
    patch = {
        "put": {"secgroup": [group]},
        "update": {
            "lport": [
                {"id": "ping-1", "security_groups": ["sg-from-ping-2"]},
                {"id": "vpn-gw", "security_groups": ["sg-echo"]},  # egress: anything
            ]
        },
    }
    return Tracer(apply_patch(build(), patch))


def test_same_chassis_same_network_applies_the_receivers_ingress_rules() -> None:
    """dragonflow/tests/fullstack/apps/test_sg.py, TestSGApp._create_port_policies: of two
    ports on port3's subnet and host, only the one its group admits may ping it. The sender's
    egress commit (sg.py, SGApp._install_security_group_permit_flow_by_direction, zone from
    the metadata register) leaves the connection new, so table 110 still applies port3's
    rules (SGApp._install_env_init_flow_by_direction passes only +est and +rel)."""
    tracer = _fullstack_sg_cloud()
    allowed = tracer.trace(TraceRequest(source="ping-2", destination="ping-1")).to_json()
    assert allowed["verdict"] == "delivered" and allowed["final"]["port"]["name"] == "ping-1"
    denied = tracer.trace(TraceRequest(source="vpn-gw", destination="ping-1")).to_json()
    assert denied["verdict"] == "dropped" and denied["drop"]["code"] == "SG_INGRESS"
    assert denied["drop"]["table"] == 110 and denied["drop"]["chassis"] == "compute-2"
    assert denied["drop"]["object"]["id"] == "sg-from-ping-2"
    assert [c["by"] for c in denied["conntrack"]] == ["egress"]  # the sender committed it
    assert not any("established" in h["why"] for h in denied["hops"])


def test_same_chassis_same_network_tcp_port_not_admitted(tracer: Tracer) -> None:
    """sg.py, SGApp._install_env_init_flow_by_direction: only +trk+est passes table 110
    without a rule. web-1 and app-1 share web-net and compute-1; app-1's group admits tcp/22
    and tcp/80 but not tcp/3306, whatever web-1's egress check committed."""
    out = tracer.trace(TraceRequest(source="web-1", destination="app-1", dport=3306)).to_json()
    assert out["verdict"] == "dropped" and out["drop"]["code"] == "SG_INGRESS"
    assert out["drop"]["table"] == 110 and out["drop"]["chassis"] == "compute-1"
    assert [c["by"] for c in out["conntrack"]] == ["egress"]


def test_same_chassis_same_network_ct_assumes_established(tracer: Tracer) -> None:
    """--ct: every check sees +est (sg.py, SGApp._install_env_init_flow_by_direction)."""
    out = tracer.trace(
        TraceRequest(source="web-1", destination="app-1", dport=3306, ct=True)
    ).to_json()
    assert out["verdict"] == "delivered" and out["final"]["port"]["name"] == "app-1"
    assert {h["table"] for h in out["hops"] if "established" in h["why"]} == {10, 105}


def test_same_chassis_same_network_one_conntrack_entry_and_reply(tracer: Tracer) -> None:
    """Both checks use zone = metadata (sg.py,
    SGApp._install_connection_track_flow_by_direction): the ingress commit of the same
    connection is the entry the egress check made, and the reply is established both ways."""
    out = tracer.trace(
        TraceRequest(source="web-1", destination="app-1", dport=22, reply=True)
    ).to_json()
    assert out["verdict"] == "delivered"
    assert len(out["conntrack"]) == 1 and out["conntrack"][0]["zone"] == 2
    admitted = next(h for h in out["hops"] if h["table"] == 110)
    assert admitted["decision"] == "allow" and "already holds it" in admitted["why"]
    reply = out["reply"]
    assert reply["verdict"] == "delivered" and reply["final"]["port"]["name"] == "web-1"
    assert {h["table"] for h in reply["hops"] if "established" in h["why"]} == {10, 105}


def test_broadcast_copies_to_local_ports_pass_their_ingress_rules(tracer: Tracer) -> None:
    """l2.py, L2App._add_multicast_broadcast_handling_for_local_port: each local copy is
    resubmitted to the egress table and from there to INGRESS_CONNTRACK, so every local
    receiver's groups apply. ping-1 admits only ICMP echo: a UDP broadcast from ping-2 on
    the same chassis is dropped there; vpn-gw (no groups) receives it."""
    out = tracer.trace(
        TraceRequest(source="ping-2", destination="10.10.2.255", proto="udp", dport=5000)
    ).to_json()
    by_port = {
        o["port"]["name"]: o["verdict"] for o in out["outcomes"] if o["verdict"] == "delivered"
    }
    assert by_port.get("vpn-gw") == "delivered" and "ping-1" not in by_port
    dropped = [o for o in out["outcomes"] if o["verdict"] == "dropped"]
    assert any(
        o["code"] == "SG_INGRESS" and o["object"]["id"] == "sg-echo" and o["chassis"] == "compute-2"
        for o in dropped
    )


# -- SFC: the service function's ingress port applies its groups --------------------------
def _sfc_cloud(correlation: str = "none", sf_groups: tuple[str, ...] = ("sg-noegress",)) -> Tracer:
    """fw-in (the pair's ingress port) gets groups admitting only tcp/22."""
    from dragonscope.trace.whatif import apply_patch

    patch = {
        "update": {
            "lport": [{"id": "sf-in", "security_groups": list(sf_groups)}],
            "sfc_portpair": [{"id": "pp-fw", "correlation_mechanism": correlation}],
        }
    }
    return Tracer(apply_patch(build(), patch))


def test_sfc_service_function_ingress_port_applies_its_groups() -> None:
    """sfc_mpls_driver.py, MplsDriver._port_pair_to_bucket: the select group sets reg7 to the
    pair's ingress port and resubmits to EGRESS_TABLE (after SFC_MPLS_PP_DECAP pops the
    label, MplsDriver._install_port_pair_decap_flows, when correlation is none), so the
    packet reaches the service function through INGRESS_CONNTRACK and the port's ingress
    rules: tcp/80 is dropped at fw-in, not reported later."""
    out = _sfc_cloud().trace(TraceRequest(source="web-2", destination="db-1", dport=80))
    result = out.to_json()
    assert result["verdict"] == "dropped" and result["drop"]["code"] == "SG_INGRESS"
    assert result["drop"]["table"] == 110 and result["drop"]["chassis"] == "compute-2"
    assert result["drop"]["object"]["id"] == "sg-noegress"
    assert "fw-in" in result["drop"]["reason"]
    tables = [h["table"] for h in result["hops"]]
    assert tables.index(122) < tables.index(110)
    assert not any(h["decision"] == "service" for h in result["hops"])


def test_sfc_service_function_admitting_the_flow_still_delivers() -> None:
    """Same path as above (MplsDriver._port_pair_to_bucket); groups that admit tcp/80 let the
    chain go on to db-1, and the reply (not classified) comes back established."""
    tracer = _sfc_cloud(sf_groups=("sg-app",))
    out = tracer.trace(TraceRequest(source="web-2", destination="db-1", dport=80, reply=True))
    result = out.to_json()
    assert result["verdict"] == "delivered" and result["final"]["port"]["name"] == "db-1"
    sf_check = next(h for h in result["hops"] if h["table"] == 110)
    assert sf_check["decision"] == "allow" and sf_check["chassis"] == "compute-2"
    assert any(h["decision"] == "service" for h in result["hops"])
    assert result["reply"]["verdict"] == "delivered"
    assert result["reply"]["final"]["port"]["name"] == "web-2"


def test_sfc_service_function_ct_assumes_established() -> None:
    """--ct: the service function's INGRESS_SECURITY_GROUP sees +est (sg.py,
    SGApp._install_env_init_flow_by_direction)."""
    out = _sfc_cloud().trace(TraceRequest(source="web-2", destination="db-1", dport=80, ct=True))
    assert out.verdict == "delivered"


def test_sfc_mpls_correlated_frame_bypasses_security_groups() -> None:
    """sfc_mpls_driver.py, MplsDriver._port_pair_to_bucket goes straight to EGRESS_TABLE
    with the label kept when correlation is mpls; sg.py, SGApp._install_ipv4_ipv6_rules
    installs the conntrack flows of table 105 for IPv4 and IPv6 only, so the MPLS frame
    takes the table's default to INGRESS_DISPATCH."""
    out = _sfc_cloud(correlation="mpls").trace(
        TraceRequest(source="web-2", destination="db-1", dport=80)
    )
    result = out.to_json()
    assert result["verdict"] == "delivered" and result["final"]["port"]["name"] == "db-1"
    assert 122 not in [h["table"] for h in result["hops"]]
    assert any(h["table"] == 105 and "MPLS" in h["why"] for h in result["hops"])


# -- multicast from a guest ------------------------------------------------------------
def test_multicast_goes_to_the_group_mac_and_is_flooded(tracer: Tracer) -> None:
    """l2.py, L2App._get_multicast_broadcast_match matches any group MAC (eth_dst with the
    multicast bit) and floods it on the network: a guest's IP stack sends 224.0.0.1 to
    01:00:5e:00:00:01, so nothing is routed and nothing leaves through web-1's floating IP."""
    out = tracer.trace(TraceRequest(source="web-1", destination="224.0.0.1")).to_json()
    assert out["packet"]["eth_dst"] == "01:00:5e:00:00:01"
    assert any("multicast" in a and "01:00:5e:00:00:01" in a for a in out["assumptions"])
    assert out["verdict"] == "delivered"
    assert not any(h["table"] in (60, 77, 80) for h in out["hops"])
    assert any(h["table"] == 55 and h["decision"] == "flood" for h in out["hops"])
    delivered = {
        (o["port"]["name"], o["chassis"]) for o in out["outcomes"] if o["verdict"] == "delivered"
    }
    assert {("app-1", "compute-1"), ("web-2", "compute-2")} <= delivered
    assert not any(o["verdict"] == "external" for o in out["outcomes"])


def test_multicast_mac_keeps_the_low_23_bits() -> None:
    """RFC 1112 section 6.4: the high bit of the second octet is not copied."""
    from ipaddress import ip_address

    from dragonscope.trace.guest import multicast_mac

    assert multicast_mac(ip_address("239.129.2.3")) == "01:00:5e:01:02:03"
    assert multicast_mac(ip_address("ff02::1:ff00:12")) == "33:33:ff:00:00:12"


def test_ipv6_multicast_from_a_guest(tracer: Tracer) -> None:
    """L2App._get_multicast_broadcast_match floods 33:33:00:00:00:01 (ff02::1) like any
    group MAC; the receivers' ICMPv6 rules decide each copy."""
    out = tracer.trace(TraceRequest(source="web-1", destination="ff02::1")).to_json()
    assert out["packet"]["eth_dst"] == "33:33:00:00:00:01"
    assert out["verdict"] == "delivered"
    assert not any(h["table"] == 60 for h in out["hops"])


def test_multicast_local_copy_applies_ingress_rules_and_ct(tracer: Tracer) -> None:
    """L2App._add_multicast_broadcast_handling_for_local_port sends each local copy through
    INGRESS_CONNTRACK: locked-1 (tcp/22 only) drops a UDP multicast; with --ct it passes."""
    kw = dict(source="web-1", destination="239.1.1.1", proto="udp", dport=5000)
    out = tracer.trace(TraceRequest(**kw)).to_json()
    locked = [
        o for o in out["outcomes"] if o["verdict"] == "dropped" and o["chassis"] == "compute-1"
    ]
    assert any(o["code"] == "SG_INGRESS" and o["object"]["id"] == "sg-noegress" for o in locked)
    assumed = tracer.trace(TraceRequest(**kw, ct=True)).to_json()
    assert {"locked-1", "app-1"} <= {
        o["port"]["name"] for o in assumed["outcomes"] if o["verdict"] == "delivered"
    }


def test_multicast_reply_is_not_simulated(tracer: Tracer) -> None:
    """A receiver answers a group address from its own unicast address: a connection of its
    own, not the reply direction of the request's conntrack entry."""
    out = tracer.trace(TraceRequest(source="web-1", destination="224.0.0.1", reply=True))
    result = out.to_json()
    assert result["verdict"] == "delivered" and "reply" not in result
    assert any("multicast or broadcast" in n for n in result["notes"])


def test_metadata_assumes_tcp_not_icmp(tracer: Tracer) -> None:
    out = tracer.trace(TraceRequest(source="web-1", destination="metadata")).to_json()
    assert out["packet"]["proto"] == "tcp"
    assert not any("ICMP" in a for a in out["assumptions"])
    assert any("TCP" in a for a in out["assumptions"])
