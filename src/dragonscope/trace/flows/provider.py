"""The provider app's rules: VLAN and flat networks reach their physical network through the
patch port to its bridge (tables 0, 2, 55, 75, 80), for every such network with a port on the
chassis.

They follow the simulator's provider decisions: a frame from the physical network is
classified by its VLAN (table 0) and looked up like any other (2 → 55); unknown unicast and
remote destinations leave by the patch port tagged with the segmentation ID (75 → 80), and
frames from the physical network never go back to it (75, ``reg6=0``). Without the patch
port's OpenFlow port (the chassis's bridge mappings) a network's rules are left out, with a
note.
"""

from __future__ import annotations

from dragonscope.trace import model as t
from dragonscope.trace.flows.builder import DEFAULT, LOW, MEDIUM, Builder

UNICAST = "00:00:00:00:00:00/01:00:00:00:00:00"
UNTAGGED = "0x0000/0x1fff"


def provider(b: Builder) -> None:
    networks = {
        net_id
        for (chassis, net_id), ports in b.index.local_ports.items()
        if chassis == b.chassis and ports
    }
    written = False
    for net_id in sorted(networks):
        network = b.index.networks.get(net_id)
        if network is None or not network.is_provider:
            continue
        physnet = network.physnet or ""
        patch = b.ovs.patches.get(physnet)
        if patch is None:
            b.notes.append(
                f"no patch port to physical network {physnet!r} on the bridge "
                f"(network {network.name}): its provider rules are left out"
            )
            continue
        vlan = network.segmentation_id if network.type == "vlan" else None
        ref, meta = b.index.net_ref(network), f"metadata={network.key:#x}"
        tag = f"dl_vlan={vlan}" if vlan is not None else f"vlan_tci={UNTAGGED}"
        b.add(
            "provider",
            t.CLASSIFICATION,
            LOW,
            f"in_port={patch},{tag}",
            f"load:0->OXM_OF_IN_PORT[],set_field:{network.key:#x}->metadata,"
            + ("pop_vlan," if vlan is not None else "")
            + f"goto_table:{t.EXTERNAL_SOURCE}",
            ref,
        )
        b.add("provider", t.L2_LOOKUP, MEDIUM, f"{meta},dl_dst={UNICAST}", f"goto_table:{t.EGRESS}",
              ref)  # fmt: skip
        push = f"push_vlan:0x8100,set_field:{0x1000 | vlan:#x}->vlan_vid," if vlan else ""
        b.add("provider", t.EGRESS, LOW, meta, f"{push}goto_table:{t.EGRESS_EXTERNAL}", ref)
        b.add("provider", t.EGRESS, LOW + 1, f"{meta},reg6=0", "drop", ref)
        b.add("provider", t.EGRESS_EXTERNAL, MEDIUM, meta, f"output:{patch}", ref)
        written = True
    if written:
        b.add("provider", t.EXTERNAL_SOURCE, DEFAULT, "", f"goto_table:{t.L2_LOOKUP}")
