"""The graph's past as the analyzer answers it: recent from memory, older from the store.

The in-memory history answers from its horizon (the analyzer's start, or what
its memory bound kept) to now, fastest. Before that, a durable store, when one
is configured, rebuilds the graph from a checkpoint; without one the earliest
state in memory is the answer. Gremlin's ``At``/``Context`` run synchronously
inside the engine, so a time that needs the store stops the run with
:class:`NeedPast`; ``query.run_query`` fetches that view and runs again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dragonscope.analyzer.chunked import drive
from dragonscope.graph import GraphView, History, NetChanges
from dragonscope.gremlin import RunOptions
from dragonscope.history import DurableHistory, Gap, Recorder

PastKey = tuple[int, int | None]
"""(time, None) for ``At``; (start, end) for a window."""


class NeedPast(Exception):
    """A query reached a time only the durable store knows."""

    def __init__(self, key: PastKey) -> None:
        super().__init__(key)
        self.key = key


@dataclass(slots=True)
class Past:
    memory: History
    durable: DurableHistory | None = None
    recorder: Recorder | None = None

    def _durable(self, at: int) -> DurableHistory | None:
        return None if self.memory.covers(at) else self.durable

    async def view_at(self, at: int) -> GraphView:
        durable = self._durable(at)
        if durable is not None:
            return await durable.view_at(at)
        return await drive(self.memory.view_at_steps(at))

    async def fetch(self, key: PastKey) -> GraphView:
        start, end = key
        durable = self._durable(start)
        assert durable is not None
        if end is None:
            return await durable.view_at(start)
        return await durable.window_view(start, end)

    async def changes_between(
        self, start: int, end: int
    ) -> tuple[NetChanges, NetChanges, list[Gap]]:
        durable = self._durable(start)
        if durable is None:
            nodes, edges = await drive(self.memory.changes_between_steps(start, end))
            return nodes, edges, []
        if self.recorder is not None:
            await self.recorder.caught_up(end)
        found = await durable.changes_between(start, end)
        return found.nodes, found.edges, found.gaps

    def run_options(self, fetched: dict[PastKey, GraphView], now: int) -> RunOptions:
        """Where a Gremlin run looks for the past; views already fetched from the store
        are in ``fetched``, others raise NeedPast."""

        def at(when: int) -> Any:
            if self._durable(when) is None:
                return self.memory.view_at_steps(when)
            if (when, None) not in fetched:
                raise NeedPast((when, None))
            return fetched[(when, None)]

        def window(start: int, end: int) -> Any:
            if self._durable(start) is None:
                return self.memory.window_view_steps(start, end)
            if (start, end) not in fetched:
                raise NeedPast((start, end))
            return fetched[(start, end)]

        return RunOptions(at=at, window=window, now_ms=now)
