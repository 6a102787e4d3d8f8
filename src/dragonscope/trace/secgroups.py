"""Security-group rule matching exactly as Dragonflow's ``sg`` app installs it.

Quirks reproduced on purpose: for ICMPv4 a type or code of 0 means "any" (the app tests
truthiness); a port range on anything but TCP/UDP/ICMPv4 installs nothing; a remote
prefix of the other IP version matches any address; a remote group resolves to the
fixed and allowed-address-pair IPs of its *bound* members only. Results are cached per
(groups, direction, flow) because reachability matrices ask the same question often.
"""

from __future__ import annotations

from typing import Any

from dragonscope.trace.index import NbIndex
from dragonscope.trace.model import Packet
from dragonscope.trace.objects import IpAddr, Port, ip, net

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


def rule_matches(
    rule: dict[str, Any], direction: str, pkt: Packet, remote: IpAddr | None, index: NbIndex
) -> bool:
    """Whether one stored rule admits a new connection of ``pkt`` in ``direction``."""
    if rule.get("direction") != direction:
        return False
    ethertype = "IPv4" if pkt.eth_type == "ipv4" else "IPv6"
    if rule.get("ethertype") != ethertype:
        return False
    proto = _number(rule.get("protocol"))
    lo, hi = _number(rule.get("port_range_min")), _number(rule.get("port_range_max"))
    if proto is not None:
        if proto != PROTO_NUMBERS.get(pkt.proto or "", -1):
            return False
        if proto in (6, 17):
            low = lo if lo is not None else 1
            high = hi if hi is not None else (lo if lo is not None else 65535)
            if (low, high) != (1, 65535) and not (
                pkt.dport is not None and low <= pkt.dport <= high
            ):
                return False
        elif proto == 1:
            if lo and pkt.icmp_type != lo:
                return False
            if hi and pkt.icmp_code != hi:
                return False
        elif lo is not None or hi is not None:
            return False  # Dragonflow installs no flow for this combination
    if "remote_ip_prefix" in rule:
        prefix = net(rule.get("remote_ip_prefix"))
        if prefix is not None and remote is not None and prefix.version == remote.version:
            return remote in prefix
        return prefix is not None or rule.get("remote_ip_prefix") is None
    group = rule.get("remote_group_id")
    if isinstance(group, str) and group:
        return remote is not None and remote in index.sg_member_ips.get(group, ())
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
