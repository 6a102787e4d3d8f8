"""One expected OpenFlow rule, written as ``ovs-ofctl add-flow`` reads it, and the normal form
that compares it with what ``ovs-ofctl dump-flows`` prints for the installed one.

Open vSwitch reorders match fields, prints numbers in its own base and fills defaults, so a
rule is compared by its normal form: table, priority, the match as a set of canonical
``field=value`` pairs, and the actions with every number in one base.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from dataclasses import dataclass
from typing import Any, Protocol

from dragonscope.trace.model import TABLES, ObjRef

_HEX = re.compile(r"(?<![\w])0x([0-9a-f]+)")
_MAC = re.compile(r"[0-9a-f]{2}(?::[0-9a-f]{2}){5}")
_V4 = re.compile(r"(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)")
_FLAG_FIELDS = frozenset({"ct_state", "tcp_flags"})


class RuleLike(Protocol):
    """What an installed rule needs for a comparison (``ovs.flows.Flow`` has it)."""

    @property
    def table(self) -> int: ...
    @property
    def priority(self) -> int: ...
    @property
    def match(self) -> dict[str, str]: ...
    @property
    def actions(self) -> str: ...


@dataclass(frozen=True, slots=True)
class ExpectedFlow:
    """A rule Dragonflow's ``app`` installs for ``owner`` (an lport, network, router, group,
    or nothing for a global rule); ``lport`` names the port a per-port rule serves."""

    table: int
    priority: int
    match: tuple[tuple[str, str], ...]
    actions: str
    app: str
    owner: ObjRef | None = None
    lport: str | None = None

    def text(self) -> str:
        """The rule in ``ovs-ofctl add-flow`` syntax."""
        match = ",".join(f"{k}={v}" if v else k for k, v in self.match)
        head = f"table={self.table},priority={self.priority}" + (f",{match}" if match else "")
        return f"{head} actions={self.actions}"

    def key(self) -> Key:
        return normal_key(self.table, self.priority, dict(self.match))

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "rule": self.text(),
            "table": self.table,
            "table_name": table_name(self.table),
            "priority": self.priority,
            "app": self.app,
        }
        if self.owner is not None:
            out["owner"] = self.owner.to_json()
        if self.lport is not None:
            out["lport"] = self.lport
        return out


Key = tuple[int, int, frozenset[tuple[str, str]]]


@dataclass(frozen=True, slots=True)
class ExpectedGroup:
    """An OpenFlow select group ``app`` installs (the sfc app's dispatch over a port pair
    group's pairs); each bucket is its list of actions, all of weight 1."""

    group_id: int
    buckets: tuple[str, ...]
    app: str
    owner: ObjRef | None = None

    def text(self) -> str:
        """The group in ``ovs-ofctl add-group`` syntax."""
        buckets = ",".join(f"bucket=weight:1,actions={b}" for b in self.buckets)
        return f"group_id={self.group_id},type=select,{buckets}"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"group": self.text(), "group_id": self.group_id, "app": self.app}
        if self.owner is not None:
            out["owner"] = self.owner.to_json()
        return out


def table_name(table: int) -> str:
    entry = TABLES.get(table)
    return entry[0] if entry else f"TABLE_{table}"


@functools.lru_cache(maxsize=1 << 18)
def _value(field: str, value: str) -> str:
    """One match value in canonical form (numbers in decimal, masks kept, /32 dropped).
    Cached: the same values (network keys, MACs, addresses) recur in many rules."""
    text = value.strip().lower()
    if field in _FLAG_FIELDS:
        return "".join(sorted(re.findall(r"[+-][a-z]+", text))) or text
    out = [_part(part) for part in text.split("/", 1)]
    if len(out) == 2 and out[1] in ("32", "128", "255.255.255.255"):
        return out[0]
    return "/".join(out)


def _part(part: str) -> str:
    if _MAC.fullmatch(part) or _V4.fullmatch(part):
        return part  # already as ovs-ofctl prints it
    if part.startswith("0x") or part.isdigit():
        try:
            return str(int(part, 0))
        except ValueError:
            return part
    try:
        return str(ipaddress.ip_address(part))
    except ValueError:
        return part


def normal_key(table: int, priority: int, match: dict[str, str]) -> Key:
    return table, priority, frozenset((k.lower(), _value(k, v)) for k, v in match.items())


def normal_actions(actions: str) -> str:
    """Actions with numbers in decimal and the spellings OVS accepts for the same thing."""
    return _HEX.sub(lambda m: str(int(m.group(1), 16)), actions.strip().lower())


def installed_key(rule: RuleLike) -> Key:
    return normal_key(rule.table, rule.priority, rule.match)
