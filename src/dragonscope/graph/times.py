"""Reading times and durations, once for every input: Gremlin's ``At``, ``/api/changes``,
the subscriber's ``Time`` and the command line's retention flags.

A duration is Go's (``-1h30m``, ``300ms``, ``1.5s``) plus days (``7d``); a time is epoch
seconds or milliseconds (seconds up to 2147483647, as Skydive reads them), ISO 8601,
RFC 1123, ``now``, or a duration relative to now. Every result is bounded to years 1..9999,
so no input can overflow a date computation further down.
"""

from __future__ import annotations

import email.utils
import math
import re
from datetime import UTC, datetime

from dragonscope.graph.model import now_ms

_UNIT_MS = {
    "ns": 1e-6, "us": 1e-3, "µs": 1e-3, "μs": 1e-3, "ms": 1.0,
    "s": 1e3, "m": 6e4, "h": 3.6e6, "d": 8.64e7,
}  # fmt: skip
_NUMBER = r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
_UNITS = r"(?:ns|us|µs|μs|ms|s|m|h|d)"
_DURATION = re.compile(rf"[+-]?(?:{_NUMBER}{_UNITS})+")
_PART = re.compile(rf"({_NUMBER})({_UNITS})")
MAX_EPOCH_SECONDS = 2147483647
# datetime's own range, in ms since epoch: years 1 to 9999.
MIN_MS = -62135596800000
MAX_MS = 253402300799999
TIME_FORMS = "ms or s since epoch, ISO 8601, an RFC 1123 date, now, or a duration from now like -5m"


def duration_ms(text: str) -> int | None:
    """A duration (``-1h30m``, ``300ms``, ``7d``, ``0``) in milliseconds, or None."""
    text = text.strip()
    if text in ("0", "+0", "-0"):
        return 0
    if not _DURATION.fullmatch(text):
        return None
    sign = -1 if text.startswith("-") else 1
    total = sum(float(n) * _UNIT_MS[u] for n, u in _PART.findall(text))
    if not math.isfinite(total) or total > MAX_MS - MIN_MS:
        return None
    return sign * round(total)


def epoch_ms(number: int) -> int:
    """Epoch seconds (up to 2147483647, Skydive's rule) or milliseconds, in milliseconds."""
    return number * 1000 if abs(number) <= MAX_EPOCH_SECONDS else number


def in_range(ms: int) -> bool:
    return MIN_MS <= ms <= MAX_MS


def parse_time(text: str, now: int | None = None) -> int:
    """Milliseconds since epoch; raises ValueError with a message for the user."""
    now = now_ms() if now is None else now
    value = text.strip()
    result: int | None = None
    if value.lower() == "now":
        result = now
    elif value.isdigit():
        result = epoch_ms(int(value))
    elif (relative := duration_ms(value)) is not None and value[:1] in "+-":
        result = now + relative
    else:
        result = _absolute(value)
    if result is None or not in_range(result):
        raise ValueError(f"invalid time {text!r}: use {TIME_FORMS}")
    return result


def parse_rfc1123(text: str) -> int | None:
    """An RFC 1123 date with a zone (Skydive's ``At`` form), in ms, or None."""
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None or when.tzinfo is None:
        return None
    return int(when.timestamp() * 1000)


def _absolute(value: str) -> int | None:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return parse_rfc1123(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return int(parsed.timestamp() * 1000)
    except (OverflowError, ValueError):
        return None
