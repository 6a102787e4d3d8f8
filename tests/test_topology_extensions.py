"""The extension API: discovery, isolation of failing extensions, the shipped active-port one."""

from __future__ import annotations

import logging

from dragonscope.nb.model import Change, NbObject
from dragonscope.topology import ENTRY_POINT_GROUP, Action, Topology, discover, node_id, translate
from dragonscope.topology.ext_active_port import ActivePortExtension
from dragonscope.topology.extensions import ExtensionContext
from topology_cloud import WEB_1, WEB_2, WEB_NET, cloud

VIP = "10.10.1.100"
VIP_PORT = "b0183b84-bb8a-4f69-aea0-493b17c1c835"


class Tagger:
    """A well-behaved extension: tags chassis nodes and adds one node per chassis."""

    name = "tagger"
    tables = frozenset({"chassis"})

    def contribute(self, obj: NbObject, ctx: ExtensionContext) -> None:
        ctx.add_metadata({"Rack": "r1"})
        exporter = ctx.add_node(
            f"exporter/{obj.id}", {"Name": f"exporter@{obj.id}", "Type": "exporter"}
        )
        ctx.add_edge(ctx.node, exporter, "ownership")


class Exploding:
    name = "exploding"

    def __init__(self, fail_on: str = "lport") -> None:
        self.fail_on = fail_on
        self.calls = 0

    def contribute(self, obj: NbObject, ctx: ExtensionContext) -> None:
        self.calls += 1
        if obj.table == self.fail_on:
            raise RuntimeError("boom")
        if ctx.node:  # relation rows (trunk segmentation) have no node of their own
            ctx.add_metadata({"Seen": True})


class Invalid:
    """Returns an edge to a node nobody knows."""

    name = "invalid"
    tables = frozenset({"lswitch"})

    def contribute(self, obj: NbObject, ctx: ExtensionContext) -> None:
        ctx.add_edge(ctx.node, "no-such-node", "points-nowhere")


class Overrider:
    name = "overrider"
    tables = frozenset({"lport"})

    def contribute(self, obj: NbObject, ctx: ExtensionContext) -> None:
        ctx.add_metadata({"Name": "hijacked"})


def chassis_node(chassis: str) -> str:
    return node_id("chassis", chassis)


def test_extension_adds_nodes_edges_and_metadata() -> None:
    nodes, edges = translate(cloud(), extensions=[Tagger()])
    meta = nodes[chassis_node("compute-1")].metadata
    assert meta["Rack"] == "r1"
    exporters = [n for n in nodes.values() if n.metadata["Type"] == "exporter"]
    assert len(exporters) == 3
    assert all(n.metadata["Extension"] == "tagger" for n in exporters)
    owned = [e for e in edges.values() if e.parent == chassis_node("compute-1")]
    assert any(e.metadata["Extension"] == "tagger" for e in owned)


def test_a_raising_extension_is_reported_disabled_and_withdrawn_while_others_go_on(
    caplog,
) -> None:
    exploding = Exploding(fail_on="lport")
    topology = Topology(extensions=[exploding, Tagger()], chassis=None)
    with caplog.at_level(logging.ERROR):
        ops = topology.load(cloud())
    (failure,) = topology.extension_errors
    assert failure.extension == "exploding"
    assert failure.table == "lport"
    assert "RuntimeError: boom" in failure.error
    assert "exploding" in caplog.text and "disabled" in caplog.text
    # Its additions on objects rendered before the failure were withdrawn ...
    assert not any("Seen" in n.metadata for n in topology.nodes.values())
    assert not any("Seen" in op.element.metadata for op in ops)
    # ... the healthy extension and the translation are intact.
    assert topology.nodes[chassis_node("compute-1")].metadata["Rack"] == "r1"
    baseline_nodes, _ = translate(cloud(), extensions=[Tagger()])
    assert {k: n.metadata for k, n in topology.nodes.items()} == {
        k: n.metadata for k, n in baseline_nodes.items()
    }
    # Disabled means disabled: later changes do not call it again.
    calls = exploding.calls
    network = cloud()[("lswitch", WEB_NET)]
    renamed = NbObject("lswitch", WEB_NET, {**network.data, "name": "web-net-2"})
    topology.apply(Change("lswitch", WEB_NET, renamed, 1))
    assert exploding.calls == calls
    assert len(topology.extension_errors) == 1


def test_extension_failing_during_an_incremental_change_is_withdrawn_everywhere() -> None:
    exploding = Exploding(fail_on="qospolicy")
    snapshot = cloud()
    policy = snapshot.pop(("qospolicy", "abfb6e69-60a4-453b-93cc-aa2303221f71"))
    topology = Topology(extensions=[exploding])
    topology.load(snapshot)
    assert topology.nodes[chassis_node("compute-1")].metadata["Seen"] is True
    ops = topology.apply(Change("qospolicy", policy.id, policy, 1))
    assert [f.extension for f in topology.extension_errors] == ["exploding"]
    assert not any("Seen" in n.metadata for n in topology.nodes.values())
    assert any((op.action, op.is_node) == (Action.UPDATE, True) for op in ops)
    assert ("qospolicy", policy.id) in {
        (n.metadata["Type"], n.metadata["Dragonflow"]["ID"])
        for n in topology.nodes.values()
        if "Dragonflow" in n.metadata
    }


def test_invalid_output_is_rejected_whole() -> None:
    topology = Topology(extensions=[Invalid(), Overrider()])
    topology.load(cloud())
    errors = {f.extension: f.error for f in topology.extension_errors}
    assert "not a known node" in errors["invalid"]
    assert "already set" in errors["overrider"]
    assert not any(e.metadata.get("Extension") for e in topology.edges.values())
    assert topology.nodes[node_id("lport", WEB_1)].metadata["Name"] == "port 10.10.1.11"


def test_an_extension_returning_its_output_instead_of_adding_it_is_told_so() -> None:
    class Returner:
        name = "returner"
        tables = frozenset({"chassis"})

        def contribute(self, obj, ctx):
            return [{"Name": "x", "Type": "y"}]

    topology = Topology(extensions=[Returner()])
    topology.load(cloud())
    (failure,) = topology.extension_errors
    assert "returned a list" in failure.error and "return None" in failure.error


def test_extensions_without_a_name_are_refused() -> None:
    class Nameless:
        def contribute(self, obj, ctx):
            return None

    topology = Topology(extensions=[Nameless(), Tagger(), Tagger()])
    problems = [f.error for f in topology.extension_errors]
    assert problems == ["it has no name", "another extension has the same name"]


def test_installed_extensions_are_discovered_through_entry_points() -> None:
    found, failures = discover()
    assert failures == []
    assert "active-port" in {extension.name for extension in found}
    assert ENTRY_POINT_GROUP == "dragonscope.extensions"
    # None means "what is installed".
    nodes, _ = translate(cloud(), extensions=None)
    assert any(n.metadata["Type"] == "vip" for n in nodes.values())


def aap_cloud() -> dict:
    """web-1 and web-2 share the VIP 10.10.1.100 (keepalived); web-2 holds it."""
    snapshot = cloud()
    for port in (WEB_1, WEB_2):
        obj = snapshot[("lport", port)]
        pairs = [{"ip_address": VIP, "mac_address": obj.data["macs"][0]}]
        snapshot[("lport", port)] = NbObject(
            "lport", port, {**obj.data, "allowed_address_pairs": pairs}
        )
    return snapshot


def test_active_port_extension_shows_who_holds_the_vip() -> None:
    topology = Topology(extensions=[ActivePortExtension()])
    topology.load(aap_cloud())
    (vip,) = [n for n in topology.nodes.values() if n.metadata["Type"] == "vip"]
    assert vip.metadata["Name"] == VIP
    assert vip.metadata["IPV4"] == [f"{VIP}/32"]
    assert vip.metadata["ActivePort"] == WEB_2
    members = {
        e.child: e.metadata["Active"]
        for e in topology.edges.values()
        if e.parent == vip.id and e.metadata["RelationType"] == "allowed-address-pair"
    }
    assert members == {
        node_id("lport", WEB_1): False,
        node_id("lport", WEB_2): True,
        node_id("lport", VIP_PORT): False,  # the sample cloud's "vip-port" lists it too
    }
    owners = [
        e.parent
        for e in topology.edges.values()
        if e.child == vip.id and e.metadata["RelationType"] == "ownership"
    ]
    assert owners == [node_id("lswitch", WEB_NET)]
    assert topology.nodes[node_id("lport", WEB_2)].metadata["ActiveAddresses"] == [VIP]

    # Failover: the activeport row now names web-1; the graph follows incrementally.
    active_id = f"{WEB_NET}{VIP}"
    row = aap_cloud()[("activeport", active_id)]
    failed_over = NbObject("activeport", active_id, {**row.data, "detected_lport": WEB_1})
    ops = topology.apply(Change("activeport", active_id, failed_over, 1))
    assert topology.nodes[vip.id].metadata["ActivePort"] == WEB_1
    assert topology.nodes[node_id("lport", WEB_1)].metadata["ActiveAddresses"] == [VIP]
    assert "ActiveAddresses" not in topology.nodes[node_id("lport", WEB_2)].metadata
    moved = {
        (op.action, op.element.metadata["RelationType"])
        for op in ops
        if not op.is_node and op.action in (Action.ADD, Action.DELETE)
    }
    assert moved == {(Action.ADD, "active-port"), (Action.DELETE, "active-port")}
    assert not [op for op in ops if op.is_node and op.action in (Action.ADD, Action.DELETE)]
    assert topology.extension_errors == []


class RackExtension:
    """The worked example of docs/extensions.md, verbatim in behaviour."""

    name = "rack"
    tables = frozenset({"chassis"})

    def contribute(self, obj: NbObject, ctx: ExtensionContext) -> None:
        rack = ctx.get("rack_assignment", obj.id)
        if rack is None:
            return
        ctx.add_metadata({"Rack": rack.data["rack"]})
        tor = ctx.add_node(
            rack.data["tor"],
            {"Name": rack.data["tor"], "Type": "switch", "Manager": "inventory"},
        )
        ctx.add_edge(tor, ctx.node, "ownership")


def test_documented_example_works_and_follows_its_own_table() -> None:
    rack = NbObject(
        "rack_assignment", "compute-1", {"id": "compute-1", "rack": "r12", "tor": "tor-r12"}
    )
    snapshot = {
        ("chassis", "compute-1"): NbObject(
            "chassis", "compute-1", {"id": "compute-1", "ip": "10.0.0.1"}
        ),
        ("rack_assignment", "compute-1"): rack,
    }
    nodes, edges = translate(snapshot, extensions=[RackExtension()])
    assert nodes[node_id("chassis", "compute-1")].metadata["Rack"] == "r12"
    assert nodes[node_id("rack_assignment", "compute-1")].metadata["Type"] == "rack_assignment"
    (tor,) = [n for n in nodes.values() if n.metadata["Type"] == "switch"]
    assert [e.child for e in edges.values() if e.parent == tor.id] == [
        node_id("chassis", "compute-1")
    ]
    # Editing the app's own table re-renders the chassis that read it.
    topology = Topology(extensions=[RackExtension()])
    topology.load(snapshot)
    moved = NbObject("rack_assignment", "compute-1", {**rack.data, "rack": "r13"})
    topology.apply(Change("rack_assignment", "compute-1", moved, 1))
    assert topology.nodes[node_id("chassis", "compute-1")].metadata["Rack"] == "r13"
    assert topology.extension_errors == []
