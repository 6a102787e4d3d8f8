"""Steps that shape or read a set: Dedup, Count, Range, Sort, Values, Keys, Sum, As/Select."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from dragonscope.graph import MISSING, PSEUDO_KEYS, Node, flat_keys, getter, to_int
from dragonscope.gremlin.plan import (
    CHUNK,
    NODES,
    NUMBER,
    PATHS,
    RAW,
    VALUES,
    Compiled,
    Compiler,
    Gen,
    Run,
    empty,
    hashable,
    raw_passthrough,
)
from dragonscope.gremlin.predicates import key_of
from dragonscope.gremlin.syntax import Step, Word

# -- shaping ------------------------------------------------------------------------


def step_dedup(c: Compiler, step: Step, kind: str, rest: Sequence[Step]) -> Compiled:
    if kind == RAW:
        return raw_passthrough(c, step, kind, rest)
    keys = c.keys(step)
    if keys and kind == VALUES:
        raise c.error("Dedup() on values takes no keys: it removes repeated values", step.pos)
    getters = [getter(k) for k in keys]

    def op(run: Run, items: Any) -> Gen:
        if kind == VALUES:
            if items is None:
                return None
            seen_values: dict[Any, Any] = {}
            for value in items:
                seen_values.setdefault(hashable(value), value)
            return list(seen_values.values())
        elements = [n for path in items for n in path] if kind == PATHS else items
        out: list[Any] = []
        seen: set[Any] = set()
        for i, element in enumerate(elements):
            if getters:
                values = [g(element) for g in getters]
                if all(v is MISSING for v in values):
                    out.append(element)
                    continue
                mark: Any = tuple(None if v is MISSING else hashable(v) for v in values)
            else:
                mark = element.id
            if mark not in seen:
                seen.add(mark)
                out.append(element)
            if not i % CHUNK:
                yield
        return out

    return Compiled(op, NODES if kind == PATHS else kind)


def _count(c: Compiler, step: Step, kind: str, rest: Sequence[Step]) -> Compiled:
    c.no_args(step)

    def op(run: Run, items: list[Any]) -> Gen:
        return len(items)
        yield

    return Compiled(op, NUMBER)


def _range(c: Compiler, step: Step, kind: str, rest: Sequence[Step]) -> Compiled:
    if step.name == "Limit":
        if len(step.args) != 1:
            raise c.error("Limit() takes one number", step.pos)
        low, high = 0, c.integer(step, step.args[0])
    else:
        if len(step.args) != 2:
            raise c.error("Range() takes two numbers: from and to", step.pos)
        low, high = (c.integer(step, a) for a in step.args)
    if low < 0 or high < low:
        raise c.error(f"{step.name}() needs 0 <= from <= to, got {low}, {high}", step.pos)

    def op(run: Run, items: list[Any]) -> Gen:
        return items[low:high]
        yield

    return Compiled(op, kind)


def _sort(c: Compiler, step: Step, kind: str, rest: Sequence[Step]) -> Compiled:
    args = list(step.args)
    descending = False
    if args and isinstance(args[0].value, Word):
        word = args.pop(0).value
        assert isinstance(word, Word)
        if word.name not in ("ASC", "DESC"):
            raise c.error(f"Sort() takes ASC or DESC, got {word.name}", step.pos)
        descending = word.name == "DESC"
    if len(args) > 1:
        raise c.error("Sort() takes an optional ASC/DESC and one key", step.pos)
    key = key_of(c.ctx, args[0], "Sort") if args else "CreatedAt"
    get = getter(key)

    def sort_key(node: Node) -> tuple[int, Any]:
        value = get(node)
        if value is MISSING:
            return (0, 0)
        number = to_int(value)
        if number is not None:
            return (0, number)
        return (1, value if isinstance(value, str) else json.dumps(value, default=str))

    def op(run: Run, nodes: list[Node]) -> Gen:
        keys: list[tuple[int, Any]] = []
        for start in range(0, len(nodes), CHUNK):
            keys.extend(sort_key(n) for n in nodes[start : start + CHUNK])
            yield
        order = sorted(range(len(nodes)), key=keys.__getitem__, reverse=descending)
        return [nodes[i] for i in order]

    return Compiled(op, NODES)


# -- values --------------------------------------------------------------------------


def step_values(c: Compiler, step: Step, kind: str, rest: Sequence[Step]) -> Compiled:
    get = getter(c.one_key(step))

    def op(run: Run, nodes: list[Node]) -> Gen:
        out = []
        for i, node in enumerate(nodes):
            if not i % CHUNK:
                yield
            value = get(node)
            if value is MISSING or (isinstance(value, list | dict) and not value):
                continue
            out.append(value)
        return out or None

    return Compiled(op, VALUES)


def step_value_map(c: Compiler, step: Step, kind: str, rest: Sequence[Step]) -> Compiled:
    keys = c.keys(step)
    if not keys:
        raise c.error("ValueMap() needs at least one key", step.pos)
    getters = [(k, getter(k)) for k in keys]

    def op(run: Run, nodes: list[Node]) -> Gen:
        out = []
        for i, node in enumerate(nodes):
            if not i % CHUNK:
                yield
            row = {}
            for key, get in getters:
                value = get(node)
                if value is not MISSING:
                    row[key] = value
            if row:
                out.append(row)
        return out or None

    return Compiled(op, VALUES)


def step_keys(c: Compiler, step: Step, kind: str, rest: Sequence[Step]) -> Compiled:
    c.no_args(step)

    def op(run: Run, nodes: list[Node]) -> Gen:
        seen: dict[str, None] = {}
        for i, node in enumerate(nodes):
            seen.update(dict.fromkeys(flat_keys(node.metadata)))
            if not i % CHUNK:
                yield
        if not nodes:
            return None
        seen.update(dict.fromkeys(PSEUDO_KEYS))
        return list(seen)

    return Compiled(op, VALUES)


def step_sum(c: Compiler, step: Step, kind: str, rest: Sequence[Step]) -> Compiled:
    if kind == RAW:
        return raw_passthrough(c, step, kind, rest)
    key = c.one_key(step)
    get = getter(key)

    def op(run: Run, nodes: list[Node]) -> Gen:
        total = 0
        for i, node in enumerate(nodes):
            if not i % CHUNK:
                yield
            value = get(node)
            if value is MISSING:
                continue
            number = to_int(value)
            if number is None:
                raise c.error(
                    f"Sum(): '{key}' of node {node.id} is not a number: {value!r}", step.pos
                )
            total += number
        return total

    return Compiled(op, NUMBER)


# -- marks ---------------------------------------------------------------------------


def step_as(c: Compiler, step: Step, kind: str, rest: Sequence[Step]) -> Compiled:
    if len(step.args) != 1 or not isinstance(step.args[0].value, str):
        raise c.error("As() takes one name as a quoted string", step.pos)
    name = step.args[0].value
    c.marks.add(name)

    def op(run: Run, nodes: list[Node]) -> Gen:
        run.marks[name] = nodes
        return nodes
        yield

    return Compiled(op, NODES)


def step_select(c: Compiler, step: Step, kind: str, rest: Sequence[Step]) -> Compiled:
    if not step.args:
        raise c.error("Select() needs at least one name given to As()", step.pos)
    names = []
    for arg in step.args:
        if not isinstance(arg.value, str):
            raise c.error("Select() takes names as quoted strings", arg.pos)
        if arg.value not in c.marks:
            raise c.error(f"Select(): no As('{arg.value}') before this step", arg.pos)
        names.append(arg.value)

    def op(run: Run, nodes: list[Node]) -> Gen:
        return [n for name in names for n in run.marks[name]]
        yield

    return Compiled(op, NODES)


def step_count(c: Compiler, step: Step, kind: str, rest: Sequence[Step]) -> Compiled:
    if kind == RAW:
        c.no_args(step)
        return raw_passthrough(c, step, kind, rest)
    return _count(c, step, kind, rest)


def step_range(c: Compiler, step: Step, kind: str, rest: Sequence[Step]) -> Compiled:
    compiled = _range(c, step, kind, rest)
    return compiled if kind != RAW else empty(c, step, kind, rest)


def step_sort(c: Compiler, step: Step, kind: str, rest: Sequence[Step]) -> Compiled:
    compiled = _sort(c, step, kind, rest)
    return compiled if kind != RAW else empty(c, step, kind, rest)
