"""Property: incremental diffs always land exactly on the graph of the final NB state.

Random NB states over a small id space (so references collide, dangle, form
trunks, gateways, floating IPs...) and random orders of the changes between
them; every batch of ops is applied to a ``Graph`` that enforces edge ends, and
is checked for the order rules (no edge before its nodes, edges deleted before
their nodes).
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dragonscope.demo import generate
from dragonscope.graph.model import Edge, Graph
from dragonscope.nb.model import Change, NbObject
from dragonscope.nb.schema import parse
from dragonscope.ovs import NB_FIELDS, nbview
from dragonscope.topology import SNAPSHOT_ORDER, Action, GraphOp, Topology, translate
from dragonscope.topology.ext_active_port import ActivePortExtension

IDS = {
    "chassis": ["c1", "c2"],
    "lswitch": ["n1", "n2"],
    "lsubnet": ["s1", "s2"],
    "lport": ["p1", "p2", "p3", "p4"],
    "lrouter": ["r1", "r2"],
    "floatingip": ["f1", "f2"],
    "secgroup": ["g1", "g2"],
    "qospolicy": ["q1"],
    "child_port_segmentation": ["t1", "t2"],
    "activeport": ["n110.0.0.9"],
    "migration": ["p1", "m2"],
    "service": ["v1"],
    "publisher": ["u1"],
    "listener": ["c1", "h9"],
    "sfc_portpair": ["pp1"],
    "sfc_portpairgroup": ["pg1"],
    "sfc_flowclassifier": ["fc1"],
    "sfc_portchain": ["pc1"],
    "bgp_peer": ["b1"],
    "bgp_speaker": ["bs1"],
    "switch_port": ["sw1"],
    "app_table": ["x1"],
}


def ref(table: str) -> st.SearchStrategy[str]:
    return st.sampled_from([*IDS[table], "zz-" + table])


def refs(table: str) -> st.SearchStrategy[list[str]]:
    return st.lists(ref(table), max_size=2)


TOPIC = st.sampled_from(["ta", "tb", ""])
SECRET = "s3cr3t-pw"
"""Held by declared secret fields and by undeclared credential-looking ones."""
IP = st.sampled_from(["10.0.0.9", "10.0.1.7", "fd00::3", "nonsense"])


def fields(**spec: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """A dict whose keys may each be absent (as Dragonflow omits unset fields)."""
    return st.fixed_dictionaries({}, optional=spec)


DATA: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    "chassis": fields(ip=st.sampled_from(["10.1.0.1", "10.1.0.2"])),
    "lswitch": fields(
        topic=TOPIC,
        name=st.sampled_from(["", "web"]),
        segmentation_id=st.sampled_from([1001, 1002]),
        qos_policy=ref("qospolicy"),
        unique_key=st.sampled_from([1, 2]),
        network_type=st.sampled_from(["vxlan", "vlan"]),
    ),
    "lsubnet": fields(
        topic=TOPIC,
        lswitch=ref("lswitch"),
        cidr=st.sampled_from(["10.0.0.0/24", "10.0.1.0/16", "fd00::/64", "bad"]),
    ),
    "lport": fields(
        topic=TOPIC,
        lswitch=ref("lswitch"),
        subnets=refs("lsubnet"),
        ips=st.lists(IP, max_size=2),
        macs=st.just(["fa:16:3e:00:00:01"]),
        enabled=st.booleans(),
        unique_key=st.sampled_from([3, 4]),
        binding=st.fixed_dictionaries({"type": st.just("chassis"), "chassis": ref("chassis")}),
        device_owner=st.sampled_from(
            ["compute:nova", "network:router_gateway", "network:floatingip", ""]
        ),
        device_id=st.sampled_from(["r1", "r2", "f1", ""]),
        security_groups=refs("secgroup"),
        qos_policy=ref("qospolicy"),
        allowed_address_pairs=st.lists(
            st.fixed_dictionaries({"ip_address": IP, "mac_address": st.just("fa:16:3e:00:00:09")}),
            max_size=1,
        ),
    ),
    "lrouter": fields(
        topic=TOPIC,
        ports=st.lists(
            st.fixed_dictionaries(
                {"id": ref("lport"), "lswitch": ref("lswitch")},
                optional={
                    "network": st.sampled_from(["10.0.0.1/24", "fd00::1/64"]),
                    "auth_token": st.just(SECRET),
                },
            ),
            max_size=2,
        ),
    ),
    "floatingip": fields(
        topic=TOPIC,
        lport=ref("lport"),
        floating_lport=ref("lport"),
        lrouter=ref("lrouter"),
        floating_ip_address=IP,
    ),
    "secgroup": fields(
        topic=TOPIC,
        rules=st.lists(fields(remote_group_id=ref("secgroup")), max_size=2),
    ),
    "qospolicy": fields(topic=TOPIC),
    "child_port_segmentation": fields(
        topic=TOPIC,
        vendor_secret=st.just(SECRET),
        parent=ref("lport"),
        port=ref("lport"),
        segmentation_type=st.just("vlan"),
        segmentation_id=st.sampled_from([101, 102]),
    ),
    "activeport": fields(topic=TOPIC, network=ref("lswitch"), detected_lport=ref("lport"), ip=IP),
    "migration": fields(dest_chassis=ref("chassis"), lport=ref("lport")),
    "service": fields(chassis=ref("chassis")),
    "publisher": fields(uri=st.sampled_from(["tcp://10.1.0.1:8866", "tcp://10.1.0.2:1", "x"])),
    "listener": fields(),
    "sfc_portpair": fields(topic=TOPIC, ingress_port=ref("lport"), egress_port=ref("lport")),
    "sfc_portpairgroup": fields(topic=TOPIC, port_pairs=refs("sfc_portpair")),
    "sfc_flowclassifier": fields(topic=TOPIC, source_port=ref("lport"), dest_port=ref("lport")),
    "sfc_portchain": fields(
        topic=TOPIC,
        port_pair_groups=refs("sfc_portpairgroup"),
        flow_classifiers=refs("sfc_flowclassifier"),
    ),
    "bgp_peer": fields(topic=TOPIC, password=st.just(SECRET), peer_ip=IP),
    "bgp_speaker": fields(topic=TOPIC, peers=refs("bgp_peer")),
    "switch_port": fields(lport=ref("lport"), admin_state=st.sampled_from(["up", "down"])),
    "app_table": fields(topic=TOPIC),
}

KEYS = [(table, object_id) for table, ids in IDS.items() for object_id in ids]


@st.composite
def nb_states(draw: st.DrawFn) -> dict[tuple[str, str], NbObject]:
    present = draw(st.lists(st.sampled_from(KEYS), unique=True, min_size=12, max_size=len(KEYS)))
    state = {}
    for table, object_id in present:
        data = {"id": object_id, **draw(DATA[table])}
        state[(table, object_id)] = NbObject(table, object_id, data)
    return state


@st.composite
def journeys(draw: st.DrawFn) -> tuple[dict, dict, list[Change]]:
    """S1, S2 and a random sequence of changes from S1 to S2 (with detours)."""
    s1, s2 = draw(nb_states()), draw(nb_states())
    keys = sorted(s1.keys() | s2.keys())
    steps: list[tuple[tuple[str, str], NbObject | None]] = []
    detours = draw(st.lists(st.sampled_from(keys), max_size=4)) if keys else []
    for key in detours:
        detour = draw(nb_states()).get(key)
        steps.append((key, detour))
    steps += [(key, s2.get(key)) for key in keys if s1.get(key) != s2.get(key) or key in detours]
    order = draw(st.permutations(range(len(steps))))
    # Detours come first in random positions; each key's final value is applied last.
    last: dict[tuple[str, str], int] = {}
    ordered = [steps[i] for i in order]
    for position, (key, _obj) in enumerate(ordered):
        last[key] = position
    changes = [
        Change(key[0], key[1], obj, revision)
        for revision, (key, obj) in enumerate(ordered)
        if last[key] != revision
    ]
    changes += [Change(key[0], key[1], s2.get(key), len(ordered) + i) for i, key in enumerate(last)]
    return s1, s2, changes


def apply_ops(graph: Graph, ops: list[GraphOp]) -> None:
    """Apply ops the way an analyzer would, refusing any order that breaks the rules."""
    for op in ops:
        element = op.element
        if op.is_node and op.action is Action.ADD:
            graph.add_node(element)
        elif op.is_node and op.action is Action.UPDATE:
            graph.replace_node(element)
        elif op.is_node and op.action is Action.DELETE:
            attached = [*graph.out_edges(element.id), *graph.in_edges(element.id)]
            assert not attached, f"node {element.id} deleted before its edges"
            graph.delete_node(element.id)
        elif isinstance(element, Edge) and op.action is Action.ADD:
            graph.add_edge(element)
        elif isinstance(element, Edge) and op.action is Action.UPDATE:
            graph.replace_edge(element)
        elif isinstance(element, Edge) and op.action is Action.DELETE:
            graph.delete_edge(element.id)
        else:
            pytest.fail(f"unexpected op {op}")


def assert_valid(graph: Graph) -> None:
    for node in graph.nodes():
        assert isinstance(node.metadata.get("Name"), str) and node.metadata["Name"]
        assert isinstance(node.metadata.get("Type"), str) and node.metadata["Type"]
    owned: set[str] = set()
    for edge in graph.edges():
        assert isinstance(edge.metadata.get("RelationType"), str)
        assert edge.metadata["RelationType"]
        if edge.metadata["RelationType"] == "ownership":
            assert edge.child not in owned, "a node has two ownership parents"
            owned.add(edge.child)


def shape(nodes: dict, edges: dict) -> tuple[dict, dict]:
    return (
        {nid: n.metadata for nid, n in nodes.items()},
        {eid: (e.parent, e.child, e.metadata) for eid, e in edges.items()},
    )


def graph_shape(graph: Graph) -> tuple[dict, dict]:
    return shape({n.id: n for n in graph.nodes()}, {e.id: e for e in graph.edges()})


def run_journey(s1: dict, s2: dict, changes: list[Change], chassis: str | None) -> None:
    def extensions() -> list:
        return [ActivePortExtension()]

    topology = Topology(extensions=extensions(), chassis=chassis)
    graph = Graph()
    apply_ops(graph, topology.load(s1))
    assert graph_shape(graph) == shape(*translate(s1, chassis, extensions()))
    for change in changes:
        apply_ops(graph, topology.apply(change))
        assert_valid(graph)
        assert graph_shape(graph) == shape(dict(topology.nodes), dict(topology.edges))
    assert graph_shape(graph) == shape(*translate(s2, chassis, extensions()))
    assert topology.extension_errors == []
    assert SECRET not in json.dumps(graph.to_json())


SETTINGS = settings(
    max_examples=int(os.environ.get("TOPOLOGY_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@SETTINGS
@given(journeys())
def test_incremental_global_graph_equals_translation(journey: tuple) -> None:
    run_journey(*journey, chassis=None)


@SETTINGS
@given(journeys(), st.sampled_from(["c1", "c2"]))
def test_incremental_chassis_slice_equals_translation(journey: tuple, chassis: str) -> None:
    run_journey(*journey, chassis=chassis)


def settle_compact(topology: Topology, state: dict, ops: list) -> list:
    """Read again, from ``state`` (the NB now), what the compact slice wants whole."""
    while topology.wanted:
        wanted = sorted(topology.wanted)
        ops += topology.apply_all(Change(t, i, state.get((t, i)), 0) for t, i in wanted)
    return ops


@settings(SETTINGS, max_examples=max(1, SETTINGS.max_examples // 3))
@given(
    journeys(), st.sampled_from(["c1", "c2"]), st.integers(1, 7), st.booleans(), st.integers(1, 3)
)
def test_compact_chassis_slice_equals_translation(
    journey: tuple, chassis: str, batch: int, glance: bool, slices: int
) -> None:
    """A compact slice, loaded in batches and keeping skeletons of what it does not draw
    (made from the stored fields alone when ``glance``, as a collector reads a snapshot:
    a page is glanced at once, then loaded in ``slices``), publishes exactly the slice a
    full topology does."""
    s1, s2, changes = journey
    topology = Topology(extensions=[ActivePortExtension()], chassis=chassis, compact=True)
    graph = Graph()
    objects = list(s1.values())
    topology.begin_load()
    ops: list = []
    for start in range(0, len(objects), batch):
        page = objects[start : start + batch]
        if glance:
            page = [topology.skeleton(o.table, o.id, lambda o=o: o.data) or o for o in page]
        step = -(-len(page) // slices)
        for first in range(0, len(page), step):
            ops += topology.load_batch(page[first : first + step])
    ops += topology.end_load()
    apply_ops(graph, settle_compact(topology, s1, ops))
    assert graph_shape(graph) == shape(*translate(s1, chassis, [ActivePortExtension()]))
    state = dict(s1)
    for change in changes:
        if change.obj is None:
            state.pop(change.key, None)
        else:
            state[change.key] = change.obj
        apply_ops(graph, settle_compact(topology, state, topology.apply(change)))
        assert_valid(graph)
        assert graph_shape(graph) == shape(dict(topology.nodes), dict(topology.edges))
    assert graph_shape(graph) == shape(*translate(s2, chassis, [ActivePortExtension()]))
    drawn = {node.metadata.get("Dragonflow", {}).get("ID") for node in topology.nodes.values()}
    for (table, object_id), obj in topology.snapshot.items():
        if table in NEVER_READ and object_id not in drawn:
            # Neither drawn nor read by a drawn object: held as a skeleton only.
            assert type(obj).__name__ == "Skeleton", (table, object_id)


@pytest.mark.parametrize("chassis", [None, "compute-1"])
def test_a_snapshot_read_in_its_order_draws_each_element_once(chassis: str | None) -> None:
    """Read in ``SNAPSHOT_ORDER`` and published while read, every element goes out once, as
    it finally is: no port is drawn before the floating IPs, trunk segmentation and active
    ports its drawing consults (read in the schema's order, 974 elements of this NB were
    sent again, updated)."""
    dump = generate("medium", seed=2)
    objects = [
        parse(table, obj["id"], json.dumps(obj))
        for table in SNAPSHOT_ORDER
        for obj in dump.get(table, [])
    ]
    topology = Topology(extensions=[ActivePortExtension()], chassis=chassis)
    topology.begin_load()
    ops: list[GraphOp] = []
    for start in range(0, len(objects), 100):
        ops += topology.load_batch(objects[start : start + 100])
    ops += topology.end_load()
    assert {op.action for op in ops} == {Action.ADD}
    assert len(ops) == len(topology.nodes) + len(topology.edges) > 3000


@settings(SETTINGS, max_examples=max(1, SETTINGS.max_examples // 3))
@given(journeys(), st.sampled_from(["c1", "c2"]))
def test_compact_slice_keeps_what_the_ovs_probe_reads(journey: tuple, chassis: str) -> None:
    """The OVS probe of a chassis collector reads every port, network and chassis, local
    or not: a compact slice told to keep them gives it the view the whole NB gives."""
    s1, _s2, changes = journey
    topology = Topology(chassis=chassis, compact=True)
    topology.keep_fields(NB_FIELDS)
    settle_compact(topology, s1, topology.load(s1))
    assert nbview.build(topology.snapshot) == nbview.build(s1)
    state = dict(s1)
    for change in changes:
        if change.obj is None:
            state.pop(change.key, None)
        else:
            state[change.key] = change.obj
        settle_compact(topology, state, topology.apply(change))
        assert nbview.build(topology.snapshot) == nbview.build(state)
    # The far ends of the tunnel mesh are drawn from whole chassis.
    assert all(topology.snapshot[key] == obj for key, obj in state.items() if key[0] == "chassis")


NEVER_READ = {"secgroup", "qospolicy", "bgp_peer", "bgp_speaker", "sfc_portchain"}
"""Tables no rule reads (they are only pointed at)."""


@settings(max_examples=60, deadline=None)
@given(nb_states(), nb_states())
def test_reload_yields_the_difference(s1: dict, s2: dict) -> None:
    """``load`` on a loaded topology (a resync) moves the graph to the new state's."""
    topology = Topology(extensions=[])
    graph = Graph()
    apply_ops(graph, topology.load(s1))
    apply_ops(graph, topology.load(s2))
    assert graph_shape(graph) == shape(*translate(s2, extensions=[]))


@settings(max_examples=60, deadline=None)
@given(nb_states(), st.sampled_from(["c1", "c2"]))
def test_slice_is_a_subgraph_of_the_global_graph(state: dict, chassis: str) -> None:
    extensions = [ActivePortExtension()]
    nodes, edges = translate(state, extensions=extensions)
    slice_nodes, slice_edges = translate(state, chassis, extensions)
    for nid, node in slice_nodes.items():
        assert nodes[nid].metadata == node.metadata
    for eid, edge in slice_edges.items():
        assert (edges[eid].parent, edges[eid].child, edges[eid].metadata) == (
            edge.parent,
            edge.child,
            edge.metadata,
        )


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-5, 5)
    | st.floats(allow_nan=False)
    | st.text(max_size=4)
    | st.sampled_from(["p1", "n1", "c1", "10.0.0.9", "fa:16:3e:00:00:01"]),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
FIELD_NAMES = sorted(
    {
        "topic", "name", "lswitch", "subnets", "ips", "macs", "enabled", "binding",
        "device_owner", "device_id", "security_groups", "qos_policy", "allowed_address_pairs",
        "ports", "lport", "floating_lport", "lrouter", "floating_ip_address", "rules", "parent",
        "port", "segmentation_id", "segmentation_type", "network", "detected_lport", "ip",
        "dest_chassis", "chassis", "uri", "ingress_port", "egress_port", "port_pairs",
        "source_port", "dest_port", "port_pair_groups", "flow_classifiers", "peers", "peer_ip",
        "cidr", "detected_mac", "admin_state", "attached_mac",
    }
)  # fmt: skip


@st.composite
def odd_objects(draw: st.DrawFn) -> NbObject:
    table = draw(st.sampled_from(sorted(IDS)))
    object_id = draw(st.sampled_from(IDS[table]))
    data = draw(st.dictionaries(st.sampled_from(FIELD_NAMES), JSON, max_size=6))
    return NbObject(table, object_id, data)


@settings(max_examples=300, deadline=None)
@given(st.lists(odd_objects(), max_size=12))
def test_ill_typed_values_never_break_the_translation(objects: list[NbObject]) -> None:
    """Whatever the stored JSON holds, every rule copes: nothing falls back, the graph is valid."""
    topology = Topology(extensions=[ActivePortExtension()])
    fallbacks = []
    handler = logging.Handler()
    handler.emit = fallbacks.append  # type: ignore[method-assign]
    engine_log = logging.getLogger("dragonscope.topology.engine")
    engine_log.addHandler(handler)
    try:
        graph = Graph()
        apply_ops(graph, topology.load({o.key: o for o in objects}))
        for obj in objects:
            apply_ops(graph, topology.apply(Change(obj.table, obj.id, None, 1)))
    finally:
        engine_log.removeHandler(handler)
    assert fallbacks == []
    assert topology.extension_errors == []
    assert graph.node_count() == 0


def test_a_skeleton_glanced_before_a_render_needs_it_is_read_again() -> None:
    """A page is glanced at before it is loaded in slices: a network judged a skeleton,
    then needed whole by a port drawn in an earlier slice, is asked for again (``wanted``)."""
    binding = {"type": "chassis", "chassis": "c1"}
    port = NbObject("lport", "p1", {"id": "p1", "topic": "t", "lswitch": "n1", "binding": binding})
    network = NbObject("lswitch", "n1", {"id": "n1", "topic": "t", "name": "net"})
    whole = {o.key: o for o in (port, network)}
    topology = Topology(extensions=[], chassis="c1", compact=True)
    topology.begin_load()
    glanced = topology.skeleton("lswitch", "n1", lambda: network.data)
    assert glanced is not None
    topology.load_batch([port])  # read whole (a change, or a page read again)
    topology.load_batch([glanced])
    assert ("lswitch", "n1") in topology.wanted
    while topology.wanted:
        topology.apply_all([Change(t, i, whole[(t, i)], 1) for t, i in topology.wanted])
    topology.end_load()
    assert shape(dict(topology.nodes), dict(topology.edges)) == shape(*translate(whole, "c1", []))
