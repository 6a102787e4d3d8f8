"""The collector: NB → topology → minimal diffs → analyzer, through any outage.

Three tasks share one desired graph:

* the NB task applies each NB change to the topology and marks the touched
  element IDs dirty. It never waits for the analyzer, so the NB is consumed at
  full speed even while the analyzer is away;
* the publish task connects (login, backoff), learns what the analyzer holds
  for our origin, then flushes dirty IDs as minimal messages;
* the reconcile task compares desired and held every ``update_interval`` and
  marks any difference dirty (with nothing changing, nothing is sent).

When the NB is unreachable, the last graph stays published and the collector's
own status node says ``Dragonflow.Stale: true`` until the stream resumes.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from dragonscope.collector.health import HealthServer
from dragonscope.collector.nb_probe import nb_endpoints, reachable
from dragonscope.collector.ovs_source import OvsSource, probe_settings
from dragonscope.collector.progress import Progress
from dragonscope.collector.revisions import RevisionClock
from dragonscope.collector.settings import CollectorSettings
from dragonscope.collector.state import Dirty, HeldState, Planner, same
from dragonscope.config import parse_host_port
from dragonscope.graph.model import Edge, Node
from dragonscope.nb.model import Change
from dragonscope.skydive.messages import NODE_TYPES, Message
from dragonscope.skydive.publisher import Backoff, Publisher, PublisherDisconnected
from dragonscope.skydive.rest import (
    AnalyzerError,
    AnalyzerHttp,
    Credentials,
    analyzer_base_url,
    make_ssl_context,
)

log = logging.getLogger("dragonscope.collector")

STATUS_NODE_TYPE = "dragonscope-collector"
_STATUS_NS = uuid.UUID("5d1c9a3e-2f43-4b0e-9a55-6f0f3f2d7c11")
# Elements planned (and sent) between two yields to the event loop.
_CHUNK = 500
# Elements compared between two yields during a reconciliation scan.
_SCAN_SLICE = 10000
# A connection that dies sooner than this is not "stable": keep backing off.
_STABLE_AFTER = 5.0


class CollectorStats:
    """Counters and gauges exported on /metrics and through ``Collector.stats``."""

    def __init__(self) -> None:
        self.nb_objects: Counter[str] = Counter()
        self.nb_events = 0
        self.nb_errors = 0
        self.nb_revision = 0
        self.translate_errors = 0
        self.messages: Counter[str] = Counter()
        self.analyzer_reconnects = 0
        self.resyncs = 0
        self.reconciliations = 0
        self.reconcile_fixes = 0
        self.last_sync: float | None = None
        self.initial_sync_seconds: float | None = None


class Collector:
    """Embeddable collector; ``await run()`` until cancelled.

    >>> collector = Collector(CollectorSettings(nb="memory://sample", analyzer="127.0.0.1:8082"))
    >>> task = asyncio.create_task(collector.run())   # doctest: +SKIP
    """

    def __init__(self, settings: CollectorSettings) -> None:
        self.settings = settings
        self.stats_ = CollectorStats()
        self.topology: Any = None
        self.held: HeldState | None = None
        self.dirty = Dirty()
        self.nb_stale = False
        self.nb_stale_since: float | None = None
        self.synced = False
        self._dirty_since: float | None = None
        self._wake: asyncio.Event | None = None
        self._clock = RevisionClock()
        self._status_nodes: dict[str, Node] = {}
        self._nb_keys: set[tuple[str, str]] = set()
        self._resync_requested = False
        self._last_resync = 0.0
        # Bumped by everything that can change desired or held state (see reconcile).
        self._activity = 0
        self._clean_at = -1
        self._flushing = False
        self._scan_complete = True
        self._publisher: Publisher | None = None
        self._http: AnalyzerHttp | None = None
        self._ready = False
        self._initial_done = False
        base = analyzer_base_url(settings.analyzer, settings.tls)
        self.analyzer_url = base
        self.origin = f"{settings.client_type}.{settings.publisher_host_id}"
        self.status_node_id = str(uuid.uuid5(_STATUS_NS, self.origin))
        ovs = probe_settings(settings)
        self.ovs = OvsSource(self, ovs) if ovs else None

    # -- public state ----------------------------------------------------------
    @property
    def healthy(self) -> bool:
        """NB stream live, analyzer connected, and the analyzer caught up once."""
        return (
            self._ready
            and not self.nb_stale
            and self._publisher is not None
            and self._publisher.connected
            and self.synced
        )

    @property
    def lag(self) -> float:
        """Age of the oldest change not yet sent (0 when the analyzer is up to date)."""
        return 0.0 if self._dirty_since is None else time.monotonic() - self._dirty_since

    @property
    def stats(self) -> dict[str, Any]:
        s, pub = self.stats_, self._publisher
        return {
            "nb_objects": dict(s.nb_objects),
            "nb_events": s.nb_events,
            "nb_errors": s.nb_errors,
            "nb_revision": s.nb_revision,
            "nb_stale": self.nb_stale,
            "translate_errors": s.translate_errors,
            "graph_nodes": len(self.topology.nodes) if self.topology else 0,
            "graph_edges": len(self.topology.edges) if self.topology else 0,
            "messages_out": dict(s.messages),
            "messages_out_total": sum(s.messages.values()),
            "pending": len(self.dirty),
            "lag_seconds": self.lag,
            "analyzer_connected": bool(pub and pub.connected),
            "analyzer_reconnects": s.analyzer_reconnects,
            "analyzer_connect_failures": pub.connect_failures if pub else 0,
            "analyzer_rejections": pub.rejections if pub else 0,
            "analyzer_logins": self._http.logins if self._http else 0,
            "analyzer_last_error": pub.last_error if pub else "",
            "resyncs": s.resyncs,
            "reconciliations": s.reconciliations,
            "reconcile_fixes": s.reconcile_fixes,
            "last_sync": s.last_sync,
            "initial_sync_seconds": s.initial_sync_seconds,
            "synced": self.synced,
            "healthy": self.healthy,
        }

    # -- main ------------------------------------------------------------------
    async def run(self) -> None:
        settings = self.settings
        self._wake = asyncio.Event()
        credentials = (
            Credentials(settings.user, settings.password)
            if settings.user and settings.password
            else None
        )
        # An https:// endpoint means TLS even without --tls; a CA file or
        # --tls-insecure only changes how the certificate is checked.
        custom_tls = settings.ca_file is not None or settings.tls_insecure
        ssl_context = (
            make_ssl_context(settings.ca_file, settings.tls_insecure)
            if self.analyzer_url.startswith("https://") and custom_tls
            else None
        )
        self._http = AnalyzerHttp(self.analyzer_url, credentials, ssl_context)
        self._publisher = Publisher(
            self._http,
            settings.publisher_host_id,
            settings.client_type,
            settings.persistence_policy,
            Backoff(settings.backoff_initial, settings.backoff_max),
            on_reply=self._on_reply,
        )
        health: HealthServer | None = None
        reader, owned = await self._open_reader()
        try:
            if settings.metrics_listen:
                host, port = parse_host_port(settings.metrics_listen, "--metrics-listen")
                health = HealthServer(self, host, port)
                await health.start()
            revision = await self._load(reader)
            tasks = [
                asyncio.create_task(self._consume_nb(reader, revision), name="collector-nb"),
                asyncio.create_task(self._publish_forever(), name="collector-publish"),
                asyncio.create_task(self._reconcile_forever(), name="collector-reconcile"),
            ]
            endpoints = nb_endpoints(getattr(reader, "url", ""))
            if endpoints:
                tasks.append(
                    asyncio.create_task(self._probe_nb_forever(endpoints), name="collector-probe")
                )
            if self.ovs is not None:
                tasks.append(asyncio.create_task(self.ovs.run(), name="collector-ovs"))
            try:
                done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
                for task in done:
                    task.result()  # re-raise a crashed task's error
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            if self._publisher is not None:
                await self._publisher.disconnect()
            await self._http.close()
            if health is not None:
                await health.stop()
            if owned:
                with contextlib.suppress(Exception):
                    await reader.close()

    async def _open_reader(self) -> tuple[Any, bool]:
        """(reader, owned): a URL is opened (and closed by us); a reader or a raw
        backend passed by an embedder is used as is and left open."""
        from dragonscope.nb.reader import NbReader, open_reader

        nb = self.settings.nb
        if isinstance(nb, str):
            return open_reader(nb), True
        if isinstance(nb, NbReader):
            return nb, False
        return NbReader(nb), False

    async def _load(self, reader: Any) -> int:
        """Initial snapshot (retried while the NB is unreachable) and translation."""
        from dragonscope.topology import Topology

        backoff = Backoff(self.settings.backoff_initial, self.settings.backoff_max)
        while True:
            try:
                started = time.monotonic()
                snapshot, revision = await reader.snapshot()
                break
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.stats_.nb_errors += 1
                self._mark_stale(True, f"cannot read the NB: {exc}")
                await asyncio.sleep(backoff.next_delay())
        self.topology = Topology(extensions=self.settings.extensions, chassis=self.settings.chassis)
        # A thread keeps the loop answering /healthz while a big NB is translated.
        await asyncio.to_thread(self.topology.load, snapshot)
        self._nb_keys = set(snapshot)
        for table, _ in self._nb_keys:
            self.stats_.nb_objects[table] += 1
        self.stats_.nb_revision = revision
        self._mark_stale(False)
        self._refresh_status_node()
        self._ready = True
        _freeze_heap()
        log.info(
            "NB snapshot read objects=%d revision=%s nodes=%d edges=%d elapsed=%.2fs",
            len(snapshot), revision, len(self.topology.nodes), len(self.topology.edges),
            time.monotonic() - started,
        )  # fmt: skip
        return revision

    # -- NB side -----------------------------------------------------------------
    def _desired_nodes(self) -> _Overlay:
        if self.ovs is None:
            return _Overlay(self.topology.nodes, self._status_nodes)
        extra = {**self._status_nodes, **self.ovs.nodes}
        return _Overlay(self.ovs.patched(self.topology.nodes), extra)

    def _desired_edges(self) -> Mapping[str, Edge]:
        if self.ovs is None:
            return self.topology.edges
        return self.ovs.edges_over(self.topology.edges, self._desired_nodes())

    def _mark_dirty(self, element_id: str, is_node: bool) -> None:
        self._activity += 1
        if self._dirty_since is None:
            self._dirty_since = time.monotonic()
        if self.held is None:
            # Disconnected: the resync compares everything anyway, so remembering
            # IDs now would only grow memory with every object created and deleted.
            return
        (self.dirty.nodes if is_node else self.dirty.edges).add(element_id)
        if self._wake is not None:
            self._wake.set()

    def apply_change(self, change: Change) -> None:
        """Fold one NB change into the desired graph (never waits for the analyzer)."""
        self.stats_.nb_events += 1
        self._activity += 1
        self.stats_.nb_revision = max(self.stats_.nb_revision, change.revision)
        try:
            ops = self.topology.apply(change)
        except Exception:
            self.stats_.translate_errors += 1
            log.exception("cannot translate change %s/%s; full reconciliation", *change.key)
            self._rebuild_after_error()
            return
        if change.deleted:
            if change.key in self._nb_keys:
                self._nb_keys.discard(change.key)
                self.stats_.nb_objects[change.table] -= 1
        elif change.key not in self._nb_keys:
            self._nb_keys.add(change.key)
            self.stats_.nb_objects[change.table] += 1
        for op in ops:
            self._mark_dirty(op.element.id, op.type in NODE_TYPES)
        if self.ovs is not None:
            self.ovs.nb_changed()

    def _rebuild_after_error(self) -> None:
        for element_id in list(self.topology.nodes):
            self._mark_dirty(element_id, True)
        for element_id in list(self.topology.edges):
            self._mark_dirty(element_id, False)

    async def _consume_nb(self, reader: Any, since: int) -> None:
        backoff = Backoff(self.settings.backoff_initial, self.settings.backoff_max)
        while True:
            try:
                async for change in reader.changes(since):
                    if self.nb_stale:
                        self._mark_stale(False)
                    backoff.reset()
                    self.apply_change(change)
                    since = max(since, change.revision)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.stats_.nb_errors += 1
                self._mark_stale(True, f"NB change stream failed: {exc}")
                await asyncio.sleep(backoff.next_delay())
                continue
            # A finite stream (a dump file) has nothing more to say.
            await asyncio.Event().wait()

    async def _probe_nb_forever(self, endpoints: list[tuple[str, int]]) -> None:
        interval = self.settings.nb_probe_interval
        while True:
            await asyncio.sleep(interval)
            alive = await reachable(endpoints, timeout=min(2.0, interval))
            if not alive:
                self._mark_stale(True, "no NB endpoint accepts connections")
            elif self.nb_stale:
                self._mark_stale(False)

    def _mark_stale(self, stale: bool, reason: str = "") -> None:
        if stale == self.nb_stale:
            return
        self.nb_stale = stale
        if stale:
            self.nb_stale_since = time.time()
            log.warning("NB unreachable, keeping the last published graph: %s", reason)
        else:
            log.info("NB reachable again; resuming from revision %s", self.stats_.nb_revision)
            self.nb_stale_since = None
        if self._ready:
            self._refresh_status_node()

    def _refresh_status_node(self) -> None:
        """The node that describes this collector; ``Dragonflow.Stale`` tells
        operators the graph may be behind the NB."""
        settings = self.settings
        dragonflow: dict[str, Any] = {
            "Stale": self.nb_stale,
            "Mode": "chassis" if settings.chassis else "global",
        }
        if settings.chassis:
            dragonflow["Chassis"] = settings.chassis
        if self.nb_stale_since is not None:
            dragonflow["StaleSince"] = int(self.nb_stale_since * 1000)
        node = Node(
            id=self.status_node_id,
            metadata={
                "Name": f"collector {settings.publisher_host_id}",
                "Type": STATUS_NODE_TYPE,
                "Manager": "dragonscope",
                "Dragonflow": dragonflow,
            },
        )
        self._status_nodes = {node.id: node}
        self._mark_dirty(node.id, True)

    # -- analyzer side -----------------------------------------------------------------
    async def _publish_forever(self) -> None:
        assert self._publisher is not None
        publisher = self._publisher
        while True:
            await publisher.connect()
            connected_at = time.monotonic()
            try:
                await self._resync()
                await self._flush_forever()
            except PublisherDisconnected:
                pass
            except AnalyzerError as exc:
                log.warning("resync with the analyzer failed: %s", exc)
            finally:
                self.held = None
                self.dirty = Dirty()
                self.synced = False
                await publisher.disconnect()
                self.stats_.analyzer_reconnects += 1
            if time.monotonic() - connected_at < _STABLE_AFTER:
                await asyncio.sleep(publisher.backoff.next_delay())

    def _on_reply(self, message: Message) -> None:
        """A rejected message means the analyzer's state is not what we think it is
        (someone deleted an element through REST, for instance): resync."""
        if message.status >= 400 and self.held is not None:
            self._resync_requested = True
            if self._wake is not None:
                self._wake.set()

    async def _resync(self) -> None:
        """Learn what the analyzer holds for our origin; everything that differs becomes dirty."""
        assert self._http is not None
        self.stats_.resyncs += 1
        self._resync_requested = False
        self._last_resync = time.monotonic()
        self._activity += 1
        nodes, edges = await self._analyzer_elements()
        held = HeldState.from_analyzer(nodes, edges)
        self._clock.observe(held.max_revision())
        self.held = held
        self.dirty = Dirty()
        await self._scan(held)
        log.info(
            "analyzer holds nodes=%d edges=%d for %s; to send: %d",
            len(held.nodes), len(held.edges), self.origin, len(self.dirty),
        )  # fmt: skip

    async def _scan(self, held: HeldState) -> int:
        """Mark dirty every element whose held state differs from desired.

        Walks a copy of the keys in slices, yielding between them, so that a
        500k-element scan neither blocks the loop nor trips over the NB task
        changing the graph meanwhile (a change marks its elements dirty anyway).
        An element sent from the very object that is still desired is unchanged:
        that identity check keeps an idle scan cheap.
        """
        count = 0
        self._scan_complete = True
        host = self.settings.host
        kinds: tuple[tuple[Mapping[str, Any], dict[str, Any], bool], ...] = (
            (self.topology.nodes, held.nodes, True),
            (self._status_nodes, held.nodes, True),
            (self.topology.edges, held.edges, False),
        )
        if self.ovs is not None:
            kinds = (
                (self._desired_nodes(), held.nodes, True),
                (self._desired_edges(), held.edges, False),
            )
        for desired, held_map, is_node in kinds:
            get_desired, get_held = desired.get, held_map.get
            keys = list(desired)
            for start in range(0, len(keys), _SCAN_SLICE):
                for element_id in keys[start : start + _SCAN_SLICE]:
                    element = get_desired(element_id)
                    have = get_held(element_id)
                    if element is None or (
                        have is not None and (have.source is element or same(have, element, host))
                    ):
                        continue
                    count += self._mark_new(element_id, is_node)
                await asyncio.sleep(0)
                if self.held is not held or self._flushing:
                    # Reconnected, or a flush took dirty IDs out of the set: stop
                    # here rather than count in-flight elements as surprises.
                    self._scan_complete = False
                    return count
        # What the analyzer holds but nothing wants any more (set differences run in C).
        stale_nodes = held.nodes.keys() - self.topology.nodes.keys() - self._status_nodes.keys()
        stale_edges = held.edges.keys() - self.topology.edges.keys()
        if self.ovs is not None:
            stale_nodes -= self.ovs.nodes.keys()
            stale_edges -= set(self._desired_edges())
        for element_id in stale_nodes:
            count += self._mark_new(element_id, True)
        for element_id in stale_edges:
            count += self._mark_new(element_id, False)
        return count

    def _mark_new(self, element_id: str, is_node: bool) -> int:
        """Mark dirty; 1 if it was not already on its way."""
        dirty = self.dirty.nodes if is_node else self.dirty.edges
        if element_id in dirty:
            return 0
        self._mark_dirty(element_id, is_node)
        return 1

    async def _analyzer_elements(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        assert self._http is not None
        quoted = self.origin.replace("\\", "\\\\").replace("'", "\\'")
        try:
            nodes = await self._http.gremlin(f"G.V().Has('@Origin', '{quoted}')")
            edges = await self._http.gremlin(f"G.E().Has('@Origin', '{quoted}')")
        except AnalyzerError as exc:
            if exc.status != 400:
                raise
            # A dialect without '@Origin': read everything and filter here.
            graph = await self._http.gremlin("G")
            if isinstance(graph, list) and graph and isinstance(graph[0], dict):
                graph = graph[0]
            graph = graph if isinstance(graph, dict) else {}
            nodes = [n for n in graph.get("Nodes") or [] if n.get("Origin") == self.origin]
            edges = [e for e in graph.get("Edges") or [] if e.get("Origin") == self.origin]
        return _elements(nodes), _elements(edges)

    async def _flush_forever(self) -> None:
        assert self._publisher is not None and self._wake is not None
        publisher = self._publisher
        closed = asyncio.create_task(publisher.wait_closed())
        try:
            while True:
                if not self.dirty:
                    self._caught_up()
                    self._wake.clear()
                    woke = asyncio.create_task(self._wake.wait())
                    done, _ = await asyncio.wait(
                        {woke, closed}, return_when=asyncio.FIRST_COMPLETED
                    )
                    if closed in done:
                        woke.cancel()
                        raise PublisherDisconnected("analyzer connection closed")
                    # Let a burst finish: every change within the window costs one message.
                    await asyncio.sleep(self.settings.coalesce_window)
                await self.flush()
                if self._resync_requested and time.monotonic() - self._last_resync > _STABLE_AFTER:
                    log.warning("the analyzer rejected messages; re-reading what it holds")
                    await self._resync()
        finally:
            closed.cancel()

    def _caught_up(self) -> None:
        self._dirty_since = None
        self.stats_.last_sync = time.time()
        if not self.synced:
            self.synced = True
            log.info("analyzer in sync with the NB (revision %s)", self.stats_.nb_revision)

    async def flush(self) -> None:
        """Send what the dirty IDs need, in the analyzer's order and in chunks, so a
        big flush never stalls the loop (pings, NB consumption, /healthz).
        Raises PublisherDisconnected if the link drops."""
        assert self.held is not None
        self._flushing = True
        try:
            await self._flush(self.held)
        finally:
            self._flushing = False

    async def _flush(self, held: HeldState) -> None:
        self._activity += 1
        taken = self.dirty.take()
        since = self._dirty_since
        self._dirty_since = None
        planner = Planner(self.origin, self.settings.host, self._clock)
        nodes, edges = list(taken.nodes), list(taken.edges)
        desired_nodes, desired_edges = self._desired_nodes(), self._desired_edges()
        progress = None
        if not self._initial_done and len(taken) > 5000:
            progress = Progress("initial sync", len(taken), tty=self.settings.progress)
        started = time.monotonic()
        deferred: set[str] = set()
        try:
            await self._send_phase(edges, lambda c: planner.edge_removals(c, desired_edges, held))
            await self._send_phase(
                nodes, lambda c: planner.node_upserts(c, desired_nodes, held), progress
            )
            await self._send_phase(
                edges,
                lambda c: planner.edge_upserts(c, desired_edges, held, deferred),
                progress,
            )
            # Edges that stopped being wanted while this flush ran go before any node.
            await self._send_phase(
                list(self.dirty.edges), lambda c: planner.edge_removals(c, desired_edges, held)
            )
            await self._send_phase(
                nodes, lambda c: planner.node_removals(c, desired_nodes, held, self.dirty.nodes)
            )
        except PublisherDisconnected:
            if self._dirty_since is None:
                self._dirty_since = since
            raise
        for edge_id in deferred:
            self._mark_dirty(edge_id, False)
        if progress is not None:
            progress.finish()
        if not self._initial_done:
            self._initial_done = True
            self.stats_.initial_sync_seconds = time.monotonic() - started
            _freeze_heap()
        if self.dirty and self._dirty_since is None:
            self._dirty_since = time.monotonic()

    async def _send_phase(
        self,
        ids: list[str],
        plan: Callable[[list[str]], list[Message]],
        progress: Progress | None = None,
    ) -> None:
        assert self._publisher is not None
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            for message in plan(chunk):
                await self._publisher.send(message)
                self.stats_.messages[message.type] += 1
            if progress is not None:
                progress.advance(len(chunk))
            await asyncio.sleep(0)

    async def _reconcile_forever(self) -> None:
        while True:
            await asyncio.sleep(self.settings.update_interval)
            await self.reconcile()

    async def reconcile(self) -> int:
        """Mark dirty whatever the analyzer should hold differently; returns how many.

        Desired and held state only change through NB changes, flushes and
        resyncs, each of which counts as activity; with no activity since the
        last clean scan, nothing can differ and the scan is skipped (an idle
        collector costs no CPU)."""
        held = self.held
        if held is None or self.topology is None or self._flushing:
            # A flush in progress has taken its dirty IDs out of the set: comparing
            # now would count them as surprises. The next period will look.
            return 0
        if self._resync_requested and self._wake is not None:
            self._wake.set()
        self.stats_.reconciliations += 1
        activity = self._activity
        if activity == self._clean_at:
            return 0
        # Elements already dirty are on their way; only count the real surprises.
        count = await self._scan(held)
        if not self._scan_complete:
            return 0
        if count == 0:
            self._clean_at = activity
        if count:
            self.stats_.reconcile_fixes += count
            log.warning("reconciliation found %d element(s) out of step; resending them", count)
        return count


def _freeze_heap() -> None:
    """Move the long-lived graph out of the garbage collector's sight.

    Hundreds of thousands of desired/held elements live as long as the process;
    without this every full collection rescans them all, which tripled the cost
    of planning a large sync and shows up as idle CPU."""
    gc.collect()
    gc.freeze()


def _elements(result: Any) -> list[dict[str, Any]]:
    if not isinstance(result, list):
        return []
    return [e for e in result if isinstance(e, dict) and isinstance(e.get("ID"), str)]


class _Overlay(Mapping[str, Node]):
    """The topology's nodes plus the collector's status node, without copying."""

    def __init__(self, base: Mapping[str, Node], extra: Mapping[str, Node]) -> None:
        self._base = base
        self._extra = extra

    def __getitem__(self, key: str) -> Node:
        value = self._extra.get(key)
        return value if value is not None else self._base[key]

    def __iter__(self) -> Iterator[str]:
        yield from self._base
        yield from self._extra

    def __contains__(self, key: object) -> bool:
        return key in self._extra or key in self._base

    def items(self) -> Iterator[tuple[str, Node]]:  # type: ignore[override]
        yield from self._base.items()
        yield from self._extra.items()

    def __len__(self) -> int:
        return len(self._base) + len(self._extra)
