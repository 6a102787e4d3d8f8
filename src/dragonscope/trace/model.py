"""What a trace is made of: the packet, one hop, one outcome, the drop codes and tables.

Everything here is plain data with a stable JSON form (``to_json``), documented in
``docs/trace.md``; the simulator fills it and the renderers only read it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any


class TraceError(ValueError):
    """The request cannot be simulated as asked (unknown port, bad field); one clear line."""


# Dragonflow's table numbers, names and owning apps (controller/common/constants.py and the
# shipped datapath layout). ``None`` is the guest's own decision before the packet leaves it.
TABLES: dict[int | None, tuple[str, str]] = {
    None: ("GUEST", "guest"),
    0: ("INGRESS_CLASSIFICATION_DISPATCH", "classifier"),
    2: ("EXTERNAL_INGRESS_DETECT_SOURCE", "provider"),
    10: ("EGRESS_CONNTRACK", "sg"),
    15: ("EGRESS_SECURITY_GROUP", "sg"),
    20: ("SERVICES_CLASSIFICATION", "l2"),
    25: ("ARP_TABLE", "l2"),
    30: ("DHCP_TABLE", "dhcp"),
    35: ("METADATA_SERVICE", "metadata_service"),
    40: ("METADATA_SERVICE_REPLY", "metadata_service"),
    45: ("IPV6_ND_TABLE", "l2"),
    50: ("INGRESS_NAT", "chassis_snat"),
    51: ("INGRESS_SNAT", "chassis_snat"),
    55: ("L2_LOOKUP", "l2"),
    60: ("L3_LOOKUP", "l3_proactive"),
    65: ("L3_PROACTIVE_LOOKUP", "l3_proactive"),
    70: ("EGRESS_NAT", "chassis_snat"),
    71: ("EGRESS_SNAT", "chassis_snat"),
    75: ("EGRESS_TABLE", "l2"),
    76: ("INGRESS_DNAT", "dnat"),
    77: ("EGRESS_DNAT", "dnat"),
    80: ("EGRESS_EXTERNAL", "provider"),
    100: ("INGRESS_DESTINATION_PORT_LOOKUP", "l2"),
    105: ("INGRESS_CONNTRACK", "sg"),
    110: ("INGRESS_SECURITY_GROUP", "sg"),
    115: ("INGRESS_DISPATCH", "classifier"),
    120: ("SFC_ENCAP", "sfc"),
    121: ("SFC_MPLS_DISPATCH", "sfc"),
    122: ("SFC_MPLS_PP_DECAP", "sfc"),
    125: ("SFC_END_OF_CHAIN", "fc"),
    201: ("PORTSEC", "portsec"),
    1: ("INGRESS_CLASSIFICATION_EXITPOINT", "datapath layout"),
    202: ("PORTSEC_OUT_DEFAULT", "datapath layout"),
    203: ("PORTSEC_OUT_SERVICES", "datapath layout"),
}

# The tables the stages name and the rule generator (``trace.flows``) writes, spelled once.
CLASSIFICATION, LAYOUT_EXIT, EXTERNAL_SOURCE = 0, 1, 2
EGRESS_CONNTRACK, EGRESS_SG, SERVICES, ARP_TABLE, DHCP_TABLE, ND_TABLE = 10, 15, 20, 25, 30, 45
METADATA_SERVICE, METADATA_REPLY = 35, 40
L2_LOOKUP, L3_LOOKUP, L3_PROACTIVE, EGRESS, EGRESS_EXTERNAL = 55, 60, 65, 75, 80
INGRESS_DNAT, EGRESS_DNAT = 76, 77
INGRESS_DESTINATION, INGRESS_CONNTRACK, INGRESS_SG, INGRESS_DISPATCH = 100, 105, 110, 115
SFC_ENCAP, SFC_MPLS_DISPATCH, SFC_MPLS_PP_DECAP, SFC_END_OF_CHAIN = 120, 121, 122, 125
INGRESS_NAT, INGRESS_SNAT, EGRESS_NAT, EGRESS_SNAT = 50, 51, 70, 71
# The shipped datapath layout (portsec only): its state table and its two exits.
PORTSEC, PORTSEC_OUT_DEFAULT, PORTSEC_OUT_SERVICES = 201, 202, 203

# The stage of the reference walk each table belongs to (A-H, NAT, SFC).
STAGES: dict[int | None, str] = {
    None: "guest",
    0: "classification",
    201: "port security",
    1: "classification",
    202: "port security",
    203: "port security",
    10: "egress security groups",
    15: "egress security groups",
    20: "services",
    25: "services",
    30: "services",
    35: "services",
    40: "services",
    45: "services",
    55: "L2 lookup",
    60: "L3",
    65: "L3",
    50: "NAT",
    51: "NAT",
    70: "NAT",
    71: "NAT",
    76: "NAT",
    77: "NAT",
    75: "egress dispatch",
    80: "egress dispatch",
    2: "receiving side",
    100: "receiving side",
    105: "receiving side",
    110: "receiving side",
    115: "receiving side",
    120: "SFC",
    121: "SFC",
    122: "SFC",
    125: "SFC",
}

# Drop reason codes: code -> one-line meaning (also the documentation's table).
DROP_CODES: dict[str, str] = {
    "PORT_DISABLED": "a port on the path has admin state down; Dragonflow installs no flows for it",
    "PORT_SECURITY": "the source MAC/IP pair is not one of the port's own (spoofing)",
    "SG_EGRESS": "no egress rule of the source port's security groups admits the new connection",
    "SG_INGRESS": "no ingress rule of the destination port's security groups admits it",
    "NO_L2_DESTINATION": "the frame's destination MAC is not a port this chassis can deliver to",
    "UNKNOWN_UNICAST": "unicast to a MAC no bound port owns, on a tunnel network",
    "ARP_UNRESOLVED": "nobody answers ARP for the next hop or the destination IP",
    "NO_ROUTE": "the router (or the guest) has no route to the destination",
    "TTL_EXPIRED": "the TTL reaches 0 at a router",
    "DESTINATION_UNBOUND": "the destination port has no binding, so no flows deliver to it",
    "NO_LOCAL_PORT_FOR_TUNNEL": "a tunneled or physical-network packet reaches a chassis with no "
    "local port in that network",
    "NO_CHASSIS": "a port is bound to a chassis that has no chassis record (no tunnel endpoint)",
    "SFC_BROKEN": "a service chain refers to a missing or unbound group, pair or port",
    "DHCP_BLOCKED": "the DHCP request is dropped by the port's egress security groups",
    "SOURCE_UNBOUND": "the source port is not bound to a chassis, so it cannot send",
    "TUNNEL_TYPE_UNSUPPORTED": "a chassis on the path does not terminate the network's tunnel type",
    "NO_DHCP_SERVER": "the network has no DHCP port, so the request is only flooded",
    "INCOMPLETE_OBJECT": "an object on the path refers to one that does not exist",
    "LOOP": "the simulation exceeded its step budget (a forwarding loop)",
}


@dataclass(frozen=True, slots=True)
class Packet:
    """The headers the pipeline reads or rewrites. IPs are strings, as stored in the NB."""

    eth_src: str
    eth_dst: str
    eth_type: str  # "ipv4", "ipv6" or "arp"
    ip_src: str | None = None
    ip_dst: str | None = None
    proto: str | None = None  # "tcp", "udp", "icmp", "icmp6"; None for ARP
    sport: int | None = None
    dport: int | None = None
    icmp_type: int | None = None
    icmp_code: int | None = None
    ttl: int | None = None
    vlan: int | None = None
    arp_op: str | None = None  # "request" or "reply"
    arp_spa: str | None = None
    arp_tpa: str | None = None
    arp_sha: str | None = None
    mpls: int | None = None

    def evolve(self, **changes: Any) -> Packet:
        """A copy with ``changes``: ``dataclasses.replace`` costs too much on the hot path."""
        new = object.__new__(Packet)
        for name in PACKET_FIELDS:
            object.__setattr__(new, name, changes[name] if name in changes else getattr(self, name))
        return new

    @property
    def is_ip(self) -> bool:
        return self.eth_type in ("ipv4", "ipv6")

    @property
    def is_dhcp_request(self) -> bool:
        return self.proto == "udp" and self.sport == 68 and self.dport == 67

    @property
    def is_multicast(self) -> bool:
        try:
            return int(self.eth_dst.split(":")[0], 16) & 1 == 1
        except ValueError:  # a malformed stored MAC is never a group address
            return False

    def to_json(self) -> dict[str, Any]:
        return {
            f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None
        }

    def diff(self, after: Packet) -> dict[str, list[Any]]:
        """Changed header fields as ``{field: [before, after]}``."""
        out: dict[str, list[Any]] = {}
        for f in fields(self):
            before, now = getattr(self, f.name), getattr(after, f.name)
            if before != now:
                out[f.name] = [before, now]
        return out


PACKET_FIELDS = tuple(f.name for f in fields(Packet))


@dataclass(frozen=True, slots=True)
class ObjRef:
    """The NB object behind a decision, with its graph node ID so a UI can highlight it."""

    table: str
    id: str
    name: str = ""
    node_id: str = ""
    detail: str = ""  # e.g. the security group rule id, the route, the VLAN

    def to_json(self) -> dict[str, Any]:
        out = {"table": self.table, "id": self.id, "name": self.name, "node_id": self.node_id}
        if self.detail:
            out["detail"] = self.detail
        return out


@dataclass(slots=True)
class Hop:
    seq: int
    fork: str
    chassis: str | None
    table: int | None
    decision: str
    why: str
    objects: list[ObjRef] = field(default_factory=list)
    changes: dict[str, list[Any]] = field(default_factory=dict)

    @property
    def stage(self) -> str:
        """The walk stage; a packet entering from outside (physical network, VTEP) is an
        "arrival", not a guest decision."""
        if self.table is None and self.decision in ("external", "tunnel"):
            return "arrival"
        return STAGES[self.table]

    def to_json(self) -> dict[str, Any]:
        name, app = TABLES[self.table]
        return {
            "seq": self.seq,
            "fork": self.fork,
            "chassis": self.chassis,
            "table": self.table,
            "table_name": name,
            "app": app,
            "stage": self.stage,
            "decision": self.decision,
            "why": self.why,
            "objects": [o.to_json() for o in self.objects],
            "changes": self.changes,
        }


@dataclass(slots=True)
class Outcome:
    """How one branch of the walk ended."""

    verdict: str  # "delivered", "dropped", "external", "replied"
    fork: str
    chassis: str | None
    table: int | None
    reason: str
    port: ObjRef | None = None
    code: str | None = None
    object: ObjRef | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    seq: int = 0  # the hop that ended this branch
    packet: Packet | None = None  # the headers as the branch ended

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "verdict": self.verdict,
            "hop": self.seq,
            "fork": self.fork,
            "chassis": self.chassis,
            "table": self.table,
            "table_name": TABLES[self.table][0],
            "stage": STAGES[self.table],
            "reason": self.reason,
        }
        if self.port is not None:
            out["port"] = self.port.to_json()
        if self.code is not None:
            out["code"] = self.code
        if self.object is not None:
            out["object"] = self.object.to_json()
        if self.packet is not None:
            out["packet"] = self.packet.to_json()
        out.update(self.detail)
        return out
