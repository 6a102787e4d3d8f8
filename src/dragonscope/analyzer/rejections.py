"""Rejected publisher messages: counted per rule, logged (rate-limited), kept as samples.

Skydive drops a bad message silently; here the publisher can see why, from the
error reply on its connection or from ``GET /api/rejections?origin=...``.
What is kept is bounded whatever publishers send: every text field of a sample
is cut to ``sample_chars``, each origin keeps its last ``kept_per_origin``, all
origins together at most ``max_bytes`` (the oldest samples go first), and each
origin gets ``log_per_minute`` log lines a minute, then one summary.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, deque
from dataclasses import dataclass, replace

log = logging.getLogger("dragonscope.analyzer.rejections")

_LOG_WINDOW_S = 60.0
_ORIGINS_LOGGED = 10_000  # rate-limit windows kept (host-id churn must not grow them)
_SAMPLE_OVERHEAD = 120  # bytes a sample costs besides its texts


@dataclass(frozen=True, slots=True)
class Rejection:
    at: int
    origin: str
    type: str
    uuid: str
    element_id: str | None
    rule: str
    error: str

    def to_json(self) -> dict[str, object]:
        return {
            "Time": self.at,
            "Origin": self.origin,
            "Type": self.type,
            "UUID": self.uuid,
            "ID": self.element_id,
            "Rule": self.rule,
            "Error": self.error,
        }

    def cut(self, chars: int) -> Rejection:
        """The same rejection with every text at most ``chars`` long (marked when cut)."""

        def short(text: str) -> str:
            return text if len(text) <= chars else text[:chars] + "…"

        return replace(
            self,
            origin=short(self.origin),
            type=short(self.type),
            uuid=short(self.uuid),
            element_id=None if self.element_id is None else short(self.element_id),
            rule=short(self.rule),
            error=short(self.error),
        )

    @property
    def size(self) -> int:
        texts = (self.origin, self.type, self.uuid, self.element_id or "", self.rule, self.error)
        return _SAMPLE_OVERHEAD + sum(len(t) for t in texts)


class RejectionLog:
    def __init__(
        self,
        kept_per_origin: int,
        max_bytes: int = 4 * 2**20,
        sample_chars: int = 256,
        log_per_minute: int = 20,
    ) -> None:
        self._kept = kept_per_origin
        self._max_bytes = max_bytes
        self._chars = sample_chars
        self._log_burst = log_per_minute
        self._recent: dict[str, deque[Rejection]] = {}
        # Origins in the order their samples came; ``_stale`` counts entries whose
        # sample already went (per-origin bound), skipped when the oldest is evicted.
        self._order: deque[str] = deque()
        self._stale: Counter[str] = Counter()
        self.bytes = 0
        self.evicted = 0
        self.by_rule: Counter[str] = Counter()
        self._log_window: dict[str, tuple[float, int]] = {}

    def record(self, rejection: Rejection) -> Rejection:
        """Count, log and keep a sample of ``rejection``; returns the sample (cut)."""
        rejection = rejection.cut(self._chars)
        self.by_rule[rejection.rule] += 1
        recent = self._recent.setdefault(rejection.origin, deque())
        if len(recent) >= self._kept:
            self._drop(recent.popleft())
            self._stale[rejection.origin] += 1
        recent.append(rejection)
        self._order.append(rejection.origin)
        self.bytes += rejection.size
        while self.bytes > self._max_bytes and self._order:
            self._evict_oldest()
        if len(self._order) > 2 * (len(self._order) - self._stale.total()) + 1024:
            self._compact()
        self._log(rejection)
        return rejection

    def _compact(self) -> None:
        """Forget the entries of samples already gone (amortized: ``_order`` stays
        within twice the samples kept)."""
        kept = sorted((r for q in self._recent.values() for r in q), key=lambda r: r.at)
        self._order = deque(r.origin for r in kept)
        self._stale.clear()

    def _drop(self, rejection: Rejection) -> None:
        self.bytes -= rejection.size
        self.evicted += 1

    def _evict_oldest(self) -> None:
        origin = self._order.popleft()
        if self._stale[origin]:
            self._stale[origin] -= 1
            if not self._stale[origin]:
                del self._stale[origin]
            return
        recent = self._recent[origin]
        self._drop(recent.popleft())
        if not recent:
            del self._recent[origin]

    def _log(self, r: Rejection) -> None:
        now = time.monotonic()
        start, count = self._log_window.get(r.origin, (now, 0))
        if now - start > _LOG_WINDOW_S:
            if count > self._log_burst:
                log.warning(
                    "%d more rejections from %s not logged", count - self._log_burst, r.origin
                )
            start, count = now, 0
        count += 1
        if r.origin not in self._log_window and len(self._log_window) >= _ORIGINS_LOGGED:
            self._log_window.pop(next(iter(self._log_window)))
        self._log_window[r.origin] = (start, count)
        if count <= self._log_burst:
            log.warning(
                "rejected %s %s from %s: rule %s: %s",
                r.type or "message",
                r.element_id or "",
                r.origin,
                r.rule,
                r.error,
            )

    def recent(self, origin: str | None = None) -> list[Rejection]:
        if origin is not None:
            return list(self._recent.get(origin, ()))
        merged = [r for q in self._recent.values() for r in q]
        merged.sort(key=lambda r: r.at)
        return merged

    @property
    def total(self) -> int:
        return sum(self.by_rule.values())
