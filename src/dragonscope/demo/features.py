"""The cloud's less common parts: trunk ports, a service chain, BGP, and the broken references.

Each part is built over the tenants ``generate.py`` has made, after them, so
that the core cloud is the same whichever of these a size asks for.
"""

from __future__ import annotations

import uuid

from dragonscope.demo.builder import Builder
from dragonscope.nb import tables

# The deliberately dangling references, as (table, field): a floating IP still pointing at
# a deleted VM port (what Neutron's plugin leaves behind, see the module docstring), a port
# whose security group was deleted, and a port bound to a decommissioned chassis.
BROKEN_REFERENCES = (
    (tables.FLOATINGIP, "lport"),
    (tables.LPORT, "security_groups"),
    (tables.LPORT, "binding.chassis"),
)

CPS_NAMESPACE = uuid.UUID("a11fee2a-d833-4e22-be31-f915b55f1f77")


def build_trunks(cloud: Builder) -> None:
    """VLAN-aware VMs: a parent VM port carrying a subport of another network."""
    candidates = [t for t in cloud.tenants if len(t.networks) >= 2 and t.networks[0].vms]
    for k in range(min(cloud.counts.trunks, len(candidates) * cloud.counts.vms_per_network)):
        tenant = candidates[k % len(candidates)]
        round_ = k // len(candidates)
        parent = tenant.networks[0].vms[-1 - round_]
        network = tenant.networks[1]
        ips, subnets = network.ips(network.take_host())
        child = cloud.port(
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
        cloud.add(
            tables.CHILD_PORT_SEGMENTATION,
            {
                "id": str(uuid.uuid5(CPS_NAMESPACE, f"{parent['id']}/{child['id']}")),
                "topic": tenant.topic,
                "parent": parent["id"],
                "port": child["id"],
                "segmentation_type": "vlan",
                "segmentation_id": 101 + round_,
            },
        )


def build_sfc(cloud: Builder) -> None:
    """A firewall service function inserted between two networks of one tenant."""
    candidates = [t for t in cloud.tenants if len(t.networks) >= 2 and t.networks[0].vms]
    for k in range(min(cloud.counts.sfc_chains, len(candidates))):
        tenant = candidates[k]
        net, dest = tenant.networks[0], tenant.networks[1]
        device = cloud.uuid()
        sf_ports = []
        for side in ("in", "out"):
            ips, subnets = net.ips(net.take_host())
            sf_ports.append(
                cloud.port(
                    tenant.topic,
                    net.id,
                    ips,
                    subnets,
                    device_owner="compute:nova",
                    device_id=device,
                    version=5,
                    name=f"{tenant.name}-fw-{side}",
                    chassis=cloud.chassis_for(tenant, net, k),
                    port_security=False,
                )
            )
        pair = cloud.add(
            tables.SFC_PORTPAIR,
            {
                "id": cloud.uuid(),
                "topic": tenant.topic,
                "name": f"{tenant.name}-fw-pair",
                "ingress_port": sf_ports[0]["id"],
                "egress_port": sf_ports[1]["id"],
                "correlation_mechanism": "mpls",
            },
        )
        group = cloud.add(
            tables.SFC_PORTPAIRGROUP,
            {
                "id": cloud.uuid(),
                "topic": tenant.topic,
                "name": f"{tenant.name}-fw-group",
                "port_pairs": [pair["id"]],
            },
        )
        classifier = cloud.add(
            tables.SFC_FLOWCLASSIFIER,
            {
                "id": cloud.uuid(),
                "topic": tenant.topic,
                "name": f"{tenant.name}-web-to-db",
                "unique_key": cloud.unique_key(tables.SFC_FLOWCLASSIFIER),
                "ether_type": "IPv4",
                "protocol": "tcp",
                "source_cidr": str(net.v4),
                "dest_cidr": str(dest.v4),
                "dest_transport_ports": [5432, 5432],
                "source_port": net.vms[0]["id"],
            },
        )
        cloud.add(
            tables.SFC_PORTCHAIN,
            {
                "id": cloud.uuid(),
                "topic": tenant.topic,
                "name": f"{tenant.name}-fw-chain",
                "protocol": "mpls",
                "chain_id": k + 1,
                "port_pair_groups": [group["id"]],
                "flow_classifiers": [classifier["id"]],
            },
        )


def build_bgp(cloud: Builder) -> None:
    if not cloud.counts.bgp_peers:
        return
    peers = []
    for i in range(cloud.counts.bgp_peers):
        md5 = i % 2 == 0
        peers.append(
            cloud.add(
                tables.BGP_PEER,
                {
                    "id": cloud.uuid(),
                    "topic": cloud.admin_topic,
                    "name": f"tor-{i + 1}",
                    "peer_ip": str(cloud.external_net[-2 - i]),
                    "remote_as": 65001 + i,
                    "auth_type": "md5" if md5 else "none",
                    "password": f"{cloud.rng.getrandbits(64):016x}" if md5 else None,
                },
            )
        )
    by_chassis = {c["id"]: c for c in cloud.chassis}
    host_routes = []
    for fip, vm in cloud.fips:
        chassis = by_chassis[vm["binding"]["chassis"]]
        host_routes.append(
            {
                "destination": f"{fip['floating_ip_address']}/32",
                "nexthop": chassis.get("external_host_ip", chassis["ip"]),
            }
        )
    prefix_routes = [
        {"destination": str(net.v4), "nexthop": tenant.gateway_ip}
        for tenant in cloud.tenants
        for net in tenant.networks
        if net.router_port is not None
    ]
    cloud.add(
        tables.BGP_SPEAKER,
        {
            "id": cloud.uuid(),
            "topic": cloud.admin_topic,
            "name": "public-speaker",
            "local_as": 64512,
            "ip_version": 4,
            "peers": [p["id"] for p in peers],
            "host_routes": host_routes,
            "prefix_routes": prefix_routes,
        },
    )


def build_broken(cloud: Builder) -> None:
    """The deliberately dangling references listed in BROKEN_REFERENCES."""
    tenant = cloud.tenants[0]
    network = tenant.networks[0]
    # A VM port deleted while its floating IP was associated: the FIP still names it.
    ips, subnets = network.ips(network.take_host())
    gone = cloud.port(
        tenant.topic,
        network.id,
        ips,
        subnets,
        device_owner="compute:nova",
        device_id=cloud.uuid(),
        version=5,
        store=False,
    )
    fip_id = cloud.uuid()
    address = cloud.external_ip()
    floating = cloud.floating_port(fip_id, address)
    cloud.add(
        tables.FLOATINGIP,
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
    legacy_sg = cloud.uuid()
    cloud.unique_key(tables.SECGROUP)
    tenant = cloud.tenants[-1]
    network = tenant.networks[-1]
    cloud.build_vm(tenant, network, name=f"{tenant.name}-legacy-1")["security_groups"] = [legacy_sg]
    # A port bound to a compute node that was decommissioned (its chassis record is gone).
    orphan = cloud.build_vm(tenant, network, name=f"{tenant.name}-orphan-1")
    orphan["binding"] = {"chassis": f"compute-{len(cloud.chassis) + 1}", "type": "chassis"}
