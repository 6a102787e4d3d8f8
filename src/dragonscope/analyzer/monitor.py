"""What the analyzer tells about itself: Skydive's status document and the Prometheus metrics.

One typed source for ``/api/status``, ``/metrics`` and ``/healthz``, built by the
composition root from the services it watches.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dragonscope import __version__
from dragonscope.analyzer.auth import Authenticator
from dragonscope.analyzer.endpoints.handshake import Connection, Pool
from dragonscope.analyzer.rejections import RejectionLog
from dragonscope.analyzer.services import Live
from dragonscope.analyzer.subscribers import Subscriber, SubscriberHub
from dragonscope.metrics import Scrape


@dataclass(frozen=True, slots=True)
class Monitor:
    live: Live
    hub: SubscriberHub
    publishers: Pool[Connection]
    subscribers: Pool[tuple[Connection, Subscriber]]
    rejections: RejectionLog
    counters: Counter[str]
    auth: Authenticator
    limits: Mapping[str, float] = field(default_factory=dict)
    budget_exceeded: Mapping[str, int] = field(default_factory=dict)  # Gremlin, by where
    started_at: float = field(default_factory=time.monotonic)

    def uptime(self) -> float:
        return time.monotonic() - self.started_at

    def _history(self) -> dict[str, Any]:
        history, recorder = self.live.history, self.live.past.recorder
        out: dict[str, Any] = {"Oldest": history.oldest, "Changes": len(history)}
        if recorder is not None:
            stats = recorder.stats
            out["Store"] = {
                "URL": _no_password(recorder.store.url),
                "Buffered": recorder.buffered,
                "Written": stats.written,
                "Skipped": stats.skipped,
                "Dropped": stats.dropped,
                "Checkpoints": stats.checkpoints,
                "DownSince": stats.down_since,
                "LastError": stats.last_error if stats.down_since is not None else "",
            }
        return out

    def status(self) -> dict[str, Any]:
        """Skydive's ``/api/status`` shape, with the graph, history and auth added."""
        graph = self.live.graph
        origins = self.live.store.origin_counts().items()
        return {
            "Agents": {},
            "Peers": {"Incomers": {}, "Outgoers": {}},
            "Publishers": {h: c.status() for h, c in self.publishers.by_host.items()},
            "Subscribers": {h: c.status() for h, (c, _) in self.subscribers.by_host.items()},
            "Alerts": {"IsMaster": True},
            "Captures": {"IsMaster": True},
            "Probes": {},
            "Graph": {
                "Nodes": graph.node_count(),
                "Edges": graph.edge_count(),
                "Origins": {o: {"Nodes": n, "Edges": e} for o, (n, e) in origins},
            },
            "History": self._history(),
            "Auth": {"Enabled": self.auth.enabled},
            "Version": __version__,
        }

    def metrics(self) -> bytes:
        """The Prometheus text exposition."""
        counters, hub, graph = self.counters, self.hub, self.live.graph
        depths = hub.queue_depths()
        publishers = list(self.publishers.by_host.values())
        scrape = Scrape("dragonscope_")
        scrape.gauge("publishers", "Connected publishers.", len(self.publishers))
        scrape.gauge("subscribers", "Connected subscribers.", len(self.subscribers))
        scrape.counter(
            "publisher_messages_in",
            "Messages received per connected publisher.",
            label="origin",
            samples=[({"origin": c.origin}, c.messages_in) for c in publishers],
        )
        scrape.gauge("graph_nodes", "Nodes in the live graph.", graph.node_count())
        scrape.gauge("graph_edges", "Edges in the live graph.", graph.edge_count())
        scrape.counter(
            "messages_in", "WebSocket messages received from publishers.", counters["messages_in"]
        )
        scrape.counter(
            "messages_out",
            "WebSocket messages sent (replies and events).",
            counters["messages_out"] + hub.frames_out,
        )
        scrape.counter(
            "rejections",
            "Rejected publisher messages, by rule.",
            label="rule",
            samples=[({"rule": r}, n) for r, n in sorted(self.rejections.by_rule.items())]
            or [({"rule": "none"}, 0)],
        )
        scrape.gauge(
            "subscriber_queue_depth_max",
            "Deepest subscriber queue (frames).",
            max(depths, default=0),
        )
        scrape.gauge(
            "subscriber_queue_depth_total", "Frames queued for all subscribers.", sum(depths)
        )
        scrape.gauge(
            "subscriber_graph_answers_held",
            f"Whole-graph subscriber answers encoding or unsent (at most {hub.slots}).",
            hub.graphs_held,
        )
        scrape.counter(
            "subscriber_frames_dropped",
            "Frames dropped for slow subscribers (replaced by a resync).",
            sum(s.dropped for s in hub.subscribers),
        )
        scrape.gauge("history_changes", "Changes kept in history.", len(self.live.history))
        recorder = self.live.past.recorder
        if recorder is not None:
            stats = recorder.stats
            scrape.gauge("history_buffered", "Changes waiting to be written.", recorder.buffered)
            scrape.counter("history_written", "Changes written to the store.", stats.written)
            scrape.counter("history_skipped", "Changes another analyzer had stored.", stats.skipped)
            scrape.counter(
                "history_dropped", "Changes lost while the store was down.", stats.dropped
            )
            scrape.counter(
                "history_write_seconds", "Time spent writing batches.", stats.write_seconds
            )
            scrape.counter(
                "history_backpressure_seconds",
                "Time publishers waited for the history writer.",
                stats.backpressure_seconds,
            )
            scrape.gauge(
                "history_store_up", "1 when the store answers.", int(stats.down_since is None)
            )
        scrape.counter("queries", "Gremlin queries answered over REST.", counters["queries"])
        scrape.counter("alerts_fired", "Alerts fired.", counters["alerts_fired"])
        scrape.gauge(
            "limit",
            "Input bounds in force (AnalyzerSettings; bytes, levels, counts or seconds).",
            label="limit",
            samples=[({"limit": name}, value) for name, value in sorted(self.limits.items())],
        )
        scrape.counter(
            "gremlin_budget_exceeded",
            "Gremlin runs stopped by gremlin-max-elements or gremlin-timeout, by where they "
            "ran (rest, subscriber-filter, view, rule, alert).",
            label="where",
            samples=[({"where": w}, n) for w, n in sorted(self.budget_exceeded.items())]
            or [({"where": "none"}, 0)],
        )
        scrape.counter(
            "connections_refused",
            "WebSocket handshakes refused by a connection bound, by bound.",
            label="bound",
            samples=[
                ({"bound": key}, n) for key, n in sorted(counters.items()) if key.startswith("max-")
            ]
            or [({"bound": "none"}, 0)],
        )
        scrape.gauge(
            "rejection_samples_bytes", "Bytes held by rejection samples.", self.rejections.bytes
        )
        scrape.counter(
            "rejection_samples_evicted",
            "Rejection samples dropped to stay within their bounds.",
            self.rejections.evicted,
        )
        throttle = self.auth.throttle
        scrape.counter("login_failures", "Wrong passwords (logins, basic auth).", throttle.failures)
        scrape.counter(
            "login_throttled",
            "Password checks refused with 429, by what was limited (user, address, busy).",
            label="scope",
            samples=[({"scope": scope}, n) for scope, n in sorted(throttle.refused.items())],
        )
        scrape.gauge("login_locked", "User names and addresses locked out now.", throttle.locked())
        return scrape.text()


def _no_password(url: str) -> str:
    """A database URL as it may be shown: without the password."""
    scheme, sep, rest = url.partition("://")
    creds, at, host = rest.rpartition("@")
    if not sep or not at or ":" not in creds:
        return url
    return f"{scheme}://{creds.split(':', 1)[0]}:***@{host}"
