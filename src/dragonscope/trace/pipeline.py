"""The dispatch table of the walk: each ``Stage`` and the function that simulates it.

Stage modules name their successors by ``Stage`` and never import one another for it;
this module alone knows them all, so adding a stage touches it and its own module.
"""

from __future__ import annotations

from types import MappingProxyType

from dragonscope.trace import dispatch, nat, receiving, source_side, switching
from dragonscope.trace.walk import Stage, Step

STEPS: MappingProxyType[Stage, Step] = MappingProxyType(
    {
        Stage.CLASSIFY: source_side.classify,
        Stage.PORT_SECURITY: source_side.port_security,
        Stage.EGRESS_SG: source_side.egress_sg,
        Stage.SERVICES: source_side.services,
        Stage.ARP_TABLE: source_side.arp_table,
        Stage.ND_TABLE: source_side.nd_table,
        Stage.DHCP_TABLE: source_side.dhcp_table,
        Stage.L2_LOOKUP: switching.l2_lookup,
        Stage.L3_LOOKUP: switching.l3_lookup,
        Stage.L3_PROACTIVE: switching.l3_proactive,
        Stage.EGRESS: dispatch.egress,
        Stage.TUNNEL_ARRIVAL: receiving.tunnel_arrival,
        Stage.TUNNEL_DISPATCH: receiving.tunnel_dispatch,
        Stage.PHYSNET_ARRIVAL: receiving.physnet_arrival,
        Stage.INGRESS_SG: receiving.ingress_sg,
        Stage.DELIVER: receiving.deliver,
        Stage.DNAT_EGRESS: nat.dnat_egress,
        Stage.DNAT_INGRESS: nat.dnat_ingress,
        Stage.SNAT_RETURN: nat.snat_return,
    }
)
assert set(STEPS) == set(Stage), "every stage needs its step"
