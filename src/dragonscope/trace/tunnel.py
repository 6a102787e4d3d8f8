"""Tunnels between chassis: whether a chassis terminates a network's tunnel type, and
the encapsulation itself (outer source and destination chassis IPs, VNI =
``segmentation_id``), shared by egress dispatch, the receiving side and SFC.
"""

from __future__ import annotations

from dragonscope.nb.tables import CHASSIS
from dragonscope.trace.objects import Network
from dragonscope.trace.walk import Frame, Walk


def terminates(w: Walk, f: Frame, network: Network, table: int) -> bool:
    """Whether the frame's chassis lists ``network``'s type in ``tunnel_types``; records
    TUNNEL_TYPE_UNSUPPORTED when not."""
    here = w.index.chassis.get(f.chassis or "")
    if here is not None and network.type in here.tunnel_types:
        return True
    w.drop(
        f,
        table,
        "TUNNEL_TYPE_UNSUPPORTED",
        f"chassis {f.chassis} does not terminate {network.type} tunnels",
        w.index.ref(CHASSIS, f.chassis or ""),
    )
    return False


def send(w: Walk, f: Frame, remote_id: str) -> Frame:
    """Table 75's tunnel output: record the encapsulation and return the frame as it
    arrives at ``remote_id`` (registers cleared; the VNI carries the network)."""
    idx, network = w.index, f.net
    assert network is not None
    here, remote = idx.chassis[f.chassis or ""], idx.chassis[remote_id]
    if w.record:
        w.hop(
            f,
            75,
            "tunnel",
            f"encapsulate {network.type} VNI {network.segmentation_id}: outer "
            f"{here.ip} → {remote.ip} ({remote.id})",
            [idx.net_ref(network), idx.ref(CHASSIS, remote.id)],
        )
        w.hops[-1].changes = {
            "tunnel": [
                None,
                {
                    "type": network.type,
                    "vni": network.segmentation_id,
                    "outer_src": str(here.ip),
                    "outer_dst": str(remote.ip),
                },
            ]
        }
    return f.copy(chassis=remote.id, src=None, dst=None, router=None)
