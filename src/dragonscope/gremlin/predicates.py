"""Filter parameters (``key, value, key, value``) → a function that tests an element.

Semantics follow Skydive: string values equal strings only; numbers compare as
truncated integers (numeric strings count); node list values match when any
element does, edge list values never do; NE needs the key, NEE does not.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import re2

from dragonscope.graph import MISSING, getter, normalize_key, to_int
from dragonscope.gremlin.errors import GremlinError, column
from dragonscope.gremlin.syntax import Arg, Call, Word

Test = Callable[[Any], bool]
Matcher = Callable[[Any], bool]
Scalar = str | int | bool


@dataclass(frozen=True, slots=True)
class Filter:
    """A compiled filter.

    ``lookups`` lists, per term, the only equality values that can satisfy it
    (for an index): AND filters can use any of them, OR filters only when
    every one of their ``terms`` has one.
    """

    match: Matcher
    any_of: bool
    lookups: tuple[tuple[str, tuple[Scalar, ...]], ...]
    terms: int


class Context:
    """What compile-time errors need: the query text to point into."""

    def __init__(self, query: str) -> None:
        self.query = query

    def error(self, message: str, pos: int | None) -> GremlinError:
        if pos is None:
            return GremlinError(message, None)
        return GremlinError(f"{message} at {column(self.query, pos)}", pos)


def key_of(ctx: Context, arg: Arg, step: str) -> str:
    if not isinstance(arg.value, str):
        raise ctx.error(
            f"{step}() expects a metadata key as a quoted string, got {_show(arg)}", arg.pos
        )
    if not arg.value:
        raise ctx.error(f"{step}() got an empty metadata key", arg.pos)
    return normalize_key(arg.value)


def compile_filter(
    ctx: Context, args: Sequence[Arg], *, step: str, pos: int, edges: bool, any_of: bool = False
) -> Filter:
    """``k, v, k, v ...`` (AND, or OR with ``any_of``); a single key means "has the key"."""
    if len(args) == 1:
        key = key_of(ctx, args[0], step)
        return Filter(exists(key), any_of, (), 1)
    if len(args) % 2:
        raise ctx.error(
            f"{step}() params should be a list of key,value pairs (got {len(args)} params)", pos
        )
    matchers: list[Matcher] = []
    lookups: list[tuple[str, tuple[Scalar, ...]]] = []
    for key_arg, value_arg in zip(args[0::2], args[1::2], strict=True):
        key = key_of(ctx, key_arg, step)
        matcher, values = compile_term(ctx, key, value_arg, step=step, edges=edges)
        matchers.append(matcher)
        if values is not None:
            lookups.append((key, values))
    return Filter(combine(matchers, any_of=any_of), any_of, tuple(lookups), len(matchers))


def exists(key: str) -> Matcher:
    get = getter(key)
    return lambda element: get(element) is not MISSING


def combine(matchers: list[Matcher], *, any_of: bool) -> Matcher:
    if not matchers:
        return lambda element: True
    if len(matchers) == 1:
        return matchers[0]
    if len(matchers) == 2:
        a, b = matchers
        if any_of:
            return lambda element: a(element) or b(element)
        return lambda element: a(element) and b(element)
    if any_of:
        return lambda element: any(m(element) for m in matchers)
    return lambda element: all(m(element) for m in matchers)


def compile_term(
    ctx: Context, key: str, arg: Arg, *, step: str, edges: bool
) -> tuple[Matcher, tuple[Scalar, ...] | None]:
    """One ``key, value`` term → (matcher, equality values usable for an index lookup)."""
    value = arg.value
    lists = not edges
    get = getter(key, edge_ends=edges)
    if isinstance(value, Word):
        raise ctx.error(f"{value.name} is not a value for {step}()", arg.pos)
    if not isinstance(value, Call):
        scalar = _scalar(value)
        return _term(get, _equals(scalar), lists), (scalar,)
    name, args = value.name, value.args
    if name == "METADATA":
        raise ctx.error("Metadata(...) is only valid in ShortestPathTo()", arg.pos)
    if name in ("NE", "NEE"):
        _arity(ctx, name, args, 1, arg.pos)
        test = _equals(_scalar(_plain(ctx, name, args[0])))
        term = _term(get, test, lists)
        if name == "NEE":
            return (lambda element: not term(element)), None
        present = getter(key)
        return (lambda element: present(element) is not MISSING and not term(element)), None
    if name in ("LT", "GT", "LTE", "GTE"):
        _arity(ctx, name, args, 1, arg.pos)
        bound = _integer(ctx, name, args[0])
        compare: Test = {
            "LT": lambda n: n < bound,
            "GT": lambda n: n > bound,
            "LTE": lambda n: n <= bound,
            "GTE": lambda n: n >= bound,
        }[name]
        return _term(get, _numeric(compare), lists), None
    if name in ("INSIDE", "BETWEEN"):
        _arity(ctx, name, args, 2, arg.pos)
        low, high = _integer(ctx, name, args[0]), _integer(ctx, name, args[1])
        if name == "INSIDE":
            return _term(get, _numeric(lambda n: low < n < high), lists), None
        return _term(get, _numeric(lambda n: low <= n < high), lists), None
    if name in ("WITHIN", "WITHOUT"):
        if not args:
            raise ctx.error(f"{name}() needs at least one value", arg.pos)
        scalars = tuple(_scalar(_plain(ctx, name, a)) for a in args)
        term = _term(get, _one_of(scalars), lists)
        if name == "WITHOUT":
            return (lambda element: not term(element)), None
        return term, scalars
    if name == "REGEX":
        _arity(ctx, name, args, 1, arg.pos)
        return _term(get, _regex(ctx, args[0]), lists), None
    if name == "IPV4RANGE":
        _arity(ctx, name, args, 1, arg.pos)
        return _term(get, _ipv4_range(ctx, args[0]), lists), None
    raise ctx.error(f"Unknown predicate {name}()", arg.pos)  # pragma: no cover - parser rejects


def _show(arg: Arg) -> str:
    value = arg.value
    if isinstance(value, Call):
        return f"{value.name}(...)"
    if isinstance(value, Word):
        return value.name
    return repr(value)


def _arity(ctx: Context, name: str, args: tuple[Arg, ...], count: int, pos: int) -> None:
    if len(args) != count:
        plural = "value" if count == 1 else "values"
        raise ctx.error(f"{name}() takes {count} {plural}, got {len(args)}", pos)


def _plain(ctx: Context, name: str, arg: Arg) -> str | int | float | bool:
    if isinstance(arg.value, Call | Word):
        raise ctx.error(f"{name}() takes plain values, got {_show(arg)}", arg.pos)
    return arg.value


def _integer(ctx: Context, name: str, arg: Arg) -> int:
    value = arg.value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ctx.error(f"{name}() compares numbers, got {_show(arg)}", arg.pos)
    return int(value)


def _scalar(value: str | int | float | bool) -> Scalar:
    if isinstance(value, float):
        return int(value)
    return value


def _term(get: Callable[[Any], Any], test: Test, lists: bool) -> Matcher:
    """Does the element's value pass ``test`` (for nodes: any element of a list)?"""

    def term(element: Any) -> bool:
        value = get(element)
        if value is MISSING:
            return False
        if type(value) is list:
            if not lists:
                return False
            for item in value:
                if type(item) is list:
                    if any(test(x) for x in item if type(x) not in (list, dict)):
                        return True
                elif type(item) is not dict and test(item):
                    return True
            return False
        if type(value) is dict:
            return False
        return test(value)

    return term


def _equals(expected: Scalar) -> Test:
    if isinstance(expected, bool):
        return lambda x: x is expected
    if isinstance(expected, str):
        return lambda x: x == expected and type(x) is str
    return lambda x: to_int(x) == expected


def _numeric(compare: Test) -> Test:
    def test(x: Any) -> bool:
        n = to_int(x)
        return n is not None and compare(n)

    return test


def _one_of(values: tuple[Scalar, ...]) -> Test:
    strings = frozenset(v for v in values if isinstance(v, str))
    bools = frozenset(v for v in values if isinstance(v, bool))
    ints = frozenset(v for v in values if not isinstance(v, str | bool))

    def test(x: Any) -> bool:
        kind = type(x)
        if kind is str and x in strings:
            return True
        if kind is bool:
            return x in bools
        return bool(ints) and to_int(x) in ints

    return test


def _regex(ctx: Context, arg: Arg) -> Test:
    """Every pattern runs on RE2, whose time is linear in the text (Skydive's Go
    regexp is RE2 too); what RE2 cannot run (back-references, look-arounds, inline
    flags such as ``(?x)``) is refused, never handed to a backtracking engine."""
    pattern = arg.value
    if not isinstance(pattern, str):
        raise ctx.error(f"REGEX() takes a pattern as a quoted string, got {_show(arg)}", arg.pos)
    if pattern.startswith("^") or pattern.endswith("$"):
        raise ctx.error(
            "Regex are anchored by default, no need to use '^' or '$' in the pattern", arg.pos
        )
    options = re2.Options()
    options.log_errors = False
    try:
        compiled = re2.compile(pattern, options)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else ""
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise ctx.error(
            f"Invalid regular expression {pattern!r}: {reason}; patterns use RE2 syntax"
            " (no back-references, look-arounds or (?x) verbose mode)",
            arg.pos,
        ) from None
    match = compiled.fullmatch
    return lambda x: type(x) is str and match(x) is not None


def _ipv4_range(ctx: Context, arg: Arg) -> Test:
    cidr = arg.value
    if not isinstance(cidr, str):
        raise ctx.error(f"IPV4RANGE() takes a CIDR as a quoted string, got {_show(arg)}", arg.pos)
    try:
        network = ipaddress.IPv4Network(cidr, strict=False)
    except ValueError as exc:
        raise ctx.error(f"Invalid IPv4 range {cidr!r}: {exc}", arg.pos) from None
    low = int(network.network_address)
    high = int(network.broadcast_address)

    def test(x: Any) -> bool:
        if type(x) is not str:
            return False
        address = ipv4_int(x.split("/", 1)[0])
        return address is not None and low <= address <= high

    return test


def ipv4_int(text: str) -> int | None:
    parts = text.split(".")
    if len(parts) != 4:
        return None
    total = 0
    for part in parts:
        if not part.isdigit() or len(part) > 3:
            return None
        octet = int(part)
        if octet > 255:
            return None
        total = total * 256 + octet
    return total
