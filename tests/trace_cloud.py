"""A hand-built cloud for the packet simulator, stored exactly as Dragonflow writes it.

It extends the two-tenant reference topology (acme: web-net, db-net, router, FIP,
trunk; globex: b-net without a router) with what the scenarios need: an extra route to
a VPN gateway VM, allowed address pairs, a provider VLAN network, a network without
DHCP, a geneve-only chassis, a port behind a hardware VTEP, disabled / unbound /
orphaned ports, ICMP-typed security groups, an egress-less group, and two service
chains (one working, one broken).
"""

from __future__ import annotations

from typing import Any

from dragonscope.nb.model import NbObject, Snapshot

ACME = "3f6a2c1e9b8d4f7a8e5c2b1a0d9e8f7c"
GLOBEX = "b7e21a9c4d3f4e6b8a1c0d2e3f4a5b6c"
ADMIN = "8c1e4f2a6b7d4e3f9a0b1c2d3e4f5a6b"

NET = {
    "public": "net-public",
    "web": "net-web",
    "db": "net-db",
    "b": "net-b",
    "prov": "net-prov",
    "nodhcp": "net-nodhcp",
}
SUB = {
    "public": "sub-public",
    "web": "sub-web",
    "web6": "sub-web6",
    "db": "sub-db",
    "b": "sub-b",
    "prov": "sub-prov",
    "nodhcp": "sub-nodhcp",
}
ROUTER = "rtr-acme"
SG_APP, SG_B, SG_NOEGRESS, SG_ECHO, SG_ICMPANY = (
    "sg-app",
    "sg-b-default",
    "sg-noegress",
    "sg-echo",
    "sg-icmpany",
)
CHASSIS_IP = {
    "compute-1": "192.168.100.11",
    "compute-2": "192.168.100.12",
    "compute-3": "192.168.100.13",
    "compute-4": "192.168.100.14",
}


class _Keys:
    def __init__(self) -> None:
        self.n: dict[str, int] = {}

    def next(self, table: str) -> int:
        self.n[table] = self.n.get(table, 0) + 1
        return self.n[table]


def _rule(
    rid: str, sg: str, topic: str, direction: str, ethertype: str = "IPv4", **extra: Any
) -> dict[str, Any]:
    return {
        "direction": direction,
        "ethertype": ethertype,
        "id": rid,
        "security_group_id": sg,
        "topic": topic,
        "version": 0,
        **extra,
    }


def build() -> Snapshot:
    keys = _Keys()
    objs: list[tuple[str, dict[str, Any]]] = []

    def add(table: str, data: dict[str, Any]) -> dict[str, Any]:
        objs.append((table, data))
        return data

    for name, addr in CHASSIS_IP.items():
        types = ["geneve"] if name == "compute-4" else ["vxlan", "geneve", "gre"]
        chassis: dict[str, Any] = {"id": name, "ip": addr, "tunnel_types": types}
        if name == "compute-2":
            chassis["external_host_ip"] = "172.24.4.102"
        add("chassis", chassis)

    def network(
        key: str,
        name: str,
        topic: str,
        ntype: str,
        seg: int | None = None,
        physnet: str | None = None,
        external: bool = False,
    ) -> None:
        data: dict[str, Any] = {
            "id": NET[key],
            "name": name,
            "topic": topic,
            "version": 3,
            "unique_key": keys.next("lswitch"),
            "network_type": ntype,
            "mtu": 1450 if ntype == "vxlan" else 1500,
        }
        if seg is not None:
            data["segmentation_id"] = seg
        if physnet:
            data["physical_network"] = physnet
        if external:
            data["is_external"] = True
        add("lswitch", data)

    network("public", "public", ADMIN, "flat", physnet="public", external=True)
    network("web", "web-net", ACME, "vxlan", 1001)
    network("db", "db-net", ACME, "vxlan", 1002)
    network("b", "b-net", GLOBEX, "vxlan", 1003)
    network("prov", "prov-net", ACME, "vlan", 200, physnet="physnet1")
    network("nodhcp", "nodhcp-net", ACME, "vxlan", 1005)

    def subnet(
        key: str,
        net: str,
        cidr: str,
        gw: str | None,
        topic: str,
        dhcp: bool = True,
        routes: list[dict[str, str]] | None = None,
    ) -> None:
        data: dict[str, Any] = {
            "id": SUB[key],
            "name": key,
            "lswitch": NET[net],
            "cidr": cidr,
            "enable_dhcp": dhcp,
            "dns_nameservers": [],
            "host_routes": routes or [],
            "topic": topic,
            "version": 1,
        }
        if gw:
            data["gateway_ip"] = gw
        add("lsubnet", data)

    subnet("public", "public", "172.24.4.0/24", "172.24.4.1", ADMIN, dhcp=False)
    subnet("web", "web", "10.10.1.0/24", "10.10.1.1", ACME)
    subnet("web6", "web", "2001:db8:10:1::/64", "2001:db8:10:1::1", ACME)
    subnet("db", "db", "10.10.2.0/24", "10.10.2.1", ACME)
    subnet(
        "b",
        "b",
        "192.168.50.0/24",
        "192.168.50.1",
        GLOBEX,
        routes=[{"destination": "10.50.0.0/16", "nexthop": "192.168.50.12"}],
    )
    subnet("prov", "prov", "10.20.0.0/24", "10.20.0.1", ACME, dhcp=False)
    subnet("nodhcp", "nodhcp", "10.30.0.0/24", "10.30.0.1", ACME)

    def port(
        pid: str,
        net: str,
        ips: list[str],
        mac: str,
        topic: str,
        *,
        name: str = "",
        chassis: str | None = None,
        owner: str = "compute:nova",
        device: str = "",
        sgs: tuple[str, ...] = (),
        portsec: bool = True,
        enabled: bool = True,
        pairs: list[dict[str, str]] | None = None,
        vtep: str | None = None,
        subnets: list[str] | None = None,
    ) -> dict[str, Any]:
        data: dict[str, Any] = {
            "allowed_address_pairs": pairs or [],
            "binding_vnic_type": "normal",
            "device_id": device or (f"vm-{pid}" if owner.startswith("compute:") else ""),
            "device_owner": owner,
            "dhcp_params": {"opts": {}},
            "enabled": enabled,
            "id": pid,
            "ips": ips,
            "lswitch": NET[net],
            "macs": [mac],
            "name": name,
            "port_security_enabled": portsec,
            "security_groups": list(sgs),
            "subnets": subnets or [SUB[net]] * len(ips),
            "topic": topic,
            "unique_key": keys.next("lport"),
            "version": 2,
        }
        if chassis:
            data["binding"] = {"chassis": chassis, "type": "chassis"}
        if vtep:
            data["binding"] = {"type": "vtep", "vtep_address": vtep}
        return add("lport", data)

    port("dhcp-web", "web", ["10.10.1.2"], "fa:16:3e:d0:01:02", ACME, owner="network:dhcp")
    port("dhcp-db", "db", ["10.10.2.2"], "fa:16:3e:d0:02:02", ACME, owner="network:dhcp")
    port("dhcp-b", "b", ["192.168.50.2"], "fa:16:3e:d0:03:02", GLOBEX, owner="network:dhcp")
    port(
        "gw-acme",
        "public",
        ["172.24.4.10"],
        "fa:16:3e:9a:00:01",
        ADMIN,
        owner="network:router_gateway",
        device=ROUTER,
        portsec=True,
    )
    port(
        "rif-web",
        "web",
        ["10.10.1.1"],
        "fa:16:3e:5a:01:01",
        ACME,
        owner="network:router_interface",
        device=ROUTER,
    )
    port(
        "rif-db",
        "db",
        ["10.10.2.1"],
        "fa:16:3e:5a:02:01",
        ACME,
        owner="network:router_interface",
        device=ROUTER,
    )
    web = (SG_APP,)
    port(
        "web-1",
        "web",
        ["10.10.1.11", "2001:db8:10:1::11"],
        "fa:16:3e:11:00:01",
        ACME,
        name="web-1",
        chassis="compute-1",
        sgs=web,
        subnets=[SUB["web"], SUB["web6"]],
    )
    port(
        "web-2",
        "web",
        ["10.10.1.12", "2001:db8:10:1::12"],
        "fa:16:3e:11:00:02",
        ACME,
        name="web-2",
        chassis="compute-2",
        sgs=web,
        subnets=[SUB["web"], SUB["web6"]],
    )
    port(
        "web-3",
        "web",
        ["10.10.1.14"],
        "fa:16:3e:11:00:03",
        ACME,
        name="web-3",
        chassis="compute-2",
        sgs=web,
        pairs=[{"ip_address": "10.10.1.100", "mac_address": "fa:16:3e:11:00:03"}],
    )
    port(
        "app-1",
        "web",
        ["10.10.1.13"],
        "fa:16:3e:33:00:01",
        ACME,
        name="app-1",
        chassis="compute-1",
        sgs=web,
    )
    port(
        "app-1-child",
        "db",
        ["10.10.2.13"],
        "fa:16:3e:33:00:02",
        ACME,
        name="app-1-child",
        owner="",
        sgs=web,
    )
    port(
        "db-1",
        "db",
        ["10.10.2.11"],
        "fa:16:3e:22:00:01",
        ACME,
        name="db-1",
        chassis="compute-3",
        sgs=web,
    )
    port(
        "vpn-gw",
        "db",
        ["10.10.2.254"],
        "fa:16:3e:22:00:fe",
        ACME,
        name="vpn-gw",
        chassis="compute-2",
        portsec=False,
    )
    port(
        "down-1",
        "web",
        ["10.10.1.15"],
        "fa:16:3e:11:00:05",
        ACME,
        name="down-1",
        chassis="compute-2",
        sgs=web,
        enabled=False,
    )
    port("unbound-1", "web", ["10.10.1.16"], "fa:16:3e:11:00:06", ACME, name="unbound-1", sgs=web)
    port(
        "orphan-1",
        "web",
        ["10.10.1.17"],
        "fa:16:3e:11:00:07",
        ACME,
        name="orphan-1",
        chassis="compute-9",
        sgs=web,
    )
    port(
        "locked-1",
        "web",
        ["10.10.1.18"],
        "fa:16:3e:11:00:08",
        ACME,
        name="locked-1",
        chassis="compute-1",
        sgs=(SG_NOEGRESS,),
    )
    port(
        "vtep-1",
        "web",
        ["10.10.1.50"],
        "fa:16:3e:77:00:01",
        ACME,
        name="vtep-1",
        vtep="192.168.100.50",
        portsec=False,
    )
    port(
        "ping-1",
        "db",
        ["10.10.2.20"],
        "fa:16:3e:22:00:20",
        ACME,
        name="ping-1",
        chassis="compute-2",
        sgs=(SG_ECHO,),
    )
    port(
        "ping-2",
        "db",
        ["10.10.2.21"],
        "fa:16:3e:22:00:21",
        ACME,
        name="ping-2",
        chassis="compute-2",
        sgs=(SG_ICMPANY,),
    )
    port(
        "sf-in",
        "db",
        ["10.10.2.30"],
        "fa:16:3e:5f:00:01",
        ACME,
        name="fw-in",
        chassis="compute-2",
        portsec=False,
    )
    port(
        "sf-out",
        "db",
        ["10.10.2.31"],
        "fa:16:3e:5f:00:02",
        ACME,
        name="fw-out",
        chassis="compute-2",
        portsec=False,
    )
    port(
        "b-1",
        "b",
        ["192.168.50.11"],
        "fa:16:3e:44:00:01",
        GLOBEX,
        name="b-1",
        chassis="compute-2",
        sgs=(SG_B,),
    )
    port(
        "b-2",
        "b",
        ["192.168.50.12"],
        "fa:16:3e:44:00:02",
        GLOBEX,
        name="b-2",
        chassis="compute-3",
        sgs=(SG_B,),
    )
    port(
        "p-1",
        "prov",
        ["10.20.0.11"],
        "fa:16:3e:66:00:01",
        ACME,
        name="p-1",
        chassis="compute-1",
        portsec=False,
    )
    port(
        "p-2",
        "prov",
        ["10.20.0.12"],
        "fa:16:3e:66:00:02",
        ACME,
        name="p-2",
        chassis="compute-2",
        portsec=False,
    )
    port(
        "n-1",
        "nodhcp",
        ["10.30.0.11"],
        "fa:16:3e:88:00:01",
        ACME,
        name="n-1",
        chassis="compute-1",
        portsec=False,
    )
    port(
        "gen-1",
        "nodhcp",
        ["10.30.0.14"],
        "fa:16:3e:88:00:04",
        ACME,
        name="gen-1",
        chassis="compute-4",
        portsec=False,
    )
    port(
        "fip-port",
        "public",
        ["172.24.4.20"],
        "fa:16:3e:f1:00:01",
        ADMIN,
        owner="network:floatingip",
        device="fip-web-1",
    )

    def rport(pid: str, net: str, mac: str, network: str) -> dict[str, Any]:
        key = next(d["unique_key"] for t, d in objs if t == "lport" and d["id"] == pid)
        return {
            "id": pid,
            "lswitch": NET[net],
            "mac": mac,
            "network": network,
            "topic": ACME,
            "unique_key": key,
        }

    add(
        "lrouter",
        {
            "id": ROUTER,
            "name": "acme-router",
            "topic": ACME,
            "version": 7,
            "unique_key": keys.next("lrouter"),
            "ports": [
                rport("rif-web", "web", "fa:16:3e:5a:01:01", "10.10.1.1/24"),
                rport("rif-db", "db", "fa:16:3e:5a:02:01", "10.10.2.1/24"),
            ],
            "routes": [{"destination": "10.99.0.0/16", "nexthop": "10.10.2.254"}],
        },
    )
    add(
        "floatingip",
        {
            "fixed_ip_address": "10.10.1.11",
            "floating_ip_address": "172.24.4.20",
            "floating_lport": "fip-port",
            "id": "fip-web-1",
            "lport": "web-1",
            "lrouter": ROUTER,
            "topic": ACME,
            "version": 2,
        },
    )
    add(
        "child_port_segmentation",
        {
            "id": "cps-app-1",
            "parent": "app-1",
            "port": "app-1-child",
            "segmentation_id": 101,
            "segmentation_type": "vlan",
            "topic": ACME,
        },
    )

    def group(sg: str, name: str, topic: str, rules: list[dict[str, Any]]) -> None:
        add(
            "secgroup",
            {
                "id": sg,
                "name": name,
                "topic": topic,
                "version": 3,
                "unique_key": keys.next("secgroup"),
                "rules": rules,
            },
        )

    group(
        SG_APP,
        "app",
        ACME,
        [
            _rule("app-eg4", SG_APP, ACME, "egress"),
            _rule("app-eg6", SG_APP, ACME, "egress", "IPv6"),
            _rule(
                "app-http",
                SG_APP,
                ACME,
                "ingress",
                protocol=6,
                port_range_min=80,
                port_range_max=80,
                remote_ip_prefix="0.0.0.0/0",
            ),
            _rule(
                "app-ssh",
                SG_APP,
                ACME,
                "ingress",
                protocol=6,
                port_range_min=22,
                port_range_max=22,
                remote_ip_prefix="10.10.0.0/16",
            ),
            _rule("app-icmp", SG_APP, ACME, "ingress", protocol=1, remote_group_id=SG_APP),
            _rule(
                "app-icmp6", SG_APP, ACME, "ingress", "IPv6", protocol=58, remote_group_id=SG_APP
            ),
        ],
    )
    group(
        SG_B,
        "default",
        GLOBEX,
        [
            _rule("b-eg4", SG_B, GLOBEX, "egress"),
            _rule("b-eg6", SG_B, GLOBEX, "egress", "IPv6"),
            _rule("b-in4", SG_B, GLOBEX, "ingress", remote_group_id=SG_B),
            _rule("b-in6", SG_B, GLOBEX, "ingress", "IPv6", remote_group_id=SG_B),
        ],
    )
    group(
        SG_NOEGRESS,
        "ingress-only",
        ACME,
        [
            _rule(
                "ne-in",
                SG_NOEGRESS,
                ACME,
                "ingress",
                protocol=6,
                port_range_min=22,
                port_range_max=22,
            ),
        ],
    )
    group(
        SG_ECHO,
        "echo-only",
        ACME,
        [
            _rule("echo-eg", SG_ECHO, ACME, "egress"),
            _rule(
                "echo-in",
                SG_ECHO,
                ACME,
                "ingress",
                protocol=1,
                port_range_min=8,
                port_range_max=0,
                remote_ip_prefix="10.10.0.0/16",
            ),
        ],
    )
    group(
        SG_ICMPANY,
        "icmp-any",
        ACME,
        [
            _rule("any-eg", SG_ICMPANY, ACME, "egress"),
            _rule(
                "any-in",
                SG_ICMPANY,
                ACME,
                "ingress",
                protocol=1,
                port_range_min=0,
                port_range_max=0,
                remote_ip_prefix="10.10.0.0/16",
            ),
        ],
    )

    add(
        "sfc_portpair",
        {
            "correlation_mechanism": "none",
            "egress_port": "sf-out",
            "id": "pp-fw",
            "ingress_port": "sf-in",
            "name": "fw-pp",
            "topic": ACME,
        },
    )
    add(
        "sfc_portpairgroup",
        {"id": "ppg-fw", "name": "fw-group", "port_pairs": ["pp-fw"], "topic": ACME},
    )
    add(
        "sfc_flowclassifier",
        {
            "dest_cidr": "10.10.2.0/24",
            "dest_transport_ports": [80, 8080],
            "ether_type": "IPv4",
            "id": "fc-web",
            "name": "web-http",
            "protocol": "tcp",
            "source_cidr": "10.10.1.0/24",
            "source_port": "web-2",
            "topic": ACME,
            "unique_key": keys.next("sfc_flowclassifier"),
        },
    )
    add(
        "sfc_portchain",
        {
            "chain_id": 1,
            "flow_classifiers": ["fc-web"],
            "id": "pc-web",
            "name": "web-chain",
            "port_pair_groups": ["ppg-fw"],
            "protocol": "mpls",
            "topic": ACME,
        },
    )
    add(
        "sfc_portpairgroup",
        {"id": "ppg-broken", "name": "ids-group", "port_pairs": ["pp-gone"], "topic": ACME},
    )
    add(
        "sfc_flowclassifier",
        {
            "dest_cidr": "10.10.1.0/24",
            "dest_transport_ports": [5432, 5432],
            "ether_type": "IPv4",
            "id": "fc-db",
            "name": "db-pg",
            "protocol": "tcp",
            "source_port": "db-1",
            "topic": ACME,
            "unique_key": keys.next("sfc_flowclassifier"),
        },
    )
    add(
        "sfc_portchain",
        {
            "chain_id": 2,
            "flow_classifiers": ["fc-db"],
            "id": "pc-db",
            "name": "db-chain",
            "port_pair_groups": ["ppg-broken"],
            "protocol": "mpls",
            "topic": ACME,
        },
    )
    return {(t, d["id"]): NbObject(t, d["id"], d) for t, d in objs}
