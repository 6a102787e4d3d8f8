"""How big a generated cloud is: the counts every other number follows from.

``small`` is about 100 objects (tests, docs, ``memory://sample``), ``medium``
about 5k and ``large`` about 100k (benchmarks); any count can be given by name.
The limits here are the address plan's: each tenant network is a /24 with VMs
between ``FIRST_VM_HOST`` and ``VIP_HOST``, and the external network must hold
every gateway, floating IP and chassis address.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, fields

EXTERNAL_NET = ipaddress.ip_network("172.24.0.0/13")
FIRST_VM_HOST = 10
VIP_HOST = 250
MAX_VMS_PER_NETWORK = VIP_HOST - FIRST_VM_HOST - 10


@dataclass(frozen=True, slots=True)
class Counts:
    """How big a cloud to build. Every other count follows from these."""

    tenants: int = 3
    networks_per_tenant: int = 2
    vms_per_network: int = 3
    chassis: int = 3
    fips_per_tenant: int = 2
    trunks: int = 1
    sfc_chains: int = 1
    bgp_peers: int = 2

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{f.name} must be a non-negative integer, got {value!r}")
        if self.tenants < 1 or self.networks_per_tenant < 1 or self.chassis < 1:
            raise ValueError("tenants, networks_per_tenant and chassis must be at least 1")
        if self.vms_per_network > MAX_VMS_PER_NETWORK:
            raise ValueError(f"vms_per_network must be at most {MAX_VMS_PER_NETWORK}")
        if self.tenants * self.networks_per_tenant >= 2**16:
            raise ValueError("tenants * networks_per_tenant must stay below 65536")
        if self.chassis > 4000:
            raise ValueError("chassis must be at most 4000")
        if (
            self.tenants * (self.fips_per_tenant + 2) + self.chassis + 64
            > EXTERNAL_NET.num_addresses
        ):
            raise ValueError("too many floating IPs for the external network")

    @classmethod
    def parse(cls, text: str) -> Counts:
        """``"tenants=10,vms_per_network=5"`` → Counts (unnamed counts keep the ``small`` value)."""
        known = {f.name for f in fields(cls)}
        values: dict[str, int] = {}
        for item in text.split(","):
            name, sep, raw = item.partition("=")
            name = name.strip()
            if not sep or name not in known:
                raise ValueError(
                    f"bad count {item.strip()!r}: expected NAME=INTEGER with NAME one of "
                    + ", ".join(sorted(known))
                )
            try:
                values[name] = int(raw)
            except ValueError:
                raise ValueError(f"bad count {item.strip()!r}: {raw!r} is not an integer") from None
        return cls(**values)


SIZES: dict[str, Counts] = {
    "small": Counts(),
    "medium": Counts(
        tenants=45, networks_per_tenant=3, vms_per_network=22, chassis=20, fips_per_tenant=12,
        trunks=20, sfc_chains=5, bgp_peers=2,
    ),
    "large": Counts(
        tenants=950, networks_per_tenant=3, vms_per_network=20, chassis=200, fips_per_tenant=12,
        trunks=400, sfc_chains=40, bgp_peers=4,
    ),
}  # fmt: skip


def resolve_counts(size: str | Counts) -> Counts:
    if isinstance(size, Counts):
        return size
    if size in SIZES:
        return SIZES[size]
    if "=" in size:
        return Counts.parse(size)
    raise ValueError(f"unknown size {size!r}: use small, medium, large or NAME=N,... counts")
