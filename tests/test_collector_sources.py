"""The desired graph fed by several sources: a view over them, and a collector that
publishes an added source (a probe, say) beside the NB topology and follows its changes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from dragonscope.analyzer import Analyzer, AnalyzerSettings
from dragonscope.collector import Collector, CollectorSettings, DesiredGraph
from dragonscope.demo import generate
from dragonscope.graph import Edge, Node
from dragonscope.nb.backends import MemoryBackend
from stopping import stop_tasks


class Static:
    """A source whose elements the test sets by hand."""

    def __init__(self, nodes: dict[str, Node], edges: dict[str, Edge] | None = None) -> None:
        self.nodes = nodes
        self.edges = edges or {}


class Tag:
    """A layer adding ``Probe: true``, the same object while the node is unchanged."""

    def __init__(self) -> None:
        self.made: dict[str, tuple[Node, Node]] = {}

    def patch(self, node: Node) -> Node:
        seen = self.made.get(node.id)
        if seen is None or seen[0] is not node:
            seen = (node, Node(node.id, {**node.metadata, "Probe": True}))
            self.made[node.id] = seen
        return seen[1]


def test_a_view_over_the_sources() -> None:
    a, b = Node("a", {"Type": "x"}), Node("b", {"Type": "y"})
    edge = Edge("e", {"RelationType": "ownership"}, parent="a", child="b")
    desired = DesiredGraph(Static({"a": a}), Static({"b": b}, {"e": edge}))
    assert desired.nodes.get("a") is a and desired.nodes["b"] is b
    assert "b" in desired.nodes and "c" not in desired.nodes and desired.nodes.get("c") is None
    assert sorted(desired.nodes) == ["a", "b"] and len(desired.nodes) == 2
    assert dict(desired.edges) == {"e": edge}
    with pytest.raises(KeyError):
        desired.nodes["c"]
    # Without a layer, a scan walks each source's own mappings.
    assert [(dict(m), is_node) for m, is_node in desired.parts()] == [
        ({"a": a}, True), ({"b": b}, True), ({}, False), ({"e": edge}, False),
    ]  # fmt: skip
    assert desired.unwanted(["a", "gone"], True) == ["gone"]
    assert desired.unwanted(["e", "old"], False) == ["old"]

    desired.layers.append(Tag())
    patched = desired.nodes["a"]
    assert patched.metadata == {"Type": "x", "Probe": True}
    assert desired.nodes["a"] is patched  # unchanged: the very same object
    assert [is_node for _, is_node in desired.parts()] == [True, False, False]


async def until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


@pytest.fixture
async def analyzer() -> AsyncIterator[Analyzer]:
    server = Analyzer(AnalyzerSettings(port=0))
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def test_an_added_source_is_published_and_followed(analyzer: Analyzer) -> None:
    backend = MemoryBackend()
    backend.load_dump(generate("small", seed=0))
    collector = Collector(
        CollectorSettings(nb=backend, analyzer=f"127.0.0.1:{analyzer.port}", extensions=[])
    )
    bridge = Node("probe-br", {"Name": "br-int", "Type": "ovsbridge"})
    port = Node("probe-port", {"Name": "tap1", "Type": "ovsport", "UUID": "u1"})
    link = Edge("probe-link", {"RelationType": "ownership"}, parent="probe-br", child="probe-port")
    probe = Static({bridge.id: bridge, port.id: port}, {link.id: link})
    changes: asyncio.Queue[Callable[[], None]] = asyncio.Queue()
    looping = asyncio.Event()

    async def follow() -> None:
        looping.set()
        while True:
            (await changes.get())()

    collector.add_source(probe, follow, "probe")
    task = asyncio.create_task(collector.run())
    try:
        await until(lambda: collector.synced or task.done())
        await until(lambda: analyzer.graph.edge("probe-link") is not None)
        held = analyzer.graph.node("probe-port")
        assert held is not None and held.metadata["Name"] == "tap1"
        assert held.host == "dragonflow" and held.origin == collector.origin
        assert looping.is_set()

        def rename() -> None:
            probe.nodes["probe-port"] = Node(
                "probe-port", {"Name": "tap2", "Type": "ovsport", "UUID": "u1"}
            )
            collector.sync.mark("probe-port", True)

        changes.put_nowait(rename)
        await until(lambda: analyzer.graph.node("probe-port").metadata["Name"] == "tap2")  # type: ignore[union-attr]

        def unplug() -> None:
            del probe.nodes["probe-port"], probe.edges["probe-link"]
            collector.sync.mark_many(["probe-port"], ["probe-link"])

        changes.put_nowait(unplug)
        await until(lambda: analyzer.graph.node("probe-port") is None)
        assert analyzer.graph.edge("probe-link") is None
        assert analyzer.graph.node("probe-br") is not None
        assert await collector.reconcile() == 0
    finally:
        await stop_tasks(task)
