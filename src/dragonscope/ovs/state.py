"""Plain, immutable copies of the OVSDB rows the probe reads.

The IDL's rows belong to its thread and change under it; these copies cross to the event loop
and compare by value, so "did anything that matters change?" is one equality test.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple


def tunnel_kind(name: str, kind: str) -> str | None:
    """Dragonflow names its tunnel port of a type ``<type>-vtp``: that type, or None."""
    return kind if kind and name == f"{kind}-vtp" else None


METADATA_INTERFACE = "tap-metadata"  # Dragonflow's [df_metadata] metadata_interface


class BridgePorts(NamedTuple):
    """The OpenFlow ports Dragonflow's rules name: VM interfaces (by iface-id), tunnel ports
    (by type), patch ports to physical networks (by physnet), the metadata service's tap,
    and chassis SNAT's patch port with the MAC of the external bridge it leads to."""

    ofports: dict[str, int]
    tunnels: dict[str, int]
    patches: dict[str, int]
    metadata: int | None
    snat: int | None = None
    snat_bridge_mac: str | None = None


def patch_name(bridge: str) -> str:
    """Dragonflow's provider app names br-int's patch port to a physical bridge so."""
    return f"{bridge}-patch"


# chassis_snat's patch pair: patch-snat-<external bridge> on br-int, patch-snat-int facing it.
SNAT_PATCH, SNAT_PEER = "patch-snat-", "patch-snat-int"


def snat_bridge(name: str, kind: str) -> str | None:
    """The external bridge br-int's chassis SNAT patch port leads to, or None."""
    if kind != "patch" or not name.startswith(SNAT_PATCH) or name == SNAT_PEER:
        return None
    return name[len(SNAT_PATCH) :] or None


@dataclass(frozen=True, slots=True)
class Interface:
    uuid: str
    name: str
    type: str
    ofport: int | None
    mac: str | None
    mtu: int | None
    admin_state: str | None
    link_state: str | None
    error: str | None
    external_ids: dict[str, str] = field(hash=False)
    options: dict[str, str] = field(hash=False)

    @property
    def iface_id(self) -> str | None:
        return self.external_ids.get("iface-id") or None

    @property
    def kind(self) -> str:
        """The OVS interface type, with a VM's tap (empty type) called ``device``."""
        return self.type or "device"


@dataclass(frozen=True, slots=True)
class Port:
    uuid: str
    name: str
    interfaces: tuple[str, ...]
    external_ids: dict[str, str] = field(hash=False)


@dataclass(frozen=True, slots=True)
class Bridge:
    uuid: str
    name: str
    ports: tuple[str, ...]
    datapath_type: str
    fail_mode: str | None
    controllers: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class OvsState:
    """One consistent view of the switch (everything but the counters)."""

    bridges: dict[str, Bridge] = field(default_factory=dict)
    ports: dict[str, Port] = field(default_factory=dict)
    interfaces: dict[str, Interface] = field(default_factory=dict)

    def bridge(self, name: str) -> Bridge | None:
        return next((b for b in self.bridges.values() if b.name == name), None)

    def interfaces_of(self, bridge: Bridge) -> list[tuple[Port, Interface]]:
        out = []
        for port_uuid in bridge.ports:
            port = self.ports.get(port_uuid)
            if port is None:
                continue
            for iface_uuid in port.interfaces:
                iface = self.interfaces.get(iface_uuid)
                if iface is not None:
                    out.append((port, iface))
        return out


Counters = dict[str, dict[str, Any]]
"""Interface UUID -> its ``statistics`` column."""
