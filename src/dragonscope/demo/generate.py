"""A realistic Dragonflow NB DB, built deterministically from a seed.

The result has the shape of ``df-db dump -f json``: table name → list of stored
objects, each object exactly as Dragonflow writes it (``None`` fields omitted,
list fields always present, references as bare id strings, unique keys drawn
from per-table counters in creation order), plus the ``unique_key`` table as
``[{"id": <table>, "unique_key": <last value>}]``. The same seed always gives
the same bytes (``dump_json``), so the sample cloud can serve as a fixture for
tests, benchmarks, docs and the demo alike.

A few references are broken on purpose, as they are in real clouds (see
``BROKEN_REFERENCES``), so that consistency checks have something to report.
"""

from __future__ import annotations

import gc
import ipaddress
import json
import random
import uuid
from dataclasses import dataclass, fields
from typing import Any

Dump = dict[str, list[dict[str, Any]]]

# Epoch of the generated heartbeats when no clock is given: fixed, so output is reproducible.
DEFAULT_NOW = 1_700_000_000.0

# Table order of a generated dump: infrastructure first, then what refers to it, counters last.
TABLES = (
    "chassis",
    "service",
    "lswitch",
    "lsubnet",
    "secgroup",
    "qospolicy",
    "lport",
    "lrouter",
    "floatingip",
    "child_port_segmentation",
    "activeport",
    "sfc_portpair",
    "sfc_portpairgroup",
    "sfc_flowclassifier",
    "sfc_portchain",
    "bgp_peer",
    "bgp_speaker",
    "migration",
    "unique_key",
)

# Tables whose objects carry a Neutron revision number (Dragonflow's Version mixin).
VERSIONED = frozenset(
    {"lswitch", "lsubnet", "lport", "lrouter", "floatingip", "secgroup", "qospolicy"}
)

# The deliberately dangling references, as (table, field): a floating IP still pointing at
# a deleted VM port (what Neutron's plugin leaves behind, see the module docstring), a port
# whose security group was deleted, and a port bound to a decommissioned chassis.
BROKEN_REFERENCES = (
    ("floatingip", "lport"),
    ("lport", "security_groups"),
    ("lport", "binding.chassis"),
)

SERVICE_NAMESPACE = uuid.UUID("cf6b6d03-8eb8-473a-8058-ff5a44fb2ba9")
CPS_NAMESPACE = uuid.UUID("a11fee2a-d833-4e22-be31-f915b55f1f77")

TENANT_NAMES = (
    "acme", "globex", "initech", "umbrella", "hooli", "stark", "wayne", "tyrell",
    "cyberdyne", "soylent", "wonka", "aperture",
)  # fmt: skip
NETWORK_ROLES = ("web", "db", "app", "mgmt", "cache", "batch")
EXTERNAL_NET = ipaddress.ip_network("172.24.0.0/13")
FIRST_TUNNEL_IP = ipaddress.ip_address("192.168.100.11")
TENANT_V4 = ipaddress.ip_network("10.0.0.0/8")
TENANT_V6 = ipaddress.ip_network("2001:db8::/32")
BASTION_CIDR = "192.0.2.0/24"
TUNNEL_TYPES = ["vxlan", "geneve", "gre"]
FIRST_VM_HOST = 10
VIP_HOST = 250
MAX_VMS_PER_NETWORK = VIP_HOST - FIRST_VM_HOST - 10


@dataclass(frozen=True, slots=True)
class Counts:
    """How big a cloud to build. Every other count follows from these."""

    tenants: int = 3
    networks_per_tenant: int = 2
    vms_per_network: int = 3
    chassis: int = 3
    fips_per_tenant: int = 2
    trunks: int = 1
    sfc_chains: int = 1
    bgp_peers: int = 2

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{f.name} must be a non-negative integer, got {value!r}")
        if self.tenants < 1 or self.networks_per_tenant < 1 or self.chassis < 1:
            raise ValueError("tenants, networks_per_tenant and chassis must be at least 1")
        if self.vms_per_network > MAX_VMS_PER_NETWORK:
            raise ValueError(f"vms_per_network must be at most {MAX_VMS_PER_NETWORK}")
        if self.tenants * self.networks_per_tenant >= 2**16:
            raise ValueError("tenants * networks_per_tenant must stay below 65536")
        if self.chassis > 4000:
            raise ValueError("chassis must be at most 4000")
        if (
            self.tenants * (self.fips_per_tenant + 2) + self.chassis + 64
            > EXTERNAL_NET.num_addresses
        ):
            raise ValueError("too many floating IPs for the external network")

    @classmethod
    def parse(cls, text: str) -> Counts:
        """``"tenants=10,vms_per_network=5"`` → Counts (unnamed counts keep the ``small`` value)."""
        known = {f.name for f in fields(cls)}
        values: dict[str, int] = {}
        for item in text.split(","):
            name, sep, raw = item.partition("=")
            name = name.strip()
            if not sep or name not in known:
                raise ValueError(
                    f"bad count {item.strip()!r}: expected NAME=INTEGER with NAME one of "
                    + ", ".join(sorted(known))
                )
            try:
                values[name] = int(raw)
            except ValueError:
                raise ValueError(f"bad count {item.strip()!r}: {raw!r} is not an integer") from None
        return cls(**values)


SIZES: dict[str, Counts] = {
    "small": Counts(),
    "medium": Counts(
        tenants=45, networks_per_tenant=3, vms_per_network=22, chassis=20, fips_per_tenant=12,
        trunks=20, sfc_chains=5, bgp_peers=2,
    ),
    "large": Counts(
        tenants=950, networks_per_tenant=3, vms_per_network=20, chassis=200, fips_per_tenant=12,
        trunks=400, sfc_chains=40, bgp_peers=4,
    ),
}  # fmt: skip


def resolve_counts(size: str | Counts) -> Counts:
    if isinstance(size, Counts):
        return size
    if size in SIZES:
        return SIZES[size]
    if "=" in size:
        return Counts.parse(size)
    raise ValueError(f"unknown size {size!r}: use small, medium, large or NAME=N,... counts")


def generate(size: str | Counts = "small", seed: int = 0, *, now: float = DEFAULT_NOW) -> Dump:
    """Build a cloud of ``size`` (``small`` ≈100 objects, ``medium`` ≈5k, ``large`` ≈100k, or
    explicit ``Counts``). ``now`` is the heartbeat time of the services."""
    builder = _Builder(resolve_counts(size), seed, now)
    # Everything built here survives, so the cyclic collector's passes over the growing heap
    # are pure cost (half the time of a large cloud); pause it while building.
    paused = gc.isenabled()
    gc.disable()
    try:
        return builder.build()
    finally:
        if paused:
            gc.enable()


def object_count(dump: Dump) -> int:
    """Stored objects in a dump, not counting the unique-key counters."""
    return sum(len(rows) for table, rows in dump.items() if table != "unique_key")


def encode(obj: dict[str, Any]) -> bytes:
    """One stored value, byte for byte as Dragonflow serializes it."""
    return json.dumps(obj, sort_keys=True).encode()


def dump_json(dump: Dump) -> bytes:
    """The whole dump as ``df-db dump -f json`` prints it (stable bytes)."""
    return json.dumps(dump, sort_keys=True, indent=1).encode() + b"\n"


def _external_network(counts: Counts) -> ipaddress.IPv4Network:
    """The smallest block, a /24 or larger, holding every gateway, FIP and chassis address."""
    needed = counts.tenants * (counts.fips_per_tenant + 2) + counts.chassis + 64
    prefix = 24
    while 2 ** (32 - prefix) < needed:
        prefix -= 1
    return ipaddress.ip_network(f"{EXTERNAL_NET.network_address}/{prefix}")


def _clean(obj: dict[str, Any]) -> dict[str, Any]:
    """Drop unset fields, as Dragonflow's serializer does, and sort keys like it."""
    return {k: obj[k] for k in sorted(obj) if obj[k] is not None}


class _Network:
    """What the builder remembers about one tenant network while filling it."""

    def __init__(self, obj: dict[str, Any], index: int, role: str) -> None:
        self.obj = obj
        self.index = index
        self.role = role
        self.v4: ipaddress.IPv4Network = TENANT_V4  # set by the builder
        self.v6: ipaddress.IPv6Network | None = None
        self.subnet4: dict[str, Any] = {}
        self.subnet6: dict[str, Any] | None = None
        self.next_host = FIRST_VM_HOST
        self.vms: list[dict[str, Any]] = []
        self.router_port: dict[str, Any] | None = None

    @property
    def id(self) -> str:
        return self.obj["id"]

    def take_host(self) -> int:
        host = self.next_host
        if host >= VIP_HOST:
            raise ValueError(
                f"network {self.obj['name']} has no address left in its /24: "
                "lower vms_per_network or trunks"
            )
        self.next_host += 1
        return host

    def ips(self, host: int) -> tuple[list[str], list[str]]:
        ips = [str(self.v4[host])]
        subnets = [self.subnet4["id"]]
        if self.v6 is not None and self.subnet6 is not None:
            ips.append(str(self.v6[host]))
            subnets.append(self.subnet6["id"])
        return ips, subnets


class _Tenant:
    def __init__(self, index: int, topic: str, name: str) -> None:
        self.index = index
        self.topic = topic
        self.name = name
        self.networks: list[_Network] = []
        self.secgroups: dict[str, dict[str, Any]] = {}
        self.router: dict[str, Any] | None = None
        self.gateway_ip = ""
        self.qos: dict[str, Any] | None = None


class _Builder:
    def __init__(self, counts: Counts, seed: int, now: float) -> None:
        self.counts = counts
        self.rng = random.Random(seed)
        self.now = now
        self.tables: Dump = {table: [] for table in TABLES}
        self.keys: dict[str, int] = {}
        self.macs: set[int] = set()
        self.admin_topic = self.topic()
        self.external: dict[str, Any] = {}
        self.external_subnet: dict[str, Any] = {}
        self.external_net = _external_network(counts)
        self.external_next = 2
        self.chassis: list[dict[str, Any]] = []
        self.tenants: list[_Tenant] = []
        self.fips: list[tuple[dict[str, Any], dict[str, Any]]] = []  # (fip, fixed port)

    # -- primitives ---------------------------------------------------------
    def uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def topic(self) -> str:
        return uuid.UUID(int=self.rng.getrandbits(128), version=4).hex

    def mac(self) -> str:
        while True:
            value = self.rng.getrandbits(24)
            if value not in self.macs:
                self.macs.add(value)
                return "fa:16:3e:" + ":".join(f"{(value >> s) & 0xFF:02x}" for s in (16, 8, 0))

    def unique_key(self, table: str) -> int:
        self.keys[table] = self.keys.get(table, 0) + 1
        return self.keys[table]

    def add(self, table: str, obj: dict[str, Any]) -> dict[str, Any]:
        obj = _clean(obj)
        self.tables[table].append(obj)
        return obj

    def external_ip(self) -> str:
        ip = self.external_net[self.external_next]
        self.external_next += 1
        return str(ip)

    # -- build ----------------------------------------------------------------
    def build(self) -> Dump:
        self.build_chassis()
        self.build_external()
        for index in range(self.counts.tenants):
            self.build_tenant(index)
        self.build_trunks()
        self.build_sfc()
        self.build_bgp()
        self.build_broken()
        self.tables["unique_key"] = [
            {"id": table, "unique_key": value} for table, value in sorted(self.keys.items())
        ]
        return self.tables

    def build_chassis(self) -> None:
        """Compute nodes; they reach the outside world on the external network (SNAT, BGP)."""
        binaries = ["df-local-controller", "df-metadata-service"]
        for i in range(self.counts.chassis):
            name = f"compute-{i + 1}"
            chassis = self.add(
                "chassis",
                {
                    "id": name,
                    "ip": str(FIRST_TUNNEL_IP + i),
                    "external_host_ip": self.external_ip(),
                    "tunnel_types": list(TUNNEL_TYPES),
                },
            )
            self.chassis.append(chassis)
            extra = ["df-bgp-service"] if i == 0 else []
            for binary in binaries + extra:
                self.add(
                    "service",
                    {
                        "id": str(uuid.uuid5(SERVICE_NAMESPACE, name + binary)),
                        "chassis": name,
                        "binary": binary,
                        "last_seen_up": round(self.now - self.rng.uniform(0, 20), 2),
                    },
                )

    def build_external(self) -> None:
        self.external = self.add(
            "lswitch",
            {
                "id": self.uuid(),
                "topic": self.admin_topic,
                "name": "public",
                "version": 2,
                "unique_key": self.unique_key("lswitch"),
                "network_type": "flat",
                "physical_network": "public",
                "is_external": True,
                "mtu": 1500,
            },
        )
        self.external_subnet = self.add(
            "lsubnet",
            {
                "id": self.uuid(),
                "topic": self.admin_topic,
                "name": "public-subnet",
                "version": 1,
                "lswitch": self.external["id"],
                "cidr": str(self.external_net),
                "gateway_ip": str(self.external_net[1]),
                "enable_dhcp": False,
                "dns_nameservers": [],
                "host_routes": [],
            },
        )

    def tenant_name(self, index: int) -> str:
        if index < len(TENANT_NAMES):
            return TENANT_NAMES[index]
        return f"tenant-{index:04d}"

    def build_tenant(self, index: int) -> None:
        tenant = _Tenant(index, self.topic(), self.tenant_name(index))
        self.tenants.append(tenant)
        self.build_secgroups(tenant)
        tenant.qos = self.add(
            "qospolicy",
            {
                "id": self.uuid(),
                "topic": tenant.topic,
                "name": f"{tenant.name}-silver",
                "version": 3,
                "rules": [
                    _clean(
                        {
                            "id": self.uuid(),
                            "type": "bandwidth_limit",
                            "direction": "egress",
                            "max_kbps": 10000,
                            "max_burst_kbps": 1000,
                        }
                    ),
                    _clean({"id": self.uuid(), "type": "dscp_marking", "dscp_mark": 26}),
                ],
            },
        )
        for n in range(self.counts.networks_per_tenant):
            self.build_network(tenant, n)
        self.build_router(tenant)
        for network in tenant.networks:
            for _ in range(self.counts.vms_per_network):
                self.build_vm(tenant, network)
        self.build_vip(tenant)
        self.build_fips(tenant)

    def rule(self, tenant: _Tenant, sg_id: str, **values: Any) -> dict[str, Any]:
        return _clean(
            {
                "id": self.uuid(),
                "topic": tenant.topic,
                "version": 1,
                "security_group_id": sg_id,
                **values,
            }
        )

    def build_secgroups(self, tenant: _Tenant) -> None:
        ids = {name: self.uuid() for name in ("default", "web", "db")}
        rule = self.rule
        rules = {
            "default": [
                rule(tenant, ids["default"], direction="egress", ethertype="IPv4"),
                rule(tenant, ids["default"], direction="egress", ethertype="IPv6"),
                rule(
                    tenant,
                    ids["default"],
                    direction="ingress",
                    ethertype="IPv4",
                    remote_group_id=ids["default"],
                ),
                rule(
                    tenant,
                    ids["default"],
                    direction="ingress",
                    ethertype="IPv6",
                    remote_group_id=ids["default"],
                ),
            ],
            "web": [
                rule(tenant, ids["web"], direction="egress", ethertype="IPv4"),
                rule(tenant, ids["web"], direction="egress", ethertype="IPv6"),
                rule(
                    tenant,
                    ids["web"],
                    direction="ingress",
                    ethertype="IPv4",
                    protocol=6,
                    port_range_min=80,
                    port_range_max=80,
                    remote_ip_prefix="0.0.0.0/0",
                ),
                rule(
                    tenant,
                    ids["web"],
                    direction="ingress",
                    ethertype="IPv4",
                    protocol=6,
                    port_range_min=443,
                    port_range_max=443,
                    remote_ip_prefix="0.0.0.0/0",
                ),
                rule(
                    tenant,
                    ids["web"],
                    direction="ingress",
                    ethertype="IPv6",
                    protocol=6,
                    port_range_min=443,
                    port_range_max=443,
                    remote_ip_prefix="::/0",
                ),
                rule(
                    tenant,
                    ids["web"],
                    direction="ingress",
                    ethertype="IPv4",
                    protocol=6,
                    port_range_min=22,
                    port_range_max=22,
                    remote_ip_prefix=BASTION_CIDR,
                ),
                rule(
                    tenant,
                    ids["web"],
                    direction="ingress",
                    ethertype="IPv4",
                    protocol=1,
                    remote_group_id=ids["web"],
                ),
                rule(
                    tenant,
                    ids["web"],
                    direction="ingress",
                    ethertype="IPv6",
                    protocol=58,
                    remote_ip_prefix="::/0",
                ),
            ],
            "db": [
                rule(tenant, ids["db"], direction="egress", ethertype="IPv4"),
                rule(
                    tenant,
                    ids["db"],
                    direction="ingress",
                    ethertype="IPv4",
                    protocol=6,
                    port_range_min=5432,
                    port_range_max=5432,
                    remote_group_id=ids["web"],
                ),
                rule(
                    tenant,
                    ids["db"],
                    direction="ingress",
                    ethertype="IPv4",
                    protocol=6,
                    port_range_min=22,
                    port_range_max=22,
                    remote_ip_prefix=BASTION_CIDR,
                ),
                rule(
                    tenant,
                    ids["db"],
                    direction="ingress",
                    ethertype="IPv4",
                    protocol=1,
                    remote_ip_prefix="10.0.0.0/8",
                ),
            ],
        }
        for name, sg_id in ids.items():
            tenant.secgroups[name] = self.add(
                "secgroup",
                {
                    "id": sg_id,
                    "topic": tenant.topic,
                    "name": name,
                    "version": 1 + len(rules[name]),
                    "unique_key": self.unique_key("secgroup"),
                    "rules": rules[name],
                },
            )

    def build_network(self, tenant: _Tenant, n: int) -> None:
        role = NETWORK_ROLES[n % len(NETWORK_ROLES)]
        number = tenant.index * self.counts.networks_per_tenant + n + 1
        provider = tenant.index % 3 == 2 and n == self.counts.networks_per_tenant - 1 and n > 0
        dual_stack = n == 0
        obj: dict[str, Any] = {
            "id": self.uuid(),
            "topic": tenant.topic,
            "name": f"{tenant.name}-{role}",
            "version": 2 + dual_stack,
            "unique_key": self.unique_key("lswitch"),
            "is_external": False,
        }
        if provider:
            obj.update(
                network_type="vlan",
                physical_network="datacentre",
                segmentation_id=100 + number % 3900,
                mtu=1500,
            )
        elif number % 7 == 0:
            obj.update(network_type="geneve", segmentation_id=5000 + number, mtu=1442)
        else:
            obj.update(network_type="vxlan", segmentation_id=1000 + number, mtu=1450)
        if role == "db":
            obj["qos_policy"] = tenant.qos["id"] if tenant.qos else None
        network = _Network(self.add("lswitch", obj), n, role)
        network.v4 = ipaddress.ip_network(f"10.{number >> 8}.{number & 0xFF}.0/24")
        tenant.networks.append(network)
        host_routes = []
        if role == "db":
            host_routes = [{"destination": "10.250.0.0/16", "nexthop": str(network.v4[254])}]
        network.subnet4 = self.add(
            "lsubnet",
            {
                "id": self.uuid(),
                "topic": tenant.topic,
                "name": f"{tenant.name}-{role}-v4",
                "version": 1,
                "lswitch": network.id,
                "cidr": str(network.v4),
                "gateway_ip": str(network.v4[1]),
                "enable_dhcp": True,
                "dns_nameservers": ["8.8.8.8", "8.8.4.4"] if n % 2 == 0 else [],
                "host_routes": host_routes,
            },
        )
        if dual_stack:
            network.v6 = ipaddress.ip_network(f"2001:db8:{number:x}::/64")
            network.subnet6 = self.add(
                "lsubnet",
                {
                    "id": self.uuid(),
                    "topic": tenant.topic,
                    "name": f"{tenant.name}-{role}-v6",
                    "version": 1,
                    "lswitch": network.id,
                    "cidr": str(network.v6),
                    "gateway_ip": str(network.v6[1]),
                    "enable_dhcp": True,
                    "dns_nameservers": ["2001:4860:4860::8888"],
                    "host_routes": [],
                },
            )
        # Dragonflow's DHCP port: one per network, one IP per DHCP-enabled IPv4 subnet.
        self.port(
            tenant.topic,
            network.id,
            [str(network.v4[2])],
            [network.subnet4["id"]],
            device_owner="network:dhcp",
            device_id="",
            version=3,
        )

    def port(
        self,
        topic: str,
        lswitch: str,
        ips: list[str],
        subnets: list[str],
        *,
        device_owner: str,
        device_id: str,
        version: int,
        name: str = "",
        chassis: str | None = None,
        security_groups: list[str] | None = None,
        port_security: bool = True,
        mac: str | None = None,
        allowed_address_pairs: list[dict[str, str]] | None = None,
        qos_policy: str | None = None,
        dhcp_opts: dict[str, str] | None = None,
        store: bool = True,
    ) -> dict[str, Any]:
        obj = _clean(
            {
                "id": self.uuid(),
                "topic": topic,
                "name": name,
                "version": version,
                "unique_key": self.unique_key("lport"),
                "lswitch": lswitch,
                "macs": [mac or self.mac()],
                "ips": ips,
                "subnets": subnets,
                "enabled": True,
                "binding": {"chassis": chassis, "type": "chassis"} if chassis else None,
                "device_owner": device_owner,
                "device_id": device_id,
                "security_groups": security_groups or [],
                "port_security_enabled": port_security,
                "allowed_address_pairs": allowed_address_pairs or [],
                "qos_policy": qos_policy,
                "dhcp_params": {"opts": dhcp_opts or {}},
                "binding_vnic_type": "normal",
            }
        )
        if store:
            self.tables["lport"].append(obj)
        return obj

    def build_router(self, tenant: _Tenant) -> None:
        router_id = self.uuid()
        router_key = self.unique_key("lrouter")
        ports = []
        for network in tenant.networks:
            if network.obj.get("network_type") == "vlan":
                continue  # the provider network is routed by the datacentre, not by Neutron
            ips = [str(network.v4[1])]
            subnets = [network.subnet4["id"]]
            if network.v6 is not None and network.subnet6 is not None:
                ips.append(str(network.v6[1]))
                subnets.append(network.subnet6["id"])
            lport = self.port(
                tenant.topic,
                network.id,
                ips,
                subnets,
                device_owner="network:router_interface",
                device_id=router_id,
                version=4,
            )
            network.router_port = lport
            ports.append(
                _clean(
                    {
                        "id": lport["id"],
                        "topic": tenant.topic,
                        "unique_key": lport["unique_key"],
                        "mac": lport["macs"][0],
                        "lswitch": network.id,
                        "network": f"{ips[0]}/{network.v4.prefixlen}",
                    }
                )
            )
        gateway_ip = self.external_ip()
        tenant.gateway_ip = gateway_ip
        self.port(
            self.admin_topic,
            self.external["id"],
            [gateway_ip],
            [self.external_subnet["id"]],
            device_owner="network:router_gateway",
            device_id=router_id,
            version=4,
        )
        # An extra route towards an on-premises range, through an appliance VM of the first
        # network (its first VM, created just after).
        first = tenant.networks[0]
        routes = []
        if tenant.index % 2 == 0 and self.counts.vms_per_network:
            routes = [
                {
                    "destination": f"172.31.{tenant.index % 256}.0/24",
                    "nexthop": str(first.v4[FIRST_VM_HOST]),
                }
            ]
        tenant.router = self.add(
            "lrouter",
            {
                "id": router_id,
                "topic": tenant.topic,
                "name": f"{tenant.name}-router",
                "version": 1 + 2 * len(ports) + len(routes),
                "unique_key": router_key,
                "ports": ports,
                "routes": routes,
            },
        )

    def chassis_for(self, tenant: _Tenant, network: _Network, n: int) -> str:
        # Spread VMs over chassis, tenants starting at different hosts, as a scheduler would.
        offset = (tenant.index * 7 + network.index * 3 + n) % len(self.chassis)
        if self.rng.random() < 0.2:
            offset = self.rng.randrange(len(self.chassis))
        return self.chassis[offset]["id"]

    def build_vm(self, tenant: _Tenant, network: _Network, name: str | None = None) -> dict:
        n = len(network.vms)
        host = network.take_host()
        ips, subnets = network.ips(host)
        groups = {"web": ["web"], "db": ["db"]}.get(network.role, ["default"])
        opts = {"42": "192.0.2.123"} if tenant.index % 4 == 1 and n == 0 else None
        vm = self.port(
            tenant.topic,
            network.id,
            ips,
            subnets,
            device_owner="compute:nova",
            device_id=self.uuid(),
            version=5,
            name=name or f"{network.obj['name']}-{n + 1}",
            chassis=self.chassis_for(tenant, network, n),
            security_groups=[tenant.secgroups[g]["id"] for g in groups],
            qos_policy=tenant.qos["id"] if tenant.qos and network.role == "db" and n == 0 else None,
            dhcp_opts=opts,
        )
        network.vms.append(vm)
        return vm

    def build_vip(self, tenant: _Tenant) -> None:
        """A keepalived-style virtual IP shared by the first two VMs of the first network."""
        if tenant.index % 2 or not tenant.networks or len(tenant.networks[0].vms) < 2:
            return
        network = tenant.networks[0]
        vip = str(network.v4[VIP_HOST])
        for vm in network.vms[:2]:
            vm["allowed_address_pairs"] = [{"ip_address": vip, "mac_address": vm["macs"][0]}]
        holder = network.vms[0]
        self.add(
            "activeport",
            {
                "id": network.id + vip,
                "topic": tenant.topic,
                "network": network.id,
                "ip": vip,
                "detected_mac": holder["macs"][0],
                "detected_lport": holder["id"],
            },
        )

    def floating_port(self, fip_id: str, address: str) -> dict[str, Any]:
        return self.port(
            self.admin_topic,
            self.external["id"],
            [address],
            [self.external_subnet["id"]],
            device_owner="network:floatingip",
            device_id=fip_id,
            version=3,
        )

    def build_fips(self, tenant: _Tenant) -> None:
        routed = [net for net in tenant.networks if net.router_port is not None]
        vms = [vm for net in routed for vm in net.vms]
        # Two thirds of the addresses are associated, with distinct VMs spread over networks.
        associated = 2 * self.counts.fips_per_tenant // 3
        picks = vms[:: max(1, len(vms) // max(associated, 1))][:associated]
        for i in range(self.counts.fips_per_tenant):
            fip_id = self.uuid()
            address = self.external_ip()
            floating = self.floating_port(fip_id, address)
            obj: dict[str, Any] = {
                "id": fip_id,
                "topic": tenant.topic,
                "version": 1,
                "floating_ip_address": address,
                "floating_lport": floating["id"],
            }
            vm = picks[i] if i < len(picks) else None
            if vm is not None:
                obj.update(
                    lport=vm["id"],
                    fixed_ip_address=vm["ips"][0],
                    lrouter=tenant.router["id"] if tenant.router else None,
                    version=2,
                )
            fip = self.add("floatingip", obj)
            if vm is not None:
                self.fips.append((fip, vm))

    def build_trunks(self) -> None:
        """VLAN-aware VMs: a parent VM port carrying a subport of another network."""
        candidates = [t for t in self.tenants if len(t.networks) >= 2 and t.networks[0].vms]
        for k in range(min(self.counts.trunks, len(candidates) * self.counts.vms_per_network)):
            tenant = candidates[k % len(candidates)]
            round_ = k // len(candidates)
            parent = tenant.networks[0].vms[-1 - round_]
            network = tenant.networks[1]
            ips, subnets = network.ips(network.take_host())
            child = self.port(
                tenant.topic,
                network.id,
                ips,
                subnets,
                device_owner="",
                device_id="",
                version=3,
                name=f"{parent['name']}-vlan{101 + round_}",
                security_groups=[tenant.secgroups["default"]["id"]],
                mac=parent["macs"][0],
            )
            self.add(
                "child_port_segmentation",
                {
                    "id": str(uuid.uuid5(CPS_NAMESPACE, f"{parent['id']}/{child['id']}")),
                    "topic": tenant.topic,
                    "parent": parent["id"],
                    "port": child["id"],
                    "segmentation_type": "vlan",
                    "segmentation_id": 101 + round_,
                },
            )

    def build_sfc(self) -> None:
        """A firewall service function inserted between two networks of one tenant."""
        candidates = [t for t in self.tenants if len(t.networks) >= 2 and t.networks[0].vms]
        for k in range(min(self.counts.sfc_chains, len(candidates))):
            tenant = candidates[k]
            net, dest = tenant.networks[0], tenant.networks[1]
            device = self.uuid()
            sf_ports = []
            for side in ("in", "out"):
                ips, subnets = net.ips(net.take_host())
                sf_ports.append(
                    self.port(
                        tenant.topic,
                        net.id,
                        ips,
                        subnets,
                        device_owner="compute:nova",
                        device_id=device,
                        version=5,
                        name=f"{tenant.name}-fw-{side}",
                        chassis=self.chassis_for(tenant, net, k),
                        port_security=False,
                    )
                )
            pair = self.add(
                "sfc_portpair",
                {
                    "id": self.uuid(),
                    "topic": tenant.topic,
                    "name": f"{tenant.name}-fw-pair",
                    "ingress_port": sf_ports[0]["id"],
                    "egress_port": sf_ports[1]["id"],
                    "correlation_mechanism": "mpls",
                },
            )
            group = self.add(
                "sfc_portpairgroup",
                {
                    "id": self.uuid(),
                    "topic": tenant.topic,
                    "name": f"{tenant.name}-fw-group",
                    "port_pairs": [pair["id"]],
                },
            )
            classifier = self.add(
                "sfc_flowclassifier",
                {
                    "id": self.uuid(),
                    "topic": tenant.topic,
                    "name": f"{tenant.name}-web-to-db",
                    "unique_key": self.unique_key("sfc_flowclassifier"),
                    "ether_type": "IPv4",
                    "protocol": "tcp",
                    "source_cidr": str(net.v4),
                    "dest_cidr": str(dest.v4),
                    "dest_transport_ports": [5432, 5432],
                    "source_port": net.vms[0]["id"],
                },
            )
            self.add(
                "sfc_portchain",
                {
                    "id": self.uuid(),
                    "topic": tenant.topic,
                    "name": f"{tenant.name}-fw-chain",
                    "protocol": "mpls",
                    "chain_id": k + 1,
                    "port_pair_groups": [group["id"]],
                    "flow_classifiers": [classifier["id"]],
                },
            )

    def build_bgp(self) -> None:
        if not self.counts.bgp_peers:
            return
        peers = []
        for i in range(self.counts.bgp_peers):
            md5 = i % 2 == 0
            peers.append(
                self.add(
                    "bgp_peer",
                    {
                        "id": self.uuid(),
                        "topic": self.admin_topic,
                        "name": f"tor-{i + 1}",
                        "peer_ip": str(self.external_net[-2 - i]),
                        "remote_as": 65001 + i,
                        "auth_type": "md5" if md5 else "none",
                        "password": f"{self.rng.getrandbits(64):016x}" if md5 else None,
                    },
                )
            )
        by_chassis = {c["id"]: c for c in self.chassis}
        host_routes = []
        for fip, vm in self.fips:
            chassis = by_chassis[vm["binding"]["chassis"]]
            host_routes.append(
                {
                    "destination": f"{fip['floating_ip_address']}/32",
                    "nexthop": chassis.get("external_host_ip", chassis["ip"]),
                }
            )
        prefix_routes = [
            {"destination": str(net.v4), "nexthop": tenant.gateway_ip}
            for tenant in self.tenants
            for net in tenant.networks
            if net.router_port is not None
        ]
        self.add(
            "bgp_speaker",
            {
                "id": self.uuid(),
                "topic": self.admin_topic,
                "name": "public-speaker",
                "local_as": 64512,
                "ip_version": 4,
                "peers": [p["id"] for p in peers],
                "host_routes": host_routes,
                "prefix_routes": prefix_routes,
            },
        )

    def build_broken(self) -> None:
        """The deliberately dangling references listed in BROKEN_REFERENCES."""
        tenant = self.tenants[0]
        network = tenant.networks[0]
        # A VM port deleted while its floating IP was associated: the FIP still names it.
        ips, subnets = network.ips(network.take_host())
        gone = self.port(
            tenant.topic,
            network.id,
            ips,
            subnets,
            device_owner="compute:nova",
            device_id=self.uuid(),
            version=5,
            store=False,
        )
        fip_id = self.uuid()
        address = self.external_ip()
        floating = self.floating_port(fip_id, address)
        self.add(
            "floatingip",
            {
                "id": fip_id,
                "topic": tenant.topic,
                "version": 2,
                "floating_ip_address": address,
                "floating_lport": floating["id"],
                "lport": gone["id"],
                "fixed_ip_address": ips[0],
                "lrouter": tenant.router["id"] if tenant.router else None,
            },
        )
        # A port still listing a security group that was deleted behind its back.
        legacy_sg = self.uuid()
        self.unique_key("secgroup")
        tenant = self.tenants[-1]
        network = tenant.networks[-1]
        self.build_vm(tenant, network, name=f"{tenant.name}-legacy-1")["security_groups"] = [
            legacy_sg
        ]
        # A port bound to a compute node that was decommissioned (its chassis record is gone).
        orphan = self.build_vm(tenant, network, name=f"{tenant.name}-orphan-1")
        orphan["binding"] = {"chassis": f"compute-{len(self.chassis) + 1}", "type": "chassis"}
