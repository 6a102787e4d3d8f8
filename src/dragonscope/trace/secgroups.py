"""Security-group rule matching exactly as Dragonflow's ``sg`` app installs it.

Quirks reproduced on purpose: for ICMPv4 a type or code of 0 means "any" (the app tests
truthiness); a port range on anything but TCP/UDP/ICMPv4 installs nothing; a remote
prefix of the other IP version matches any address; a remote group resolves to the
fixed and allowed-address-pair IPs of its *bound* members only. Results are cached per
(groups, direction, flow) because reachability matrices ask the same question often.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dragonscope.trace.index import NbIndex
from dragonscope.trace.model import Packet
from dragonscope.trace.objects import IpAddr, IpNet, Port, ip, net

PROTO_NUMBERS = {"tcp": 6, "udp": 17, "icmp": 1, "icmp6": 58}
PROTO_NAMES = {v: k for k, v in PROTO_NUMBERS.items()}

Match = tuple[str, dict[str, Any]]  # (security group id, rule)


def _number(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    if isinstance(value, str) and value in PROTO_NUMBERS:
        return PROTO_NUMBERS[value]
    return None


@dataclass(frozen=True, slots=True)
class RuleShape:
    """What one stored rule admits, as Dragonflow's ``sg`` app turns it into flows: the
    simulator tests packets against it and ``trace.flows`` writes its match from it."""

    direction: str
    ethertype: str  # "IPv4" or "IPv6"
    proto: int | None
    ports: tuple[int, int] | None  # TCP/UDP destination range; None = any
    icmp_type: int | None  # ICMPv4 only; None = any (0 counts as any)
    icmp_code: int | None
    prefix: IpNet | None  # the remote prefix when it is of the rule's IP version
    group: str | None  # the remote group, when no prefix is given


def rule_shape(rule: dict[str, Any]) -> RuleShape | None:
    """The rule's shape, or None when Dragonflow installs nothing for it (a port range on
    a protocol other than TCP/UDP/ICMPv4, an unreadable remote prefix)."""
    direction, ethertype = rule.get("direction"), rule.get("ethertype")
    if direction not in ("egress", "ingress") or ethertype not in ("IPv4", "IPv6"):
        return None
    proto = _number(rule.get("protocol"))
    lo, hi = _number(rule.get("port_range_min")), _number(rule.get("port_range_max"))
    ports: tuple[int, int] | None = None
    icmp_type = icmp_code = None
    if proto in (6, 17):
        low = lo if lo is not None else 1
        high = hi if hi is not None else (lo if lo is not None else 65535)
        ports = None if (low, high) == (1, 65535) else (low, high)
    elif proto == 1:
        icmp_type, icmp_code = lo or None, hi or None
    elif proto is not None and (lo is not None or hi is not None):
        return None
    prefix: IpNet | None = None
    group: str | None = None
    if "remote_ip_prefix" in rule:
        stored = rule.get("remote_ip_prefix")
        prefix = net(stored)
        if prefix is None and stored is not None:
            return None
        if prefix is not None and prefix.version != (4 if ethertype == "IPv4" else 6):
            prefix = None  # a prefix of the other version matches any address
    elif isinstance(rule.get("remote_group_id"), str) and rule["remote_group_id"]:
        group = rule["remote_group_id"]
    return RuleShape(direction, ethertype, proto, ports, icmp_type, icmp_code, prefix, group)


def rule_matches(
    rule: dict[str, Any], direction: str, pkt: Packet, remote: IpAddr | None, index: NbIndex
) -> bool:
    """Whether one stored rule admits a new connection of ``pkt`` in ``direction``."""
    shape = rule_shape(rule)
    if shape is None or shape.direction != direction:
        return False
    if shape.ethertype != ("IPv4" if pkt.eth_type == "ipv4" else "IPv6"):
        return False
    if shape.proto is not None:
        if shape.proto != PROTO_NUMBERS.get(pkt.proto or "", -1):
            return False
        if shape.ports is not None and not (
            pkt.dport is not None and shape.ports[0] <= pkt.dport <= shape.ports[1]
        ):
            return False
        if shape.icmp_type is not None and pkt.icmp_type != shape.icmp_type:
            return False
        if shape.icmp_code is not None and pkt.icmp_code != shape.icmp_code:
            return False
    if shape.prefix is not None:
        return remote is None or remote in shape.prefix
    if shape.group is not None:
        return remote is not None and remote in index.sg_member_ips.get(shape.group, ())
    return True


class SgEvaluator:
    """First matching rule of a port's groups, with a cache shared by many traces."""

    def __init__(self, index: NbIndex) -> None:
        self.index = index
        self._cache: dict[tuple[Any, ...], Match | None] = {}

    def match(self, port: Port, direction: str, pkt: Packet) -> Match | None:
        remote_text = pkt.ip_dst if direction == "egress" else pkt.ip_src
        key = (
            tuple(port.security_groups),
            direction,
            pkt.eth_type,
            pkt.proto,
            pkt.dport,
            pkt.icmp_type,
            pkt.icmp_code,
            remote_text,
        )
        if key in self._cache:
            return self._cache[key]
        remote = ip(remote_text)
        found: Match | None = None
        for sg_id in port.security_groups:
            group = self.index.secgroups.get(sg_id)
            rules = group.get("rules") if group else None
            for rule in rules if isinstance(rules, list) else []:
                if isinstance(rule, dict) and rule_matches(
                    rule, direction, pkt, remote, self.index
                ):
                    found = (sg_id, rule)
                    break
            if found:
                break
        self._cache[key] = found
        return found

    def missing_groups(self, port: Port) -> list[str]:
        return [sg for sg in port.security_groups if sg not in self.index.secgroups]
