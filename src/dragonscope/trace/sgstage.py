"""The security-group stage, one for both directions: egress for the sending port on its
chassis (tables 10/15), ingress for the receiving port on its chassis (tables 105/110).

Dragonflow's ``sg`` app installs the same flows for both, mirrored: the conntrack table
sends IPv4/IPv6 through conntrack in the zone of the network key; established (reply
direction) packets pass; a new connection needs a rule of the port's groups and is
committed, anything else is dropped. Rule matching itself is ``secgroups``.
"""

from __future__ import annotations

from dataclasses import dataclass

from dragonscope.trace.objects import Port
from dragonscope.trace.walk import Frame, Walk


@dataclass(frozen=True, slots=True)
class Direction:
    name: str  # as in the rules: "egress" or "ingress"
    conntrack_table: int
    rules_table: int
    code: str  # the drop code when no rule admits a new connection


EGRESS = Direction("egress", 10, 15, "SG_EGRESS")
INGRESS = Direction("ingress", 105, 110, "SG_INGRESS")


def admits(w: Walk, f: Frame, port: Port, direction: Direction) -> bool:
    """True when ``port``'s groups let the packet through in ``direction`` (committing a
    new connection); otherwise the drop is recorded."""
    pkt, network = f.pkt, f.net
    assert network is not None
    if "sg" not in w.apps or not port.security_groups or not pkt.is_ip or pkt.mpls is not None:
        if w.record:
            if not pkt.is_ip:
                why = "not IP: security groups do not apply"
            elif pkt.mpls is not None:
                why = "MPLS frame: the conntrack flows match only IPv4/IPv6, so no group applies"
            else:
                why = f"no security group on {port.name}"
            w.hop(f, direction.conntrack_table, "pass", why)
        return True
    zone = network.key
    if w.established(f, zone):
        if w.record:
            w.hop(
                f,
                direction.conntrack_table,
                "pass",
                f"conntrack zone {zone}: established connection",
            )
        return True
    match = w.sg.match(port, direction.name, pkt)
    if match is None:
        missing = w.sg.missing_groups(port)
        extra = f" (missing groups: {', '.join(missing)})" if missing else ""
        objs = [w.index.sg_ref(s) for s in port.security_groups]
        dhcp = direction is EGRESS and pkt.is_dhcp_request
        w.drop(
            f,
            direction.rules_table,
            "DHCP_BLOCKED" if dhcp else direction.code,
            f"new connection: no {direction.name} rule of {port.name}'s security groups "
            f"admits it{extra}",
            objs[0] if objs else None,
            [*objs[1:], w.index.port_ref(port)],
        )
        return False
    sg_id, rule = match
    fresh = w.commit(f, zone, direction.name)
    if w.record:
        w.hop(
            f,
            direction.rules_table,
            "allow",
            f"new connection admitted by {direction.name} rule {rule.get('id')}; "
            + (
                f"committed to conntrack zone {zone}"
                if fresh
                else f"conntrack zone {zone} already holds it (new until a reply is seen)"
            ),
            [w.index.sg_ref(sg_id, detail=f"rule {rule.get('id')}")],
        )
    return True
