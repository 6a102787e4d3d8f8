"""NB reading from a real etcd: snapshot throughput (parse included) and change latency.

A private etcd is started and seeded with a 100k-object NB shaped like a real
Dragonflow cloud (mostly VM ports, plus networks, subnets, routers, security
groups and chassis), each object as Dragonflow writes it. Figures:

- objects/s of ``NbReader.snapshot()`` (paged read at one revision + parse);
- its time relative to the bare minimum: the same paged range read with
  ``json.loads`` of each value and nothing else;
- latency from issuing an etcd put to the reader yielding the parsed change,
  with puts paced at 500/s by a separate writer process, beside etcd's own
  commit latency for the same puts (the part the reader cannot improve on).

The process keeps no parsed snapshot during the latency run: what a consumer
holds (a collector's graph) is its own cost, paid in cyclic-GC pauses.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import statistics
import sys
import time
import uuid
from pathlib import Path

import grpc
from aetcd import rpc

from bench.report import Figure
from dragonscope.nb.backends.etcd import PAGE_SIZE
from dragonscope.nb.backends.keys import ETCD_PREFIX as PREFIX
from dragonscope.nb.backends.keys import ETCD_PREFIX_END as PREFIX_END
from dragonscope.nb.reader import open_reader

sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))
from servers import EtcdServer

OBJECTS = 100_000
RATE = 500  # puts per second in the latency run
LATENCY_SECONDS = 10
TXN_OPS = 128  # etcd's default --max-txn-ops
ROUNDS = 3


def realistic_nb(total: int, seed: int = 0) -> list[tuple[str, bytes]]:
    """(key, value) pairs: a cloud with ``total`` objects, ~93% of them ports."""
    rng = random.Random(seed)

    def uid() -> str:
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))

    def dump(obj: dict) -> bytes:
        return json.dumps(obj, sort_keys=True).encode()

    tenants = [uuid.UUID(int=rng.getrandbits(128)).hex for _ in range(200)]
    chassis = [f"compute-{n}" for n in range(1, 201)]
    pairs = [
        (f"/chassis/{c}", dump({"id": c, "ip": f"192.168.{n // 250}.{n % 250 + 1}",
                                "tunnel_types": ["vxlan", "geneve", "gre"]}))
        for n, c in enumerate(chassis)
    ]  # fmt: skip
    networks = []
    for n in range(total // 50):
        tenant = rng.choice(tenants)
        net, subnet, sg = uid(), uid(), uid()
        cidr = f"10.{n // 256}.{n % 256}"
        networks.append((tenant, net, subnet, sg, cidr))
        pairs += [
            (f"/lswitch/{net}", dump({
                "id": net, "is_external": False, "mtu": 1450, "name": f"net-{n}",
                "network_type": "vxlan", "segmentation_id": 1000 + n, "topic": tenant,
                "unique_key": n + 1, "version": 2})),
            (f"/lsubnet/{subnet}", dump({
                "cidr": f"{cidr}.0/24", "dns_nameservers": [], "enable_dhcp": True,
                "gateway_ip": f"{cidr}.1", "host_routes": [], "id": subnet, "lswitch": net,
                "name": f"subnet-{n}", "topic": tenant, "version": 0})),
            (f"/secgroup/{sg}", dump({
                "id": sg, "name": "default", "topic": tenant, "unique_key": n + 1, "version": 4,
                "rules": [{"direction": "ingress", "ethertype": "IPv4", "id": uid(),
                           "port_range_max": 22, "port_range_min": 22, "protocol": 6,
                           "remote_ip_prefix": "0.0.0.0/0", "security_group_id": sg,
                           "topic": tenant, "version": 0}]})),
        ]  # fmt: skip
    for n in range(total // 200):
        router, tenant = uid(), rng.choice(tenants)
        pairs.append((f"/lrouter/{router}", dump({
            "id": router, "name": f"router-{n}", "ports": [], "routes": [], "topic": tenant,
            "unique_key": n + 1, "version": 3})))  # fmt: skip
    key = 0
    while len(pairs) < total:
        tenant, net, subnet, sg, cidr = rng.choice(networks)
        port = uid()
        key += 1
        pairs.append((f"/lport/{port}", dump({
            "allowed_address_pairs": [], "binding": {"chassis": rng.choice(chassis),
            "type": "chassis"}, "binding_vnic_type": "normal", "device_id": uid(),
            "device_owner": "compute:nova", "dhcp_params": {"opts": {}}, "enabled": True,
            "id": port, "ips": [f"{cidr}.{key % 250 + 2}"], "lswitch": net,
            "macs": [f"fa:16:3e:{key >> 16 & 255:02x}:{key >> 8 & 255:02x}:{key & 255:02x}"],
            "name": "", "port_security_enabled": True, "security_groups": [sg],
            "subnets": [subnet], "topic": tenant, "unique_key": key, "version": 5})))  # fmt: skip
    return pairs


class _Channel:
    """gRPC to etcd for the bench's own writes and its bare read (aetcd's stubs): the
    fastest wire etcd speaks, as the floor."""

    def __init__(self, port: int) -> None:
        self.channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")

    def kv(self) -> rpc.KVStub:
        return rpc.KVStub(self.channel)

    async def close(self) -> None:
        await self.channel.close()


async def seed(kv: rpc.KVStub, pairs: list[tuple[str, bytes]]) -> None:
    batches = [pairs[i : i + TXN_OPS] for i in range(0, len(pairs), TXN_OPS)]
    queue: asyncio.Queue[list[tuple[str, bytes]]] = asyncio.Queue()
    for batch in batches:
        queue.put_nowait(batch)

    async def worker() -> None:
        while not queue.empty():
            batch = queue.get_nowait()
            puts = [
                rpc.RequestOp(request_put=rpc.PutRequest(key=k.encode(), value=v)) for k, v in batch
            ]
            await kv.Txn(rpc.TxnRequest(success=puts), timeout=60)

    await asyncio.gather(*(worker() for _ in range(8)))


async def bare_read(kv: rpc.KVStub) -> int:
    """The floor: the same paged range read, json.loads of each value, nothing else."""
    key, revision, count = PREFIX, 0, 0
    while True:
        request = rpc.RangeRequest(
            key=key, range_end=PREFIX_END, limit=PAGE_SIZE, revision=revision
        )
        response = await kv.Range(request, timeout=60)
        revision = revision or response.header.revision
        for item in response.kvs:
            json.loads(item.value)
            count += 1
        if not response.more:
            return count
        key = response.kvs[-1].key + b"\0"


async def timed(coro_factory) -> tuple[float, object]:
    started = time.perf_counter()
    result = await coro_factory()
    return time.perf_counter() - started, result


async def change_latency(url: str, port: int) -> tuple[list[float], int, dict]:
    """A separate writer process puts at RATE/s; latency per change as the reader yields it.

    The writer stamps each value with its wall-clock send time, as a Neutron
    server in another process would write; the reader compares on arrival.
    """
    reader = open_reader(url)
    revision = (await reader.snapshot())[1]  # the snapshot itself is not kept: the reader's cost
    total = RATE * LATENCY_SECONDS
    latencies: list[float] = []

    async def consume() -> None:
        async for change in reader.changes(revision):
            if change.obj is not None and "sent" in change.obj.data:
                latencies.append(time.time() - change.obj.data["sent"])
                if len(latencies) == total:
                    return

    consumer = asyncio.create_task(consume())
    await asyncio.sleep(0.5)  # let the watch be established
    writer = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.bench_nb", "--writer", str(port), str(total), str(RATE),
        stdout=asyncio.subprocess.PIPE, cwd=Path(__file__).parent.parent,
    )  # fmt: skip
    out, _ = await writer.communicate()
    written = json.loads(out)
    await asyncio.wait_for(consumer, timeout=120)
    await reader.close()
    return latencies, total, written


async def paced_writes(port: int, total: int, rate: int) -> dict[str, float | list[float]]:
    """Put ``total`` service heartbeats at ``rate``/s without waiting for each.

    Returns the rate achieved and each put's own commit time (etcd's share of
    the latency, the baseline for the reader's).
    """
    conn = _Channel(port)
    kv = conn.kv()
    loop = asyncio.get_running_loop()
    commits: list[float] = []

    async def put(request: rpc.PutRequest) -> None:
        issued = time.perf_counter()
        await kv.Put(request, timeout=30)
        commits.append(time.perf_counter() - issued)

    start = loop.time()
    puts = []
    for n in range(total):
        await asyncio.sleep(max(0.0, start + n / rate - loop.time()))
        id_ = f"latency-{n}"
        value = json.dumps({"id": id_, "chassis": "compute-1", "binary": "df-local-controller",
                            "sent": time.time()}).encode()  # fmt: skip
        puts.append(asyncio.ensure_future(put(rpc.PutRequest(key=f"/service/{id_}".encode(),
                                                              value=value))))  # fmt: skip
    achieved = total / (loop.time() - start)
    await asyncio.gather(*puts)
    await conn.close()
    return {"rate": achieved, "commits": commits}


def percentiles(seconds: list[float]) -> tuple[float, float]:
    """p50 and p99 in milliseconds."""
    ordered = sorted(seconds)
    return ordered[len(ordered) // 2] * 1000, ordered[int(len(ordered) * 0.99)] * 1000


async def collect() -> list[Figure]:
    server = EtcdServer()
    server.start()
    conn = _Channel(server.port)
    try:
        kv = conn.kv()
        pairs = realistic_nb(OBJECTS)
        size = sum(len(v) for _, v in pairs)
        await seed(kv, pairs)
        label = f"{OBJECTS // 1000}k objects, {size / 2**20:.0f} MiB JSON"

        bare_times, reader_times = [], []
        for _ in range(ROUNDS):
            seconds, count = await timed(lambda: bare_read(kv))
            assert count == OBJECTS
            bare_times.append(seconds)
            reader = open_reader(server.url)
            seconds, (snapshot, _) = await timed(reader.snapshot)
            await reader.close()
            assert len(snapshot) == OBJECTS
            del snapshot
            reader_times.append(seconds)
        bare, full = statistics.median(bare_times), statistics.median(reader_times)

        latencies, total, written = await change_latency(server.url, server.port)
        p50, p99 = percentiles(latencies)
        commit50, commit99 = percentiles(written["commits"])
        load = f"{total} puts at {written['rate']:.0f}/s over {OBJECTS // 1000}k objects"
        busy = f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
        etcd_share = f"etcd's own put commit: p50 {commit50:.2f} ms, p99 {commit99:.1f} ms"
        return [
            Figure("nb snapshot from etcd, parse included", OBJECTS / full, "objects/s", label,
                   f"median of {ROUNDS}; {full:.2f} s"),
            Figure("nb snapshot vs bare range read + json.loads", full / bare, "x slower",
                   label, f"bare: {OBJECTS / bare:,.0f} objects/s ({bare:.2f} s)"),
            Figure("nb change latency etcd put -> reader, p50", p50, "ms", load,
                   f"writer in another process; put issued -> parsed change; {busy}"),
            Figure("nb change latency etcd put -> reader, p99", p99, "ms", load,
                   f"{etcd_share}; {busy}"),
        ]  # fmt: skip
    finally:
        await conn.close()
        server.cleanup()


if __name__ == "__main__" and sys.argv[1:2] == ["--writer"]:
    port, total, rate = (int(arg) for arg in sys.argv[2:5])
    print(json.dumps(asyncio.run(paced_writes(port, total, rate))))
