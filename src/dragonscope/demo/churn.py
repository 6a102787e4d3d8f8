"""A realistic, endless stream of NB DB writes over a generated cloud.

Each step is one operator- or Nova-level event (a VM boots, is deleted or
migrates, a floating IP is associated, a security group gains a rule, a compute
node is evacuated and leaves, ...) expanded into the writes Dragonflow's
Neutron plugin and controllers would make, in their order: for example deleting
a VM first disassociates its floating IP (and withdraws its BGP host route),
then deletes the port. The stream keeps the NB consistent: it never creates a
dangling reference, and it never touches the objects that were generated
broken on purpose, so a checker reports exactly those, however long it runs.

Objects are never mutated in place: a change always carries a new dict, so the
caller may keep (or publish) what it received.
"""

from __future__ import annotations

import ipaddress
import random
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from dragonscope.demo.builder import TABLES, VERSIONED
from dragonscope.nb import Dump

Change = tuple[str, str, dict[str, Any] | None]
"""``(table, id, stored object)``; the object is None for a deletion."""

# Ports that users open and close on a whim; rules on them are the ones the stream removes.
CHURN_PORTS = (8080, 8443, 3306, 6379, 9090, 11211)
FIRST_HOST, LAST_HOST = 10, 249
# Events in a row that change nothing before the stream concludes that nothing can change.
IDLE_EVENTS = 1000


class _IdSet:
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


def _clean(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: obj[k] for k in sorted(obj) if obj[k] is not None}


class Churn:
    """Endless iterator of ``(table, id, obj_or_None)`` writes over ``state`` (a dump).

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
        self.keys = {row["id"]: row["unique_key"] for row in state.get("unique_key", [])}
        self.objects["unique_key"] = {}
        heartbeats = [s.get("last_seen_up", 0.0) for s in self.objects["service"].values()]
        self._virtual_now = max(heartbeats, default=0.0)
        self.clock = clock or self._tick
        self.pending: list[Change] = []
        self.events = 0
        self.last_event = ""
        self._index()

    # -- the public stream ---------------------------------------------------
    def __iter__(self) -> Iterator[Change]:
        return self

    def __next__(self) -> Change:
        for _ in range(IDLE_EVENTS):
            if self.pending:
                return self.pending.pop()
            self.pending = self.step()
            self.pending.reverse()
        if self.pending:
            return self.pending.pop()
        raise StopIteration  # nothing in this NB can change (no network, port or chassis)

    def step(self) -> list[Change]:
        """Run one event and return its writes (possibly none, when nothing applies)."""
        self.events += 1
        self._virtual_now += 1.0
        events: list[tuple[float, Callable[[], list[Change]]]] = [
            (3.0 * self._balance(len(self.vms), self.initial_vms), self.boot_vm),
            (3.0 / self._balance(len(self.vms), self.initial_vms), self.delete_vm),
            (3.0, self.migrate_port),
            (2.0, self.associate_fip),
            (2.0, self.disassociate_fip),
            (1.0 * self._balance(self._fip_count(), self.initial_fips), self.create_fip),
            (1.0 / self._balance(self._fip_count(), self.initial_fips), self.delete_fip),
            (2.0, self.edit_secgroup),
            (1.0, self.toggle_port),
            (1.0, self.vip_failover),
            (2.0, self.heartbeat),
            (0.3, self.chassis_leaves),
            (0.3, self.chassis_joins),
        ]
        total = sum(weight for weight, _ in events)
        pick = self.rng.uniform(0, total)
        chosen = events[-1][1]
        for weight, event in events:
            pick -= weight
            if pick <= 0:
                chosen = event
                break
        self.last_event = chosen.__name__
        return chosen()

    def state(self) -> Dump:
        """The NB after the last event, as a dump (``pending`` holds that event's writes
        not yet taken from the iterator)."""
        dump: Dump = {table: list(rows.values()) for table, rows in self.objects.items()}
        dump["unique_key"] = [{"id": t, "unique_key": n} for t, n in sorted(self.keys.items())]
        return dump

    def keep(self, port_ids: list[str]) -> None:
        """Leave these ports alone (never deleted, moved or set down), e.g. the ports a
        document's example commands name."""
        for port_id in port_ids:
            port = self.objects["lport"].get(port_id)
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
        ports, chassis = objs["lport"], objs["chassis"]
        self.broken: set[str] = set()
        for port in ports.values():
            bound = port.get("binding", {}).get("chassis")
            if (bound and bound not in chassis) or any(
                sg not in objs["secgroup"] for sg in port["security_groups"]
            ):
                self.broken.add(port["id"])
        for fip in objs["floatingip"].values():
            if any(fip.get(f) and fip[f] not in ports for f in ("lport", "floating_lport")):
                self.broken.add(fip["id"])
        # Ports other objects depend on: Neutron refuses to delete them while in use.
        self.protected: set[str] = set(self.broken)
        for pair in objs["sfc_portpair"].values():
            self.protected.update(filter(None, (pair.get("ingress_port"), pair.get("egress_port"))))
        for fc in objs["sfc_flowclassifier"].values():
            self.protected.update(filter(None, (fc.get("source_port"), fc.get("dest_port"))))
        for cps in objs["child_port_segmentation"].values():
            self.protected.update((cps["parent"], cps["port"]))
        nexthops = {r["nexthop"] for router in objs["lrouter"].values() for r in router["routes"]}
        self.macs = {mac for port in ports.values() for mac in port["macs"]}
        self.ports_on: dict[str, set[str]] = {}
        for port in ports.values():
            self._rebind(None, port)
        self.vms = _IdSet()
        self.vms_by_network: dict[str, _IdSet] = {}
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
        for subnet in objs["lsubnet"].values():
            if "gateway_ip" in subnet:
                self.used_ips.setdefault(subnet["id"], set()).add(subnet["gateway_ip"])
        self.initial_vms = len(self.vms)
        self.fip_of_port: dict[str, str] = {}
        self.fip_ports = _IdSet()
        self.free_fips = _IdSet()
        for fip in objs["floatingip"].values():
            if fip["id"] in self.broken:
                continue
            if "lport" in fip:
                self.fip_of_port[fip["lport"]] = fip["id"]
                self.fip_ports.add(fip["lport"])
            else:
                self.free_fips.add(fip["id"])
        self.initial_fips = self._fip_count()
        self.external = next((s for s in objs["lswitch"].values() if s.get("is_external")), None)
        self.external_subnet = next(
            (
                s
                for s in objs["lsubnet"].values()
                if self.external and s["lswitch"] == self.external["id"] and ":" not in s["cidr"]
            ),
            None,
        )
        if self.external_subnet is not None:
            # Chassis external addresses live on the external network without being ports.
            taken = self.used_ips.setdefault(self.external_subnet["id"], set())
            taken.update(c["external_host_ip"] for c in chassis.values() if "external_host_ip" in c)
            taken.update(p["peer_ip"] for p in objs["bgp_peer"].values() if "peer_ip" in p)
        self.router_of_topic: dict[str, str] = {}
        self.routed_networks: dict[str, set[str]] = {}
        for router in objs["lrouter"].values():
            self.router_of_topic.setdefault(router["topic"], router["id"])
            self.routed_networks[router["id"]] = {p["lswitch"] for p in router["ports"]}
        self.tenant_networks = [
            s["id"] for s in objs["lswitch"].values() if not s.get("is_external")
        ]
        self.subnets_of: dict[str, list[dict[str, Any]]] = {}
        for subnet in objs["lsubnet"].values():
            self.subnets_of.setdefault(subnet["lswitch"], []).append(subnet)
        self.speaker = next(iter(objs["bgp_speaker"]), None)
        self.secgroup_ids = sorted(objs["secgroup"])
        self.router_topics = sorted(self.router_of_topic)
        self.vip_members: dict[str, list[str]] = {}
        holders: dict[tuple[str, str], list[str]] = {}
        for port in ports.values():
            for pair in port["allowed_address_pairs"]:
                holders.setdefault((port["lswitch"], pair["ip_address"]), []).append(port["id"])
        for active in objs["activeport"].values():
            key = (active.get("network", ""), active.get("ip", ""))
            self.vip_members[active["id"]] = holders.get(key, [])
        self.initial_chassis = len(chassis)
        self.gone_chassis: dict[str, tuple[dict[str, Any], list[dict[str, Any]]]] = {}

    def _add_vm(self, port: dict[str, Any]) -> None:
        self.vms.add(port["id"])
        self.vms_by_network.setdefault(port["lswitch"], _IdSet()).add(port["id"])

    def _remove_vm(self, port: dict[str, Any]) -> None:
        self.vms.discard(port["id"])
        self.vms_by_network.get(port["lswitch"], _IdSet()).discard(port["id"])

    def _put(self, table: str, obj: dict[str, Any]) -> Change:
        obj = _clean(obj)
        if table == "lport":
            self._rebind(self.objects["lport"].get(obj["id"]), obj)
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
        if table == "lport":
            self._rebind(old, None)
        return (table, obj_id, None)

    def _allocate_key(self, table: str) -> tuple[int, Change]:
        self.keys[table] = self.keys.get(table, 0) + 1
        value = self.keys[table]
        return value, ("unique_key", table, {"id": table, "unique_key": value})

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def _mac(self) -> str:
        """A MAC in OpenStack's fa:16:3e prefix that no port has had (Neutron's retry loop)."""
        while True:
            value = self.rng.getrandbits(24)
            mac = "fa:16:3e:" + ":".join(f"{(value >> s) & 0xFF:02x}" for s in (16, 8, 0))
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
        return sorted(self.objects["chassis"])

    def _host_route(self, address: str, port: dict[str, Any] | None) -> list[Change]:
        """Advertise ``address``/32 towards the chassis hosting ``port`` (None: withdraw)."""
        if self.speaker is None or self.speaker not in self.objects["bgp_speaker"]:
            return []
        speaker = self.objects["bgp_speaker"][self.speaker]
        destination = f"{address}/32"
        routes = [r for r in speaker["host_routes"] if r["destination"] != destination]
        chassis_id = (port or {}).get("binding", {}).get("chassis")
        chassis = self.objects["chassis"].get(chassis_id or "")
        if port is not None and chassis is not None:
            nexthop = chassis.get("external_host_ip", chassis["ip"])
            routes.append({"destination": destination, "nexthop": nexthop})
        if routes == speaker["host_routes"]:
            return []
        return [self._update("bgp_speaker", self.speaker, host_routes=routes)]

    # -- events ----------------------------------------------------------------
    def boot_vm(self) -> list[Change]:
        """Nova boots a VM: the port is created, then bound to the chosen chassis."""
        live = self._live_chassis()
        if not self.tenant_networks or not live:
            return []
        network_id = self.tenant_networks[self.rng.randrange(len(self.tenant_networks))]
        network = self.objects["lswitch"][network_id]
        addresses = self._free_ips(network_id)
        if addresses is None:
            return []
        ips, subnets = addresses
        # The new VM gets the same security groups as its neighbours.
        peer = self.vms_by_network.get(network_id, _IdSet()).choice(self.rng)
        groups = list(self.objects["lport"][peer]["security_groups"]) if peer else []
        key, key_change = self._allocate_key("lport")
        port = {
            "id": self._uuid(),
            "topic": network["topic"],
            "name": f"{network.get('name', 'net')}-vm{key}",
            "version": 1,
            "unique_key": key,
            "lswitch": network_id,
            "macs": [self._mac()],
            "ips": ips,
            "subnets": subnets,
            "enabled": True,
            "device_owner": "compute:nova",
            "device_id": self._uuid(),
            "security_groups": groups,
            "port_security_enabled": True,
            "allowed_address_pairs": [],
            "dhcp_params": {"opts": {}},
            "binding_vnic_type": "normal",
        }
        created = self._put("lport", port)
        self._add_vm(port)
        chassis = live[self.rng.randrange(len(live))]
        bound = self._update("lport", port["id"], binding={"chassis": chassis, "type": "chassis"})
        return [key_change, created, bound]

    def delete_vm(self) -> list[Change]:
        """Nova deletes a VM: its floating IP is disassociated first, then the port goes."""
        port_id = self.vms.choice(self.rng)
        if port_id is None:
            return []
        changes = (
            self._disassociate(self.fip_of_port[port_id]) if port_id in self.fip_of_port else []
        )
        if port_id in self.objects["migration"]:
            changes.append(self._delete("migration", port_id))
        port = self.objects["lport"][port_id]
        self._release_ips(port)
        self._remove_vm(port)
        changes.append(self._delete("lport", port_id))
        return changes

    def migrate_port(self) -> list[Change]:
        """Live migration: the destination plugs the VM, then Nova rebinds the port."""
        port_id = self.vms.choice(self.rng)
        live = self._live_chassis()
        if port_id is None or len(live) < 2:
            return []
        port = self.objects["lport"][port_id]
        current = port.get("binding", {}).get("chassis")
        dest = self.rng.choice([c for c in live if c != current])
        return self._move(port_id, dest)

    def _move(self, port_id: str, dest: str) -> list[Change]:
        changes = [
            self._put("migration", {"id": port_id, "dest_chassis": dest, "status": "dest_plug"}),
            self._update("lport", port_id, binding={"chassis": dest, "type": "chassis"}),
        ]
        fip_id = self.fip_of_port.get(port_id)
        if fip_id is not None:
            address = self.objects["floatingip"][fip_id]["floating_ip_address"]
            changes += self._host_route(address, self.objects["lport"][port_id])
        return changes

    def associate_fip(self) -> list[Change]:
        fip_id = self.free_fips.choice(self.rng)
        if fip_id is None:
            return []
        fip = self.objects["floatingip"][fip_id]
        router_id = self.router_of_topic.get(fip["topic"])
        if router_id is None:
            return []
        routed = sorted(self.routed_networks[router_id])
        port = None
        for _ in range(10):
            network = routed[self.rng.randrange(len(routed))] if routed else ""
            port_id = self.vms_by_network.get(network, _IdSet()).choice(self.rng)
            if port_id is not None and port_id not in self.fip_of_port:
                port = self.objects["lport"][port_id]
                break
        if port is None or ":" in port["ips"][0]:
            return []
        self.free_fips.discard(fip_id)
        self.fip_of_port[port["id"]] = fip_id
        self.fip_ports.add(port["id"])
        change = self._update(
            "floatingip", fip_id, lport=port["id"], fixed_ip_address=port["ips"][0],
            lrouter=router_id,
        )  # fmt: skip
        return [change, *self._host_route(fip["floating_ip_address"], port)]

    def disassociate_fip(self) -> list[Change]:
        port_id = self.fip_ports.choice(self.rng)
        return self._disassociate(self.fip_of_port[port_id]) if port_id else []

    def _disassociate(self, fip_id: str) -> list[Change]:
        fip = self.objects["floatingip"][fip_id]
        del self.fip_of_port[fip["lport"]]
        self.fip_ports.discard(fip["lport"])
        self.free_fips.add(fip_id)
        change = self._update("floatingip", fip_id, lport=None, fixed_ip_address=None, lrouter=None)
        return [change, *self._host_route(fip["floating_ip_address"], None)]

    def create_fip(self) -> list[Change]:
        """A tenant allocates a floating IP: its port on the external network, then the FIP."""
        if self.external is None or self.external_subnet is None or not self.router_of_topic:
            return []
        topic = self.router_topics[self.rng.randrange(len(self.router_topics))]
        subnet = self.external_subnet
        net = ipaddress.ip_network(subnet["cidr"])
        used = self.used_ips.setdefault(subnet["id"], set())
        for _ in range(20):
            address = str(net[self.rng.randrange(2, net.num_addresses - 8)])
            if address not in used:
                break
        else:
            return []
        used.add(address)
        fip_id = self._uuid()
        key, key_change = self._allocate_key("lport")
        port = self._put(
            "lport",
            {
                "id": self._uuid(), "topic": self.external["topic"], "name": "", "version": 1,
                "unique_key": key, "lswitch": self.external["id"], "macs": [self._mac()],
                "ips": [address], "subnets": [subnet["id"]], "enabled": True,
                "device_owner": "network:floatingip", "device_id": fip_id,
                "security_groups": [], "port_security_enabled": True,
                "allowed_address_pairs": [], "dhcp_params": {"opts": {}},
                "binding_vnic_type": "normal",
            },
        )  # fmt: skip
        fip = self._put(
            "floatingip",
            {
                "id": fip_id, "topic": topic, "version": 1,
                "floating_ip_address": address, "floating_lport": port[1],
            },
        )  # fmt: skip
        self.free_fips.add(fip_id)
        return [key_change, port, fip]

    def delete_fip(self) -> list[Change]:
        fip_id = self.free_fips.choice(self.rng)
        if fip_id is None:
            return []
        fip = self.objects["floatingip"][fip_id]
        self.free_fips.discard(fip_id)
        changes = [self._delete("floatingip", fip_id)]
        port = self.objects["lport"].get(fip["floating_lport"])
        if port is not None:
            self._release_ips(port)
            changes.append(self._delete("lport", port["id"]))
        return changes

    def edit_secgroup(self) -> list[Change]:
        """A user opens a port in a group, or closes one opened earlier (rules are embedded:
        the whole group is rewritten)."""
        if not self.secgroup_ids:
            return []
        sg_id = self.secgroup_ids[self.rng.randrange(len(self.secgroup_ids))]
        sg = self.objects["secgroup"][sg_id]
        opened = [r for r in sg["rules"] if r.get("port_range_min") in CHURN_PORTS]
        if opened and self.rng.random() < 0.5:
            gone = opened[self.rng.randrange(len(opened))]
            rules = [r for r in sg["rules"] if r["id"] != gone["id"]]
        else:
            port = self.rng.choice(CHURN_PORTS)
            remote = self.rng.choice(["0.0.0.0/0", "10.0.0.0/8", "192.0.2.0/24"])
            rule = {
                "direction": "ingress", "ethertype": "IPv4", "id": self._uuid(),
                "port_range_max": port, "port_range_min": port, "protocol": 6,
                "remote_ip_prefix": remote, "security_group_id": sg["id"],
                "topic": sg["topic"], "version": 1,
            }  # fmt: skip
            rules = [*sg["rules"], rule]
        return [self._update("secgroup", sg["id"], rules=rules)]

    def toggle_port(self) -> list[Change]:
        """An operator sets a port administratively down, or back up."""
        port_id = self.vms.choice(self.rng)
        if port_id is None:
            return []
        enabled = self.objects["lport"][port_id].get("enabled", True)
        return [self._update("lport", port_id, enabled=not enabled)]

    def vip_failover(self) -> list[Change]:
        """keepalived moves a virtual IP: the other member's gratuitous ARP is detected."""
        actives = sorted(self.vip_members)
        if not actives:
            return []
        active = self.objects["activeport"][actives[self.rng.randrange(len(actives))]]
        members = [
            self.objects["lport"][m]
            for m in self.vip_members[active["id"]]
            if m != active.get("detected_lport")
        ]
        if not members:
            return []
        holder = members[self.rng.randrange(len(members))]
        pair = next(a for a in holder["allowed_address_pairs"] if a["ip_address"] == active["ip"])
        new = {**active, "detected_lport": holder["id"], "detected_mac": pair["mac_address"]}
        return [self._put("activeport", new)]

    def heartbeat(self) -> list[Change]:
        """Every Dragonflow service of one chassis reports it is alive."""
        live = self._live_chassis()
        if not live:
            return []
        chassis = live[self.rng.randrange(len(live))]
        now = self.clock()
        return [
            self._put("service", {**service, "last_seen_up": now})
            for service in list(self.objects["service"].values())
            if service["chassis"] == chassis
        ]

    def heartbeat_all(self) -> list[Change]:
        """Every service of every chassis reports it is alive (Dragonflow does, every 25 s)."""
        now = self.clock()
        return [
            self._put("service", {**service, "last_seen_up": now})
            for service in list(self.objects["service"].values())
        ]

    def chassis_leaves(self) -> list[Change]:
        """A compute node is evacuated (its ports move elsewhere) and decommissioned."""
        live = self._live_chassis()
        if len(live) <= max(2, self.initial_chassis // 2):
            return []
        leaving = live[self.rng.randrange(len(live))]
        others = [c for c in live if c != leaving]
        changes: list[Change] = []
        for port_id in sorted(self.ports_on.get(leaving, ())):
            changes += self._move(port_id, others[self.rng.randrange(len(others))])
        for migration in list(self.objects["migration"].values()):
            if migration.get("dest_chassis") == leaving:
                changes.append(self._delete("migration", migration["id"]))
        services = [s for s in self.objects["service"].values() if s["chassis"] == leaving]
        changes += [self._delete("service", s["id"]) for s in services]
        self.gone_chassis[leaving] = (self.objects["chassis"][leaving], services)
        changes.append(self._delete("chassis", leaving))
        return changes

    def chassis_joins(self) -> list[Change]:
        """A decommissioned compute node comes back: its controller registers it again."""
        if not self.gone_chassis or len(self.objects["chassis"]) >= self.initial_chassis:
            return []
        name = sorted(self.gone_chassis)[0]
        chassis, services = self.gone_chassis.pop(name)
        now = self.clock()
        changes = [self._put("chassis", chassis)]
        changes += [self._put("service", {**s, "last_seen_up": now}) for s in services]
        return changes
