"""Real traces through real Open vSwitch: one userspace switch per chassis of the scenario
cloud, the rules ``dragonscope flows`` writes installed, every simulator scenario traced with
``ofproto/trace`` and compared; a deleted rule shows as the first difference and as drift.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dragonscope.cli import main
from dragonscope.nb import dump_json
from dragonscope.ovs import Switch
from dragonscope.trace import DEFAULT_APPS, Tracer, TraceRequest
from dragonscope.trace.flows import drift
from dragonscope.trace.real import Probe, RealTracer, report
from realtrace_support import Chassis, start_cloud, stop_cloud
from test_trace_scenarios import CASES
from trace_cloud import build

CHASSIS = ["compute-1", "compute-2", "compute-3", "compute-4"]


@pytest.fixture(scope="module")
def cloud() -> Iterator[dict[str, Chassis]]:
    switches = start_cloud(CHASSIS)
    try:
        yield switches
    finally:
        stop_cloud(switches)


def switch(chassis: Chassis) -> Switch:
    return Switch.parse(chassis.spec)


async def real_trace(
    cloud: dict[str, Chassis], apps: frozenset[str] = DEFAULT_APPS, **request: Any
) -> dict[str, Any]:
    switches = {name: switch(c) for name, c in cloud.items()}
    run = RealTracer(Tracer(build(), apps), {n: c.ovs for n, c in cloud.items()}).begin(
        TraceRequest(**request)
    )
    while (probe := run.next_probe()) is not None:
        run.feed(probe, await switches[probe.chassis].trace(probe.args()))
    return report(run)


def test_installed_rules_match_the_expected_ones(cloud: dict[str, Chassis]) -> None:
    for chassis in cloud.values():
        installed = asyncio.run(switch(chassis).rules())
        result = drift(chassis.flows, installed)
        assert result.clean, result.to_json()
        assert result.expected > 100 and result.installed == result.expected


# Every app the simulator models has its rules generated, so a scenario either agrees or
# ends at the local controller, whose answer (a DHCP offer, an ICMP error) ofproto/trace
# cannot model.
AGREED = ("agree", "controller")


@pytest.mark.parametrize(
    ("request_kw", "verdict"), [c[1:3] for c in CASES], ids=[c[0] for c in CASES]
)
def test_every_scenario_agrees_or_says_why(
    cloud: dict[str, Chassis], request_kw: dict[str, Any], verdict: str
) -> None:
    out = asyncio.run(real_trace(cloud, **request_kw))
    agreement = out["agreement"]
    assert out["simulated"]["verdict"] == verdict
    assert agreement["status"] in AGREED, (agreement, out["real"])
    assert agreement["why"]
    if agreement["status"] == "controller":
        assert out["real"]["verdict"] == "controller"
        assert "ofproto/trace cannot model" in agreement["why"]


def test_most_scenarios_really_agree(cloud: dict[str, Chassis]) -> None:
    statuses = [asyncio.run(real_trace(cloud, **kw))["agreement"]["status"] for _, kw, *_ in CASES]
    assert statuses.count("agree") >= 66, statuses
    assert statuses.count("controller") == len(CASES) - 66, statuses


def test_remote_delivery_decoded_on_both_chassis(cloud: dict[str, Chassis]) -> None:
    out = asyncio.run(real_trace(cloud, source="web-1", destination="web-2", dport=80))
    chassis = out["real"]["chassis"]
    assert [c["chassis"] for c in chassis] == ["compute-1", "compute-2"]
    first, second = chassis
    egress = next(h for h in first["hops"] if h["table"] == 75)
    assert egress["app"] == "tunneling" and egress["owner"]["name"] == "web-2"
    assert any("chassis compute-2" in m for m in egress["meaning"])
    assert any("tunnel ID 1001" in m and "web-net" in m for m in second["hops"][0]["meaning"])
    dispatch = second["hops"][-1]
    assert dispatch["table"] == 115 and dispatch["table_name"] == "INGRESS_DISPATCH"
    assert dispatch["app"] == "classifier" and "output to web-2" in dispatch["meaning"]
    assert out["real"]["verdict"] == "delivered" and out["first_difference"] is None
    ct = next(h for h in first["hops"] if h["table"] == 10)
    assert any("conntrack" in m and "network key" in m for m in ct["meaning"])
    # The banner between conntrack passes is not part of any rule.
    assert not any("resume conntrack" in h["rule"] for c in chassis for h in c["hops"])


def test_deleted_dispatch_rule_is_the_first_difference_and_missing(
    cloud: dict[str, Chassis],
) -> None:
    target = cloud["compute-2"]
    rule = next(f for f in target.flows.flows if f.table == 115 and f.lport == "web-2")
    match = ",".join(f"{k}={v}" for k, v in rule.match)
    target.switch.ofctl("del-flows", "br-int", "--strict", f"table=115,priority=100,{match}")
    try:
        out = asyncio.run(real_trace(cloud, source="web-1", destination="web-2", dport=80))
        assert out["simulated"]["verdict"] == "delivered"
        assert out["real"]["verdict"] == "dropped"
        assert out["agreement"]["status"] == "disagree"
        first = out["first_difference"]
        assert first["chassis"] == "compute-2" and first["table"] == 115
        assert first["expected_rule"]["rule"] == rule.text()
        assert first["installed_rule"] is None
        assert "no installed rule matches" in first["why"]
        assert any(row.get("differs") for row in out["side_by_side"])
        result = drift(target.flows, asyncio.run(switch(target).rules()))
        assert [f.text() for f in result.missing] == [rule.text()]
        assert result.per_lport["web-2"]["missing"] == 1
    finally:
        target.switch.add_flows("br-int", [rule.text()])


def test_cli_flows_diff_and_trace_real(
    cloud: dict[str, Chassis], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dump: dict[str, list[dict[str, Any]]] = {}
    for (table, _), obj in build().items():
        dump.setdefault(table, []).append(obj.data)
    path = tmp_path / "nb.json"
    path.write_bytes(dump_json(dump))
    nb = f"file://{path}"
    c2 = cloud["compute-2"]
    assert main(["flows", "--nb", nb, "--chassis", "compute-2", "--ovs", c2.spec, "--diff"]) == 0
    assert "0 missing, 0 unexpected, 0 differ" in capsys.readouterr().out
    assert (
        main(["flows", "--nb", nb, "--chassis", "compute-2", "--ovs", c2.spec, "--format", "ofctl"])
        == 0
    )
    printed = capsys.readouterr().out.splitlines()
    assert printed == [f.text() for f in c2.flows.flows]
    assert main(["flows", "--nb", nb, "--chassis", "compute-2", "--ovs", c2.spec]) == 0
    text = capsys.readouterr().out.splitlines()
    groups = [line for line in text if line.startswith("group_id=")]
    assert groups == [f"{g.text()}  # sfc select group fw-group" for g in c2.flows.groups]
    assert text.index(groups[-1]) < text.index(next(t for t in text if t.startswith("table=")))
    specs = [arg for c in cloud.values() for arg in ("--ovs", c.spec)]
    argv = ["trace", "--nb", nb, "--from", "web-1", "--to", "web-2", "--dport", "80", "--real"]
    assert main([*argv, *specs, "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["agreement"]["status"] == "agree"
    assert main([*argv, *specs]) == 0
    text = capsys.readouterr().out
    assert "agreement: agree" in text and "compute-2:115" in text
    assert main(["trace", "--nb", nb, "--from", "web-1", "--real", "--ovs", "bad"]) == 2


def test_neighbour_solicitation_answered_by_an_installed_responder(
    cloud: dict[str, Chassis],
) -> None:
    request = dict(source="web-1", destination="2001:db8:10:1::12", proto="icmp6", icmp_type=135)
    out = asyncio.run(real_trace(cloud, **request))
    assert out["simulated"]["verdict"] == "replied"
    assert out["real"]["verdict"] == "replied"
    assert out["agreement"]["status"] == "agree", out["agreement"]
    nd = next(h for h in out["real"]["chassis"][0]["hops"] if h["table"] == 45)
    assert nd["app"] == "l2" and nd["owner"]["name"] == "web-2"
    assert "nd_target=2001:db8:10:1::12" in out["real"]["chassis"][0]["flow"]


def test_provider_network_crossed_through_the_patch_ports(cloud: dict[str, Chassis]) -> None:
    kw = next(kw for name, kw, *_ in CASES if name == "provider-vlan")
    out = asyncio.run(real_trace(cloud, **kw))
    first, second = out["real"]["chassis"]
    leave = next(h for h in first["hops"] if h.get("outcome") == "physnet")
    assert leave["table"] == 80 and leave["app"] == "provider"
    assert "out by the patch port to physical network physnet1" in leave["meaning"]
    assert first["external"] == ["physnet1"]
    arrive = second["hops"][0]
    assert arrive["table"] == 0 and arrive["app"] == "provider" and "dl_vlan=200" in second["flow"]
    assert out["agreement"]["status"] == "agree" and out["real"]["verdict"] == "delivered"


def test_bridge_mappings_read_from_the_ini_and_the_flag(tmp_path: Path) -> None:
    from dragonscope.config import ConfigError, parse_bridge_mappings, read_dragonflow_ini

    ini = tmp_path / "dragonflow.ini"
    both = (("physnet1", "br-prov"), ("public", "br-ex"))
    ini.write_text("[df]\n[df_provider_networks]\nbridge_mappings = physnet1:br-prov, public:br-ex")
    assert read_dragonflow_ini(ini).bridge_mappings == both
    ini.write_text("[df]\n")
    assert read_dragonflow_ini(ini).bridge_mappings == (("public", "br-ex"),)
    with pytest.raises(ConfigError, match="PHYSNET:BRIDGE"):
        parse_bridge_mappings("physnet1", "--bridge-mappings")
    spec = "c1=unix:/x/db.sock,appctl=/x/ctl,physnet=physnet1:br-prov,physnet=public:br-ex"
    assert Switch.parse(spec).mappings == both
    with pytest.raises(ValueError, match="physnet=NAME:BRIDGE"):
        Switch.parse("c1=unix:/x/db.sock,physnet=nobridge")


def test_floating_ip_inbound_through_the_dnat_rules(cloud: dict[str, Chassis]) -> None:
    kw = next(kw for name, kw, *_ in CASES if name == "fip-inbound-http")
    out = asyncio.run(real_trace(cloud, **kw))
    hops = out["real"]["chassis"][0]["hops"]
    assert hops[0]["app"] == "provider"  # in from the external network's patch port
    dnat = next(h for h in hops if h["table"] == 76)
    assert dnat["app"] == "dnat" and dnat["owner"]["table"] == "floatingip"
    assert out["agreement"]["status"] == "agree" and out["real"]["delivered"][0]["name"] == "web-1"


def test_metadata_request_leaves_by_the_metadata_tap(cloud: dict[str, Chassis]) -> None:
    out = asyncio.run(real_trace(cloud, source="web-1", destination="metadata"))
    hops = out["real"]["chassis"][0]["hops"]
    assert [h["table"] for h in hops if h["app"] == "metadata_service"] == [201, 20, 35]
    assert hops[-1]["outcome"] == "metadata"
    assert out["agreement"]["status"] == "agree"
    assert out["agreement"]["why"] == "both hand it to the local metadata proxy"


def test_service_chain_decoded_through_its_service_function(cloud: dict[str, Chassis]) -> None:
    """ofproto/trace freezes at the chain's select group (the datapath hashes) and after each
    MPLS pop (the datapath parses again); the trace goes on there, and from the pair's
    egress port when the frame reaches the service function."""
    kw = next(kw for name, kw, *_ in CASES if name == "sfc-chain")
    out = asyncio.run(real_trace(cloud, **kw))
    assert out["agreement"]["status"] == "agree" and out["real"]["delivered"][0]["name"] == "db-1"
    assert out["first_difference"] is None  # the service function's own work is no step
    hops = [h for c in out["real"]["chassis"] for h in c["hops"]]
    by_app = [(h["table"], h["app"]) for h in hops if h["app"] in ("fc", "sfc")]
    assert by_app[:4] == [(55, "fc"), (120, "sfc"), (121, "sfc"), (121, "sfc")]
    assert (201, "sfc") in by_app and (125, "fc") in by_app  # back from fw-out, end of chain
    assert any(h.get("outcome") == "output" and "output to fw-in" in h["meaning"] for h in hops)
    commands = [c["command"] for c in out["real"]["chassis"]]
    assert any(cmd[1] == "ofproto/trace-packet-out" and cmd[-1] == "resubmit(,121)"
               for cmd in commands)  # fmt: skip
    meanings = [m for h in hops for m in h["meaning"]]
    assert "sets flow classifier (reg2) = web-http" in meanings
    assert any(m.startswith("select group 524289: the port pair group of MPLS label 2048")
               for m in meanings)  # fmt: skip
    groups = cloud["compute-2"].flows.groups
    assert [g.group_id for g in groups] == [2048 << 8 | 1, 2048 << 8 | 2]


def test_a_resumed_probe_asks_for_a_table_only() -> None:
    """What the analyzer sends a chassis's collector to go on from a table: a number, never
    actions of its own."""
    asked = Probe("compute-2", "dp_hash=0x1,tcp", resume=75).request()
    assert asked["Resume"] == 75
    probe = Probe.from_request("compute-2", "br-int", asked)
    assert probe.args() == [
        "ofproto/trace-packet-out",
        "br-int",
        "dp_hash=0x1,tcp",
        "resubmit(,75)",
    ]
    for bad in (255, -1, "75", True, "resubmit(,75)"):
        with pytest.raises(ValueError, match="Resume"):
            Probe.from_request("compute-2", "br-int", {"Flow": "tcp", "Resume": bad})


def test_chassis_snat_leaves_by_its_patch_port() -> None:
    apps = DEFAULT_APPS | {"chassis_snat"}
    snat = start_cloud(["compute-2"], apps=apps)
    try:
        c2 = snat["compute-2"]
        ports = asyncio.run(switch(c2).ports())
        assert ports.snat == c2.ovs.snat and ports.snat_bridge_mac == c2.ovs.snat_bridge_mac
        assert drift(c2.flows, asyncio.run(switch(c2).rules())).clean
        assert {f.app for f in c2.flows.flows} >= {"chassis_snat"}
        out = asyncio.run(real_trace(snat, apps, source="web-2", destination="8.8.8.8", dport=443))
        assert out["simulated"]["verdict"] == "external"
        assert out["agreement"] == {"status": "agree", "why": "both SNAT it out to br-ex"}
        leave = next(h for c in out["real"]["chassis"] for h in c["hops"] if h["table"] == 71)
        assert leave["app"] == "chassis_snat" and leave["outcome"] == "snat"
        assert f"set_field:{c2.ovs.snat_bridge_mac}->eth_dst" in leave["rule"]
    finally:
        stop_cloud(snat)


def test_legacy_snat_hands_the_packet_to_the_l3_agent_port() -> None:
    from dragonscope.trace.whatif import apply_patch

    bound = {"id": "rif-web", "binding": {"chassis": "compute-3", "type": "chassis"}}
    snapshot = apply_patch(build(), {"update": {"lport": [bound]}})
    apps = DEFAULT_APPS | {"legacy_snat"}
    legacy = start_cloud(["compute-2", "compute-3"], snapshot, apps)
    try:
        for chassis in legacy.values():
            assert drift(chassis.flows, asyncio.run(switch(chassis).rules())).clean
        run = RealTracer(Tracer(snapshot, apps), {n: c.ovs for n, c in legacy.items()}).begin(
            TraceRequest(source="web-2", destination="8.8.8.8", dport=443)
        )
        while (probe := run.next_probe()) is not None:
            run.feed(probe, asyncio.run(switch(legacy[probe.chassis]).trace(probe.args())))
        out = report(run)
        assert out["simulated"]["verdict"] == "external"
        assert out["agreement"]["status"] == "agree", out["agreement"]
        hops = [h for c in out["real"]["chassis"] for h in c["hops"]]
        assert any(h["table"] == 60 and h["app"] == "legacy_snat" for h in hops)
    finally:
        stop_cloud(legacy)


def test_l3_reactive_sends_the_first_routed_packet_to_the_controller() -> None:
    apps = (DEFAULT_APPS - {"l3_proactive"}) | {"l3_reactive"}
    reactive = start_cloud(["compute-1"], apps=apps)
    try:
        c1 = reactive["compute-1"]
        assert drift(c1.flows, asyncio.run(switch(c1).rules())).clean
        assert not any(f.table == 65 for f in c1.flows.flows)
        out = asyncio.run(real_trace(reactive, apps, source="web-1", destination="db-1", dport=22))
        assert out["simulated"]["verdict"] == "delivered"
        assert out["agreement"]["status"] == "controller"
        assert "ofproto/trace cannot model" in out["agreement"]["why"]
        routed = next(h for h in out["real"]["chassis"][0]["hops"] if h["table"] == 60)
        assert routed["app"] == "l3_reactive" and routed["outcome"] == "controller"
    finally:
        stop_cloud(reactive)


@pytest.mark.parametrize(
    ("correlation", "groups", "host", "verdict"),
    [
        ("none", ["sg-noegress"], "compute-2", "dropped"),  # the function's own groups refuse it
        ("none", ["sg-app"], "compute-2", "delivered"),  # they admit it (resumed conntrack)
        ("mpls", ["sg-noegress"], "compute-2", "delivered"),  # an MPLS frame skips the groups
        ("none", [], "compute-1", "delivered"),  # the labelled frame tunnels to the function
        ("mpls", [], "compute-1", "delivered"),
    ],
)
def test_service_chain_variants_agree(
    correlation: str, groups: list[str], host: str, verdict: str
) -> None:
    """The chain's service function behind its ingress port's security groups, with and
    without MPLS correlation (as the simulator's SFC cases), on the classifier's chassis or
    another, on real Open vSwitch."""
    from dragonscope.trace.whatif import apply_patch

    binding = {"chassis": host, "type": "chassis"}
    patch = {
        "update": {
            "lport": [
                {"id": "sf-in", "security_groups": groups, "binding": binding},
                {"id": "sf-out", "binding": binding},
            ],
            "sfc_portpair": [{"id": "pp-fw", "correlation_mechanism": correlation}],
        }
    }
    snapshot = apply_patch(build(), patch)
    chain = start_cloud(sorted({"compute-2", "compute-3", host}), snapshot)
    try:
        run = RealTracer(Tracer(snapshot), {n: c.ovs for n, c in chain.items()}).begin(
            TraceRequest(source="web-2", destination="db-1", dport=80)
        )
        while (probe := run.next_probe()) is not None:
            run.feed(probe, asyncio.run(switch(chain[probe.chassis]).trace(probe.args())))
        out = report(run)
        assert out["simulated"]["verdict"] == verdict
        assert out["agreement"]["status"] == "agree", out["agreement"]
        assert host in {c["chassis"] for c in out["real"]["chassis"]}
    finally:
        stop_cloud(chain)
