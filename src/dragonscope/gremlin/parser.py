"""Text → steps, with Skydive's lexical rules and errors that say where and what."""

from __future__ import annotations

import difflib
from functools import lru_cache
from pathlib import Path

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from dragonscope.gremlin.errors import GremlinError, column
from dragonscope.gremlin.syntax import PREDICATES, STEPS, WORDS, Arg, Call, Step, Value, Word

_LARK = Lark(
    (Path(__file__).with_name("grammar.lark")).read_text(),
    parser="lalr",
    maybe_placeholders=False,
)

_INT64_MAX = 2**63 - 1


def parse(query: str) -> tuple[Step, ...]:
    """Parse a whole query; raises GremlinError naming the position of the first problem."""
    if not isinstance(query, str):
        raise GremlinError("The query must be a string")
    return _parse(query)


@lru_cache(maxsize=512)
def _parse(query: str) -> tuple[Step, ...]:
    if not query.strip(" \t\n"):
        raise GremlinError("Empty query: a query starts with G, e.g. G.V()", 0)
    _check_nesting(query)
    try:
        tree = _LARK.parse(query)
    except UnexpectedInput as exc:
        raise _syntax_error(query, exc) from None
    head, *steps = tree.children
    assert isinstance(head, Token)
    if head.value.upper() != "G":
        raise GremlinError(
            f'found "{head.value}", expected `G` at {column(query, head.start_pos or 0)}',
            head.start_pos,
        )
    return tuple(_step(query, s) for s in steps if isinstance(s, Tree))


# Step(Metadata(key, Predicate(...))) is the deepest a query can go.
MAX_NESTING = 3


def _check_nesting(query: str) -> None:
    """Refuse absurd nesting before parsing, so it never costs deep recursion."""
    depth = 0
    quoted = False
    for pos, char in enumerate(query):
        if char in "'\"":
            quoted = not quoted
        elif quoted:
            continue
        elif char == "(":
            depth += 1
            if depth > MAX_NESTING:
                raise GremlinError(
                    f"Too many nested parentheses at {column(query, pos)}: predicates go"
                    " inside a step, or inside Metadata() in ShortestPathTo()",
                    pos,
                )
        elif char == ")":
            depth -= 1


def _step(query: str, tree: Tree[Token]) -> Step:
    _dot, name, _lpar, params, _rpar = tree.children
    assert isinstance(name, Token) and isinstance(params, Tree)
    canonical = STEPS.get(name.value.lower())
    if canonical is None:
        raise GremlinError(
            f"Expected step function, got: {name.value} at {column(query, name.start_pos or 0)}"
            + _suggest(name.value, STEPS),
            name.start_pos,
        )
    return Step(canonical, _args(query, params), name.start_pos or 0)


def _args(query: str, params: Tree[Token]) -> tuple[Arg, ...]:
    return tuple(_arg(query, p) for p in params.children if not _is_comma(p))


def _is_comma(node: Tree[Token] | Token) -> bool:
    return isinstance(node, Token) and node.type == "COMMA"


def _arg(query: str, node: Tree[Token] | Token) -> Arg:
    assert isinstance(node, Tree)
    first = node.children[0]
    assert isinstance(first, Token)
    pos = first.start_pos or 0
    kind = node.data
    if kind == "string":
        return Arg(first.value[1:-1], pos)
    if kind == "number":
        return Arg(_number(first.value), pos)
    upper = first.value.upper()
    if kind == "word":
        if upper == "TRUE":
            return Arg(True, pos)
        if upper == "FALSE":
            return Arg(False, pos)
        if upper in WORDS:
            return Arg(Word(upper), pos)
        raise GremlinError(
            f"Unexpected token while parsing parameters: {first.value} at {column(query, pos)}"
            " (metadata keys and text values must be quoted)",
            pos,
        )
    # a call: predicate or Metadata(...)
    if upper not in PREDICATES:
        names = {p.lower(): p.capitalize() for p in PREDICATES} | {"ipv4range": "Ipv4Range"}
        hint = _suggest(first.value, names)
        raise GremlinError(
            f"Unknown predicate {first.value}() at {column(query, pos)}"
            + (
                hint
                or "; expected one of NE, NEE, LT, GT, LTE, GTE, INSIDE, BETWEEN, WITHIN,"
                " WITHOUT, REGEX, IPV4RANGE, Metadata"
            ),
            pos,
        )
    params = node.children[2]
    assert isinstance(params, Tree)
    value: Value = Call(upper, _args(query, params))
    return Arg(value, pos)


def _suggest(word: str, known: dict[str, str]) -> str:
    """`` (did you mean Has?)`` for a near miss, else ""."""
    close = difflib.get_close_matches(word.lower(), known, n=1, cutoff=0.75)
    return f" (did you mean {known[close[0]]}?)" if close else ""


def _number(text: str) -> int | float:
    if "." not in text:
        value = int(text)
        if value <= _INT64_MAX:
            return value
    return float(text)


_TOKEN_NAMES = {
    "DOT": "'.'",
    "LPAR": "left parenthesis",
    "RPAR": "right parenthesis",
    "COMMA": "','",
    "NAME": "a name",
    "STRING": "a string",
    "NUMBER": "a number",
}


def _syntax_error(query: str, exc: UnexpectedInput) -> GremlinError:
    if isinstance(exc, UnexpectedCharacters):
        pos = exc.pos_in_stream or 0
        char = query[pos]
        where = column(query, pos)
        if char in "'\"":
            return GremlinError(
                f"Unterminated string starting at {where} (strings end at the next quote and"
                " cannot contain quotes)",
                pos,
            )
        if char.isdigit():
            return GremlinError(
                f"Invalid number at {where}: a number is digits with an optional '.',"
                " with no letter right after it",
                pos,
            )
        if char == "-":
            return GremlinError(
                f"Unexpected '-' at {where}: negative numbers are not supported", pos
            )
        if char == "\r":
            return GremlinError(
                f"Carriage return at {where}: separate with spaces, tabs or newlines", pos
            )
        return GremlinError(f"Unexpected character {char!r} at {where}", pos)
    assert isinstance(exc, UnexpectedToken)
    token = exc.token
    at_end = token.type == "$END"
    pos = len(query) if at_end else (token.start_pos or 0)
    where = column(query, pos)
    got = "" if at_end else f", got: {token.value}"
    expected = set(exc.expected)
    if not at_end and pos == len(query) - len(query.lstrip(" \t\n")):
        return GremlinError(f'found "{token.value}", expected `G` at {where}', pos)
    if "RPAR" in expected:
        return GremlinError(f"Expected right parenthesis{got} at {where}", pos)
    if expected == {"LPAR"}:
        return GremlinError(f"Expected left parenthesis{got} at {where}", pos)
    if expected == {"NAME"}:
        return GremlinError(f"Expected step function{got} at {where}", pos)
    if "DOT" in expected:
        return GremlinError(f"Expected '.' before the next step{got} at {where}", pos)
    names = " or ".join(sorted(_TOKEN_NAMES.get(e, e) for e in expected))
    return GremlinError(f"Expected {names}{got} at {where}", pos)
