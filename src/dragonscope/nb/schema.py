"""Every Dragonflow NB table, declared once, and the parser that judges stored objects.

Table names come from ``nb/tables.py``; field names are declared here. Each
table is one declaration (fields, required-ness, enums, references, embedded
structures); references and secret fields are derived from it. ``parse`` turns a
stored value into an ``NbObject`` and never raises: whatever is wrong becomes a
``Problem`` on the object, and the object keeps its JSON as stored (unknown
fields included, so a newer Dragonflow's additions survive).

    >>> obj = parse("chassis", "compute-1", b'{"id": "compute-1", "ip": "192.168.100.11"}')
    >>> obj.valid, obj.data["ip"]
    (True, '192.168.100.11')
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Iterable, Mapping
from typing import Any

import orjson

from dragonscope.nb.check import find_problems
from dragonscope.nb.fields import (
    Field,
    Reference,
    Struct,
    Table,
    boolean,
    dhcp_opts,
    embedded,
    enum,
    enum_list,
    integer,
    ip_address,
    ip_network,
    ip_proto,
    list_of,
    mac,
    number,
    port_range,
    ref,
    ref_list,
    string,
)
from dragonscope.nb.model import NbObject, Problem
from dragonscope.nb.problems import (
    ID_MISMATCH,
    INVALID_JSON,
    NOT_AN_OBJECT,
    PROBLEM_KINDS,
    UNKNOWN_TABLE,
    Complaint,
    describe,
    quote,
)
from dragonscope.nb.rules import (
    Distinct,
    ExactlyOne,
    Ordered,
    OwnedBy,
    RequiredWhen,
    SameFamily,
    SameLength,
)
from dragonscope.nb.secrets import NOT_SHOWN, has_secret, may_hold_secret, without_secrets
from dragonscope.nb.tables import (
    ACTIVEPORT,
    BGP_PEER,
    BGP_SPEAKER,
    CHASSIS,
    CHILD_PORT_SEGMENTATION,
    FLOATINGIP,
    LISTENER,
    LPORT,
    LROUTER,
    LSUBNET,
    LSWITCH,
    MIGRATION,
    NON_OBJECT_TABLES,
    PUBLISHER,
    QOSPOLICY,
    SECGROUP,
    SERVICE,
    SFC_FLOWCLASSIFIER,
    SFC_PORTCHAIN,
    SFC_PORTPAIR,
    SFC_PORTPAIRGROUP,
    SWITCH_PORT,
)

__all__ = [
    "LOAD_ORDER",
    "NON_OBJECT_TABLES",
    "PROBLEM_KINDS",
    "TABLES",
    "Field",
    "Reference",
    "Struct",
    "Table",
    "check",
    "field_value",
    "load_order",
    "parse",
    "redact",
    "serialize",
]

# --- mixins (Dragonflow's db/models/mixins.py) ---------------------------------------------------

ID = {"id": string(required=True, doc="the id in the object's key")}
NAME = {"name": string(doc="display name from Neutron")}
VERSION = {"version": integer(minimum=0, doc="Neutron revision_number")}
TOPIC = {"topic": string(required=True, doc="project (tenant) id; may be empty")}
UNIQUE_KEY_FIELD = {
    "unique_key": integer(
        required=True, minimum=1, doc="datapath id allocated per table (metadata, reg5-7)"
    )
}

# --- embedded structures ----------------------------------------------------------------------

HOST_ROUTE = Struct(
    "HostRoute",
    {"destination": ip_network(required=True), "nexthop": ip_address(required=True)},
    rules=(SameFamily("nexthop", "destination"),),
)

ADDRESS_PAIR = Struct(
    "AddressPair",
    {"ip_address": ip_address(required=True), "mac_address": mac(required=True)},
)

DHCP_PARAMS = Struct(
    "DhcpParams",
    {
        "opts": dhcp_opts(doc='DHCP option tag ("1".."254") -> value'),
        "siaddr": ip_address(doc="next server (server-ip-address)"),
    },
)

PORT_BINDING = Struct(
    "PortBinding",
    {
        "type": enum("chassis", "vtep", required=True),
        "chassis": ref("chassis", doc="compute node hosting the port"),
        "vtep_address": ip_address(doc="remote VTEP for a port behind it"),
    },
    rules=(
        RequiredWhen("chassis", "type", ("chassis",)),
        RequiredWhen("vtep_address", "type", ("vtep",)),
    ),
)

ROUTER_PORT = Struct(
    "LogicalRouterPort",
    {
        **ID,
        **TOPIC,
        **UNIQUE_KEY_FIELD,
        "mac": mac(),
        "lswitch": ref("lswitch"),
        "network": ip_network(doc="router address/prefixlen of the attached subnet"),
    },
    doc="one router interface; its id and unique_key are those of the interface lport",
)

SECGROUP_RULE = Struct(
    "SecurityGroupRule",
    {
        **ID,
        **TOPIC,
        **VERSION,
        "direction": enum("ingress", "egress", required=True),
        "ethertype": enum("IPv4", "IPv6", required=True),
        "protocol": ip_proto(doc="IP protocol number; absent = any"),
        "port_range_min": integer(minimum=0, maximum=65535, doc="port, or ICMP type"),
        "port_range_max": integer(minimum=0, maximum=65535, doc="port, or ICMP code"),
        "remote_ip_prefix": ip_network(),
        "remote_group_id": ref("secgroup", doc="stored as a plain string; may be the group itself"),
        "security_group_id": string(doc="owning group id"),
    },
    rules=(
        # ICMP (1) and ICMPv6 (58) use the pair as (type, code): no order between them.
        Ordered("port_range_min", "port_range_max", "protocol", (1, 58)),
        SameFamily("remote_ip_prefix", "ethertype"),
    ),
)

QOS_RULE = Struct(
    "QosPolicyRule",
    {
        **ID,
        "type": enum("bandwidth_limit", "dscp_marking", required=True),
        "max_kbps": integer(minimum=0),
        "max_burst_kbps": integer(minimum=0),
        "direction": enum("egress"),
        "dscp_mark": integer(minimum=0, maximum=63),
    },
    rules=(
        RequiredWhen("max_burst_kbps", "type", ("bandwidth_limit",)),
        RequiredWhen("dscp_mark", "type", ("dscp_marking",)),
    ),
)

# Neutron's VNIC types (neutron-lib portbindings.VNIC_TYPES).
VNIC_TYPES = (
    "normal",
    "direct",
    "macvtap",
    "baremetal",
    "direct-physical",
    "virtio-forwarder",
    "smart-nic",
)

# --- tables -----------------------------------------------------------------------------------

_DECLARED = (
    Table(
        CHASSIS,
        {
            **ID,
            "ip": ip_address(required=True, doc="tunnel endpoint"),
            "external_host_ip": ip_address(doc="used by chassis SNAT and BGP"),
            "tunnel_types": enum_list("geneve", "vxlan", "gre"),
        },
        category="infrastructure",
        doc="a compute node running a Dragonflow controller",
    ),
    Table(
        LSWITCH,
        {
            **ID,
            **TOPIC,
            **NAME,
            **VERSION,
            **UNIQUE_KEY_FIELD,
            "network_type": string(doc="vxlan, geneve, gre, vlan, flat, local (not validated)"),
            "segmentation_id": integer(minimum=0, doc="VNI / GRE key / VLAN id"),
            "physical_network": string(),
            "is_external": boolean(),
            "mtu": integer(minimum=0),
            "qos_policy": ref("qospolicy", doc="stored but not applied by Dragonflow"),
        },
        doc="a Neutron network",
    ),
    Table(
        LSUBNET,
        {
            **ID,
            **TOPIC,
            **NAME,
            **VERSION,
            "lswitch": ref("lswitch", required=True),
            "cidr": ip_network(),
            "gateway_ip": ip_address(),
            "enable_dhcp": boolean(),
            "dns_nameservers": list_of(ip_address()),
            "host_routes": list_of(embedded(HOST_ROUTE)),
            "dhcp_ip": ip_address(),
        },
        rules=(SameFamily("gateway_ip", "cidr"),),
        doc="a Neutron subnet",
    ),
    Table(
        LPORT,
        {
            **ID,
            **TOPIC,
            **NAME,
            **VERSION,
            **UNIQUE_KEY_FIELD,
            "lswitch": ref("lswitch"),
            "macs": list_of(mac()),
            "ips": list_of(ip_address()),
            "subnets": ref_list("lsubnet", doc="parallel to ips"),
            "enabled": boolean(doc="admin_state_up; false = no flows at all"),
            "binding": embedded(PORT_BINDING, doc="absent for unbound ports"),
            "device_owner": string(),
            "device_id": string(),
            "security_groups": ref_list("secgroup"),
            "port_security_enabled": boolean(),
            "allowed_address_pairs": list_of(embedded(ADDRESS_PAIR)),
            "qos_policy": ref("qospolicy"),
            "dhcp_params": embedded(DHCP_PARAMS),
            "binding_vnic_type": enum(*VNIC_TYPES),
        },
        rules=(SameLength("ips", "subnets"),),
        doc="a Neutron port",
    ),
    Table(
        LROUTER,
        {
            **ID,
            **TOPIC,
            **NAME,
            **VERSION,
            **UNIQUE_KEY_FIELD,
            "ports": list_of(embedded(ROUTER_PORT), doc="router interfaces (not the gateway)"),
            "routes": list_of(embedded(HOST_ROUTE), doc="Neutron extra routes"),
        },
        rules=(Distinct("ports"),),
        doc="a Neutron router",
    ),
    Table(
        FLOATINGIP,
        {
            **ID,
            **TOPIC,
            **VERSION,
            "floating_ip_address": ip_address(),
            "floating_lport": ref("lport", doc="port holding the address on the external net"),
            "lport": ref("lport", doc="associated fixed port"),
            "fixed_ip_address": ip_address(),
            "lrouter": ref("lrouter"),
        },
        doc="a Neutron floating IP",
    ),
    Table(
        SECGROUP,
        {
            **ID,
            **TOPIC,
            **NAME,
            **VERSION,
            **UNIQUE_KEY_FIELD,
            "rules": list_of(embedded(SECGROUP_RULE)),
            "description": string(),
        },
        rules=(Distinct("rules"), OwnedBy("rules", "security_group_id")),
        category="policy",
        doc="a Neutron security group with its rules",
    ),
    Table(
        QOSPOLICY,
        {**ID, **TOPIC, **NAME, **VERSION, "rules": list_of(embedded(QOS_RULE))},
        rules=(Distinct("rules"),),
        category="policy",
        doc="a Neutron QoS policy with its rules",
    ),
    Table(
        CHILD_PORT_SEGMENTATION,
        {
            **ID,
            **TOPIC,
            "parent": ref("lport", required=True, doc="trunk parent port"),
            "port": ref("lport", required=True, doc="child (sub)port"),
            "segmentation_type": enum("vlan", "macvlan", "ipvlan", required=True),
            "segmentation_id": integer(minimum=0, maximum=4095, doc="VLAN id"),
        },
        rules=(RequiredWhen("segmentation_id", "segmentation_type", ("vlan",)),),
        doc="a trunk subport or a detected port behind a port",
    ),
    Table(
        SFC_PORTPAIR,
        {
            **ID,
            **TOPIC,
            **NAME,
            "ingress_port": ref("lport"),
            "egress_port": ref("lport"),
            "correlation_mechanism": enum("none", "mpls"),
            "weight": number(),
        },
        category="policy",
        doc="a service function's ingress and egress ports",
    ),
    Table(
        SFC_PORTPAIRGROUP,
        {**ID, **TOPIC, **NAME, "port_pairs": ref_list("sfc_portpair")},
        category="policy",
        doc="port pairs load-balanced as one hop of a chain",
    ),
    Table(
        SFC_FLOWCLASSIFIER,
        {
            **ID,
            **TOPIC,
            **NAME,
            **UNIQUE_KEY_FIELD,
            "ether_type": enum("IPv4", "IPv6"),
            "protocol": enum("tcp", "udp"),
            "source_cidr": ip_network(),
            "dest_cidr": ip_network(),
            "source_transport_ports": port_range(),
            "dest_transport_ports": port_range(),
            "source_port": ref("lport"),
            "dest_port": ref("lport"),
        },
        rules=(
            ExactlyOne(("source_port", "dest_port")),
            SameFamily("source_cidr", "ether_type"),
            SameFamily("dest_cidr", "ether_type"),
        ),
        category="policy",
        doc="the traffic a port chain applies to",
    ),
    Table(
        SFC_PORTCHAIN,
        {
            **ID,
            **TOPIC,
            **NAME,
            "protocol": enum("mpls"),
            "chain_id": integer(minimum=0),
            "port_pair_groups": ref_list("sfc_portpairgroup", doc="hops, in chain order"),
            "flow_classifiers": ref_list("sfc_flowclassifier"),
        },
        category="policy",
        doc="a service function chain",
    ),
    Table(
        BGP_PEER,
        {
            **ID,
            **TOPIC,
            **NAME,
            "peer_ip": ip_address(required=True),
            "remote_as": integer(required=True, minimum=1, maximum=4294967295),
            "auth_type": string(doc="none or md5"),
            "password": string(secret=True, doc="BGP MD5 secret in clear text: never shown"),
        },
        category="routing",
        doc="a BGP peer of the dynamic-routing service",
    ),
    Table(
        BGP_SPEAKER,
        {
            **ID,
            **TOPIC,
            **NAME,
            "local_as": integer(required=True, minimum=1, maximum=4294967295),
            "ip_version": integer(required=True, choices=(4, 6)),
            "peers": ref_list("bgp_peer"),
            "host_routes": list_of(embedded(HOST_ROUTE), doc="floating IP /32 -> chassis"),
            "prefix_routes": list_of(embedded(HOST_ROUTE), doc="tenant subnet -> router gw"),
        },
        category="routing",
        doc="a BGP speaker and the routes it advertises",
    ),
    Table(
        ACTIVEPORT,
        {
            **ID,
            **TOPIC,
            "network": ref("lswitch"),
            "ip": ip_address(),
            "detected_mac": mac(),
            "detected_lport": ref("lport"),
        },
        category="runtime",
        doc="which port currently answers for an allowed-address-pair IP",
    ),
    Table(
        MIGRATION,
        {
            **ID,
            "dest_chassis": ref("chassis"),
            "lport": ref("lport"),
            "status": enum("dest_plug", "src_unplug", "rebound", required=True),
        },
        category="runtime",
        lingers=True,
        doc="a port moving between chassis (never deleted: a hint, not state)",
    ),
    Table(
        SERVICE,
        {
            **ID,
            "chassis": ref("chassis", required=True),
            "binary": string(required=True),
            "last_seen_up": number(doc="heartbeat, Unix time"),
            "disabled": boolean(),
            "disabled_reason": string(),
        },
        category="control",
        doc="a Dragonflow service heartbeat",
    ),
    Table(
        PUBLISHER,
        {
            **ID,
            **NAME,
            "uri": string(),
            "last_activity_timestamp": number(),
        },
        category="control",
        doc="a ZMQ publisher service",
    ),
    Table(
        LISTENER,
        {**ID, "ppid": integer(minimum=0), "timestamp": number()},
        category="control",
        doc="a Neutron server heartbeat",
    ),
    Table(
        SWITCH_PORT,
        {
            **ID,
            **NAME,
            "port_num": integer(),
            "admin_state": enum("up", "down"),
            "type": enum("compute", "tunnel", "patch", "bridge", "unknown"),
            "lport": ref("lport"),
            "attached_mac": mac(),
            "mac_in_use": mac(),
            "peer": string(),
            "tunnel_type": string(),
        },
        category="local",
        stored=False,
        doc="an OVS interface inside one controller; never in the NB DB",
    ),
)

TABLES: dict[str, Table] = {table.name: table for table in _DECLARED}
"""Every table dragonscope understands, by Dragonflow's table name."""


def load_order(read_first: Mapping[str, Collection[str]] | None = None) -> tuple[str, ...]:
    """Stored tables, each after the tables it references (declaration order otherwise;
    a reference cycle, such as a security group's rules naming groups, is cut where it closes).

    ``read_first`` maps a table to tables its readers consult before drawing one of its
    objects although they reference it (the floating IPs at a port): those come first."""
    first = read_first or {}
    order: list[str] = []
    placed: set[str] = set()

    def place(name: str, path: frozenset[str]) -> None:
        if name in placed or name in path or name not in TABLES or not TABLES[name].stored:
            return
        targets = [*first.get(name, ())]
        targets += [
            reference.target
            for reference in TABLES[name].references
            if name not in first.get(reference.target, ())
        ]
        for target in targets:
            place(target, path | {name})
        placed.add(name)
        order.append(name)

    for name in TABLES:
        place(name, frozenset())
    return tuple(order)


LOAD_ORDER: tuple[str, ...] = load_order()
"""The order a snapshot is best read in: an object read after what it references is
translated once, not again when each of them arrives (a port before its network and
subnets was rendered three times over)."""


# --- parsing ----------------------------------------------------------------------------------


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


# One decoder for every value (json.loads with an option builds a new one per call).
_DECODER = json.JSONDecoder(parse_constant=_reject_constant)
# Digits enough for an integer beyond 64 bits, which orjson would read as a float.
_LONG_NUMBER = re.compile(rb"\d{19}")


def _load(raw: Any) -> tuple[dict[str, Any] | None, tuple[str, str] | None]:
    """The stored value as a dict, or (None, (kind, message)). A stored object is decoded
    by orjson, several times faster than json, which shares the field names of every
    object (a chassis collector holds thousands); any other value, and one with a huge
    integer, goes through json, which says exactly what is wrong."""
    if isinstance(raw, dict):
        return raw, None
    if isinstance(raw, bytes) and not _LONG_NUMBER.search(raw):
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError:
            value = None
        if isinstance(value, dict):
            return value, None
    if isinstance(raw, bytes | bytearray | memoryview):
        try:
            raw = bytes(raw).decode("utf-8")
        except UnicodeDecodeError as exc:
            return None, (
                INVALID_JSON,
                f"expected UTF-8 JSON text, found byte 0x{exc.object[exc.start]:02x} at "
                f"offset {exc.start} that is not UTF-8 ({exc.reason})",
            )
    elif not isinstance(raw, str):
        return None, (NOT_AN_OBJECT, f"expected a JSON object, found {type(raw).__name__}")
    if not raw.strip():
        return None, (INVALID_JSON, "expected a JSON object, found an empty value")
    try:
        value = _DECODER.decode(raw)
    except json.JSONDecodeError as exc:
        start = max(0, exc.pos - 20)
        near = ("..." if start else "") + quote(exc.doc[start : exc.pos + 20])
        if may_hold_secret(exc.doc):  # not one character of a malformed secret
            near = NOT_SHOWN
        return None, (
            INVALID_JSON,
            f"expected a JSON object, found invalid JSON ({exc.msg} at line {exc.lineno} "
            f"column {exc.colno}, near {near})",
        )
    except RecursionError:
        return None, (INVALID_JSON, "expected a JSON object, found JSON nested too deeply")
    except ValueError as exc:
        return None, (INVALID_JSON, f"expected a JSON object, found invalid JSON ({exc})")
    if not isinstance(value, dict):
        return None, (NOT_AN_OBJECT, f"expected a JSON object, found {describe(value)}")
    return value, None


def stored_object(raw: bytes | str) -> dict[str, Any] | None:
    """The stored JSON object, unjudged (None when the value is not one): for a reader that
    only glances at a few fields of an object it does not keep. Through orjson, several
    times faster than json, which a chassis collector pays on every object of the NB (it
    reads integers beyond 64 bits as floats: no field a glance reads is one)."""
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return _load(raw)[0]
    return value if isinstance(value, dict) else None


def parse(table: str, id: str, raw: bytes | str | dict[str, Any]) -> NbObject:
    """Judge one stored value of ``table`` stored under ``id``; never raises.

    The object's ``data`` is the stored JSON object (``{}`` when the value is not
    a JSON object at all); every problem found is in ``problems``.
    """
    data, failure = _load(raw)
    if data is None:
        assert failure is not None
        kind, message = failure
        return NbObject(table, id, {}, (Problem(table, id, None, message, kind),))
    complaints: list[Complaint] = []
    spec = TABLES.get(table)
    if spec is None:
        message = f"expected a Dragonflow table, found table {quote(table)}: kept unchecked"
        complaints.append((UNKNOWN_TABLE, "", message))
    else:
        spec.validate(data, "", complaints)
    stored_id = data.get("id")
    if isinstance(stored_id, str) and stored_id != id:
        complaints.append(
            (
                ID_MISMATCH,
                "id",
                f"expected the id it is stored under, {describe(id)}, found {describe(stored_id)}",
            )
        )
    if not complaints:
        return NbObject(table, id, data)
    problems = tuple(
        Problem(table, id, path or None, message, kind) for kind, path, message in complaints
    )
    return NbObject(table, id, data, problems)


def serialize(obj: NbObject) -> str:
    """The object in Dragonflow's stored form: one line, ``", "``/``": "``, nulls omitted.

    Keys of the table and of embedded structures come out in alphabetical order,
    as Dragonflow's model classes emit them; free-form maps (DHCP options) keep
    their stored order, as Dragonflow keeps its dict's order.
    """
    return json.dumps(_in_stored_order(obj.data, TABLES.get(obj.table)), separators=(", ", ": "))


def _in_stored_order(value: Any, struct: Struct | None) -> Any:
    if isinstance(value, list):
        return [_in_stored_order(item, struct) for item in value]
    if not isinstance(value, dict):
        return value
    ordered: dict[str, Any] = {}
    for key in sorted(value, key=str):
        item = value[key]
        if item is None:
            continue
        spec = struct.fields.get(key) if struct is not None else None
        if spec is not None and spec.type == "dhcp-opts":
            ordered[key] = _without_nulls(item)
        else:
            ordered[key] = _in_stored_order(item, spec.struct if spec is not None else None)
    return ordered


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def redact(obj: NbObject) -> dict[str, Any]:
    """The object's data without secrets, for display: declared secret fields
    (``bgp_peer.password``), undeclared fields named like credentials, and values
    shaped like secrets (``nb/secrets.py``). Returns a copy when something had to go,
    else the data itself: never mutate it.
    """
    spec = TABLES.get(obj.table)
    if spec is None:
        return without_secrets(obj.data) if has_secret(obj.data) else obj.data
    return spec.without_secrets(obj.data) if spec.has_secret(obj.data) else obj.data


def redacted_field(obj: NbObject, name: str) -> object:
    """One field of ``redact(obj)`` (None when absent or a secret), judging that field alone:
    a label needs a name, not the whole object searched for secrets at every change."""
    if name not in obj.data:
        return None
    spec = TABLES.get(obj.table)
    one = {name: obj.data[name]}
    return (spec.without_secrets(one) if spec is not None else without_secrets(one)).get(name)


def field_value(obj: NbObject, path: str) -> object:
    """A field as Python objects: ``ipaddress`` addresses/interfaces, ``(min, max)`` ranges.

    ``path`` walks embedded objects with dots (``"binding.vtep_address"``). Returns
    None when the field is absent, undeclared, or holds a value that is not valid.
    """
    spec = TABLES.get(obj.table)
    value: Any = obj.data
    struct: Struct | None = spec
    declared: Field | None = None
    for step in path.split("."):
        if struct is None or not isinstance(value, dict):
            return None
        declared = struct.fields.get(step)
        if declared is None:
            return None
        value = value.get(step)
        struct = declared.struct if not declared.many else None
    if value is None or declared is None:
        return None
    complaints: list[Complaint] = []
    declared.validate(value, path, complaints)
    return None if complaints else declared.typed(value)


def check(snapshot: Mapping[tuple[str, str], NbObject] | Iterable[NbObject]) -> list[Problem]:
    """Problems across objects: dangling references, duplicates, inconsistent copies.

    Give a snapshot dict, or an iterable of objects (then the same (table, id)
    seen twice, e.g. under two redis topics, is reported as ``duplicate-id``).
    Per-object problems found by ``parse`` are not repeated here.
    """
    return find_problems(snapshot, TABLES)
