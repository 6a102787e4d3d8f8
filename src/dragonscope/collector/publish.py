"""The publish task: connect, learn what the analyzer holds, then send what differs.

After each (re)connection (login, backoff) the task reads what the analyzer
holds for our origin, marks every difference dirty, and from then on flushes
dirty IDs as minimal messages, coalescing a burst of changes into one flush. A
message the analyzer rejects means its state is not what we think: resync.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from dragonscope.collector.desired import DesiredGraph, freeze_heap
from dragonscope.collector.progress import Progress
from dragonscope.collector.reconcile import Reconciler
from dragonscope.collector.revisions import RevisionClock
from dragonscope.collector.settings import CollectorSettings
from dragonscope.collector.state import HeldState, Learned, Planner, Stamp, adopt, same
from dragonscope.collector.stats import CollectorStats
from dragonscope.collector.sync import SyncState
from dragonscope.skydive import (
    GRAPH,
    AnalyzerError,
    AnalyzerHttp,
    Backoff,
    Credentials,
    Message,
    Publisher,
    PublisherDisconnected,
    make_ssl_context,
)

log = logging.getLogger("dragonscope.collector")

# Elements planned (and sent) at a time.
CHUNK = 500
# A flush with nothing to send holds the loop this long at most between two turns.
_TURN = 0.01
# An initial sync this big reports its progress.
_PROGRESS_FROM = 5000


class AnalyzerLink:
    """The connection to the analyzer and everything sent over it."""

    def __init__(
        self,
        settings: CollectorSettings,
        analyzer_url: str,
        sync: SyncState,
        desired: DesiredGraph,
        reconciler: Reconciler,
        stats: CollectorStats,
        stable_after: float,
    ) -> None:
        self.settings = settings
        self._sync = sync
        self._desired = desired
        self._reconciler = reconciler
        self._stats = stats
        # A connection that dies sooner than this is not "stable": keep backing off.
        self._stable_after = stable_after
        self._clock = RevisionClock()
        self._last_resync = 0.0
        self._initial_done = False
        self._first_flush_at: float | None = None
        credentials = (
            Credentials(
                settings.user,
                settings.password,
                Path(settings.password_file) if settings.password_file else None,
            )
            if settings.user and settings.password
            else None
        )
        if credentials is not None and credentials.password_file is not None:
            log.info(
                "logging in to the analyzer as %s with the password of %s "
                "(read again at every login)",
                credentials.user,
                credentials.password_file,
            )
        # An https:// endpoint means TLS even without --tls; a CA file or
        # --tls-insecure only changes how the certificate is checked.
        custom_tls = settings.ca_file is not None or settings.tls_insecure
        ssl_context = (
            make_ssl_context(settings.ca_file, settings.tls_insecure)
            if analyzer_url.startswith("https://") and custom_tls
            else None
        )
        self.http = AnalyzerHttp(analyzer_url, credentials, ssl_context)
        self.publisher = Publisher(
            self.http,
            settings.publisher_host_id,
            settings.client_type,
            settings.persistence_policy,
            Backoff(settings.backoff_initial, settings.backoff_max),
            on_reply=self._on_reply,
        )
        # dragonscope's own messages on this connection (not Graph), and what to say after
        # each connection (see collector.chassis_desk).
        self.side: list[Callable[[Message], None]] = []
        self.on_connected: list[Callable[[], Awaitable[None]]] = []

    @property
    def origin(self) -> str:
        return self.publisher.origin

    @property
    def sync(self) -> SyncState:
        return self._sync

    @property
    def reconciler(self) -> Reconciler:
        return self._reconciler

    async def run(self) -> None:
        """Publish forever, reconnecting after every loss."""
        publisher, sync = self.publisher, self._sync
        while True:
            await publisher.connect()
            connected_at = time.monotonic()
            try:
                for hello in self.on_connected:
                    await hello()
                await self.resync()
                await self._flush_forever()
            except PublisherDisconnected:
                pass
            except AnalyzerError as exc:
                log.warning("resync with the analyzer failed: %s", exc)
            finally:
                sync.disconnected()
                await publisher.disconnect()
                self._stats.analyzer_reconnects += 1
            if time.monotonic() - connected_at < self._stable_after:
                await asyncio.sleep(publisher.backoff.next_delay())

    async def close(self) -> None:
        await self.publisher.disconnect()
        await self.http.close()

    def _on_reply(self, message: Message) -> None:
        """A rejected message means the analyzer's state is not what we think it is
        (someone deleted an element through REST, for instance): resync."""
        if message.namespace != GRAPH:
            for handle in self.side:
                handle(message)
            return
        if message.status >= 400:
            self._sync.request_resync()

    async def resync(self) -> None:
        """Learn what the analyzer holds for our origin; everything that differs becomes dirty."""
        self._stats.resyncs += 1
        self._sync.resync_requested = False
        self._last_resync = time.monotonic()
        held = await self._held_by_analyzer()
        self._clock.observe(held.max_revision())
        self._sync.connected(held)
        await self._reconciler.scan(held)
        log.info(
            "analyzer holds nodes=%d edges=%d for %s; to send: %d",
            len(held.nodes), len(held.edges), self.origin, len(self._sync.dirty),
        )  # fmt: skip

    async def _held_by_analyzer(self) -> HeldState:
        """What the analyzer holds for our origin, asked a part of the IDs at a time: decoded
        whole, the answers for a 530k-element graph took some 900 MiB, twice the collector's
        own graph. An element found as desired is taken as sent at once; the others are kept
        compactly (``Learned``) until compared."""
        quoted = self.origin.replace("\\", "\\\\").replace("'", "\\'")
        held, host = HeldState(), self.settings.host
        stamps: dict[Stamp, Stamp] = {}  # one tuple for the elements a chunk sent alike
        try:
            for step, into, desired in (
                ("V", held.nodes, self._desired.nodes),
                ("E", held.edges, self._desired.edges),
            ):
                for part in ID_PARTS:
                    answer = await self.http.gremlin(
                        f"G.{step}().Has('@Origin', '{quoted}').Has('@ID', Regex('{part}'))"
                    )
                    for obj in _elements(answer):
                        element_id = obj["ID"]
                        into[element_id] = learned = Learned.from_json(obj, stamps)
                        want = desired.get(element_id)
                        if want is not None and same(learned, want, host):
                            adopt(into, element_id, want)
        except AnalyzerError as exc:
            if exc.status != 400:
                raise
            # A dialect without '@Origin' or Regex: read everything and filter here.
            answer = await self.http.gremlin("G")
            if isinstance(answer, list) and answer:
                answer = answer[0]
            graph = answer if isinstance(answer, dict) else {}
            return HeldState.from_analyzer(
                [n for n in _elements(graph.get("Nodes")) if n.get("Origin") == self.origin],
                [e for e in _elements(graph.get("Edges")) if e.get("Origin") == self.origin],
            )
        return held

    async def _flush_forever(self) -> None:
        sync = self._sync
        closed = asyncio.create_task(self.publisher.wait_closed())
        flushed_at = time.monotonic() - self.settings.coalesce_window
        try:
            while True:
                if sync.dirty:
                    # Changes that came during the last flush: still one flush per window,
                    # or a burst longer than a window costs one message per change.
                    await asyncio.sleep(
                        flushed_at + self.settings.coalesce_window - time.monotonic()
                    )
                else:
                    was_synced = sync.synced
                    sync.caught_up(self._stats.nb_revision)
                    if sync.synced and not was_synced:
                        self._in_sync()
                    if sync.synced:  # not before the whole NB is in the desired graph
                        self._stats.last_sync = time.time()
                    sync.wake.clear()
                    woke = asyncio.create_task(sync.wake.wait())
                    done, _ = await asyncio.wait(
                        {woke, closed}, return_when=asyncio.FIRST_COMPLETED
                    )
                    if closed in done:
                        woke.cancel()
                        raise PublisherDisconnected("analyzer connection closed")
                    # Let a burst finish: every change within the window costs one message.
                    await asyncio.sleep(self.settings.coalesce_window)
                flushed_at = time.monotonic()
                await self.flush()
                if (
                    sync.resync_requested
                    and time.monotonic() - self._last_resync > self._stable_after
                ):
                    log.warning("the analyzer rejected messages; re-reading what it holds")
                    await self.resync()
        finally:
            closed.cancel()

    async def flush(self) -> None:
        """Send what the dirty IDs need, in the analyzer's order and in chunks, so a
        big flush never stalls the loop (pings, NB consumption, /healthz).
        Raises PublisherDisconnected if the link drops."""
        sync = self._sync
        assert sync.held is not None
        sync.flushing = True
        try:
            await self._flush(sync.held)
        finally:
            sync.flushing = False

    async def _flush(self, held: HeldState) -> None:
        sync = self._sync
        sync.activity += 1
        taken = sync.dirty.take()
        since = sync.dirty_since
        sync.dirty_since = None
        planner = Planner(self.origin, self.settings.host, self._clock)
        nodes, edges = list(taken.nodes), list(taken.edges)
        desired_nodes, desired_edges = self._desired.nodes, self._desired.edges
        progress = None
        if not self._initial_done and len(taken) > _PROGRESS_FROM:
            progress = Progress("initial sync", len(taken), tty=self.settings.progress)
        if self._first_flush_at is None:
            self._first_flush_at = time.monotonic()
        deferred: set[str] = set()
        try:
            await self._send(edges, lambda c: planner.edge_removals(c, desired_edges, held))
            await self._send(
                nodes, lambda c: planner.node_upserts(c, desired_nodes, held), progress
            )
            await self._send(
                edges,
                lambda c: planner.edge_upserts(c, desired_edges, held, deferred),
                progress,
            )
            # Edges that stopped being wanted while this flush ran go before any node.
            await self._send(
                list(sync.dirty.edges), lambda c: planner.edge_removals(c, desired_edges, held)
            )
            await self._send(
                nodes, lambda c: planner.node_removals(c, desired_nodes, held, sync.dirty.nodes)
            )
        except PublisherDisconnected:
            if sync.dirty_since is None:
                sync.dirty_since = since
            raise
        for edge_id in deferred:
            sync.mark(edge_id, False)
        if progress is not None:
            progress.finish()
        if sync.dirty and sync.dirty_since is None:
            sync.dirty_since = time.monotonic()

    def _in_sync(self) -> None:
        """The analyzer holds the whole NB (first, or again after a reconnection). The
        graph and what the analyzer holds now live as long as the process: move them out
        of the garbage collector's sight. Frozen any earlier (at the end of the first
        flush, which a sync published while read reaches long before its last element),
        most of the held state stayed in the old generation and each full collection
        walked it: 0.2 s pauses in the change latency of a 500k-element graph."""
        if not self._initial_done:
            self._initial_done = True
            started = self._first_flush_at or time.monotonic()
            self._stats.initial_sync_seconds = time.monotonic() - started
        freeze_heap()

    async def _send(
        self,
        ids: list[str],
        plan: Callable[[list[str]], list[Message]],
        progress: Progress | None = None,
    ) -> None:
        """One phase of a flush, ``CHUNK`` elements at a time, giving the loop a turn after
        each chunk that sent something, and every ``_TURN`` seconds while chunks send
        nothing. Not after every chunk: while the initial load translates, the feed takes a
        turn as long as it likes between two of ours, and a phase with nothing to send (no
        edge to remove at a first sync) would walk its 400k IDs at one chunk per turn of the
        feed's, with the analyzer left idle for seconds. After a chunk that sent, the other
        tasks get their turn as they always did (a reconciliation scan that takes it sees the
        flush under way and stops, see ``reconcile``): without it, the p99 change latency of
        a 500k-element graph measured hundreds of milliseconds instead of tens."""
        messages = self._stats.messages
        turn_from = time.monotonic()
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start : start + CHUNK]
            planned = plan(chunk)
            if planned:
                await self.publisher.send_many(planned)
            for message in planned:
                messages[message.type] += 1
            if progress is not None:
                progress.advance(len(chunk))
            if planned or time.monotonic() - turn_from >= _TURN:
                await asyncio.sleep(0)
                turn_from = time.monotonic()


ID_PARTS = (*(f"[{digit}].*" for digit in "0123456789abcdef"), "[^0-9a-f].*")
"""Regular expressions (anchored, as Skydive's) that split element IDs into disjoint parts
covering them all: graph IDs are UUIDs, a sixteenth of the elements each."""


def _elements(result: object) -> list[dict[str, Any]]:
    if not isinstance(result, list):
        return []
    return [e for e in result if isinstance(e, dict) and isinstance(e.get("ID"), str)]
