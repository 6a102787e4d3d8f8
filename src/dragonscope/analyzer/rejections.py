"""Rejected publisher messages: counted per rule, logged (rate-limited), kept per origin.

Skydive drops a bad message silently; here the publisher can see why, from the
error reply on its connection or from ``GET /api/rejections?origin=...``.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, deque
from dataclasses import dataclass

log = logging.getLogger("dragonscope.analyzer.rejections")

_LOG_BURST = 20  # log lines per origin per minute, then one summary
_LOG_WINDOW_S = 60.0
_ORIGINS_KEPT = 10_000


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


class RejectionLog:
    def __init__(self, kept_per_origin: int) -> None:
        self._kept = kept_per_origin
        self._recent: dict[str, deque[Rejection]] = {}
        self.by_rule: Counter[str] = Counter()
        self._log_window: dict[str, tuple[float, int]] = {}

    def record(self, rejection: Rejection) -> None:
        self.by_rule[rejection.rule] += 1
        recent = self._recent.get(rejection.origin)
        if recent is None:
            if len(self._recent) >= _ORIGINS_KEPT:  # bound memory against host-id churn
                self._recent.pop(next(iter(self._recent)))
            recent = self._recent[rejection.origin] = deque(maxlen=self._kept)
        recent.append(rejection)
        self._log(rejection)

    def _log(self, r: Rejection) -> None:
        now = time.monotonic()
        start, count = self._log_window.get(r.origin, (now, 0))
        if now - start > _LOG_WINDOW_S:
            if count > _LOG_BURST:
                log.warning("%d more rejections from %s not logged", count - _LOG_BURST, r.origin)
            start, count = now, 0
        count += 1
        if r.origin not in self._log_window and len(self._log_window) >= _ORIGINS_KEPT:
            self._log_window.pop(next(iter(self._log_window)))
        self._log_window[r.origin] = (start, count)
        if count <= _LOG_BURST:
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
