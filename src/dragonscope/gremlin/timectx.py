"""The time arguments of ``At``/``Context``: when, and optionally how long before."""

from __future__ import annotations

from dragonscope.graph import duration_ms, epoch_ms, parse_rfc1123
from dragonscope.gremlin.predicates import Context
from dragonscope.gremlin.syntax import Arg, Word

AT_FORMS = (
    "an RFC1123 date ('Mon, 02 Jan 2006 15:04:05 MST'), a duration from now ('-5m', '-1h30m'),"
    " epoch seconds or milliseconds, or NOW"
)


def at_ms(ctx: Context, arg: Arg, now_ms: int, step: str) -> int:
    value = arg.value
    if isinstance(value, Word) and value.name == "NOW":
        return now_ms
    if isinstance(value, int) and not isinstance(value, bool):
        return epoch_ms(value)
    if isinstance(value, str):
        relative = duration_ms(value)
        if relative is not None:
            return now_ms + relative
        absolute = parse_rfc1123(value)
        if absolute is not None:
            return absolute
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
