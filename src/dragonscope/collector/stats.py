"""What a collector counts, and the report /metrics, /healthz and embedders read.

Each task bumps its own counters in one shared :class:`CollectorStats`; the
collector assembles a :class:`StatsReport` from them and from the live state
(connection, pending elements) when asked, so a report is always consistent
with the moment it was taken.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TypedDict


@dataclass
class CollectorStats:
    """Counters and gauges kept by the collector's tasks."""

    nb_objects: Counter[str] = field(default_factory=Counter)
    nb_events: int = 0
    nb_errors: int = 0
    nb_revision: int = 0
    # Full re-reads after the NB's history broke (restore, wipe, server restart).
    nb_resyncs: int = 0
    nb_resyncing: bool = False
    nb_resync_reason: str = ""
    translate_errors: int = 0
    messages: Counter[str] = field(default_factory=Counter)
    analyzer_reconnects: int = 0
    resyncs: int = 0
    reconciliations: int = 0
    reconcile_fixes: int = 0
    last_sync: float | None = None
    initial_sync_seconds: float | None = None


class AnalyzerReport(TypedDict):
    """One analyzer's link, when the collector publishes to several."""

    connected: bool
    synced: bool
    pending: int
    lag_seconds: float
    last_error: str


class StatsReport(TypedDict):
    """One reading of a collector (``Collector.stats``)."""

    nb_objects: dict[str, int]
    nb_events: int
    nb_errors: int
    nb_revision: int
    nb_stale: bool
    nb_resyncs: int
    nb_resyncing: bool
    nb_resync_reason: str
    translate_errors: int
    graph_nodes: int
    graph_edges: int
    messages_out: dict[str, int]
    messages_out_total: int
    pending: int
    lag_seconds: float
    analyzer_connected: bool
    analyzer_reconnects: int
    analyzer_connect_failures: int
    analyzer_rejections: int
    analyzer_logins: int
    analyzer_last_error: str
    resyncs: int
    reconciliations: int
    reconcile_fixes: int
    last_sync: float | None
    initial_sync_seconds: float | None
    synced: bool
    healthy: bool
    analyzers: dict[str, AnalyzerReport]
