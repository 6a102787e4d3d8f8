"""The metadata_service app's rules: a guest's request to 169.254.169.254:80 skips the security
groups (port security table), is sent to the proxy's port (table 20) and out of the metadata
tap with the source port's key as its source address (table 35); what comes back from the tap
is dispatched again (table 0).

The same decisions as the simulator's (``responders``: the address, the ports, the source
address from ``reg6``). Two of the app's rules depend on the tap itself and are not written:
its ARP answer for 169.254.169.254 (the tap's MAC) and the ``learn`` rule of a connection's
first packet (table 35, priority 200), which remembers the way back in table 40.
"""

from __future__ import annotations

from dragonscope.trace import model as t
from dragonscope.trace.flows.builder import MEDIUM, VERY_HIGH, Builder
from dragonscope.trace.responders import METADATA_IP, METADATA_PORT, METADATA_PROXY_PORT

REQUEST = f"tcp,nw_dst={METADATA_IP},tp_dst={METADATA_PORT}"


def metadata_service(b: Builder) -> None:
    tap = b.ovs.metadata
    if tap is None:
        b.notes.append("no tap-metadata interface on the bridge: the metadata rules are left out")
        return
    b.add("metadata_service", t.PORTSEC, VERY_HIGH, REQUEST, f"resubmit(,{t.PORTSEC_OUT_SERVICES})")
    b.add("metadata_service", t.SERVICES, MEDIUM, REQUEST,
          f"set_field:{METADATA_PROXY_PORT}->tcp_dst,goto_table:{t.METADATA_SERVICE}")  # fmt: skip
    # The source address becomes 0x80000000 | reg6 (responders.metadata_source).
    b.add("metadata_service", t.METADATA_SERVICE, MEDIUM, "ip",
          "move:NXM_NX_REG6[0..30]->NXM_OF_IP_SRC[0..30],load:1->NXM_OF_IP_SRC[31],"
          f"output:{tap}")  # fmt: skip
    back = f"resubmit(,{t.METADATA_REPLY})"
    b.add("metadata_service", t.CLASSIFICATION, MEDIUM, f"in_port={tap},arp",
          f"{back},IN_PORT")  # fmt: skip
    b.add("metadata_service", t.CLASSIFICATION, MEDIUM, f"in_port={tap},ip",
          f"{back},resubmit(,{t.INGRESS_DISPATCH})")  # fmt: skip
