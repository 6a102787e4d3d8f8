"""The few NB facts the OVS probe checks the switch against, indexed the way flows name them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from dragonscope.nb import NbObject, tables

TUNNEL_TYPES = frozenset({"vxlan", "geneve", "gre"})

NB_FIELDS: dict[str, tuple[str, ...] | None] = {
    tables.CHASSIS: None,  # whole: the far ends of the tunnel mesh are drawn from them
    tables.LSWITCH: ("unique_key", "network_type"),
    tables.LPORT: ("unique_key", "lswitch", "binding", "enabled"),
}
"""The fields the probe reads of every object of these tables, local or not (None: the
whole object): a reader that keeps only part of the NB must keep these."""


@dataclass(frozen=True, slots=True)
class PortFacts:
    id: str
    key: int | None
    network: str | None
    chassis: str | None  # binding chassis; None for unbound or vtep-bound ports
    remote_ip: str | None  # where a tunnel to it goes: its chassis's IP or its vtep address
    enabled: bool


@dataclass(frozen=True, slots=True)
class NetworkFacts:
    id: str
    key: int | None
    network_type: str | None


@dataclass(slots=True)
class NbView:
    ports: dict[str, PortFacts] = field(default_factory=dict)
    networks: dict[str, NetworkFacts] = field(default_factory=dict)
    chassis_ip: dict[str, str] = field(default_factory=dict)
    port_by_key: dict[int, str] = field(default_factory=dict)
    network_by_key: dict[int, str] = field(default_factory=dict)

    def chassis_at(self, ip: str) -> str | None:
        return next((name for name, at in self.chassis_ip.items() if at == ip), None)


def _key(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def build(snapshot: Mapping[tuple[str, str], NbObject]) -> NbView:
    view = NbView()
    for (table, object_id), obj in snapshot.items():
        if table == tables.CHASSIS and (ip := _str(obj.data.get("ip"))):
            view.chassis_ip[object_id] = ip
        elif table == tables.LSWITCH:
            data = obj.data
            view.networks[object_id] = NetworkFacts(
                object_id, _key(data.get("unique_key")), _str(data.get("network_type"))
            )
    for (table, object_id), obj in snapshot.items():
        if table != tables.LPORT:
            continue
        data = obj.data
        raw_binding = data.get("binding")
        binding: dict[str, object] = raw_binding if isinstance(raw_binding, dict) else {}
        chassis = remote_ip = None
        if binding.get("type", "chassis") == "chassis":
            chassis = _str(binding.get("chassis"))
            remote_ip = view.chassis_ip.get(chassis) if chassis else None
        else:
            remote_ip = _str(binding.get("vtep_address"))
        view.ports[object_id] = PortFacts(
            object_id, _key(data.get("unique_key")), _str(data.get("lswitch")), chassis,
            remote_ip, data.get("enabled") is not False,
        )  # fmt: skip
    for facts in view.ports.values():
        if facts.key is not None:
            view.port_by_key[facts.key] = facts.id
    for network in view.networks.values():
        if network.key is not None:
            view.network_by_key[network.key] = network.id
    return view
