"""Topology: full translation rate, and the cost of one incremental change at 10k vs 100k.

The synthetic clouds have the shape of a real one: per tenant two networks with
a subnet and a DHCP port each, a router joining them (two interface ports and a
gateway port on the shared external network), a security group referencing
itself, VM ports bound round-robin to chassis (one in ten with a floating IP
and its port); one chassis and one service per 40 VM ports.
"""

from __future__ import annotations

import gc
import random
import resource
import statistics
import time

from bench.report import Figure
from dragonscope.nb.model import Change, NbObject, Snapshot
from dragonscope.topology import Topology

EXTERNAL_NET = "ext-net"
EXTERNAL_SUBNET = "ext-subnet"
ADMIN = "admin"


def _port(
    port_id: str, topic: str, net: str, subnet: str, ip: str, unique_key: int, **extra: object
) -> NbObject:
    data = {
        "allowed_address_pairs": [],
        "binding_vnic_type": "normal",
        "device_id": "",
        "device_owner": "",
        "dhcp_params": {"opts": {}},
        "enabled": True,
        "id": port_id,
        "ips": [ip],
        "lswitch": net,
        "macs": [
            f"fa:16:3e:{unique_key >> 16 & 255:02x}:{unique_key >> 8 & 255:02x}:"
            f"{unique_key & 255:02x}"
        ],
        "name": "",
        "port_security_enabled": True,
        "security_groups": [],
        "subnets": [subnet],
        "topic": topic,
        "unique_key": unique_key,
        "version": 1,
        **extra,
    }
    return NbObject("lport", port_id, data)


def synthetic_cloud(size: int, seed: int = 7) -> Snapshot:
    """About ``size`` NB objects of realistic shape (deterministic for a seed)."""
    rng = random.Random(seed)
    objects: list[NbObject] = []
    key = 0

    def next_key() -> int:
        nonlocal key
        key += 1
        return key

    chassis_count = max(2, size // 400)
    for c in range(chassis_count):
        cid = f"compute-{c}"
        objects.append(
            NbObject(
                "chassis",
                cid,
                {"id": cid, "ip": f"192.168.{c >> 8}.{c & 255}", "tunnel_types": ["vxlan"]},
            )
        )
        objects.append(
            NbObject(
                "service",
                f"svc-{c}",
                {"id": f"svc-{c}", "chassis": cid, "binary": "df-local-controller"},
            )
        )
    objects.append(
        NbObject(
            "lswitch",
            EXTERNAL_NET,
            {
                "id": EXTERNAL_NET,
                "topic": ADMIN,
                "name": "public",
                "is_external": True,
                "network_type": "flat",
                "unique_key": 1,
            },
        )
    )
    objects.append(
        NbObject(
            "lsubnet",
            EXTERNAL_SUBNET,
            {
                "id": EXTERNAL_SUBNET,
                "topic": ADMIN,
                "lswitch": EXTERNAL_NET,
                "cidr": "172.16.0.0/12",
            },
        )
    )
    tenant = 0
    while len(objects) < size:
        topic = f"tenant{tenant:05d}"
        sg = f"sg-{tenant}"
        router = f"router-{tenant}"
        objects.append(
            NbObject(
                "secgroup",
                sg,
                {
                    "id": sg,
                    "topic": topic,
                    "name": "default",
                    "unique_key": tenant + 1,
                    "rules": [
                        {
                            "id": f"{sg}-r1",
                            "direction": "ingress",
                            "ethertype": "IPv4",
                            "remote_group_id": sg,
                            "security_group_id": sg,
                            "topic": topic,
                        }
                    ],
                },
            )
        )
        router_ports = []
        for n in range(2):
            net, subnet = f"net-{tenant}-{n}", f"subnet-{tenant}-{n}"
            prefix = f"10.{n}.{tenant >> 8 & 255}"
            objects.append(
                NbObject(
                    "lswitch",
                    net,
                    {
                        "id": net,
                        "topic": topic,
                        "name": f"net{n}",
                        "network_type": "vxlan",
                        "segmentation_id": 1000 + 2 * tenant + n,
                        "unique_key": next_key(),
                    },
                )
            )
            objects.append(
                NbObject(
                    "lsubnet",
                    subnet,
                    {
                        "id": subnet,
                        "topic": topic,
                        "lswitch": net,
                        "cidr": f"{prefix}.0/24",
                        "gateway_ip": f"{prefix}.1",
                        "enable_dhcp": True,
                    },
                )
            )
            objects.append(
                _port(
                    f"dhcp-{tenant}-{n}",
                    topic,
                    net,
                    subnet,
                    f"{prefix}.2",
                    next_key(),
                    device_owner="network:dhcp",
                )
            )
            iface = f"rif-{tenant}-{n}"
            uk = next_key()
            objects.append(
                _port(
                    iface,
                    topic,
                    net,
                    subnet,
                    f"{prefix}.1",
                    uk,
                    device_owner="network:router_interface",
                    device_id=router,
                )
            )
            router_ports.append(
                {
                    "id": iface,
                    "lswitch": net,
                    "mac": "fa:16:3e:00:00:01",
                    "network": f"{prefix}.1/24",
                    "topic": topic,
                    "unique_key": uk,
                }
            )
        objects.append(
            NbObject(
                "lrouter",
                router,
                {
                    "id": router,
                    "topic": topic,
                    "name": f"router{tenant}",
                    "ports": router_ports,
                    "routes": [],
                    "unique_key": tenant + 1,
                },
            )
        )
        objects.append(
            _port(
                f"gw-{tenant}",
                ADMIN,
                EXTERNAL_NET,
                EXTERNAL_SUBNET,
                f"172.16.{tenant >> 8 & 255}.{tenant & 255}",
                next_key(),
                device_owner="network:router_gateway",
                device_id=router,
            )
        )
        for vm in range(rng.randint(20, 40)):
            n = vm % 2
            net, subnet = f"net-{tenant}-{n}", f"subnet-{tenant}-{n}"
            port = f"vm-{tenant}-{vm}"
            chassis = f"compute-{rng.randrange(chassis_count)}"
            objects.append(
                _port(
                    port,
                    topic,
                    net,
                    subnet,
                    f"10.{n}.{tenant >> 8 & 255}.{vm + 10}",
                    next_key(),
                    device_owner="compute:nova",
                    device_id=f"vm-{port}",
                    security_groups=[sg],
                    binding={"type": "chassis", "chassis": chassis},
                )
            )
            if vm % 10 == 0:
                fip, fip_port = f"fip-{port}", f"fipport-{port}"
                address = f"172.17.{key >> 8 & 255}.{key & 255}"
                objects.append(
                    _port(
                        fip_port,
                        ADMIN,
                        EXTERNAL_NET,
                        EXTERNAL_SUBNET,
                        address,
                        next_key(),
                        device_owner="network:floatingip",
                        device_id=fip,
                    )
                )
                objects.append(
                    NbObject(
                        "floatingip",
                        fip,
                        {
                            "id": fip,
                            "topic": topic,
                            "floating_ip_address": address,
                            "floating_lport": fip_port,
                            "lport": port,
                            "lrouter": router,
                        },
                    )
                )
        tenant += 1
    return {obj.key: obj for obj in objects[:size]}


def _vm_ports(snapshot: Snapshot) -> list[NbObject]:
    return [o for o in snapshot.values() if o.table == "lport" and o.id.startswith("vm-")]


def _time_changes(topology: Topology, changes: list[Change]) -> float:
    """Median CPU µs per change over batches (the median damps GC pauses)."""
    per_batch = []
    batch = 100
    for start in range(0, len(changes), batch):
        chunk = changes[start : start + batch]
        t0 = time.process_time()
        for change in chunk:
            topology.apply(change)
        per_batch.append((time.process_time() - t0) / len(chunk) * 1e6)
    return statistics.median(per_batch)


def _incremental(size: int, rounds: int) -> dict[str, float]:
    snapshot = synthetic_cloud(size)
    topology = Topology(extensions=[])
    topology.load(snapshot)
    rng = random.Random(11)
    ports = _vm_ports(snapshot)
    chassis = sorted(k[1] for k in snapshot if k[0] == "chassis")
    moves, creates, deletes = [], [], []
    for i in range(rounds):
        port = rng.choice(ports)
        moved = NbObject(
            "lport",
            port.id,
            {**port.data, "binding": {"type": "chassis", "chassis": rng.choice(chassis)}},
        )
        moves.append(Change("lport", port.id, moved, 2 * i))
        moves.append(Change("lport", port.id, port, 2 * i + 1))
        new_id = f"bench-new-{i}"
        new_port = NbObject("lport", new_id, {**port.data, "id": new_id})
        creates.append(Change("lport", new_id, new_port, i))
        deletes.append(Change("lport", new_id, None, i))
    gc.collect()
    return {
        "update": _time_changes(topology, moves),
        "create": _time_changes(topology, creates),
        "delete": _time_changes(topology, deletes),
    }


def collect() -> list[Figure]:
    figures: list[Figure] = []
    snapshot = synthetic_cloud(100_000)
    gc.collect()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    wall, cpu = time.perf_counter(), time.process_time()
    topology = Topology(extensions=[])
    ops = topology.load(snapshot)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    figures.append(
        Figure(
            "topology full translation",
            len(snapshot) / cpu,
            "objects/s",
            f"{len(snapshot):,} NB objects",
            f"CPU time; {len(topology.nodes):,} nodes, {len(topology.edges):,} "
            f"edges, {len(ops):,} ops; {cpu:.1f} s CPU, {wall:.1f} s wall",
        )
    )
    figures.append(
        Figure(
            "topology memory",
            (rss_after - rss_before) * 1024 / len(snapshot),
            "bytes/object",
            f"{len(snapshot):,} NB objects",
            "peak RSS growth during the load (graph, indexes, dependencies, "
            "and the load's op list) over the NB objects themselves",
        )
    )
    chassis = "compute-0"
    wall, cpu = time.perf_counter(), time.process_time()
    sliced = Topology(extensions=[], chassis=chassis)
    sliced.load(snapshot)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    figures.append(
        Figure(
            "topology chassis slice translation",
            len(snapshot) / cpu,
            "objects/s",
            f"{len(snapshot):,} NB objects",
            f"CPU time; {chassis}: {len(sliced.nodes):,} nodes, "
            f"{len(sliced.edges):,} edges; {wall:.1f} s wall",
        )
    )
    del topology, sliced, ops, snapshot
    gc.collect()
    results = {size: _incremental(size, 1000) for size in (10_000, 100_000)}
    for kind, what in (
        ("update", "VM port moves chassis"),
        ("create", "VM port created"),
        ("delete", "VM port deleted"),
    ):
        small, large = results[10_000][kind], results[100_000][kind]
        figures.append(
            Figure(
                f"topology incremental: {what}",
                small,
                "µs/change",
                "10,000 NB objects",
                "CPU time, median of batches of 100",
            )
        )
        figures.append(
            Figure(
                f"topology incremental: {what}",
                large,
                "µs/change",
                "100,000 NB objects",
                f"{large / small:.2f}x the 10k figure",
            )
        )
    return figures
