"""Distributed DNAT for floating IPs (app ``dnat``) and the optional chassis SNAT.

Both run at the VM's chassis: Dragonflow has no central gateway in agentless mode, and
the router gateway port plays no part. Bridge MACs are local configuration (not NB data),
so the simulator names them symbolically.
"""

from __future__ import annotations

from dragonscope.trace.index import FloatingIp, IpAddr, NbIndex, Port, Router

SNAT_BRIDGE = "br-ex"


def bridge_mac(physnet: str) -> str:
    """Symbolic MAC of the bridge mapped to ``physnet`` (``bridge_mappings`` is local)."""
    return f"<mac of the {physnet} bridge>"


def egress_fip(
    index: NbIndex, src: Port, router: Router, ip_src: IpAddr | None
) -> FloatingIp | None:
    """The FIP that NATs ``src``'s traffic leaving through ``router`` (stage F rule 5):
    associated to this port, on this router, and the source is the port's first IP."""
    if ip_src is None or ip_src.version != 4 or not src.ips or src.ips[0] != ip_src:
        return None
    for fip in index.fips_by_fixed.get(src.id, []):
        if fip.router == router.id and fip.address is not None:
            return fip
    return None


def inbound_router_mac(index: NbIndex, fip: FloatingIp, fixed: Port, fip_port: Port) -> str:
    """eth_src after inbound DNAT: the FIP router's port on the fixed network, else the
    FIP port's own MAC."""
    router = index.routers.get(fip.router or "")
    for rp in router.ports if router else []:
        if rp.net_id == fixed.net_id:
            return rp.mac
    return fip_port.mac


def snat_mac(external_ip: IpAddr) -> str:
    """chassis_snat's source MAC: ``91:92:`` followed by the external IP in hex."""
    return "91:92:" + ":".join(f"{b:02x}" for b in external_ip.packed)
