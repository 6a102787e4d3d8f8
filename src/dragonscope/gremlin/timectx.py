"""The time arguments of ``At``/``Context``: when, and optionally how long before."""

from __future__ import annotations

import email.utils
import re

from dragonscope.gremlin.predicates import Context
from dragonscope.gremlin.syntax import Arg, Word

_DURATION = re.compile(r"([+-]?)((?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:ns|us|µs|μs|ms|s|m|h))+")
_PART = re.compile(r"([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h)")
_UNIT_MS = {
    "ns": 1e-6, "us": 1e-3, "µs": 1e-3, "μs": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4, "h": 3.6e6
}  # fmt: skip
_MAX_SECONDS = 2147483647

AT_FORMS = (
    "an RFC1123 date ('Mon, 02 Jan 2006 15:04:05 MST'), a duration from now ('-5m', '-1h30m'),"
    " epoch seconds or milliseconds, or NOW"
)


def duration_ms(text: str) -> int | None:
    """A Go duration (``-1h30m``, ``300ms``, ``0``) in milliseconds, or None."""
    if text in ("0", "+0", "-0"):
        return 0
    if not _DURATION.fullmatch(text):
        return None
    sign = -1 if text.startswith("-") else 1
    total = sum(float(n) * _UNIT_MS[u] for n, u in _PART.findall(text))
    return sign * round(total)


def at_ms(ctx: Context, arg: Arg, now_ms: int, step: str) -> int:
    value = arg.value
    if isinstance(value, Word) and value.name == "NOW":
        return now_ms
    if isinstance(value, int) and not isinstance(value, bool):
        return value * 1000 if value <= _MAX_SECONDS else value
    if isinstance(value, str):
        relative = duration_ms(value)
        if relative is not None:
            return now_ms + relative
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            when = None
        if when is not None and when.tzinfo is not None:
            return int(when.timestamp() * 1000)
    raise ctx.error(f"{step}() cannot read the time {_show(value)}: expected {AT_FORMS}", arg.pos)


def window_ms(ctx: Context, arg: Arg, at: int, step: str) -> int:
    """The length of the window ending at ``at``, in milliseconds."""
    value = arg.value
    if isinstance(value, Word) and value.name == "FOREVER":
        return at
    if isinstance(value, int) and not isinstance(value, bool):
        return value * 1000
    if isinstance(value, str):
        length = duration_ms(value)
        if length is not None:
            return abs(length)
    raise ctx.error(
        f"{step}() cannot read the duration {_show(value)}: expected a duration ('5m'),"
        " seconds, or FOREVER",
        arg.pos,
    )


def _show(value: object) -> str:
    return value.name if isinstance(value, Word) else repr(value)
