"""Reading what ``ovs-appctl ofproto/trace`` prints, and writing the flow it reads.

The output is one section per pass through the bridge (conntrack and recirculation start a
new one): the rules hit, table by table (``55. metadata=0x2,dl_dst=..., priority 100``), the
actions each ran, notes (``->``, ``>>``), then the final flow and the datapath actions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from dragonscope.trace.model import Packet

_STEP = re.compile(r"^(\s*)(\d+)\. (.*?)(?:, priority (\d+))?(?:, cookie (0x[0-9a-f]+))?$")
_MISS = re.compile(r"^(\s*)(\d+)\. No match\.?$")
_BRIDGE = re.compile(r'^\s*bridge\("([^"]+)"\)')

NEIGHBOUR_SOLICITATION = 135
_V4 = {"tcp": "tcp", "udp": "udp", "icmp": "icmp", None: "ip"}
_V6 = {"tcp": "tcp6", "udp": "udp6", "icmp6": "icmp6", None: "ipv6"}


@dataclass(slots=True)
class Step:
    table: int
    match: str
    priority: int | None  # None: no rule matched (a table miss)
    cookie: int
    depth: int
    actions: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    bridge: str = ""  # the bridge whose rule this is (a patch port leads to another)

    @property
    def missed(self) -> bool:
        return self.priority is None


@dataclass(slots=True)
class Section:
    flow: str
    steps: list[Step] = field(default_factory=list)
    final_flow: str = ""
    datapath: str = ""
    # A conntrack pass ofproto/trace-packet-out could not resume (it replays the packet-out's
    # actions instead of the frozen ones): "Recirculation conflict".
    conflict: bool = False


def parse(text: str) -> list[Section]:
    sections: list[Section] = []
    current: Section | None = None
    bridge = ""
    for line in text.splitlines():
        if line.startswith("Flow: "):
            current = Section(line[6:].strip())
            sections.append(current)
            continue
        if current is None or current.datapath:
            continue  # after the datapath actions: the banner of the next pass, if any
        if on := _BRIDGE.match(line):
            bridge = on.group(1)
            continue
        if "Recirculation conflict" in line:
            current.conflict = True
        if line.startswith("Final flow: "):
            final = line[12:].strip()
            current.final_flow = current.flow if final == "unchanged" else final
        elif line.startswith("Datapath actions: "):
            current.datapath = line[18:].strip()
        elif miss := _MISS.match(line):
            current.steps.append(
                Step(int(miss.group(2)), "", None, 0, len(miss.group(1)), bridge=bridge)
            )
        elif step := _STEP.match(line):
            priority = int(step.group(4)) if step.group(4) else 0
            match = step.group(3) if step.group(4) else ""
            if not step.group(4) and step.group(3).startswith("priority "):
                priority = int(step.group(3).split()[1])
            current.steps.append(
                Step(
                    int(step.group(2)),
                    match,
                    priority,
                    int(step.group(5), 16) if step.group(5) else 0,
                    len(step.group(1)),
                    bridge=bridge,
                )
            )
        elif current.steps and line.strip():
            text_ = line.strip()
            if text_.startswith(("->", ">>")):
                current.steps[-1].notes.append(text_[2:].strip())
            elif not text_.startswith(
                ("bridge(", "----", "thaw", "Resuming", "Megaflow", "bucket ")
            ):
                current.steps[-1].actions.append(text_)
    return sections


def fields(flow: str) -> dict[str, str]:
    """A printed flow as ``{field: value}`` (protocol shorthands map to "")."""
    out: dict[str, str] = {}
    for token in flow.split(","):
        name, _, value = token.partition("=")
        if name:
            out[name.strip()] = value
    return out


def packet_flow(pkt: Packet, in_port: int, extra: str = "") -> str:
    """The ``ofproto/trace`` flow for a packet entering by ``in_port``."""
    parts = [f"in_port={in_port}"]
    if extra:
        parts.append(extra)
    if pkt.eth_type == "arp":
        parts.append("arp")
    elif pkt.eth_type == "ipv6":
        parts.append(_V6.get(pkt.proto, f"ipv6,nw_proto={pkt.proto}"))
    else:
        parts.append(_V4.get(pkt.proto, f"ip,nw_proto={pkt.proto}"))
    parts += [f"dl_src={pkt.eth_src}", f"dl_dst={pkt.eth_dst}"]
    if pkt.vlan is not None:
        parts.append(f"dl_vlan={pkt.vlan}")
    if pkt.eth_type == "arp":
        parts.append(f"arp_op={1 if pkt.arp_op != 'reply' else 2}")
        for name, value in (("arp_spa", pkt.arp_spa), ("arp_tpa", pkt.arp_tpa)):
            if value:
                parts.append(f"{name}={value}")
        parts.append(f"arp_sha={pkt.arp_sha or pkt.eth_src}")
        return ",".join(parts)
    v6 = pkt.eth_type == "ipv6"
    if pkt.ip_src:
        parts.append(f"{'ipv6_src' if v6 else 'nw_src'}={pkt.ip_src}")
    if pkt.ip_dst:
        parts.append(f"{'ipv6_dst' if v6 else 'nw_dst'}={pkt.ip_dst}")
    parts.append(f"nw_ttl={pkt.ttl if pkt.ttl is not None else 64}")
    if pkt.proto in ("tcp", "udp"):
        # ofproto/trace reads tp_src/tp_dst only for TCP; UDP takes its own names.
        prefix = "tp" if pkt.proto == "tcp" else "udp"
        parts += [f"{prefix}_src={pkt.sport or 0}", f"{prefix}_dst={pkt.dport or 0}"]
    elif pkt.proto in ("icmp", "icmp6"):
        prefix = "icmpv6" if pkt.proto == "icmp6" else "icmp"
        parts.append(f"{prefix}_type={pkt.icmp_type or 0}")
        parts.append(f"{prefix}_code={pkt.icmp_code or 0}")
        if pkt.proto == "icmp6" and pkt.icmp_type == NEIGHBOUR_SOLICITATION and pkt.ip_dst:
            parts.append(f"nd_target={pkt.ip_dst}")  # what the simulation solicits
    return ",".join(parts)


# Fields of a printed flow that describe the packet itself (what crosses a tunnel).
PACKET_FIELDS = (
    "dl_src", "dl_dst", "dl_vlan", "nw_src", "nw_dst", "ipv6_src", "ipv6_dst", "nw_ttl",
    "tp_src", "tp_dst", "icmp_type", "icmp_code", "icmpv6_type", "icmpv6_code", "arp_op",
    "arp_spa", "arp_tpa", "arp_sha", "arp_tha", "mpls_label", "mpls_tc", "mpls_ttl", "mpls_bos",
)  # fmt: skip
PROTOCOLS = ("mpls", "tcp", "udp", "icmp", "tcp6", "udp6", "icmp6", "arp", "ipv6", "ip")


def inner_flow(final_flow: str, in_port: int, tunnel: str) -> str:
    """The flow that arrives at the far end of a tunnel (or of a physical network, with no
    ``tunnel`` fields): the packet's own headers as they left (registers, metadata and
    conntrack state stay behind) and the tunnel's fields."""
    got = fields(final_flow)
    proto = next((p for p in PROTOCOLS if p in got), "ip")
    parts = [f"in_port={in_port}", *([tunnel] if tunnel else []), proto]
    rename = (
        {"udp": "udp", "udp6": "udp"}.get(proto, "tp"),
        "icmpv6" if proto == "icmp6" else "icmp",
    )
    for name in PACKET_FIELDS:
        if got.get(name):
            spelled = name.replace("tp_", f"{rename[0]}_").replace("icmp_", f"{rename[1]}_")
            parts.append(f"{spelled}={got[name]}")
    return ",".join(parts)


# What a rule's set_field writes, in the names a printed flow uses.
_SET_FIELD = re.compile(r"^set_field:([^-]+)->(\w+)$")
_FLOW_NAMES = {"eth_src": "dl_src", "eth_dst": "dl_dst", "ip_src": "nw_src", "ip_dst": "nw_dst"}
# Registers a resumed pass carries on (the rest of the pipeline's state is the packet's own).
_STATE = ("metadata", *(f"reg{n}" for n in range(8)))
_L3 = ("nw_src", "nw_dst", "ipv6_src", "ipv6_dst", "nw_ttl", "tp_src", "tp_dst", "icmp_type",
       "icmp_code", "icmpv6_type", "icmpv6_code")  # fmt: skip
_MPLS = ("mpls_label", "mpls_tc", "mpls_ttl", "mpls_bos")


def resume_flow(section: Section, inner: dict[str, str], popped: bool) -> str:
    """The flow of a pass ``ofproto/trace`` froze and did not follow (the datapath must
    hash or re-parse the packet first): the registers and headers as the section left them
    (its final flow, then every field its rules set, in order), with ``dp_hash`` set so a
    select group picks its bucket. After an MPLS pop the packet's own L3/L4 headers, which
    the label hid, come from ``inner`` (the last unlabelled flow of the trip)."""
    got = fields(section.final_flow or section.flow)
    for step in section.steps:
        for action in step.actions:
            if found := _SET_FIELD.match(action):
                got[_FLOW_NAMES.get(found.group(2), found.group(2))] = found.group(1)
    if popped:
        proto = next((p for p in PROTOCOLS if p in inner), "ip")
        packet = {k: v for k, v in inner.items() if k in _L3}
    else:
        proto = next((p for p in PROTOCOLS if p in got), "ip")
        packet = {k: got[k] for k in (*_L3, *_MPLS) if got.get(k)}
    parts = ["dp_hash=0x1", proto]
    parts += [f"{k}={got[k]}" for k in (*_STATE, "dl_src", "dl_dst") if got.get(k)]
    if proto.startswith("udp"):
        packet = {k.replace("tp_", "udp_"): v for k, v in packet.items()}
    elif proto == "icmp6":
        packet = {k.replace("icmp_", "icmpv6_"): v for k, v in packet.items()}
    parts += [f"{k}={v}" for k, v in packet.items()]
    return ",".join(parts)


def thawed_flow(section: Section) -> str:
    """The flow of a conntrack pass (``section.flow``: registers, conntrack state and
    headers as ofproto/trace resumed it), to trace again from the table it resumes at."""
    drop = ("recirc_id", "in_port", "eth", "dp_hash")
    kept = [t for t in section.flow.split(",") if t and t.partition("=")[0] not in drop]
    return ",".join(["dp_hash=0x1", *kept])
