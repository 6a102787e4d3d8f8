"""Revisions that only ever grow, even across collector restarts.

A Skydive analyzer applies an update only when its ``Revision`` is greater than
the stored one, and it keeps what a Persistent publisher sent before the
publisher restarted. Counting from 1 again after a restart would make every
update silently ignored, so revisions are microseconds since the epoch, bumped
by one when two are drawn within the same microsecond (or the clock steps back).
Values stay below 2**53, so JavaScript clients read them exactly.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class RevisionClock:
    def __init__(self, now_ns: Callable[[], int] = time.time_ns) -> None:
        self._now_ns = now_ns
        self._last = 0

    def next(self) -> int:
        revision = max(self._last + 1, self._now_ns() // 1000)
        self._last = revision
        return revision

    def observe(self, revision: int) -> None:
        """Never issue a revision at or below one the analyzer already holds."""
        if revision > self._last:
            self._last = revision

    @property
    def last(self) -> int:
        return self._last
