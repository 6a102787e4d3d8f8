"""The collector: NB → topology → minimal diffs → analyzer, through any outage.

A composition of tasks sharing one desired graph (:mod:`.desired`) and one
sync state (:mod:`.sync`):

* the NB task (:mod:`.nb_feed`) folds NB changes into the topology and marks
  the touched elements; a probe flags the NB stale when its store is down;
* the publish task (:mod:`.publish`) connects, resyncs and flushes marks as
  minimal messages;
* the reconcile task (:mod:`.reconcile`) marks any drift every ``update_interval``;
* /metrics and /healthz (:mod:`.health`) read the collector's stats.

Another source of graph elements joins with ``add_source(source, loop, name)``:
its elements are published beside the topology's, and its loop runs, and
stops, with the collector's own tasks. A chassis collector adds its Open
vSwitch probe that way (:mod:`.ovs_source`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING

from dragonscope.collector.desired import DesiredGraph, Source
from dragonscope.collector.health import HealthServer
from dragonscope.collector.nb_feed import NbFeed, opened
from dragonscope.collector.nb_probe import nb_endpoints
from dragonscope.collector.publish import AnalyzerLink
from dragonscope.collector.reconcile import Reconciler
from dragonscope.collector.settings import CollectorSettings
from dragonscope.collector.state import HeldState
from dragonscope.collector.stats import CollectorStats, StatsReport
from dragonscope.collector.status import StatusNode
from dragonscope.collector.sync import SyncState
from dragonscope.config import parse_host_port
from dragonscope.nb import NbReader
from dragonscope.skydive import analyzer_base_url
from dragonscope.topology import Topology

if TYPE_CHECKING:
    from dragonscope.collector.chassis_desk import ChassisDesk
    from dragonscope.collector.ovs_source import OvsSource

# A connection that dies sooner than this is not "stable": keep backing off.
_STABLE_AFTER = 5.0

# What a loop returns: a coroutine the collector runs as a task.
Task = Coroutine[object, object, None]


class Collector:
    """Embeddable collector; ``await run()`` until cancelled.

    >>> collector = Collector(CollectorSettings(nb="etcd://127.0.0.1:2379"))
    >>> task = asyncio.create_task(collector.run())   # doctest: +SKIP
    """

    def __init__(self, settings: CollectorSettings) -> None:
        self.settings = settings
        self.stats_ = CollectorStats()
        self.analyzer_urls = [analyzer_base_url(a, settings.tls) for a in settings.analyzers]
        self.analyzer_url = self.analyzer_urls[0]
        self.origin = f"{settings.client_type}.{settings.publisher_host_id}"
        self.sync = SyncState()
        self.status = StatusNode(
            self.origin, f"collector {settings.publisher_host_id}", settings.chassis, self.sync
        )
        self.nb = NbFeed(settings, self.sync, self.status, self.stats_)
        self.desired = DesiredGraph()
        self._loops: list[tuple[str, Callable[[], Task]]] = []
        self.add_source(self.nb.topology)
        self.add_source(self.status)
        # One link (its own sync state, reconciler and connection) per analyzer; the
        # first link's sync state is ``self.sync`` and passes every mark on.
        self.links: list[AnalyzerLink] = []
        for url in self.analyzer_urls:
            sync = self.sync if not self.links else SyncState()
            if self.links:
                self.sync.followers.append(sync)
            reconciler = Reconciler(settings.host, sync, self.desired, self.stats_)
            self.links.append(AnalyzerLink(
                settings, url, sync, self.desired, reconciler, self.stats_, _STABLE_AFTER
            ))  # fmt: skip
        self.link = self.links[0]
        self.reconciler = self.link.reconciler
        self.ovs: OvsSource | None = None
        self.desks: list[ChassisDesk] = []
        if settings.ovsdb_remote is not None:
            # A chassis collector also shows its Open vSwitch; the probe's modules (and the
            # simulator's, for drift and real traces) are imported only then.
            from dragonscope.collector.chassis_desk import attach_desk
            from dragonscope.collector.ovs_source import attach_ovs

            self.ovs = attach_ovs(self)
            # Each analyzer may ask this chassis's switch, on its own link.
            probe = self.ovs.probe.settings if self.ovs else None
            self.desks = [attach_desk(link, probe) for link in self.links] if probe else []

    def add_source(
        self, source: Source, loop: Callable[[], Task] | None = None, name: str = "source"
    ) -> None:
        """Publish ``source``'s elements too; ``loop``, if any, feeds it while the
        collector runs (its task is named ``collector-<name>``).

        The source reports what it changes with ``collector.sync.mark``."""
        self.desired.add(source)
        if loop is not None:
            self._loops.append((name, loop))

    # -- public state ----------------------------------------------------------
    @property
    def topology(self) -> Topology:
        return self.nb.topology

    @property
    def held(self) -> HeldState | None:
        return self.sync.held

    @property
    def synced(self) -> bool:
        return self.sync.synced

    @property
    def healthy(self) -> bool:
        """NB stream live, every analyzer connected and caught up once."""
        return (
            self.nb.ready
            and not self.nb.stale
            and not self.stats_.nb_resyncing
            and all(link.publisher.connected and link.sync.synced for link in self.links)
        )

    @property
    def stats(self) -> StatsReport:
        """The first analyzer's link in the ``analyzer_*`` keys; ``analyzers`` has each."""
        s, pub = self.stats_, self.link.publisher
        return {
            "nb_objects": dict(s.nb_objects),
            "nb_events": s.nb_events,
            "nb_errors": s.nb_errors,
            "nb_revision": s.nb_revision,
            "nb_stale": self.nb.stale,
            "nb_resyncs": s.nb_resyncs,
            "nb_resyncing": s.nb_resyncing,
            "nb_resync_reason": s.nb_resync_reason,
            "translate_errors": s.translate_errors,
            "graph_nodes": len(self.topology.nodes),
            "graph_edges": len(self.topology.edges),
            "messages_out": dict(s.messages),
            "messages_out_total": sum(s.messages.values()),
            "pending": len(self.sync.dirty),
            "lag_seconds": self.sync.lag,
            "analyzer_connected": pub.connected,
            "analyzer_reconnects": s.analyzer_reconnects,
            "analyzer_connect_failures": pub.connect_failures,
            "analyzer_rejections": pub.rejections,
            "analyzer_logins": self.link.http.logins,
            "analyzer_last_error": pub.last_error,
            "resyncs": s.resyncs,
            "reconciliations": s.reconciliations,
            "reconcile_fixes": s.reconcile_fixes,
            "last_sync": s.last_sync,
            "initial_sync_seconds": s.initial_sync_seconds,
            "synced": all(link.sync.synced for link in self.links),
            "healthy": self.healthy,
            "analyzers": {
                url: {
                    "connected": link.publisher.connected,
                    "synced": link.sync.synced,
                    "pending": len(link.sync.dirty),
                    "lag_seconds": link.sync.lag,
                    "last_error": link.publisher.last_error,
                }
                for url, link in zip(self.analyzer_urls, self.links, strict=True)
            },
        }

    async def reconcile(self) -> int:
        """Mark dirty whatever an analyzer should hold differently; returns how many."""
        return sum([await link.reconciler.reconcile() for link in self.links])

    # -- main ------------------------------------------------------------------
    async def run(self) -> None:
        settings = self.settings
        health: HealthServer | None = None
        try:
            async with opened(settings.nb) as reader:
                if settings.metrics_listen:
                    host, port = parse_host_port(settings.metrics_listen, "--metrics-listen")
                    health = HealthServer(lambda: self.stats, host, port)
                    await health.start()
                self.nb.prepare(reader)
                # The graph is published while the NB is read.
                tasks: list[tuple[str, Task]] = [("nb", self._feed(reader))]
                for i, link in enumerate(self.links):
                    suffix = f"-{i}" if i else ""
                    tasks.append((f"publish{suffix}", link.run()))
                    tasks.append(
                        (f"reconcile{suffix}", link.reconciler.run(settings.update_interval))
                    )
                endpoints = nb_endpoints(reader.url)
                if endpoints:
                    tasks.append(("probe", self.nb.probe(endpoints)))
                tasks += [(name, loop()) for name, loop in self._loops]
                await _until_one_fails(tasks)
        finally:
            for desk in self.desks:
                desk.close()
            for link in self.links:
                await link.close()
            if health is not None:
                await health.stop()

    async def _feed(self, reader: NbReader) -> None:
        """Load the NB (published while read), then follow it."""
        revision = await self.nb.load(reader)
        for link in self.links:
            await link.reconciler.mark_unwanted(link.sync.held)
        await self.nb.follow(reader, revision)


async def _until_one_fails(coroutines: list[tuple[str, Task]]) -> None:
    """Run the tasks until one raises (re-raised here) or all are cancelled."""
    tasks = [asyncio.create_task(coro, name=f"collector-{name}") for name, coro in coroutines]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for task in done:
            task.result()  # re-raise a crashed task's error
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
