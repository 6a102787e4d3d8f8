"""The translation of a realistic cloud: specific relations, metadata, IDs, secrets, slices."""

from __future__ import annotations

import json
import random
import uuid

import orjson
import pytest

from dragonscope.graph.model import Edge, Graph, Node
from dragonscope.nb.model import Change, NbObject
from dragonscope.topology import (
    Action,
    Topology,
    held_form,
    node_id,
    packed_text,
    snapshot_from_graph,
    translate,
)
from dragonscope.topology.contribution import Drawn, RenderContext
from dragonscope.topology.ids import NAMESPACE, edge_id, router_port_id, tenant_id
from dragonscope.topology.packed import Split, pack_sharing
from topology_cloud import (
    ACME,
    APP_1,
    B_1,
    BGP_PEER,
    BGP_SPEAKER,
    CPS,
    DB_1,
    DB_NET,
    DELETED_SG,
    DHCP_DB,
    DHCP_WEB,
    FIP,
    FIP_PORT,
    GATEWAY_PORT,
    LOCAL_PUBLISHER,
    ORPHAN_PORT,
    PEER_PASSWORD,
    PUBLIC_NET,
    ROUTER,
    ROUTER_IF_DB,
    ROUTER_IF_WEB,
    SERVICE_COMPUTE_1,
    SG_APP,
    SG_DEFAULT_B,
    TRUNK_CHILD,
    WEB_1,
    WEB_2,
    WEB_NET,
    WEB_SUBNET,
    cloud,
)


@pytest.fixture(scope="module")
def graph() -> tuple[dict[str, Node], dict[str, Edge]]:
    return translate(cloud())


def edges_between(edges: dict[str, Edge], parent: str, child: str) -> list[dict]:
    return [e.metadata for e in edges.values() if e.parent == parent and e.child == child]


def relations(edges: dict[str, Edge], parent: str, child: str) -> set[str]:
    return {meta["RelationType"] for meta in edges_between(edges, parent, child)}


def lport(object_id: str) -> str:
    return node_id("lport", object_id)


def test_router_gateway_port_is_linked_from_its_router(graph) -> None:
    _nodes, edges = graph
    assert relations(edges, node_id("lrouter", ROUTER), lport(GATEWAY_PORT)) == {"gateway"}
    # ... and through it the external network.
    assert "layer2" in relations(edges, node_id("lswitch", PUBLIC_NET), lport(GATEWAY_PORT))


def test_router_ports_sit_between_router_and_networks(graph) -> None:
    nodes, edges = graph
    router_port = router_port_id(ROUTER, ROUTER_IF_WEB)
    meta = nodes[router_port].metadata
    assert meta["Type"] == "lrouter_port"
    assert meta["MAC"] == "fa:16:3e:5a:01:01"
    assert meta["IPV4"] == ["10.10.1.1/24"]
    assert meta["Dragonflow"]["lrouter"] == ROUTER
    assert meta["Neutron"]["VNI"] == 1001
    assert meta["Neutron"]["NetworkName"] == "web-net"
    assert relations(edges, node_id("lrouter", ROUTER), router_port) == {"ownership"}
    assert relations(edges, node_id("lswitch", WEB_NET), router_port) == {"layer2"}
    assert relations(edges, router_port, lport(ROUTER_IF_WEB)) == {"router-interface"}
    # A router port and its lport share a Dragonflow id but never a graph ID.
    assert router_port != lport(ROUTER_IF_WEB)
    assert router_port_id(ROUTER, ROUTER_IF_DB) in nodes


def test_floating_ip_edges(graph) -> None:
    nodes, edges = graph
    fip = node_id("floatingip", FIP)
    assert nodes[fip].metadata["IPV4"] == ["172.24.4.20/32"]
    roles = {
        meta["Role"]: child
        for child in (lport(WEB_1), lport(FIP_PORT), node_id("lrouter", ROUTER))
        for meta in edges_between(edges, fip, child)
        if meta["RelationType"] == "floatingip"
    }
    assert roles == {
        "fixed": lport(WEB_1),
        "port": lport(FIP_PORT),
        "router": node_id("lrouter", ROUTER),
    }
    assert nodes[lport(WEB_1)].metadata["FloatingIPs"] == ["172.24.4.20"]
    # The FIP port lives, at run time, where the fixed port lives.
    assert nodes[lport(FIP_PORT)].metadata["Chassis"] == "compute-1"


def test_trunk_child_edge_carries_the_segmentation(graph) -> None:
    nodes, edges = graph
    (meta,) = edges_between(edges, lport(APP_1), lport(TRUNK_CHILD))
    assert meta["RelationType"] == "trunk-child"
    assert meta["SegmentationType"] == "vlan"
    assert meta["SegmentationID"] == 101
    assert meta["Dragonflow"]["Table"] == "child_port_segmentation"
    assert meta["Dragonflow"]["ID"] == CPS
    # The unbound child is placed on its parent's chassis.
    assert nodes[lport(TRUNK_CHILD)].metadata["Chassis"] == "compute-1"
    assert "binding" not in {
        e.metadata["RelationType"] for e in edges.values() if e.parent == lport(TRUNK_CHILD)
    }


def test_security_group_remote_group_edges(graph) -> None:
    _nodes, edges = graph
    assert relations(edges, node_id("secgroup", SG_APP), node_id("secgroup", SG_APP)) == {
        "remote-group"
    }
    assert relations(
        edges, node_id("secgroup", SG_DEFAULT_B), node_id("secgroup", SG_DEFAULT_B)
    ) == {"remote-group"}
    assert relations(edges, lport(WEB_1), node_id("secgroup", SG_APP)) == {"secgroup"}


def test_dangling_reference_becomes_a_missing_placeholder(graph) -> None:
    nodes, edges = graph
    placeholder = node_id("secgroup", DELETED_SG)
    meta = nodes[placeholder].metadata
    assert meta["Type"] == "missing"
    assert meta["Missing"] == {"Table": "secgroup", "ID": DELETED_SG}
    assert meta["Name"] == f"missing secgroup {DELETED_SG[:8]}…"
    assert meta["State"] == "DOWN"
    assert relations(edges, lport(ORPHAN_PORT), placeholder) == {"secgroup"}
    assert "Dragonflow" not in meta


def test_port_metadata_follows_skydive_conventions(graph) -> None:
    nodes, _edges = graph
    meta = nodes[lport(WEB_1)].metadata
    assert meta["Type"] == "lport"
    assert meta["Name"] == "port 10.10.1.11"  # no name stored: its address
    assert meta["Dragonflow"]["ID"] == WEB_1
    assert meta["Manager"] == "dragonflow"
    assert meta["MAC"] == "fa:16:3e:11:00:01"
    assert meta["IPV4"] == ["10.10.1.11/24"]
    assert meta["Neutron"] == {
        "PortID": WEB_1,
        "NetworkID": WEB_NET,
        "NetworkName": "web-net",
        "TenantID": ACME,
        "IPV4": ["10.10.1.11/24"],
        "VNI": 1001,
    }
    assert meta["Tenant"] == ACME
    assert meta["Chassis"] == "compute-1"
    assert meta["DeviceOwner"] == "compute:nova"
    assert meta["State"] == "UP"
    assert nodes[lport(ORPHAN_PORT)].metadata["State"] == "DOWN"
    assert nodes[lport(ORPHAN_PORT)].metadata["Name"] == "b-3"


def test_every_element_passes_skydive_validation_and_has_no_dotted_key(graph) -> None:
    nodes, edges = graph

    def keys(value):
        if isinstance(value, dict):
            for key, inner in value.items():
                yield key
                yield from keys(inner)
        elif isinstance(value, list):
            for inner in value:
                yield from keys(inner)

    for node in nodes.values():
        assert isinstance(node.metadata["Name"], str) and node.metadata["Name"]
        assert isinstance(node.metadata["Type"], str) and node.metadata["Type"]
        assert (node.host, node.origin, node.revision, node.created_at) == ("", "", 0, None)
        Node.from_json(json.loads(json.dumps(node.to_json())))
    for edge in edges.values():
        assert isinstance(edge.metadata["RelationType"], str) and edge.metadata["RelationType"]
        assert "Manager" not in edge.metadata  # Skydive's UI would use it as the link class
        Edge.from_json(json.loads(json.dumps(edge.to_json())))
    top_level = {key for element in [*nodes.values(), *edges.values()] for key in element.metadata}
    assert not [key for key in top_level if "." in key]
    # Stored fields are kept as stored; only Skydive-facing keys must be dot-free.
    for element in [*nodes.values(), *edges.values()]:
        outside = {k: v for k, v in element.metadata.items() if k != "Dragonflow"}
        assert not [key for key in keys(outside) if "." in key]


def test_containment_is_a_tree(graph) -> None:
    nodes, edges = graph
    owners: dict[str, list[str]] = {}
    for edge in edges.values():
        if edge.metadata["RelationType"] == "ownership":
            owners.setdefault(edge.child, []).append(edge.parent)
    assert all(len(parents) == 1 for parents in owners.values())
    assert owners[lport(WEB_1)] == [node_id("lswitch", WEB_NET)]
    assert owners[node_id("lsubnet", WEB_SUBNET)] == [node_id("lswitch", WEB_NET)]
    assert owners[node_id("lswitch", WEB_NET)] == [tenant_id(ACME)]
    assert owners[node_id("lrouter", ROUTER)] == [tenant_id(ACME)]
    assert owners[node_id("service", SERVICE_COMPUTE_1)] == [node_id("chassis", "compute-1")]
    assert owners[node_id("publisher", LOCAL_PUBLISHER)] == [node_id("chassis", "compute-1")]
    assert nodes[tenant_id(ACME)].metadata == {
        "Name": f"tenant {ACME[:8]}…",
        "Type": "tenant",
        "Manager": "dragonflow",
        "Tenant": ACME,
    }


def test_every_table_and_relation_appears(graph) -> None:
    nodes, edges = graph
    types = {node.metadata["Type"] for node in nodes.values()}
    assert types >= {
        "chassis", "lswitch", "lsubnet", "lport", "lrouter", "lrouter_port", "floatingip",
        "secgroup", "qospolicy", "switch_port", "bgp_speaker", "bgp_peer", "sfc_portchain",
        "sfc_portpairgroup", "sfc_portpair", "sfc_flowclassifier", "activeport", "migration",
        "service", "publisher", "listener", "tenant", "missing",
    }  # fmt: skip
    assert relations(edges, node_id("bgp_speaker", BGP_SPEAKER), node_id("bgp_peer", BGP_PEER))
    assert relations(edges, lport(WEB_1), node_id("chassis", "compute-1")) == {"binding"}
    assert relations(edges, lport(WEB_1), node_id("lsubnet", WEB_SUBNET)) == {"subnet"}
    assert relations(edges, node_id("lswitch", WEB_NET), lport(WEB_1)) == {"ownership", "layer2"}


def test_ids_are_deterministic_and_collision_free() -> None:
    first_nodes, first_edges = translate(cloud())
    second_nodes, second_edges = translate(dict(reversed(list(cloud().items()))))
    assert first_nodes.keys() == second_nodes.keys()
    assert first_edges.keys() == second_edges.keys()
    assert node_id("lport", ROUTER_IF_WEB) != router_port_id(ROUTER, ROUTER_IF_WEB)
    assert node_id("chassis", "x") != node_id("lport", "x")
    snapshot = cloud()
    assert len({node_id(*key) for key in snapshot}) == len(snapshot)


def test_no_secret_reaches_the_serialized_graph() -> None:
    snapshot = cloud()
    assert snapshot[("bgp_peer", BGP_PEER)].data["password"] == PEER_PASSWORD
    for chassis in (None, "compute-1"):
        topology = Topology(extensions=None, chassis=chassis)
        ops = topology.load(snapshot)
        wire = json.dumps([op.element.to_json() for op in ops])
        assert PEER_PASSWORD not in wire
        assert "password" not in wire
    nodes, edges = translate(snapshot)
    assert "auth_type" in nodes[node_id("bgp_peer", BGP_PEER)].metadata["Dragonflow"]
    graph = Graph()
    for node in nodes.values():
        graph.add_node(node)
    for edge in edges.values():
        graph.add_edge(edge)
    assert PEER_PASSWORD not in json.dumps(graph.to_json())


def test_snapshot_round_trips_through_the_graph_except_secrets() -> None:
    snapshot = cloud()
    nodes, edges = translate(snapshot)
    rebuilt = snapshot_from_graph(nodes, edges)
    assert rebuilt.keys() == snapshot.keys()
    for key, obj in snapshot.items():
        expected = {k: v for k, v in obj.data.items() if (key[0], k) != ("bgp_peer", "password")}
        assert rebuilt[key].data == expected, key
    # Without edges, relation rows (trunk segmentation) are the only thing missing.
    without_edges = snapshot_from_graph(list(nodes.values()))
    assert snapshot.keys() - without_edges.keys() == {
        key for key in snapshot if key[0] == "child_port_segmentation"
    }


def test_a_kept_node_shares_the_text_of_its_objects_fields() -> None:
    """A long-lived topology keeps each node's ``Dragonflow`` fields once: the node's text
    reuses the NB object's own compact text, and reads as the one-off translation does,
    before and after a change. A node whose fields lost a secret keeps a text of its own.
    An edge with metadata of its own keeps them packed."""
    snapshot = cloud()
    topology = Topology(extensions=[])
    topology.load(snapshot)

    def check(expected: dict[str, Node]) -> int:
        shared = 0
        for key, obj in topology.snapshot.items():
            node = topology.nodes.get(node_id(*key))
            if node is None:
                continue
            assert node.metadata == expected[node.id].metadata, key
            kept = held_form(node)
            assert orjson.loads(packed_text(kept)) == node.metadata
            if isinstance(kept, Split):
                shared += 1
                assert packed_text(kept.fields) == orjson.dumps(obj.data).decode()
        return shared

    expected_nodes, expected_edges = translate(snapshot)
    assert check(expected_nodes) >= len(snapshot) // 2
    # Edges with metadata of their own are kept packed too; the others share one dict.
    own = [edge for edge in topology.edges.values() if isinstance(held_form(edge), str | bytes)]
    assert any("IPs" in edge.metadata for edge in own)
    for edge in topology.edges.values():
        assert edge.metadata == expected_edges[edge.id].metadata
    peer = held_form(topology.nodes[node_id("bgp_peer", BGP_PEER)])
    assert not isinstance(peer, Split) and PEER_PASSWORD not in packed_text(peer)
    port = snapshot[("lport", WEB_1)]
    changed = type(port)("lport", WEB_1, {**port.data, "name": "web-1-renamed"})
    topology.apply(Change("lport", WEB_1, changed, 1))
    kept = held_form(topology.nodes[lport(WEB_1)])
    assert isinstance(kept, Split) and '"web-1-renamed"' in packed_text(kept.fields)
    check(translate({**snapshot, changed.key: changed})[0])


def test_a_node_shares_its_fields_text_only_when_it_shows_them_as_they_are() -> None:
    fields = orjson.dumps({"name": "web", "unique_key": 7}).decode()
    shown = {"Table": "lport", "ID": "p1", "name": "web", "unique_key": 7}
    split = pack_sharing({"Name": "web", "Dragonflow": shown, "State": "UP"}, fields)
    assert isinstance(split, Split) and split.fields is fields
    assert orjson.loads(packed_text(split)) == {"Name": "web", "Dragonflow": shown, "State": "UP"}
    assert (
        packed_text(pack_sharing({"Dragonflow": shown}, fields))
        == orjson.dumps({"Dragonflow": shown}).decode()
    )
    # Fields changed, redacted or reordered by the rules, or a value orjson refuses: whole.
    for changed in (
        {**shown, "name": "other"},
        {k: v for k, v in shown.items() if k != "unique_key"},
        {"ID": "p1", "Table": "lport", "name": "web", "unique_key": 7},
    ):
        assert isinstance(pack_sharing({"Name": "web", "Dragonflow": changed}, fields), str)
    huge = {"Name": "web", "Dragonflow": shown, "VNI": 1 << 70}
    assert pack_sharing(huge, fields) == huge
    assert isinstance(pack_sharing({"Name": "web", "Dragonflow": shown}, "{}"), str)


def test_an_edge_with_odd_metadata_of_its_own_is_kept_packed() -> None:
    """Metadata an extension may give an edge (a ``Role`` that is not a string) are its own."""
    obj = NbObject("lport", "p1", {})
    ctx = RenderContext(obj, lambda t, i: None, lambda i, v: frozenset(), None, frozenset())
    ctx.edge("a", "custom", "b", {"Role": ["not", "a", "string"]})
    (edge,) = Drawn(ctx.contribution).edges
    assert isinstance(held_form(edge), str)
    assert edge.metadata == {"RelationType": "custom", "Role": ["not", "a", "string"]}


def test_chassis_slice_contents() -> None:
    nodes, edges = translate(cloud(), chassis="compute-1")
    objects = {
        (n.metadata["Dragonflow"]["Table"], n.metadata["Dragonflow"]["ID"])
        for n in nodes.values()
        if "Dragonflow" in n.metadata
    }
    for expected in [
        ("chassis", "compute-1"),
        ("lport", WEB_1),  # bound here
        ("lport", APP_1),  # bound here, trunk parent
        ("lport", TRUNK_CHILD),  # placed with its parent
        ("lport", FIP_PORT),  # DNAT happens at the fixed port's chassis
        ("floatingip", FIP),
        ("lswitch", WEB_NET),
        ("lswitch", DB_NET),  # the trunk child's network
        ("lsubnet", WEB_SUBNET),
        ("lrouter", ROUTER),  # between web-net and db-net
        ("lrouter_port", ROUTER_IF_WEB),
        ("lrouter_port", ROUTER_IF_DB),
        ("lport", GATEWAY_PORT),  # the router's
        ("lswitch", PUBLIC_NET),
        ("secgroup", SG_APP),
        ("service", SERVICE_COMPUTE_1),
        ("publisher", LOCAL_PUBLISHER),
        ("switch_port", "5f0c8a2e-3b1d-4e7a-9c6f-2d8b4a1e7c35"),
        ("migration", WEB_1),
        ("chassis", "compute-2"),  # web-1 is migrating there
    ]:
        assert expected in objects, expected
    for absent in [
        ("chassis", "compute-3"),
        ("lport", WEB_2),  # compute-2
        ("lport", DB_1),  # compute-3
        ("lport", DHCP_WEB),  # unbound, not local
        ("lport", DHCP_DB),
        ("lport", B_1),
        ("secgroup", SG_DEFAULT_B),
        ("bgp_speaker", BGP_SPEAKER),
    ]:
        assert absent not in objects, absent
    assert relations(edges, lport(APP_1), lport(TRUNK_CHILD)) == {"trunk-child"}
    assert relations(edges, node_id("lrouter", ROUTER), lport(GATEWAY_PORT)) == {"gateway"}
    for edge in edges.values():
        assert edge.parent in nodes and edge.child in nodes


def test_deleting_the_router_drops_the_gateway_edge_and_recreating_it_restores_it() -> None:
    snapshot = cloud()
    topology = Topology(extensions=[])
    topology.load(snapshot)
    router = snapshot[("lrouter", ROUTER)]
    gateway = node_id("lrouter", ROUTER), lport(GATEWAY_PORT)
    ops = topology.apply(Change("lrouter", ROUTER, None, 1))
    assert not any((e.parent, e.child) == gateway for e in topology.edges.values())
    deleted_edges = [op.element for op in ops if (op.action, op.is_node) == (Action.DELETE, False)]
    assert any(e.metadata["RelationType"] == "gateway" for e in deleted_edges)
    # The floating IP still names the router: a placeholder shows the broken reference.
    assert topology.nodes[node_id("lrouter", ROUTER)].metadata["Type"] == "missing"
    ops = topology.apply(Change("lrouter", ROUTER, router, 2))
    assert relations(dict(topology.edges), *gateway) == {"gateway"}
    assert [(op.action, op.is_node) for op in ops].count((Action.UPDATE, True)) >= 1


def test_gateway_port_created_after_its_router_gets_the_edge() -> None:
    snapshot = cloud()
    port = snapshot.pop(("lport", GATEWAY_PORT))
    topology = Topology(extensions=[])
    topology.load(snapshot)
    ops = topology.apply(Change("lport", GATEWAY_PORT, port, 1))
    added = {
        op.element.metadata["RelationType"]
        for op in ops
        if (op.action, op.is_node) == (Action.ADD, False)
    }
    assert "gateway" in added
    types = [(op.action, op.is_node) for op in ops]
    assert types.index((Action.ADD, True)) < types.index((Action.ADD, False))


def test_network_change_updates_dependent_port_metadata() -> None:
    snapshot = cloud()
    topology = Topology(extensions=[])
    topology.load(snapshot)
    network = snapshot[("lswitch", WEB_NET)]
    changed = type(network)("lswitch", WEB_NET, {**network.data, "segmentation_id": 2001})
    ops = topology.apply(Change("lswitch", WEB_NET, changed, 1))
    updated = {op.element.id for op in ops if (op.action, op.is_node) == (Action.UPDATE, True)}
    assert lport(WEB_1) in updated and lport(WEB_2) in updated
    assert lport(DB_1) not in updated
    assert topology.nodes[lport(WEB_1)].metadata["Neutron"]["VNI"] == 2001
    assert all((op.action, op.is_node) == (Action.UPDATE, True) for op in ops)


def test_port_migrating_away_leaves_the_slice_with_what_only_it_needed() -> None:
    snapshot = cloud()
    topology = Topology(extensions=[], chassis="compute-3")
    topology.load(snapshot)
    assert lport(DB_1) in topology.nodes
    assert node_id("lswitch", DB_NET) in topology.nodes
    db_1 = snapshot[("lport", DB_1)]
    moved = type(db_1)(
        "lport", DB_1, {**db_1.data, "binding": {"type": "chassis", "chassis": "compute-2"}}
    )
    ops = topology.apply(Change("lport", DB_1, moved, 1))
    deleted = {op.element.id for op in ops if (op.action, op.is_node) == (Action.DELETE, True)}
    assert lport(DB_1) in deleted
    assert node_id("lswitch", DB_NET) in deleted  # no other compute-3 port on db-net
    assert node_id("lrouter", ROUTER) in deleted
    assert lport("6279f97b-1a5b-4a20-ab7b-6764f6c12816") in topology.nodes  # b-2 stays
    expected_nodes, expected_edges = translate(
        {**snapshot, ("lport", DB_1): moved}, chassis="compute-3"
    )
    assert {k: n.metadata for k, n in topology.nodes.items()} == {
        k: n.metadata for k, n in expected_nodes.items()
    }
    assert topology.edges.keys() == expected_edges.keys()


def test_documented_queries_answer_on_the_sample_cloud() -> None:
    """The queries docs/graph-model.md suggests, run by the Gremlin engine on the graph."""
    from dragonscope import gremlin

    nodes, edges = translate(cloud())
    graph = Graph()
    for node in nodes.values():
        graph.add_node(node)
    for edge in edges.values():
        graph.add_edge(edge)
    expectations = {
        "G.V().Has('Type', 'lport', 'Chassis', 'compute-1').Count()": 4,
        f"G.V().Has('Neutron.PortID', '{WEB_1}').Count()": 1,
        "G.V().Has('Type', 'missing').Count()": 6,
        "G.V().Has('Type', 'lrouter').OutE('RelationType', 'gateway').OutV().Count()": 1,
        "G.V().Has('Type', 'lport', 'State', 'DOWN').Count()": 1,
        "G.E().Has('RelationType', 'trunk-child').Count()": 2,
        f"G.V().Has('Type', 'tenant', 'Tenant', '{ACME}').Out().Count()": 12,
        f"G.V().Has('Type', 'tenant', 'Name', 'tenant {ACME[:8]}…').Count()": 1,
        "G.V().Has('Type', 'lswitch', 'Name', 'web-net').Descendants().Count()": 9,
        "G.V().Has('Type', 'vip', 'Name', '10.10.1.100').Values('ActivePort')": [WEB_2],
    }
    for query, expected in expectations.items():
        assert gremlin.run(query, graph) == expected, query


def test_every_schema_reference_has_a_deliberate_rule() -> None:
    """A reference the schema gains is drawn generically at run time; this test asks for a
    deliberate relation name (docs/graph-model.md) instead."""
    from dragonscope.nb.schema import TABLES
    from dragonscope.topology.rules import unhandled_references

    assert {table: unhandled_references(table) for table in TABLES} == dict.fromkeys(TABLES, ())


def test_a_reference_without_a_rule_still_gets_an_edge(monkeypatch) -> None:
    from dragonscope.nb.model import NbObject
    from dragonscope.topology import rules

    policy = "abfb6e69-60a4-453b-93cc-aa2303221f71"
    snapshot = cloud()
    network = snapshot[("lswitch", WEB_NET)]
    snapshot[network.key] = NbObject("lswitch", WEB_NET, {**network.data, "qos_policy": policy})
    # As if the schema had gained a reference no rule knows about.
    monkeypatch.setitem(rules.RULES, "lswitch", rules.Rule(rules.draw_generic))
    rules.unhandled_references.cache_clear()
    try:
        _nodes, edges = translate(snapshot, extensions=[])
    finally:
        rules.unhandled_references.cache_clear()
    assert relations(edges, node_id("lswitch", WEB_NET), node_id("qospolicy", policy)) == {
        "qos_policy"
    }


def test_graph_ids_are_the_uuid5_of_their_name() -> None:
    """Every published ID depends on it: the fast derivation must stay uuid5 exactly."""
    rng = random.Random(5)
    for i in range(3000):
        a, b = str(uuid.UUID(int=rng.getrandbits(128))), f"p{rng.random()}-é{i}"
        assert node_id("lport", b) == str(uuid.uuid5(NAMESPACE, f"lport/{b}"))
        assert edge_id(a, "ownership", b) == str(uuid.uuid5(NAMESPACE, f"{a}|ownership|{b}"))
