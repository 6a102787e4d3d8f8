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
from collections.abc import Callable, Iterator

from dragonscope.demo.churn_state import Change, IdSet, NbState
from dragonscope.nb import Dump, tables

# Ports that users open and close on a whim; rules on them are the ones the stream removes.
CHURN_PORTS = (8080, 8443, 3306, 6379, 9090, 11211)
# Events in a row that change nothing before the stream concludes that nothing can change.
IDLE_EVENTS = 1000


class Churn(NbState):
    """Endless iterator of ``(table, id, obj_or_None)`` writes over ``state`` (a dump):
    one weighted random event at a time, its writes in order (``step`` runs one event)."""

    def __init__(
        self, state: Dump, seed: int = 0, *, clock: Callable[[], float] | None = None
    ) -> None:
        super().__init__(state, seed, clock=clock)
        self.pending: list[Change] = []
        self.events = 0
        self.last_event = ""

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

    # -- events ----------------------------------------------------------------
    def boot_vm(self) -> list[Change]:
        """Nova boots a VM: the port is created, then bound to the chosen chassis."""
        live = self._live_chassis()
        if not self.tenant_networks or not live:
            return []
        network_id = self.tenant_networks[self.rng.randrange(len(self.tenant_networks))]
        network = self.objects[tables.LSWITCH][network_id]
        addresses = self._free_ips(network_id)
        if addresses is None:
            return []
        ips, subnets = addresses
        # The new VM gets the same security groups as its neighbours.
        peer = self.vms_by_network.get(network_id, IdSet()).choice(self.rng)
        groups = list(self.objects[tables.LPORT][peer]["security_groups"]) if peer else []
        key, key_change = self._allocate_key(tables.LPORT)
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
        created = self._put(tables.LPORT, port)
        self._add_vm(port)
        chassis = live[self.rng.randrange(len(live))]
        bound = self._update(
            tables.LPORT, port["id"], binding={"chassis": chassis, "type": "chassis"}
        )
        return [key_change, created, bound]

    def delete_vm(self) -> list[Change]:
        """Nova deletes a VM: its floating IP is disassociated first, then the port goes."""
        port_id = self.vms.choice(self.rng)
        if port_id is None:
            return []
        changes = (
            self._disassociate(self.fip_of_port[port_id]) if port_id in self.fip_of_port else []
        )
        if port_id in self.objects[tables.MIGRATION]:
            changes.append(self._delete(tables.MIGRATION, port_id))
        port = self.objects[tables.LPORT][port_id]
        self._release_ips(port)
        self._remove_vm(port)
        changes.append(self._delete(tables.LPORT, port_id))
        return changes

    def migrate_port(self) -> list[Change]:
        """Live migration: the destination plugs the VM, then Nova rebinds the port."""
        port_id = self.vms.choice(self.rng)
        live = self._live_chassis()
        if port_id is None or len(live) < 2:
            return []
        port = self.objects[tables.LPORT][port_id]
        current = port.get("binding", {}).get("chassis")
        dest = self.rng.choice([c for c in live if c != current])
        return self._move(port_id, dest)

    def _move(self, port_id: str, dest: str) -> list[Change]:
        changes = [
            self._put(
                tables.MIGRATION, {"id": port_id, "dest_chassis": dest, "status": "dest_plug"}
            ),
            self._update(tables.LPORT, port_id, binding={"chassis": dest, "type": "chassis"}),
        ]
        fip_id = self.fip_of_port.get(port_id)
        if fip_id is not None:
            address = self.objects[tables.FLOATINGIP][fip_id]["floating_ip_address"]
            changes += self._host_route(address, self.objects[tables.LPORT][port_id])
        return changes

    def associate_fip(self) -> list[Change]:
        fip_id = self.free_fips.choice(self.rng)
        if fip_id is None:
            return []
        fip = self.objects[tables.FLOATINGIP][fip_id]
        router_id = self.router_of_topic.get(fip["topic"])
        if router_id is None:
            return []
        routed = sorted(self.routed_networks[router_id])
        port = None
        for _ in range(10):
            network = routed[self.rng.randrange(len(routed))] if routed else ""
            port_id = self.vms_by_network.get(network, IdSet()).choice(self.rng)
            if port_id is not None and port_id not in self.fip_of_port:
                port = self.objects[tables.LPORT][port_id]
                break
        if port is None or ":" in port["ips"][0]:
            return []
        self.free_fips.discard(fip_id)
        self.fip_of_port[port["id"]] = fip_id
        self.fip_ports.add(port["id"])
        change = self._update(
            tables.FLOATINGIP, fip_id, lport=port["id"], fixed_ip_address=port["ips"][0],
            lrouter=router_id,
        )  # fmt: skip
        return [change, *self._host_route(fip["floating_ip_address"], port)]

    def disassociate_fip(self) -> list[Change]:
        port_id = self.fip_ports.choice(self.rng)
        return self._disassociate(self.fip_of_port[port_id]) if port_id else []

    def _disassociate(self, fip_id: str) -> list[Change]:
        fip = self.objects[tables.FLOATINGIP][fip_id]
        del self.fip_of_port[fip["lport"]]
        self.fip_ports.discard(fip["lport"])
        self.free_fips.add(fip_id)
        change = self._update(
            tables.FLOATINGIP, fip_id, lport=None, fixed_ip_address=None, lrouter=None
        )
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
        key, key_change = self._allocate_key(tables.LPORT)
        port = self._put(
            tables.LPORT,
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
            tables.FLOATINGIP,
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
        fip = self.objects[tables.FLOATINGIP][fip_id]
        self.free_fips.discard(fip_id)
        changes = [self._delete(tables.FLOATINGIP, fip_id)]
        port = self.objects[tables.LPORT].get(fip["floating_lport"])
        if port is not None:
            self._release_ips(port)
            changes.append(self._delete(tables.LPORT, port["id"]))
        return changes

    def edit_secgroup(self) -> list[Change]:
        """A user opens a port in a group, or closes one opened earlier (rules are embedded:
        the whole group is rewritten)."""
        if not self.secgroup_ids:
            return []
        sg_id = self.secgroup_ids[self.rng.randrange(len(self.secgroup_ids))]
        sg = self.objects[tables.SECGROUP][sg_id]
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
        return [self._update(tables.SECGROUP, sg["id"], rules=rules)]

    def toggle_port(self) -> list[Change]:
        """An operator sets a port administratively down, or back up."""
        port_id = self.vms.choice(self.rng)
        if port_id is None:
            return []
        enabled = self.objects[tables.LPORT][port_id].get("enabled", True)
        return [self._update(tables.LPORT, port_id, enabled=not enabled)]

    def vip_failover(self) -> list[Change]:
        """keepalived moves a virtual IP: the other member's gratuitous ARP is detected."""
        actives = sorted(self.vip_members)
        if not actives:
            return []
        active = self.objects[tables.ACTIVEPORT][actives[self.rng.randrange(len(actives))]]
        members = [
            self.objects[tables.LPORT][m]
            for m in self.vip_members[active["id"]]
            if m != active.get("detected_lport")
        ]
        if not members:
            return []
        holder = members[self.rng.randrange(len(members))]
        pair = next(a for a in holder["allowed_address_pairs"] if a["ip_address"] == active["ip"])
        new = {**active, "detected_lport": holder["id"], "detected_mac": pair["mac_address"]}
        return [self._put(tables.ACTIVEPORT, new)]

    def heartbeat(self) -> list[Change]:
        """Every Dragonflow service of one chassis reports it is alive."""
        live = self._live_chassis()
        if not live:
            return []
        chassis = live[self.rng.randrange(len(live))]
        now = self.clock()
        return [
            self._put(tables.SERVICE, {**service, "last_seen_up": now})
            for service in list(self.objects[tables.SERVICE].values())
            if service["chassis"] == chassis
        ]

    def heartbeat_all(self) -> list[Change]:
        """Every service of every chassis reports it is alive (Dragonflow does, every 25 s)."""
        now = self.clock()
        return [
            self._put(tables.SERVICE, {**service, "last_seen_up": now})
            for service in list(self.objects[tables.SERVICE].values())
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
        for migration in list(self.objects[tables.MIGRATION].values()):
            if migration.get("dest_chassis") == leaving:
                changes.append(self._delete(tables.MIGRATION, migration["id"]))
        services = [s for s in self.objects[tables.SERVICE].values() if s["chassis"] == leaving]
        changes += [self._delete(tables.SERVICE, s["id"]) for s in services]
        self.gone_chassis[leaving] = (self.objects[tables.CHASSIS][leaving], services)
        changes.append(self._delete(tables.CHASSIS, leaving))
        return changes

    def chassis_joins(self) -> list[Change]:
        """A decommissioned compute node comes back: its controller registers it again."""
        if not self.gone_chassis or len(self.objects[tables.CHASSIS]) >= self.initial_chassis:
            return []
        name = sorted(self.gone_chassis)[0]
        chassis, services = self.gone_chassis.pop(name)
        now = self.clock()
        changes = [self._put(tables.CHASSIS, chassis)]
        changes += [self._put(tables.SERVICE, {**s, "last_seen_up": now}) for s in services]
        return changes
