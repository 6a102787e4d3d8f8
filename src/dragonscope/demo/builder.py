"""The generator's building blocks: ids, MACs, counters, and the ports every part creates.

``Builder`` holds the cloud while it grows (every table in creation order)
and the primitives the parts of the generator share; ``generate.py`` and
``features.py`` compose them into a cloud. Every random choice comes from
one seeded generator, in a fixed order, so a seed always gives the same cloud.
"""

from __future__ import annotations

import ipaddress
import random
import uuid
from typing import Any

from dragonscope.demo.sizes import EXTERNAL_NET, FIRST_VM_HOST, VIP_HOST, Counts
from dragonscope.nb import Dump, tables

# Table order of a generated dump: infrastructure first, then what refers to it, counters last.
TABLES = (
    tables.CHASSIS,
    tables.SERVICE,
    tables.LSWITCH,
    tables.LSUBNET,
    tables.SECGROUP,
    tables.QOSPOLICY,
    tables.LPORT,
    tables.LROUTER,
    tables.FLOATINGIP,
    tables.CHILD_PORT_SEGMENTATION,
    tables.ACTIVEPORT,
    tables.SFC_PORTPAIR,
    tables.SFC_PORTPAIRGROUP,
    tables.SFC_FLOWCLASSIFIER,
    tables.SFC_PORTCHAIN,
    tables.BGP_PEER,
    tables.BGP_SPEAKER,
    tables.MIGRATION,
    tables.UNIQUE_KEY,
)

# Tables whose objects carry a Neutron revision number (Dragonflow's Version mixin).
VERSIONED = frozenset(
    {
        tables.LSWITCH,
        tables.LSUBNET,
        tables.LPORT,
        tables.LROUTER,
        tables.FLOATINGIP,
        tables.SECGROUP,
        tables.QOSPOLICY,
    }
)

TENANT_V4 = ipaddress.IPv4Network("10.0.0.0/8")


def random_uuid(rng: random.Random) -> str:
    """A version 4 UUID drawn from ``rng`` (so a seed gives the same ids)."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def mac_text(value: int) -> str:
    """A MAC address in OpenStack's fa:16:3e prefix from its last 24 bits."""
    return "fa:16:3e:" + ":".join(f"{(value >> s) & 0xFF:02x}" for s in (16, 8, 0))


def external_network(counts: Counts) -> ipaddress.IPv4Network:
    """The smallest block, a /24 or larger, holding every gateway, FIP and chassis address."""
    needed = counts.tenants * (counts.fips_per_tenant + 2) + counts.chassis + 64
    prefix = 24
    while 2 ** (32 - prefix) < needed:
        prefix -= 1
    return ipaddress.IPv4Network(f"{EXTERNAL_NET.network_address}/{prefix}")


def clean(obj: dict[str, Any]) -> dict[str, Any]:
    """Drop unset fields, as Dragonflow's serializer does, and sort keys like it."""
    return {k: obj[k] for k in sorted(obj) if obj[k] is not None}


class Network:
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
        return str(self.obj["id"])

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


class Tenant:
    def __init__(self, index: int, topic: str, name: str) -> None:
        self.index = index
        self.topic = topic
        self.name = name
        self.networks: list[Network] = []
        self.secgroups: dict[str, dict[str, Any]] = {}
        self.router: dict[str, Any] | None = None
        self.gateway_ip = ""
        self.qos: dict[str, Any] | None = None


class Builder:
    """A cloud being built, and the primitives its parts share."""

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
        self.external_net = external_network(counts)
        self.external_next = 2
        self.chassis: list[dict[str, Any]] = []
        self.tenants: list[Tenant] = []
        self.fips: list[tuple[dict[str, Any], dict[str, Any]]] = []  # (fip, fixed port)

    # -- primitives ---------------------------------------------------------
    def uuid(self) -> str:
        return random_uuid(self.rng)

    def topic(self) -> str:
        return uuid.UUID(int=self.rng.getrandbits(128), version=4).hex

    def mac(self) -> str:
        while True:
            value = self.rng.getrandbits(24)
            if value not in self.macs:
                self.macs.add(value)
                return mac_text(value)

    def unique_key(self, table: str) -> int:
        self.keys[table] = self.keys.get(table, 0) + 1
        return self.keys[table]

    def add(self, table: str, obj: dict[str, Any]) -> dict[str, Any]:
        obj = clean(obj)
        self.tables[table].append(obj)
        return obj

    def external_ip(self) -> str:
        ip = self.external_net[self.external_next]
        self.external_next += 1
        return str(ip)

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
        obj = clean(
            {
                "id": self.uuid(),
                "topic": topic,
                "name": name,
                "version": version,
                "unique_key": self.unique_key(tables.LPORT),
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
            self.tables[tables.LPORT].append(obj)
        return obj

    def chassis_for(self, tenant: Tenant, network: Network, n: int) -> str:
        # Spread VMs over chassis, tenants starting at different hosts, as a scheduler would.
        offset = (tenant.index * 7 + network.index * 3 + n) % len(self.chassis)
        if self.rng.random() < 0.2:
            offset = self.rng.randrange(len(self.chassis))
        return str(self.chassis[offset]["id"])

    def build_vm(self, tenant: Tenant, network: Network, name: str | None = None) -> dict[str, Any]:
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
