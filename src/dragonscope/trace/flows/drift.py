"""Expected rules against installed ones: missing, unexpected, and rules that differ.

Both sides are compared in normal form (``rule.normal_key``: table, priority, canonical
match; ``normal_actions``), so field order, number bases and ``/32`` masks never count as
drift. Rules Open vSwitch makes by itself or that come and go (learned, with a timeout)
are left out, and so are installed rules in tables only ungenerated apps write.

A reader that knows some ports only by a skeleton (a chassis slice on etcd keeps the ports
bound elsewhere so: their key, network and binding, not their MAC or addresses) cannot
tell the rules made from them right or wrong: its expected rules are made without them
(``expected_flows(skip=...)``), and the installed rules that may be theirs are counted as
not checked (``Unknown``), never as unexpected: a rule that names such a port's key
(``reg6``/``reg7``), the key of a router known only so (``reg5``), the network such a port
is on (``metadata``: responders, DHCP, broadcast) or, in the security-group tables, an
address a remote group's member may hold. Every other rule, those of the local ports first,
is checked as usual.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from dragonscope.trace import model as t
from dragonscope.trace.flows.generate import FlowSet
from dragonscope.trace.flows.rule import (
    ExpectedFlow,
    RuleLike,
    installed_key,
    normal_actions,
)
from dragonscope.trace.index import NbIndex

SAMPLES = 50
LEARNED_TABLE = 40
_SG_TABLES = frozenset({t.EGRESS_SG, t.INGRESS_SG})
_ADDRESS_FIELDS = ("nw_src", "nw_dst", "ipv6_src", "ipv6_dst")
_PORT_REGISTERS = ("reg6", "reg7")


def _setting(registers: str) -> re.Pattern[str]:
    """The values an action list writes into the registers ``registers`` names (``67``)."""
    where = rf"(?:reg[{registers}]\b|NXM_NX_REG[{registers}]\[)"
    return re.compile(rf"(?:set_field:|load:)(0x[0-9a-f]+|\d+)->{where}")


_SET_PORT = _setting("67")
_SET_ROUTER = _setting("5")


@dataclass(frozen=True, slots=True)
class Unknown:
    """The keys of the ports a reader knows only by their skeleton, of the networks they
    are on, and of the routers it knows only so."""

    ports: frozenset[int] = frozenset()
    networks: frozenset[int] = frozenset()
    routers: frozenset[int] = frozenset()

    @classmethod
    def of(cls, index: NbIndex, port_ids: Iterable[str], router_ids: Iterable[str] = ()) -> Unknown:
        ports = [index.ports[i] for i in port_ids if i in index.ports]
        nets = (index.networks.get(p.net_id) for p in ports)
        routers = (index.routers.get(i) for i in router_ids)
        return cls(
            frozenset(p.key for p in ports),
            frozenset(n.key for n in nets if n is not None),
            frozenset(r.key for r in routers if r is not None and r.key),
        )

    def names(self, rule: RuleLike) -> bool:
        """Whether ``rule`` may be one made from what is unknown (see the module's doc)."""
        named = {v for r in _PORT_REGISTERS if (v := _matched(rule, r)) is not None}
        if named or _SET_PORT.search(rule.actions):
            return bool(named & self.ports) or self.sends_to(rule)
        router = _matched(rule, "reg5")
        routers = {_int(k) for k in _SET_ROUTER.findall(rule.actions)}
        if router is not None or routers:
            return router in self.routers or bool(routers & self.routers)
        metadata = _matched(rule, "metadata")
        if metadata is not None:
            return metadata in self.networks
        return (
            bool(self.ports)
            and rule.table in _SG_TABLES
            and any(name in rule.match for name in _ADDRESS_FIELDS)
        )

    def sends_to(self, rule: RuleLike) -> bool:
        """Whether ``rule`` hands packets to a port known only by its skeleton."""
        return any(_int(k) in self.ports for k in _SET_PORT.findall(rule.actions))


def _matched(rule: RuleLike, name: str) -> int | None:
    """The one value ``rule`` matches in the field ``name`` (None: unmatched, or masked)."""
    value = rule.match.get(name)
    return _int(value) if value and "/" not in value else None


def _int(value: str) -> int:
    return int(value, 0)


def _text(rule: RuleLike) -> str:
    match = ",".join(f"{k}={v}" if v else k for k, v in rule.match.items())
    head = f"table={rule.table},priority={rule.priority}" + (f",{match}" if match else "")
    return f"{head} actions={rule.actions}"


@dataclass(slots=True)
class Drift:
    chassis: str
    expected: int = 0
    installed: int = 0
    missing: list[ExpectedFlow] = field(default_factory=list)
    unexpected: list[tuple[str, str | None]] = field(default_factory=list)  # (rule, lport)
    differ: list[tuple[ExpectedFlow, str]] = field(default_factory=list)
    per_lport: dict[str, Counter[str]] = field(default_factory=dict)
    per_app: dict[str, Counter[str]] = field(default_factory=dict)
    not_generated: list[str] = field(default_factory=list)
    unchecked: int = 0  # installed rules made from what is known only by a skeleton

    @property
    def clean(self) -> bool:
        return not (self.missing or self.unexpected or self.differ)

    def _count(self, kind: str, flow: ExpectedFlow | None, lport: str | None = None) -> None:
        port = flow.lport if flow is not None else lport
        if port is not None:
            self.per_lport.setdefault(port, Counter())[kind] += 1
        app = flow.app if flow is not None else "unknown"
        self.per_app.setdefault(app, Counter())[kind] += 1

    def rules(self) -> Iterator[tuple[str, str, str, str | None]]:
        """(kind, rule, app, lport) of every drifting rule: missing, differing, unexpected."""
        for f in self.missing:
            yield "missing", f.text(), f.app, f.lport
        for f, _ in self.differ:
            yield "differ", f.text(), f.app, f.lport
        for text, lport in self.unexpected:
            yield "unexpected", text, "", lport

    def rules_by_lport(self, limit: int = SAMPLES) -> dict[str, list[tuple[str, str, str]]]:
        """(kind, rule, app) of the drifting rules serving each port, at most ``limit`` each."""
        out: dict[str, list[tuple[str, str, str]]] = {}
        for kind, rule, app, lport in self.rules():
            if lport is not None:
                mine = out.setdefault(lport, [])
                if len(mine) < limit:
                    mine.append((kind, rule, app))
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "chassis": self.chassis,
            "clean": self.clean,
            "expected": self.expected,
            "installed": self.installed,
            "counts": {
                "missing": len(self.missing),
                "unexpected": len(self.unexpected),
                "differ": len(self.differ),
            },
            "missing": [f.to_json() for f in self.missing[:SAMPLES]],
            "unexpected": [text for text, _ in self.unexpected[:SAMPLES]],
            "differ": [
                {"expected": f.to_json(), "installed": text} for f, text in self.differ[:SAMPLES]
            ],
            "per_lport": {k: dict(v) for k, v in sorted(self.per_lport.items())},
            "per_app": {k: dict(v) for k, v in sorted(self.per_app.items())},
            "not_generated": self.not_generated,
            "unchecked": self.unchecked,
        }


def drift(
    expected: FlowSet,
    installed: Iterable[RuleLike],
    port_keys: dict[int, str] | None = None,
    unknown: Unknown | None = None,
) -> Drift:
    """Compare; ``port_keys`` (lport unique_key -> id) attributes unexpected rules to ports
    by the ``reg6``/``reg7`` they match; the installed rules ``unknown`` may have made are not
    checked (``expected`` was made without its ports': ``expected_flows(skip=...)``)."""
    report = Drift(
        expected.chassis, expected=len(expected.flows), not_generated=sorted(expected.missing_apps)
    )
    wanted = expected.keyed()
    tables = {flow.table for flow in expected.flows}
    seen = set()
    for rule in installed:
        report.installed += 1
        if rule.table == LEARNED_TABLE or getattr(rule, "timeout", False):
            continue
        key = installed_key(rule)
        flow = wanted.get(key)
        if flow is None:
            if rule.table not in tables:
                continue
            if unknown is not None and unknown.names(rule):
                report.unchecked += 1
                continue
            lport = None
            for register in _PORT_REGISTERS:
                value = _matched(rule, register)
                if value is not None and port_keys:
                    lport = port_keys.get(value) or lport
            report.unexpected.append((_text(rule), lport))
            report._count("unexpected", None, lport)
            continue
        seen.add(key)
        if normal_actions(rule.actions) != normal_actions(flow.actions):
            if unknown is not None and unknown.sends_to(rule):
                report.unchecked += 1  # two ports with one address, say: one unknown
                continue
            report.differ.append((flow, _text(rule)))
            report._count("differ", flow)
    for key, flow in wanted.items():
        if key not in seen:
            report.missing.append(flow)
            report._count("missing", flow)
    return report
