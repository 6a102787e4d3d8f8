"""Times in query strings: ms since epoch, seconds since epoch, ISO 8601, or relative.

``1700000000000`` (ms), ``1700000000`` (s, like Skydive: up to 2147483647),
``2026-11-25T03:00:00Z``, ``now``, ``-5m`` / ``-1h30m`` / ``-90s`` (before now).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from dragonscope.graph import now_ms

_UNITS_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
_RELATIVE = re.compile(r"^-((?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+)$")
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")


def parse_time(text: str, now: int | None = None) -> int:
    """Milliseconds since epoch; raises ValueError with a message for the user."""
    now = now_ms() if now is None else now
    value = text.strip()
    if value.lower() == "now":
        return now
    if value.isdigit():
        number = int(value)
        return number * 1000 if number <= 2147483647 else number
    relative = _RELATIVE.match(value)
    if relative:
        total = sum(float(n) * _UNITS_MS[u] for n, u in _PART.findall(relative.group(1)))
        return now - int(total)
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"invalid time {text!r}: use ms or s since epoch, ISO 8601, now, or -5m style"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp() * 1000)
