"""Desired vs held: minimal messages, valid order, coalescing, growing revisions."""

from __future__ import annotations

from dragonscope.collector.revisions import RevisionClock
from dragonscope.collector.state import Dirty, Held, HeldState, Learned, Planner, same
from dragonscope.graph.model import Edge, Node
from dragonscope.skydive.publisher import Backoff
from dragonscope.topology import PackedNode, pack

ORIGIN = "dragonscope-collector.dragonflow"


def node(node_id: str, **meta: object) -> Node:
    return Node(node_id, {"Name": node_id, "Type": "lport", **meta})


def edge(edge_id: str, parent: str, child: str, **meta: object) -> Edge:
    return Edge(edge_id, {"RelationType": "layer2", **meta}, parent=parent, child=child)


def diff_ids(desired: dict[str, Node], held: dict[str, Held], host: str) -> list[str]:
    """IDs a reconciliation would resend."""
    changed = [i for i, e in desired.items() if i not in held or not same(held[i], e, host)]
    return changed + [i for i in held if i not in desired]


def planner() -> Planner:
    return Planner(ORIGIN, "dragonflow", RevisionClock())


def types(messages: list) -> list[tuple[str, str]]:
    return [(m.type, m.obj["ID"]) for m in messages]


def test_first_flush_adds_nodes_before_edges() -> None:
    nodes = {"a": node("a"), "b": node("b")}
    edges = {"e": edge("e", "a", "b")}
    held = HeldState()
    messages = planner().plan(Dirty({"a", "b"}, {"e"}), nodes, edges, held)
    kinds = [m.type for m in messages]
    assert kinds[:2] == ["NodeAdded", "NodeAdded"] and kinds[2] == "EdgeAdded"
    obj = messages[2].obj
    assert obj["Parent"] == "a" and obj["Child"] == "b" and obj["Host"] == "dragonflow"
    assert obj["Origin"] == ORIGIN and obj["Revision"] > 0
    assert set(held.nodes) == {"a", "b"} and set(held.edges) == {"e"}


def test_nothing_to_send_when_held_equals_desired() -> None:
    nodes = {"a": node("a")}
    held = HeldState()
    p = planner()
    p.plan(Dirty({"a"}, set()), nodes, {}, held)
    assert p.plan(Dirty({"a"}, set()), nodes, {}, held) == []
    assert list(diff_ids(nodes, held.nodes, "dragonflow")) == []


def test_many_changes_of_one_object_cost_one_message() -> None:
    held = HeldState()
    p = planner()
    nodes = {"a": node("a")}
    p.plan(Dirty({"a"}, set()), nodes, {}, held)
    dirty = Dirty()
    for i in range(100):
        nodes["a"] = node("a", State=f"s{i}")
        dirty.nodes.add("a")
    messages = p.plan(dirty, nodes, {}, held)
    assert types(messages) == [("NodePartiallyUpdated", "a")]
    assert messages[0].obj["Ops"] == [{"Type": 1, "Key": "State", "Value": "s99"}]


def test_updates_carry_increasing_revisions() -> None:
    held = HeldState()
    p = planner()
    nodes = {"a": node("a")}
    revisions = []
    for i in range(5):
        nodes["a"] = node("a", State=str(i))
        (message,) = p.plan(Dirty({"a"}, set()), nodes, {}, held)
        revisions.append(message.obj["Revision"])
    assert revisions == sorted(set(revisions))


def test_deletes_send_full_elements_edges_first() -> None:
    held = HeldState()
    p = planner()
    nodes = {"a": node("a"), "b": node("b")}
    edges = {"e": edge("e", "a", "b")}
    p.plan(Dirty({"a", "b"}, {"e"}), nodes, edges, held)
    messages = p.plan(Dirty({"a"}, {"e"}), {"b": nodes["b"]}, {}, held)
    assert types(messages) == [("EdgeDeleted", "e"), ("NodeDeleted", "a")]
    assert messages[1].obj["Metadata"] == {"Name": "a", "Type": "lport"}
    assert messages[0].obj["Parent"] == "a"
    assert set(held.nodes) == {"b"} and not held.edges


def test_edge_with_new_ends_is_deleted_and_added() -> None:
    held = HeldState()
    p = planner()
    nodes = {"a": node("a"), "b": node("b"), "c": node("c")}
    p.plan(Dirty(set(nodes), {"e"}), nodes, {"e": edge("e", "a", "b")}, held)
    messages = p.plan(Dirty(set(), {"e"}), nodes, {"e": edge("e", "a", "c")}, held)
    assert types(messages) == [("EdgeDeleted", "e"), ("EdgeAdded", "e")]


def test_resync_from_analyzer_state() -> None:
    analyzer_nodes = [
        {
            "ID": "a",
            # An analyzer may order keys its own way (Skydive sorts them): still the same.
            "Metadata": {"Type": "lport", "Name": "a"},
            "Host": "dragonflow",
            "Revision": 7,
        },
        {"ID": "gone", "Metadata": {"Name": "x", "Type": "lport"}, "Host": "dragonflow"},
        {"ID": "b", "Metadata": {"Name": "b", "Type": "old"}, "Host": "dragonflow",
         "Revision": 9},
    ]  # fmt: skip
    held = HeldState.from_analyzer(analyzer_nodes, [])
    desired = {"a": node("a"), "b": node("b"), "new": node("new")}
    dirty = set(diff_ids(desired, held.nodes, "dragonflow"))
    assert dirty == {"b", "new", "gone"}
    clock = RevisionClock(now_ns=lambda: 0)
    clock.observe(held.max_revision())
    messages = Planner(ORIGIN, "dragonflow", clock).plan(Dirty(dirty, set()), desired, {}, held)
    by_id = {m.obj["ID"]: m for m in messages}
    assert by_id["gone"].type == "NodeDeleted"
    assert by_id["new"].type == "NodeAdded"
    assert by_id["b"].type == "NodePartiallyUpdated" and by_id["b"].obj["Revision"] > 9
    assert by_id["b"].obj["Ops"] == [{"Type": 1, "Key": "Type", "Value": "lport"}]


def test_an_analyzers_order_of_keys_is_no_difference() -> None:
    """What the analyzer returned is kept as compact text in its own order of keys; a
    desired node kept packed in ours is still the same element."""
    analyzer_nodes = [
        {"ID": "a", "Metadata": {"Type": "lport", "Name": "a"}, "Host": "dragonflow"},
        {"ID": "b", "Metadata": {"Type": "lport", "Name": "old"}, "Host": "dragonflow"},
    ]
    held = HeldState.from_analyzer(analyzer_nodes, [])
    desired = {i: PackedNode(i, pack({"Name": i, "Type": "lport"})) for i in ("a", "b")}
    assert diff_ids(desired, held.nodes, "dragonflow") == ["b"]


def test_wire_carries_skydive_times_and_partial_updates() -> None:
    """CreatedAt once, UpdatedAt per change, DeletedAt on deletion (ms), and metadata
    changes as ops from what the analyzer holds, for nodes and edges alike."""
    times = iter(range(1_700_000_000_000, 1_700_000_000_100))
    p = Planner(ORIGIN, "dragonflow", RevisionClock(), now=lambda: next(times))
    held = HeldState()
    nodes = {"a": node("a", State="UP", Old=1), "b": node("b")}
    edges = {"e": edge("e", "a", "b")}
    added = p.plan(Dirty({"a", "b"}, {"e"}), nodes, edges, held)
    for message in added:
        obj = message.obj
        assert isinstance(obj["CreatedAt"], int) and obj["CreatedAt"] == obj["UpdatedAt"]
        assert "DeletedAt" not in obj
    created = {m.obj["ID"]: m.obj["CreatedAt"] for m in added}
    nodes["a"] = node("a", State="DOWN", New={"x": [1]})
    edges["e"] = edge("e", "a", "b", Weight=3)
    (edge_update, node_update) = sorted(
        p.plan(Dirty({"a"}, {"e"}), nodes, edges, held), key=lambda m: m.type
    )
    assert node_update.type == "NodePartiallyUpdated"
    assert set(node_update.obj) == {"ID", "UpdatedAt", "Revision", "Ops"}
    assert node_update.obj["UpdatedAt"] > created["a"]
    assert node_update.obj["Ops"] == [
        {"Type": 1, "Key": "State", "Value": "DOWN"},
        {"Type": 1, "Key": "New", "Value": {"x": [1]}},
        {"Type": 2, "Key": "Old", "Value": None},
    ]
    assert edge_update.type == "EdgePartiallyUpdated"
    assert edge_update.obj["Ops"] == [{"Type": 1, "Key": "Weight", "Value": 3}]
    # A key with a dot cannot be an op's path (Skydive splits it): the whole element goes.
    nodes["a"] = node("a", **{"10.0.0.1": "x"})
    (full,) = p.plan(Dirty({"a"}, set()), nodes, edges, held)
    assert full.type == "NodeUpdated" and full.obj["CreatedAt"] == created["a"]
    assert full.obj["Metadata"]["10.0.0.1"] == "x"
    removed = p.plan(Dirty({"a"}, {"e"}), {"b": nodes["b"]}, {}, held)
    assert types(removed) == [("EdgeDeleted", "e"), ("NodeDeleted", "a")]
    for message in removed:
        obj = message.obj
        assert obj["DeletedAt"] == obj["UpdatedAt"] > obj["CreatedAt"]
        assert obj["CreatedAt"] == created[obj["ID"]]


def test_host_change_is_an_update() -> None:
    held = HeldState({"a": Learned({"Name": "a", "Type": "lport"}, 1, "other")})
    assert list(diff_ids({"a": node("a")}, held.nodes, "dragonflow")) == ["a"]


def test_revision_clock_is_monotonic_and_time_based() -> None:
    ticks = iter([5_000_000, 5_000_000, 1_000_000, 9_000_000])
    clock = RevisionClock(now_ns=lambda: next(ticks))
    assert [clock.next() for _ in range(4)] == [5000, 5001, 5002, 9000]
    clock.observe(20_000)
    assert RevisionClock().next() > 1_600_000_000_000_000  # µs since the epoch


def test_backoff_is_jittered_exponential_and_capped() -> None:
    import random

    backoff = Backoff(0.5, 4.0, random.Random(1))
    delays = [backoff.next_delay() for _ in range(8)]
    ceilings = [0.5, 1, 2, 4, 4, 4, 4, 4]
    for delay, ceiling in zip(delays, ceilings, strict=True):
        assert ceiling / 2 <= delay <= ceiling
    backoff.reset()
    assert backoff.next_delay() <= 0.5
