"""A realistic Dragonflow NB DB, built deterministically from a seed.

The result has the shape of ``df-db dump -f json``: table name → list of stored
objects, each object exactly as Dragonflow writes it (``None`` fields omitted,
list fields always present, references as bare id strings, unique keys drawn
from per-table counters in creation order), plus the ``unique_key`` table as
``[{"id": <table>, "unique_key": <last value>}]``. The same seed always gives
the same bytes (``nb.dump_json``), so the sample cloud can serve as a fixture for
tests, benchmarks, docs and the demo alike.

A few references are broken on purpose, as they are in real clouds (see
``BROKEN_REFERENCES``), so that consistency checks have something to report.
"""

from __future__ import annotations

import gc
import ipaddress
import uuid
from typing import Any

from dragonscope.demo.builder import Builder, Network, Tenant, clean
from dragonscope.demo.features import build_bgp, build_broken, build_sfc, build_trunks
from dragonscope.demo.sizes import FIRST_VM_HOST, VIP_HOST, Counts, resolve_counts
from dragonscope.nb import COUNTER_VALUE, Dump, tables

# Epoch of the generated heartbeats when no clock is given: fixed, so output is reproducible.
DEFAULT_NOW = 1_700_000_000.0

SERVICE_NAMESPACE = uuid.UUID("cf6b6d03-8eb8-473a-8058-ff5a44fb2ba9")

TENANT_NAMES = (
    "acme", "globex", "initech", "umbrella", "hooli", "stark", "wayne", "tyrell",
    "cyberdyne", "soylent", "wonka", "aperture",
)  # fmt: skip
NETWORK_ROLES = ("web", "db", "app", "mgmt", "cache", "batch")
FIRST_TUNNEL_IP = ipaddress.ip_address("192.168.100.11")
BASTION_CIDR = "192.0.2.0/24"
TUNNEL_TYPES = ["vxlan", "geneve", "gre"]


def _tcp(port: int, **remote: str) -> dict[str, Any]:
    return {"protocol": 6, "port_range_min": port, "port_range_max": port, **remote}


# Every tenant's security groups, rule by rule in creation order: (direction, ethertype,
# other fields); ``remote_group`` names another group of the same tenant.
SECGROUP_RULES: dict[str, tuple[tuple[str, str, dict[str, Any]], ...]] = {
    "default": (
        ("egress", "IPv4", {}),
        ("egress", "IPv6", {}),
        ("ingress", "IPv4", {"remote_group": "default"}),
        ("ingress", "IPv6", {"remote_group": "default"}),
    ),
    "web": (
        ("egress", "IPv4", {}),
        ("egress", "IPv6", {}),
        ("ingress", "IPv4", _tcp(80, remote_ip_prefix="0.0.0.0/0")),
        ("ingress", "IPv4", _tcp(443, remote_ip_prefix="0.0.0.0/0")),
        ("ingress", "IPv6", _tcp(443, remote_ip_prefix="::/0")),
        ("ingress", "IPv4", _tcp(22, remote_ip_prefix=BASTION_CIDR)),
        ("ingress", "IPv4", {"protocol": 1, "remote_group": "web"}),
        ("ingress", "IPv6", {"protocol": 58, "remote_ip_prefix": "::/0"}),
    ),
    "db": (
        ("egress", "IPv4", {}),
        ("ingress", "IPv4", _tcp(5432, remote_group="web")),
        ("ingress", "IPv4", _tcp(22, remote_ip_prefix=BASTION_CIDR)),
        ("ingress", "IPv4", {"protocol": 1, "remote_ip_prefix": "10.0.0.0/8"}),
    ),
}


def generate(size: str | Counts = "small", seed: int = 0, *, now: float = DEFAULT_NOW) -> Dump:
    """Build a cloud of ``size`` (``small`` ≈100 objects, ``medium`` ≈5k, ``large`` ≈100k, or
    explicit ``Counts``). ``now`` is the heartbeat time of the services."""
    builder = CloudBuilder(resolve_counts(size), seed, now)
    # Everything built here survives, so the cyclic collector's passes over the growing heap
    # are pure cost (half the time of a large cloud); pause it while building.
    paused = gc.isenabled()
    gc.disable()
    try:
        return builder.build()
    finally:
        if paused:
            gc.enable()


def project_names(dump: Dump) -> dict[str, str]:
    """The project names of a generated cloud (Keystone's part, which the NB lacks): each
    tenant's router is ``<tenant>-router``, and the public network is the admin's."""
    names: dict[str, str] = {}
    for router in dump.get(tables.LROUTER, []):
        name, topic = router.get("name"), router.get("topic")
        if isinstance(name, str) and name.endswith("-router") and isinstance(topic, str):
            names[topic] = name.removesuffix("-router")
    for network in dump.get(tables.LSWITCH, []):
        if network.get("name") == "public" and isinstance(network.get("topic"), str):
            names[network["topic"]] = "admin"
    return names


class CloudBuilder(Builder):
    """The core cloud: chassis, the external network, and every tenant's resources."""

    def build(self) -> Dump:
        self.build_chassis()
        self.build_external()
        for index in range(self.counts.tenants):
            self.build_tenant(index)
        build_trunks(self)
        build_sfc(self)
        build_bgp(self)
        build_broken(self)
        self.tables[tables.UNIQUE_KEY] = [
            {"id": table, COUNTER_VALUE: value} for table, value in sorted(self.keys.items())
        ]
        return self.tables

    def build_chassis(self) -> None:
        """Compute nodes; they reach the outside world on the external network (SNAT, BGP)."""
        binaries = ["df-local-controller", "df-metadata-service"]
        for i in range(self.counts.chassis):
            name = f"compute-{i + 1}"
            chassis = self.add(
                tables.CHASSIS,
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
                    tables.SERVICE,
                    {
                        "id": str(uuid.uuid5(SERVICE_NAMESPACE, name + binary)),
                        "chassis": name,
                        "binary": binary,
                        "last_seen_up": round(self.now - self.rng.uniform(0, 20), 2),
                    },
                )

    def build_external(self) -> None:
        self.external = self.add(
            tables.LSWITCH,
            {
                "id": self.uuid(),
                "topic": self.admin_topic,
                "name": "public",
                "version": 2,
                "unique_key": self.unique_key(tables.LSWITCH),
                "network_type": "flat",
                "physical_network": "public",
                "is_external": True,
                "mtu": 1500,
            },
        )
        self.external_subnet = self.add(
            tables.LSUBNET,
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
        tenant = Tenant(index, self.topic(), self.tenant_name(index))
        self.tenants.append(tenant)
        self.build_secgroups(tenant)
        tenant.qos = self.add(
            tables.QOSPOLICY,
            {
                "id": self.uuid(),
                "topic": tenant.topic,
                "name": f"{tenant.name}-silver",
                "version": 3,
                "rules": [
                    clean(
                        {
                            "id": self.uuid(),
                            "type": "bandwidth_limit",
                            "direction": "egress",
                            "max_kbps": 10000,
                            "max_burst_kbps": 1000,
                        }
                    ),
                    clean({"id": self.uuid(), "type": "dscp_marking", "dscp_mark": 26}),
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

    def build_secgroups(self, tenant: Tenant) -> None:
        ids = {name: self.uuid() for name in SECGROUP_RULES}
        rules = {
            name: [self.rule(tenant, ids, name, *spec) for spec in specs]
            for name, specs in SECGROUP_RULES.items()
        }
        for name, sg_id in ids.items():
            tenant.secgroups[name] = self.add(
                tables.SECGROUP,
                {
                    "id": sg_id,
                    "topic": tenant.topic,
                    "name": name,
                    "version": 1 + len(rules[name]),
                    "unique_key": self.unique_key(tables.SECGROUP),
                    "rules": rules[name],
                },
            )

    def rule(
        self,
        tenant: Tenant,
        ids: dict[str, str],
        group: str,
        direction: str,
        ethertype: str,
        values: dict[str, Any],
    ) -> dict[str, Any]:
        """One rule of ``group``; a ``remote_group`` value names another group of the tenant."""
        fields = dict(values)
        if "remote_group" in fields:
            fields["remote_group_id"] = ids[fields.pop("remote_group")]
        return clean(
            {
                "id": self.uuid(),
                "topic": tenant.topic,
                "version": 1,
                "security_group_id": ids[group],
                "direction": direction,
                "ethertype": ethertype,
                **fields,
            }
        )

    def build_network(self, tenant: Tenant, n: int) -> None:
        role = NETWORK_ROLES[n % len(NETWORK_ROLES)]
        number = tenant.index * self.counts.networks_per_tenant + n + 1
        provider = tenant.index % 3 == 2 and n == self.counts.networks_per_tenant - 1 and n > 0
        dual_stack = n == 0
        obj: dict[str, Any] = {
            "id": self.uuid(),
            "topic": tenant.topic,
            "name": f"{tenant.name}-{role}",
            "version": 2 + dual_stack,
            "unique_key": self.unique_key(tables.LSWITCH),
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
        network = Network(self.add(tables.LSWITCH, obj), n, role)
        network.v4 = ipaddress.IPv4Network(f"10.{number >> 8}.{number & 0xFF}.0/24")
        tenant.networks.append(network)
        host_routes = []
        if role == "db":
            host_routes = [{"destination": "10.250.0.0/16", "nexthop": str(network.v4[254])}]
        network.subnet4 = self.add(
            tables.LSUBNET,
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
            network.v6 = ipaddress.IPv6Network(f"2001:db8:{number:x}::/64")
            network.subnet6 = self.add(
                tables.LSUBNET,
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

    def build_router(self, tenant: Tenant) -> None:
        router_id = self.uuid()
        router_key = self.unique_key(tables.LROUTER)
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
                clean(
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
            tables.LROUTER,
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

    def build_vip(self, tenant: Tenant) -> None:
        """A keepalived-style virtual IP shared by the first two VMs of the first network."""
        if tenant.index % 2 or not tenant.networks or len(tenant.networks[0].vms) < 2:
            return
        network = tenant.networks[0]
        vip = str(network.v4[VIP_HOST])
        for vm in network.vms[:2]:
            vm["allowed_address_pairs"] = [{"ip_address": vip, "mac_address": vm["macs"][0]}]
        holder = network.vms[0]
        self.add(
            tables.ACTIVEPORT,
            {
                "id": network.id + vip,
                "topic": tenant.topic,
                "network": network.id,
                "ip": vip,
                "detected_mac": holder["macs"][0],
                "detected_lport": holder["id"],
            },
        )

    def build_fips(self, tenant: Tenant) -> None:
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
            fip = self.add(tables.FLOATINGIP, obj)
            if vm is not None:
                self.fips.append((fip, vm))
