"""What the churn knows of the NB it changes, and the writes it makes to it.

``NbState`` keeps every object (as the dump gave it, then as the churn rewrote
it) plus the indexes the events draw from: which ports are VMs, which are
protected (other objects depend on them) or broken on purpose, which addresses
are taken, which floating IP is on which port. Every write goes through
``put``, ``update`` and ``delete`` so that the indexes never drift from the objects.
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Callable
from typing import Any

from dragonscope.demo.builder import TABLES, VERSIONED, clean, mac_text, random_uuid
from dragonscope.nb import COUNTER_VALUE, Dump, tables

Change = tuple[str, str, dict[str, Any] | None]
"""``(table, id, stored object)``; the object is None for a deletion."""

FIRST_HOST, LAST_HOST = 10, 249


class IdSet:
    """A set of ids with O(1) add, remove and uniformly random choice."""

    def __init__(self) -> None:
        self._items: list[str] = []
        self._where: dict[str, int] = {}

    def add(self, item: str) -> None:
        if item not in self._where:
            self._where[item] = len(self._items)
            self._items.append(item)

    def discard(self, item: str) -> None:
        index = self._where.pop(item, None)
        if index is None:
            return
        last = self._items.pop()
        if last != item:
            self._items[index] = last
            self._where[last] = index

    def choice(self, rng: random.Random) -> str | None:
        return self._items[rng.randrange(len(self._items))] if self._items else None

    def __contains__(self, item: object) -> bool:
        return item in self._where

    def __len__(self) -> int:
        return len(self._items)


class NbState:
    """The NB as the churn has made it so far, with the indexes its events draw from.

    ``clock`` gives heartbeat times (default: a virtual clock starting at the dump's
    latest heartbeat and advancing one second per event), so the stream is
    deterministic from ``seed`` unless a real clock is passed.
    """

    def __init__(
        self, state: Dump, seed: int = 0, *, clock: Callable[[], float] | None = None
    ) -> None:
        # A stream of its own: seeded like the generator, it would repeat the generator's ids.
        self.rng = random.Random(f"churn:{seed}")
        self.objects: dict[str, dict[str, dict[str, Any]]] = {table: {} for table in TABLES}
        for table, rows in state.items():
            self.objects.setdefault(table, {})
            for obj in rows:
                self.objects[table][obj["id"]] = obj
        self.keys = {row["id"]: row[COUNTER_VALUE] for row in state.get(tables.UNIQUE_KEY, [])}
        self.objects[tables.UNIQUE_KEY] = {}
        heartbeats = [s.get("last_seen_up", 0.0) for s in self.objects[tables.SERVICE].values()]
        self._virtual_now = max(heartbeats, default=0.0)
        self.clock = clock or self._tick
        self._index()

    def state(self) -> Dump:
        """The NB after the last event, as a dump (a stream may still hold some of that
        event's writes, not yet taken)."""
        dump: Dump = {table: list(rows.values()) for table, rows in self.objects.items()}
        dump[tables.UNIQUE_KEY] = [
            {"id": t, COUNTER_VALUE: n} for t, n in sorted(self.keys.items())
        ]
        return dump

    def keep(self, port_ids: list[str]) -> None:
        """Leave these ports alone (never deleted, moved or set down), e.g. the ports a
        document's example commands name."""
        for port_id in port_ids:
            port = self.objects[tables.LPORT].get(port_id)
            self.protected.add(port_id)
            if port is not None:
                self._remove_vm(port)

    # -- bookkeeping -----------------------------------------------------------
    def _tick(self) -> float:
        return round(self._virtual_now, 2)

    @staticmethod
    def _balance(current: int, target: int) -> float:
        """>1 when below the initial population, <1 above it: keeps sizes stable."""
        return min(4.0, max(0.25, (target + 1) / (current + 1)))

    def _fip_count(self) -> int:
        return len(self.free_fips) + len(self.fip_of_port)

    def _index(self) -> None:
        objs = self.objects
        ports, chassis = objs[tables.LPORT], objs[tables.CHASSIS]
        self.broken: set[str] = set()
        for port in ports.values():
            bound = port.get("binding", {}).get("chassis")
            if (bound and bound not in chassis) or any(
                sg not in objs[tables.SECGROUP] for sg in port["security_groups"]
            ):
                self.broken.add(port["id"])
        for fip in objs[tables.FLOATINGIP].values():
            if any(fip.get(f) and fip[f] not in ports for f in ("lport", "floating_lport")):
                self.broken.add(fip["id"])
        # Ports other objects depend on: Neutron refuses to delete them while in use.
        self.protected: set[str] = set(self.broken)
        for pair in objs[tables.SFC_PORTPAIR].values():
            self.protected.update(filter(None, (pair.get("ingress_port"), pair.get("egress_port"))))
        for fc in objs[tables.SFC_FLOWCLASSIFIER].values():
            self.protected.update(filter(None, (fc.get("source_port"), fc.get("dest_port"))))
        for cps in objs[tables.CHILD_PORT_SEGMENTATION].values():
            self.protected.update((cps["parent"], cps["port"]))
        nexthops = {
            r["nexthop"] for router in objs[tables.LROUTER].values() for r in router["routes"]
        }
        self.macs = {mac for port in ports.values() for mac in port["macs"]}
        self.ports_on: dict[str, set[str]] = {}
        for port in ports.values():
            self._rebind(None, port)
        self.vms = IdSet()
        self.vms_by_network: dict[str, IdSet] = {}
        self.used_ips: dict[str, set[str]] = {}
        for port in ports.values():
            for ip, subnet in zip(port["ips"], port["subnets"], strict=False):
                self.used_ips.setdefault(subnet, set()).add(ip)
            for pair in port["allowed_address_pairs"]:
                for subnet in port["subnets"]:
                    self.used_ips.setdefault(subnet, set()).add(pair["ip_address"])
            if port["allowed_address_pairs"] or nexthops.intersection(port["ips"]):
                self.protected.add(port["id"])
            if port.get("device_owner", "").startswith("compute:") and port["id"] not in (
                self.protected
            ):
                self._add_vm(port)
        for subnet in objs[tables.LSUBNET].values():
            if "gateway_ip" in subnet:
                self.used_ips.setdefault(subnet["id"], set()).add(subnet["gateway_ip"])
        self.initial_vms = len(self.vms)
        self.fip_of_port: dict[str, str] = {}
        self.fip_ports = IdSet()
        self.free_fips = IdSet()
        for fip in objs[tables.FLOATINGIP].values():
            if fip["id"] in self.broken:
                continue
            if "lport" in fip:
                self.fip_of_port[fip["lport"]] = fip["id"]
                self.fip_ports.add(fip["lport"])
            else:
                self.free_fips.add(fip["id"])
        self.initial_fips = self._fip_count()
        self.external = next(
            (s for s in objs[tables.LSWITCH].values() if s.get("is_external")), None
        )
        self.external_subnet = next(
            (
                s
                for s in objs[tables.LSUBNET].values()
                if self.external and s["lswitch"] == self.external["id"] and ":" not in s["cidr"]
            ),
            None,
        )
        if self.external_subnet is not None:
            # Chassis external addresses live on the external network without being ports.
            taken = self.used_ips.setdefault(self.external_subnet["id"], set())
            taken.update(c["external_host_ip"] for c in chassis.values() if "external_host_ip" in c)
            taken.update(p["peer_ip"] for p in objs[tables.BGP_PEER].values() if "peer_ip" in p)
        self.router_of_topic: dict[str, str] = {}
        self.routed_networks: dict[str, set[str]] = {}
        for router in objs[tables.LROUTER].values():
            self.router_of_topic.setdefault(router["topic"], router["id"])
            self.routed_networks[router["id"]] = {p["lswitch"] for p in router["ports"]}
        self.tenant_networks = [
            s["id"] for s in objs[tables.LSWITCH].values() if not s.get("is_external")
        ]
        self.subnets_of: dict[str, list[dict[str, Any]]] = {}
        for subnet in objs[tables.LSUBNET].values():
            self.subnets_of.setdefault(subnet["lswitch"], []).append(subnet)
        self.speaker = next(iter(objs[tables.BGP_SPEAKER]), None)
        self.secgroup_ids = sorted(objs[tables.SECGROUP])
        self.router_topics = sorted(self.router_of_topic)
        self.vip_members: dict[str, list[str]] = {}
        holders: dict[tuple[str, str], list[str]] = {}
        for port in ports.values():
            for pair in port["allowed_address_pairs"]:
                holders.setdefault((port["lswitch"], pair["ip_address"]), []).append(port["id"])
        for active in objs[tables.ACTIVEPORT].values():
            key = (active.get("network", ""), active.get("ip", ""))
            self.vip_members[active["id"]] = holders.get(key, [])
        self.initial_chassis = len(chassis)
        self.gone_chassis: dict[str, tuple[dict[str, Any], list[dict[str, Any]]]] = {}

    def _add_vm(self, port: dict[str, Any]) -> None:
        self.vms.add(port["id"])
        self.vms_by_network.setdefault(port["lswitch"], IdSet()).add(port["id"])

    def _remove_vm(self, port: dict[str, Any]) -> None:
        self.vms.discard(port["id"])
        self.vms_by_network.get(port["lswitch"], IdSet()).discard(port["id"])

    def _put(self, table: str, obj: dict[str, Any]) -> Change:
        obj = clean(obj)
        if table == tables.LPORT:
            self._rebind(self.objects[tables.LPORT].get(obj["id"]), obj)
        self.objects[table][obj["id"]] = obj
        return (table, obj["id"], obj)

    def _rebind(self, old: dict[str, Any] | None, new: dict[str, Any] | None) -> None:
        """Keep the chassis → bound ports index current."""
        for port, add in ((old, False), (new, True)):
            chassis = (port or {}).get("binding", {}).get("chassis")
            if port is None or chassis is None:
                continue
            ports = self.ports_on.setdefault(chassis, set())
            if add:
                ports.add(port["id"])
            else:
                ports.discard(port["id"])

    def _update(self, table: str, obj_id: str, **values: Any) -> Change:
        """A whole-object rewrite with some fields changed (None deletes a field)."""
        new = {**self.objects[table][obj_id], **values}
        if table in VERSIONED:
            new["version"] = new.get("version", 0) + 1
        return self._put(table, new)

    def _delete(self, table: str, obj_id: str) -> Change:
        old = self.objects[table].pop(obj_id)
        if table == tables.LPORT:
            self._rebind(old, None)
        return (table, obj_id, None)

    def _allocate_key(self, table: str) -> tuple[int, Change]:
        self.keys[table] = self.keys.get(table, 0) + 1
        value = self.keys[table]
        return value, (tables.UNIQUE_KEY, table, {"id": table, COUNTER_VALUE: value})

    def _uuid(self) -> str:
        return random_uuid(self.rng)

    def _mac(self) -> str:
        """A MAC in OpenStack's fa:16:3e prefix that no port has had (Neutron's retry loop)."""
        while True:
            mac = mac_text(self.rng.getrandbits(24))
            if mac not in self.macs:
                self.macs.add(mac)
                return mac

    def _free_ips(self, network_id: str) -> tuple[list[str], list[str]] | None:
        """One free address per subnet of the network, the same host number in each."""
        subnets = sorted(self.subnets_of.get(network_id, []), key=lambda s: ":" in s["cidr"])
        if not subnets:
            return None
        nets = [ipaddress.ip_network(s["cidr"]) for s in subnets]
        last = min(LAST_HOST, nets[0].num_addresses - 2)
        for _ in range(20):
            host = self.rng.randint(FIRST_HOST, last)
            pairs = [(str(net[host]), s["id"]) for net, s in zip(nets, subnets, strict=True)]
            if all(ip not in self.used_ips.get(subnet, ()) for ip, subnet in pairs):
                for ip, subnet in pairs:
                    self.used_ips.setdefault(subnet, set()).add(ip)
                return [ip for ip, _ in pairs], [subnet for _, subnet in pairs]
        return None

    def _release_ips(self, port: dict[str, Any]) -> None:
        for ip, subnet in zip(port["ips"], port["subnets"], strict=False):
            self.used_ips.get(subnet, set()).discard(ip)

    def _live_chassis(self) -> list[str]:
        return sorted(self.objects[tables.CHASSIS])

    def _host_route(self, address: str, port: dict[str, Any] | None) -> list[Change]:
        """Advertise ``address``/32 towards the chassis hosting ``port`` (None: withdraw)."""
        if self.speaker is None or self.speaker not in self.objects[tables.BGP_SPEAKER]:
            return []
        speaker = self.objects[tables.BGP_SPEAKER][self.speaker]
        destination = f"{address}/32"
        routes = [r for r in speaker["host_routes"] if r["destination"] != destination]
        chassis_id = (port or {}).get("binding", {}).get("chassis")
        chassis = self.objects[tables.CHASSIS].get(chassis_id or "")
        if port is not None and chassis is not None:
            nexthop = chassis.get("external_host_ip", chassis["ip"])
            routes.append({"destination": destination, "nexthop": nexthop})
        if routes == speaker["host_routes"]:
            return []
        return [self._update(tables.BGP_SPEAKER, self.speaker, host_routes=routes)]
