"""Progress of a long publish (the initial sync of a large NB).

On a terminal it redraws one line; otherwise (systemd, a pipe) it writes a
structured log line at most every few seconds, so journals stay readable.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import TextIO

log = logging.getLogger("dragonscope.collector")


class Progress:
    def __init__(
        self,
        label: str,
        total: int,
        stream: TextIO | None = None,
        tty: bool | None = None,
        log_every: float = 5.0,
    ) -> None:
        self.label = label
        self.total = total
        self.done = 0
        self._stream = stream or sys.stderr
        self._tty = self._stream.isatty() if tty is None else tty
        self._log_every = log_every
        self._started = time.monotonic()
        self._last_draw = 0.0

    def advance(self, count: int = 1) -> None:
        self.done += count
        now = time.monotonic()
        if self._tty:
            if now - self._last_draw >= 0.1:
                self._last_draw = now
                self._draw()
        elif now - self._last_draw >= self._log_every:
            self._last_draw = now
            log.info(
                "%s progress done=%d total=%d elapsed=%.1fs",
                self.label, self.done, self.total, now - self._started,
            )  # fmt: skip

    def _draw(self) -> None:
        pct = 100.0 * self.done / self.total if self.total else 100.0
        width = 30
        filled = int(width * pct / 100)
        bar = "#" * filled + "-" * (width - filled)
        self._stream.write(f"\r{self.label} [{bar}] {self.done:,}/{self.total:,} {pct:5.1f}%")
        self._stream.flush()

    def finish(self) -> float:
        elapsed = time.monotonic() - self._started
        if self._tty:
            self._draw()
            self._stream.write("\n")
            self._stream.flush()
        log.info("%s done count=%d elapsed=%.2fs", self.label, self.done, elapsed)
        return elapsed
