"""The reconciliation walks the desired graph and what the analyzer holds as they are, a
slice at a time, while the NB task goes on changing them between two slices."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from dragonscope.collector import CollectorStats, DesiredGraph
from dragonscope.collector import reconcile as reconcile_module
from dragonscope.collector.reconcile import Reconciler
from dragonscope.collector.state import Held, HeldState
from dragonscope.collector.sync import SyncState
from dragonscope.graph import Node

SIZE = 2_000
HOST = "dragonflow"


class _Slice:
    """A source of plain dicts, as the NB topology is."""

    def __init__(self) -> None:
        self.nodes: dict[str, Node] = {
            f"n{i}": Node(f"n{i}", {"Name": f"n{i}", "Type": "lport"}) for i in range(SIZE)
        }
        self.edges: dict[str, Node] = {}


@pytest.fixture(autouse=True)
def _a_slice_per_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    """Yield after every batch, so that the walk is interrupted many times."""
    monkeypatch.setattr(reconcile_module, "_SLICE_SECONDS", 0.0)


@asynccontextmanager
async def _growing(source: _Slice) -> AsyncIterator[None]:
    """The NB task: one node more at each turn of the loop."""

    async def grow() -> None:
        added = 0
        while True:
            source.nodes[f"new{added}"] = Node(f"new{added}", {"Name": "x", "Type": "lport"})
            added += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(grow())
    try:
        yield
    finally:
        task.cancel()


def _reconciler(source: _Slice) -> tuple[Reconciler, SyncState, HeldState]:
    sync, held = SyncState(), HeldState()
    sync.connected(held)  # the analyzer holds nothing: every element is to be sent
    return Reconciler(HOST, sync, DesiredGraph(source), CollectorStats()), sync, held


async def test_a_resync_compares_every_element_though_the_graph_grows_under_it() -> None:
    source = _Slice()
    reconciler, sync, held = _reconciler(source)
    async with _growing(source):
        await reconciler.scan(held)
    assert {f"n{i}" for i in range(SIZE)} <= sync.dirty.nodes


async def test_a_periodic_scan_stops_when_the_graph_changes_size_and_looks_again() -> None:
    source = _Slice()
    reconciler, sync, _ = _reconciler(source)
    sync.complete()
    async with _growing(source):
        assert await reconciler.reconcile() == 0  # stopped: nothing counted as surprise
    reached = len(sync.dirty.nodes)
    assert 0 < reached < SIZE
    assert await reconciler.reconcile() == len(source.nodes) - reached
    assert set(source.nodes) == sync.dirty.nodes


async def test_what_is_held_and_wanted_no_more_is_found_while_flushes_take_some() -> None:
    source = _Slice()
    reconciler, sync, held = _reconciler(source)
    sync.complete()
    for i in range(SIZE):
        held.nodes[f"gone{i}"] = Held(Node(f"gone{i}", {"Type": "lport"}), (1, HOST, 0))

    async def flush_some() -> None:  # a flush: what it sent leaves the held state
        for i in range(0, SIZE, 2):
            held.nodes.pop(f"gone{i}", None)
            await asyncio.sleep(0)

    flushing = asyncio.create_task(flush_some())
    await reconciler.mark_unwanted(held)
    await flushing
    assert {f"gone{i}" for i in range(1, SIZE, 2)} <= sync.dirty.nodes


async def test_a_period_that_falls_during_a_resync_scan_counts_no_surprise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    source = _Slice()
    reconciler, sync, held = _reconciler(source)
    sync.complete()
    resync = asyncio.create_task(reconciler.scan(held))
    await asyncio.sleep(0)  # the resync has compared its first batch
    assert not resync.done()
    monkeypatch.setattr(reconcile_module, "_SLICE_SECONDS", 60.0)  # a period in one slice
    assert await reconciler.reconcile() == 0
    await resync
    assert reconciler._stats.reconcile_fixes == 0
    assert set(source.nodes) == sync.dirty.nodes
