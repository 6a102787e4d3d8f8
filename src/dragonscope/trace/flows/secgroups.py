"""The ``sg`` app's rules (tables 10/15 egress, 105/110 ingress), mirrored per direction.

A port's traffic goes through conntrack in the zone of its network key; established and
related packets pass; a new connection is admitted by a conjunction per group (clause 1:
the port, clause 2: one of the group's rules, written from ``secgroups.rule_shape``, the
shape the simulator tests packets against) and committed; anything else is dropped.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from dragonscope.trace import model as t
from dragonscope.trace.flows.builder import CT_STATE, DEFAULT, MEDIUM, Builder
from dragonscope.trace.secgroups import PROTO_NAMES, RuleShape, rule_shape

# direction -> (conntrack table, rules table, next table, port register, remote field)
_DIRECTIONS = {
    "egress": (t.EGRESS_CONNTRACK, t.EGRESS_SG, t.SERVICES, "reg6", "dst"),
    "ingress": (t.INGRESS_CONNTRACK, t.INGRESS_SG, t.INGRESS_DISPATCH, "reg7", "src"),
}
NEW = "+new-est-rel-inv+trk"


def port_ranges(low: int, high: int) -> Iterator[str]:
    """``low..high`` as the fewest ``value/mask`` matches."""
    while low <= high:
        size = low & -low if low else 1 << 16
        while size > high - low + 1:
            size >>= 1
        yield str(low) if size == 1 else f"{low:#x}/{0xFFFF & ~(size - 1):#x}"
        low += size


def _key(group: dict[str, Any] | None) -> int | None:
    key = group.get("unique_key") if group else None
    return key if isinstance(key, int) and not isinstance(key, bool) else None


def _clauses(b: Builder, shape: RuleShape, remote_field: str) -> Iterator[str]:
    v4 = shape.ethertype == "IPv4"
    name = PROTO_NAMES.get(shape.proto) if shape.proto is not None else None
    if shape.proto is None:
        base = "ip" if v4 else "ipv6"
    elif name in ("tcp", "udp"):
        base = name if v4 else f"{name}6"
    elif (name == "icmp" and v4) or (name == "icmp6" and not v4):
        base = name
    else:
        base = f"{'ip' if v4 else 'ipv6'},nw_proto={shape.proto}"
    if shape.icmp_type is not None:
        base += f",icmp_type={shape.icmp_type}"
    if shape.icmp_code is not None:
        base += f",icmp_code={shape.icmp_code}"
    field = ("nw_" if v4 else "ipv6_") + remote_field
    if shape.prefix is not None:
        remotes: list[str] | None = [str(shape.prefix)] if shape.prefix.prefixlen else None
    elif shape.group is not None:
        members = b.index.sg_member_ips.get(shape.group, set())
        remotes = sorted(str(a) for a in members if a.version == (4 if v4 else 6))
    else:
        remotes = None
    ports = list(port_ranges(*shape.ports)) if shape.ports is not None else [None]
    for remote in remotes if remotes is not None else [None]:
        for port in ports:
            yield (
                base
                + (f",{field}={remote}" if remote else "")
                + (f",tp_dst={port}" if port else "")
            )


def sg(b: Builder) -> None:
    idx = b.index
    groups: dict[str, set[str]] = {}  # group -> directions it has local ports for
    for _ct, rules, after, _reg, _remote in _DIRECTIONS.values():
        b.add("sg", rules, DEFAULT, "", "drop")
        b.add("sg", rules, CT_STATE, "ct_state=-new+est-rel-inv+trk", f"goto_table:{after}")
        b.add("sg", rules, CT_STATE, "ct_state=-new+rel-inv+trk", f"goto_table:{after}")
        for proto in ("ip", "ipv6"):
            b.add(
                "sg",
                rules,
                CT_STATE,
                f"ct_state=+new+rel-inv+trk,{proto}",
                f"ct(commit,table={after},zone=NXM_NX_CT_ZONE[])",
            )
        b.add("sg", rules, CT_STATE, "ct_state=+inv+trk", "drop")
    for port in idx.ports.values():
        if not b.local(port) or not port.security_groups:
            continue
        ref = idx.port_ref(port)
        for direction, (ct_table, rules, _after, reg, _remote) in _DIRECTIONS.items():
            for proto in ("ip", "ipv6"):
                b.add(
                    "sg",
                    ct_table,
                    MEDIUM,
                    f"{proto},{reg}={port.key:#x}",
                    f"ct(table={rules},zone=OXM_OF_METADATA[0..15])",
                    ref,
                    port,
                )
            for group_id in port.security_groups:
                key = _key(idx.secgroups.get(group_id))
                if key is None:
                    continue
                groups.setdefault(group_id, set()).add(direction)
                b.add(
                    "sg",
                    rules,
                    2 + key,
                    f"ct_state={NEW},{reg}={port.key:#x}",
                    f"conjunction({key},1/2)",
                    idx.sg_ref(group_id),
                    port,
                )
    for group_id in sorted(groups):
        group = idx.secgroups[group_id]
        key = _key(group)
        assert key is not None
        stored = group.get("rules")
        for rule in stored if isinstance(stored, list) else []:
            shape = rule_shape(rule) if isinstance(rule, dict) else None
            if shape is None or shape.direction not in groups[group_id]:
                continue
            _ct, rules, _after, _reg, remote = _DIRECTIONS[shape.direction]
            ref = idx.sg_ref(group_id, detail=f"rule {rule.get('id')}")
            for match in _clauses(b, shape, remote):
                b.add("sg", rules, 2 + key, match, f"conjunction({key},2/2)", ref)
        for direction in sorted(groups[group_id]):
            _ct, rules, after, _reg, _remote = _DIRECTIONS[direction]
            for proto in ("ip", "ipv6"):
                b.add(
                    "sg",
                    rules,
                    2 + key,
                    f"conj_id={key},{proto}",
                    f"ct(commit,table={after},zone=NXM_NX_CT_ZONE[])",
                    idx.sg_ref(group_id),
                )
