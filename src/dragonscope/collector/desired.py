"""The desired graph: what the analyzer should hold, fed by several sources.

The NB topology is one source, the collector's status node another; a probe of
the chassis (Open vSwitch, for instance) plugs in the same way: it exposes its
elements as :class:`Source` mappings, reports what it changed through
``SyncState.mark``, and may lay a :class:`NodeLayer` over other sources'
nodes. Nothing is copied: the desired graph is a view over the sources.
"""

from __future__ import annotations

import ctypes
import gc
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Protocol, TypeVar

from dragonscope.graph import Edge, Node

E = TypeVar("E", bound=Node)


class Source(Protocol):
    """Elements one part of the collector wants published (IDs unique across sources)."""

    @property
    def nodes(self) -> Mapping[str, Node]: ...

    @property
    def edges(self) -> Mapping[str, Edge]: ...


class NodeLayer(Protocol):
    """Additions to other sources' nodes (a port's local datapath state, say).

    ``patch`` must return the very same object while nothing changed, so that an
    unchanged element is recognised by identity.
    """

    def patch(self, node: Node) -> Node: ...


class DesiredGraph:
    """The union of its sources, with the node layers applied."""

    def __init__(self, *sources: Source) -> None:
        self.sources: list[Source] = list(sources)
        self.layers: list[NodeLayer] = []

    def add(self, source: Source) -> None:
        self.sources.append(source)

    @property
    def nodes(self) -> Mapping[str, Node]:
        return _Union([s.nodes for s in self.sources], self._patch if self.layers else None)

    @property
    def edges(self) -> Mapping[str, Edge]:
        return _Union([s.edges for s in self.sources], None)

    def parts(self) -> Iterator[tuple[Mapping[str, Node], bool]]:
        """(mapping, is_node) to scan; each source's own mapping while no layer
        rewrites nodes, since a plain dict is much faster to walk than a view."""
        if self.layers:
            yield self.nodes, True
        else:
            for source in self.sources:
                yield source.nodes, True
        for source in self.sources:
            yield source.edges, False

    def unwanted(self, ids: Iterable[str], is_node: bool) -> list[str]:
        """Of ``ids`` (held by an analyzer), those no source wants any more."""
        left = list(ids)
        for source in self.sources:
            wanted = source.nodes if is_node else source.edges
            left = [element_id for element_id in left if element_id not in wanted]
        return left

    def _patch(self, node: Node) -> Node:
        for layer in self.layers:
            node = layer.patch(node)
        return node


def freeze_heap() -> None:
    """Move the long-lived graph out of the garbage collector's sight.

    Hundreds of thousands of desired/held elements live as long as the process;
    without this every full collection rescans them all, which tripled the cost
    of planning a large sync and shows up as idle CPU. The memory the load freed is
    given back to the system too: glibc's allocator would keep it in the process.

    Only the young generations are collected first: a full pass over a 500k-element
    graph held the event loop for seconds (long enough for the analyzer to drop the
    connection for a missing pong) and found nothing to free, the graph being acyclic."""
    gc.collect(1)
    gc.freeze()
    trim_heap()


def trim_heap() -> None:
    """Give back to the system the memory a burst of changes freed: glibc's allocator keeps
    it in the process, and a chassis collector's budget is counted in resident memory."""
    try:
        libc = ctypes.CDLL(None)
        trim = libc.malloc_trim
    except (OSError, AttributeError):  # not glibc: nothing to ask
        return
    trim(0)


class _Union(Mapping[str, E]):
    """Several mappings read as one, without copying; the first holding a key wins."""

    def __init__(self, maps: list[Mapping[str, E]], patch: Callable[[E], E] | None) -> None:
        self._maps = maps
        self._patch = patch

    def get(self, key: str, default: E | None = None) -> E | None:  # type: ignore[override]
        for mapping in self._maps:
            value = mapping.get(key)
            if value is not None:
                return value if self._patch is None else self._patch(value)
        return default

    def __getitem__(self, key: str) -> E:
        value = self.get(key)
        if value is None:
            raise KeyError(key)
        return value

    def __iter__(self) -> Iterator[str]:
        for mapping in self._maps:
            yield from mapping

    def __contains__(self, key: object) -> bool:
        return any(key in mapping for mapping in self._maps)

    def __len__(self) -> int:
        return sum(len(mapping) for mapping in self._maps)
