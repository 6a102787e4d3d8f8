"""Writes the live graph's changes to a durable store, off the event loop.

The in-memory history hands every change to :meth:`Recorder.push` (a deque
append: nothing is encoded or written on the publishers' path). The recorder's
task takes batches, encodes them in a worker thread and writes them. It keeps
the encoded current graph (each element as stored) so that a checkpoint is a
join and a compression, not a re-encoding of 100k elements.

When the database is unreachable the live graph keeps working and changes wait
in a bounded buffer. Past the bound they are dropped, and when the database is
back the recorder writes a gap (from the first change it lost to now) and a
checkpoint of the live graph, so the history says where it has a hole and is
exact again after it. While the database is up but slower than the changes,
``room()`` holds publishers back (back-pressure) instead of buffering without end.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from dragonscope.graph import KIND_EDGE, KIND_NODE, Change, Edge, Graph, Node, now_ms
from dragonscope.history.codec import (
    Encoded,
    checkpoint_lines,
    encode_change,
    encode_checkpoint,
    encode_parts,
    split_element,
)
from dragonscope.history.store import (
    SAME_CHANGE_WINDOW_MS,
    Gap,
    HistoryStore,
    Row,
    StoreUnavailable,
)
from dragonscope.tasks import cancel_and_wait

log = logging.getLogger("dragonscope.history")

DEFAULT_BATCH = 5000
DEFAULT_MAX_BUFFER = 500_000
DEFAULT_CHECKPOINT_CHANGES = 10_000
DEFAULT_CHECKPOINT_SHARE = 0.2
DEFAULT_CHECKPOINT_INTERVAL_MS = 3600 * 1000
HEARTBEAT_MS = 5000
# A trickle of changes is written this long after its first change, in one batch: each
# write is two hand-offs to a worker thread and a transaction, which at a few hundred
# changes a second cost the loop more than the changes themselves. A reader waiting for
# the history to catch up (``caught_up``) cuts the wait short.
GATHER_S = 0.05
RETAIN_EVERY_MS = 60_000
RETRY_S = 1.0


@dataclass(slots=True)
class RecorderSettings:
    retention_ms: int | None = None  # None: keep everything
    max_bytes: int | None = None
    batch: int = DEFAULT_BATCH
    max_buffer: int = DEFAULT_MAX_BUFFER
    # A checkpoint after this many changes, or after ``checkpoint_share`` of the graph's
    # size in changes when that is more: rebuilding a past state then reads at most a
    # fifth of a checkpoint's worth of changes beside it, and checkpoints take the
    # same bytes per change whatever the graph's size (a burst that only grows the graph
    # is written once it ends, see ``_checkpoint_if_due``).
    checkpoint_changes: int = DEFAULT_CHECKPOINT_CHANGES
    checkpoint_share: float = DEFAULT_CHECKPOINT_SHARE
    checkpoint_interval_ms: int = DEFAULT_CHECKPOINT_INTERVAL_MS

    @property
    def high_water(self) -> int:
        """Queued changes above which publishers wait (while the database keeps up)."""
        return max(1, self.max_buffer // 4)


@dataclass(slots=True)
class RecorderStats:
    written: int = 0  # changes stored by this analyzer
    skipped: int = 0  # changes another analyzer had stored already
    dropped: int = 0  # changes lost while the database was unreachable
    batches: int = 0
    checkpoints: int = 0
    write_seconds: float = 0.0
    backpressure_seconds: float = 0.0
    down_since: int | None = None
    last_error: str = ""


class Recorder:
    def __init__(
        self,
        store: HistoryStore,
        graph: Graph,
        settings: RecorderSettings | None = None,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        self.store, self.graph = store, graph
        self.settings = settings or RecorderSettings()
        self.clock = clock
        self.started_at = clock()  # the live graph is empty now: the first checkpoint
        self.writer_id = uuid.uuid4().hex
        self.stats = RecorderStats()
        self._queue: deque[Change] = deque()
        self._wake = asyncio.Event()
        self._hurry = asyncio.Event()  # write what is queued without gathering more
        self._drained = asyncio.Event()
        self._drained.set()
        self._lines: dict[tuple[int, str], Encoded] = {}  # the encoded graph, for checkpoints
        self._lost_since: int | None = None
        self._leader = False
        self._began = False
        self._alone = True
        self._seq = 0  # the encoded graph is the store's after every change up to this
        # A shared store's seq of this analyzer's last change per element (written or
        # found written by another analyzer): the next one is matched after it.
        self._element_seq: dict[tuple[int, str], int] = {}
        self._seq_marks: deque[tuple[int, int]] = deque()
        self._next_forget = 0
        self._max_at = 0
        self._opened = False
        self._seen_before: int | None = None
        self._since_checkpoint = 0
        self._last_checkpoint = 0
        self._checkpoint_size = 0  # elements in the newest checkpoint
        self._next_beat = 0
        self._next_retain = 0
        self._task: asyncio.Task[None] | None = None

    # -- the publishers' side (on the loop, never blocking) ---------------------------
    def push(self, change: Change) -> None:
        if self._lost_since is not None:
            return  # the checkpoint written when the database is back covers it
        if len(self._queue) >= self.settings.max_buffer:
            self._lost_since = self._queue[0].at if self._queue else change.at
            self.stats.dropped += len(self._queue) + 1
            self._queue.clear()
            log.error("history buffer full: changes since %d are not recorded", self._lost_since)
            return
        self._queue.append(change)
        if len(self._queue) > self.settings.high_water:
            self._drained.clear()
        if len(self._queue) >= self.settings.batch:
            self._hurry.set()
        self._wake.set()

    async def room(self) -> None:
        """Wait while the buffer is above its high-water mark and the database is
        keeping up (when it is unreachable, waiting would not help: the buffer and
        then the gap take over)."""
        if self._drained.is_set() or self.stats.down_since is not None:
            return
        started = asyncio.get_running_loop().time()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(1.0):
                await self._drained.wait()
        self.stats.backpressure_seconds += asyncio.get_running_loop().time() - started

    @property
    def buffered(self) -> int:
        return len(self._queue)

    async def caught_up(self, at: int, timeout: float = 5.0) -> None:
        """Return once every change up to ``at`` is written, the database is found
        unreachable (nothing more will be written soon), or ``timeout`` passed."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self._queue and self._queue[0].at <= at and loop.time() < deadline:
            if self.stats.down_since is not None:
                return
            self._hurry.set()
            await asyncio.sleep(0.02)

    # -- lifecycle ---------------------------------------------------------------------
    async def start(self) -> None:
        """Open the store (an unreachable one is retried in the background: the
        analyzer starts anyway) and start writing."""
        try:
            async with asyncio.timeout(5.0):
                await self._join()
        except (StoreUnavailable, TimeoutError) as exc:
            log.error("history database unreachable at start, will retry: %s", exc)
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self, flush_timeout: float = 10.0) -> None:
        """Write what is buffered (within ``flush_timeout``), then close the store."""
        if self._task is not None:
            with contextlib.suppress(TimeoutError):
                await self.caught_up(self.clock(), flush_timeout)
            await cancel_and_wait(self._task)
        with contextlib.suppress(StoreUnavailable):
            if self._began:
                await self.store.leave(self.writer_id, self.clock())
            await self.store.close()

    async def _join(self) -> None:
        """Open the store and take this analyzer's place in the history: before the
        analyzer answers anything, the time nobody recorded is a gap."""
        if not self._opened:
            await self.store.open()
            self._opened = True
        await self._beat()
        if not self._began:
            await self._begin()

    async def _run(self) -> None:
        while True:
            try:
                await self._join()
                if self._lost_since is not None:
                    await self._recover()
                if self._queue:
                    await self._gather()
                    await self._flush()
                else:
                    self._wake.clear()
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(HEARTBEAT_MS / 1000):
                            await self._wake.wait()
                await self._retain()
                if self.stats.down_since is not None:
                    log.warning("history database reachable again: %s", self.store.url)
                    self.stats.down_since = None
            except StoreUnavailable as exc:
                if self.stats.down_since is None:
                    log.error("history database unreachable, buffering changes: %s", exc)
                    self.stats.down_since = self.clock()
                    self._drained.set()
                self.stats.last_error = str(exc)
                await asyncio.sleep(RETRY_S)

    # -- steps ---------------------------------------------------------------------------
    async def _beat(self) -> None:
        now = self.clock()
        if now < self._next_beat:
            return
        if not self._began and self._seen_before is None:
            self._seen_before = (await self.store.last_seen()) or 0
        self._leader, self._alone = await self.store.heartbeat(self.writer_id, self.started_at, now)
        self._next_beat = now + HEARTBEAT_MS

    async def _begin(self) -> None:
        """The first write of this analyzer's life. Alone, the time nobody recorded is
        a gap, and the graph starts empty at ``started_at``; beside analyzers already
        recording, it takes up the history as they left it."""
        if not self._alone:
            await self._take_up()
            self._began = True
            return
        times = (
            await self.store.last_change_at(),
            await self.store.latest_checkpoint_at(),
            await self._last_seen_before(),
        )
        known = max((t for t in times if t is not None), default=None)
        if known is not None and known < self.started_at:
            await self.store.add_gap(Gap(known, self.started_at, "no analyzer was recording"))
        self._seq = await self.store.write_checkpoint(self.started_at, encode_checkpoint([]))
        self._lines, self._max_at = {}, self.started_at
        self._last_checkpoint = self.started_at
        self._checkpoint_size = 0
        self._began = True

    async def _take_up(self) -> None:
        """The history's current graph (its newest checkpoint and the changes after it),
        so this analyzer's checkpoints, should it write them, continue it exactly."""
        cp = await self.store.checkpoint_before(2**62)
        if cp is None:
            return
        rows = await self.store.rows_after(cp, 2**62)
        self._lines = await asyncio.to_thread(checkpoint_lines, cp.body)
        self._seq, self._max_at, self._last_checkpoint = cp.seq, cp.at, cp.at
        self._checkpoint_size = len(self._lines)
        self._apply(rows)

    async def _last_seen_before(self) -> int | None:
        """When the writers before this one were last alive (read before it said so)."""
        seen = self._seen_before
        return None if not seen or seen >= self.started_at else seen

    async def _recover(self) -> None:
        """After changes were dropped. Alone: record the hole, then the live graph as
        it is (it supersedes every change stored before it). Beside analyzers that
        kept recording (they had the store), there is no hole: take up their history."""
        lost_since = self._lost_since
        assert lost_since is not None
        if not self._alone:
            self._lost_since = None
            self._queue.clear()
            try:
                await self._take_up()
            except StoreUnavailable:
                self._lost_since = lost_since
                raise
            return
        now = self.clock()
        nodes, edges = self.graph.snapshot()
        self._lost_since = None  # changes from now on are queued again
        self._queue.clear()
        lines = await asyncio.to_thread(_encode_graph, list(nodes.values()), list(edges.values()))
        try:
            await self.store.add_gap(Gap(lost_since, now, "history database unreachable"))
            self._seq = await self.store.write_checkpoint(now, await asyncio.to_thread(
                encode_checkpoint, list(lines.values())))  # fmt: skip
        except StoreUnavailable:
            self._lost_since = lost_since  # try again from the same hole
            raise
        self._lines, self._max_at = lines, now
        self._last_checkpoint = now
        self._checkpoint_size = len(lines)
        self._since_checkpoint = 0

    async def _gather(self) -> None:
        """Let a trickle of changes gather for ``GATHER_S`` (a full batch, or a reader
        waiting in ``caught_up``, ends it at once)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(GATHER_S):
                await self._hurry.wait()
        self._hurry.clear()

    async def _flush(self) -> None:
        batch = [self._queue[i] for i in range(min(self.settings.batch, len(self._queue)))]
        rows = await asyncio.to_thread(_encode, batch)
        loop = asyncio.get_running_loop()
        started = loop.time()
        shared = self.store.shared
        after = [self._element_seq.get((r.kind, r.id), 0) for r in rows] if shared else []
        written = await self.store.write(rows, self._seq, after)
        if shared:
            for row, seq in zip(rows, written.seqs, strict=True):
                self._element_seq[(row.kind, row.id)] = seq
        self.stats.write_seconds += loop.time() - started
        for _ in batch:
            self._queue.popleft()
        self.stats.batches += 1
        self.stats.written += len(written.mine)
        self.stats.skipped += len(rows) - len(written.mine)
        self._apply(sorted([*written.mine, *written.others], key=lambda r: r.seq))
        if len(self._queue) <= self.settings.high_water // 2:
            self._drained.set()
        self._since_checkpoint += len(written.mine) + len(written.others)
        await self._checkpoint_if_due()

    def _apply(self, rows: Sequence[Row]) -> None:
        """Move the encoded graph on by stored changes, in the store's order."""
        for row in rows:
            key = (row.kind, row.id)
            if row.body is None:
                self._lines.pop(key, None)
            else:
                self._lines[key] = split_element(row.body)
            self._seq = max(self._seq, row.seq)
            self._max_at = max(self._max_at, row.at)

    async def _checkpoint_if_due(self) -> None:
        """A rebuild reads the newest checkpoint before its time and replays the changes
        after it, and a change that only added an element costs it about what a checkpoint
        holding that element would. So while the graph only grows (a collector's initial
        sync), the checkpoint waits for the graph to double: a sync costs checkpoints of
        about twice the graph in all, and none lands among the changes that follow it
        (what the earlier rules cost: docs/analyzer.md)."""
        at = self._max_at
        size, since = len(self._lines), self._since_checkpoint
        every = max(self.settings.checkpoint_changes, int(size * self.settings.checkpoint_share))
        growing = (
            since - max(0, size - self._checkpoint_size) < every and since < self._checkpoint_size
        )
        due = (since >= every and not growing) or (
            since and at - self._last_checkpoint >= self.settings.checkpoint_interval_ms
        )
        if not due or not self._leader:
            return
        body = await asyncio.to_thread(encode_checkpoint, list(self._lines.values()))
        await self.store.write_checkpoint(at, body, self._seq)
        self.stats.checkpoints += 1
        self._last_checkpoint = at
        self._checkpoint_size = size
        self._since_checkpoint = 0

    def _forget_old_element_seqs(self, now: int) -> None:
        """Past the window in which analyzers see one change, matching after an
        element's last seq or from the start is the same: drop the old entries."""
        self._seq_marks.append((now, self._seq))
        while self._seq_marks and self._seq_marks[0][0] < now - SAME_CHANGE_WINDOW_MS:
            _, old = self._seq_marks.popleft()
            self._element_seq = {k: v for k, v in self._element_seq.items() if v > old}

    async def _retain(self) -> None:
        now = self.clock()
        if self.store.shared and now >= self._next_forget:
            self._next_forget = now + RETAIN_EVERY_MS
            self._forget_old_element_seqs(now)
        if not self._leader or now < self._next_retain:
            return
        self._next_retain = now + RETAIN_EVERY_MS
        await self.enforce_retention(now)

    async def enforce_retention(self, now: int) -> None:
        """Drop what is older than the retention, then the oldest segments (from one
        checkpoint to the next) while the history is over its size. The newest
        checkpoint is always kept: the past starts from it."""
        times = await self.store.checkpoint_times()
        keep_from: int | None = None
        if self.settings.retention_ms is not None:
            old = [t for t in times if t <= now - self.settings.retention_ms]
            keep_from = old[-1] if old else None
        if keep_from is not None and keep_from > times[0]:
            await self.store.retain(keep_from)
            times = [t for t in times if t >= keep_from]
        if self.settings.max_bytes is None:
            return
        while len(times) > 1 and await self.store.size_bytes() > self.settings.max_bytes:
            times = times[1:]
            await self.store.retain(times[0])


def _encode(batch: Sequence[Change]) -> list[Row]:
    return [encode_change(change) for change in batch]


def _encode_graph(nodes: list[Node], edges: list[Edge]) -> dict[tuple[int, str], Encoded]:
    lines = {(KIND_NODE, n.id): encode_parts(n) for n in nodes}
    lines.update({(KIND_EDGE, e.id): encode_parts(e) for e in edges})
    return lines
