"""Helpers for NB backend tests: a follower that rebuilds the NB from a backend's stream."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

from dragonscope.nb.backends.base import Backend
from dragonscope.nb.reader import NbReader

State = dict[tuple[str, str], bytes]


class Follower:
    """Rebuilds the NB from a snapshot plus the change stream, as a collector does."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.state: State = {}
        self.revision = 0
        self.count = 0
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        entries, self.revision = await self.backend.snapshot()
        self.state = {(e.table, e.id): e.value for e in entries}
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        async for change in self.backend.changes(self.revision):
            assert change.revision >= self.revision, "revisions went backwards"
            self.revision = change.revision
            self.count += 1
            if change.value is None:
                self.state.pop((change.table, change.id), None)
            else:
                self.state[(change.table, change.id)] = change.value

    async def stop(self) -> None:
        assert self.task is not None
        if self.task.done():
            self.task.result()  # surface a failure of the stream itself
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task
        await self.backend.close()


class ReaderFollower:
    """The same through ``NbReader``: the state is the parsed objects' data."""

    def __init__(self, reader: NbReader) -> None:
        self.reader = reader
        self.state: dict[tuple[str, str], dict] = {}
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        snapshot, revision = await self.reader.snapshot()
        self.state = {key: obj.data for key, obj in snapshot.items()}
        self.task = asyncio.create_task(self._run(revision))

    async def _run(self, revision: int) -> None:
        async for change in self.reader.changes(revision):
            if change.obj is None:
                self.state.pop(change.key, None)
            else:
                self.state[change.key] = change.obj.data

    async def stop(self) -> None:
        assert self.task is not None
        if self.task.done():
            self.task.result()
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task
        await self.reader.close()


async def eventually(check: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)
