"""Re-applies rules and re-evaluates alerts after graph changes, off the write path.

Graph listeners only set a flag; a task waits a short debounce, then runs
rules and alerts once for the whole burst. Rule writes are idempotent, so the
change they cause settles after one more pass.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from dragonscope.graph import Edge, Graph, GraphListener, Node
from dragonscope.tasks import cancel_and_wait

log = logging.getLogger(__name__)

DEBOUNCE_S = 0.25
TICK_S = 5.0  # alerts with a duration trigger are also checked this often


class Reactor(GraphListener):
    def __init__(
        self, graph: Graph, react: Callable[[], Awaitable[None]], active: Callable[[], bool]
    ) -> None:
        self._react = react
        self._active = active
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        graph.add_listener(self)

    def poke(self) -> None:
        self._wake.set()

    def _changed(self, *_: object) -> None:
        if self._active():
            self._wake.set()

    def on_node_added(self, node: Node) -> None:
        self._changed()

    def on_node_updated(self, node: Node, old: Node) -> None:
        self._changed()

    def on_node_deleted(self, node: Node) -> None:
        self._changed()

    def on_edge_added(self, edge: Edge) -> None:
        self._changed()

    def on_edge_updated(self, edge: Edge, old: Edge) -> None:
        self._changed()

    def on_edge_deleted(self, edge: Edge) -> None:
        self._changed()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        await cancel_and_wait(self._task)

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(TICK_S):
                    await self._wake.wait()
            await asyncio.sleep(DEBOUNCE_S)
            self._wake.clear()
            if not self._active():
                continue
            try:
                await self._react()
            except Exception:  # one bad rule must not stop the others for good
                log.exception("applying rules and alerts failed")
