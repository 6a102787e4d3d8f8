"""Extension: which port holds each allowed-address-pair address right now.

Keepalived/VRRP pairs share a virtual IP through Neutron allowed-address-pairs;
Dragonflow's ``active_port_detection`` app records in ``activeport`` which port
last answered ARP for it. This extension draws one ``vip`` node per (network,
address), owned by the network, linked to every port allowed to hold it, with
the holder named on the node and flagged on its edge, so "which VM has the VIP"
is one look (or one query: ``G.V().Has('Type', 'vip')``).
"""

from __future__ import annotations

from typing import Any

from dragonscope.nb import NbObject
from dragonscope.nb import tables as nb
from dragonscope.topology.extensions import ExtensionContext
from dragonscope.topology.metadata import MANAGER, host_prefix, put_addresses


class ActivePortExtension:
    name = "active-port"
    tables = frozenset({nb.LPORT})

    def contribute(self, obj: NbObject, ctx: ExtensionContext) -> None:
        network = obj.data.get("lswitch")
        pairs = obj.data.get("allowed_address_pairs")
        own = ctx.node
        if not isinstance(network, str) or not network or not isinstance(pairs, list) or not own:
            return
        holding: list[str] = []
        for pair in pairs:
            ip = pair.get("ip_address") if isinstance(pair, dict) else None
            address = host_prefix(ip)
            if address is None or not isinstance(ip, str):
                continue
            # Dragonflow keys an active port by network id and address, concatenated.
            active = ctx.get(nb.ACTIVEPORT, f"{network}{ip}")
            holder = active.data.get("detected_lport") if active is not None else None
            vip: dict[str, Any] = {"Name": ip, "Type": "vip", "Manager": MANAGER}
            put_addresses(vip, [address])
            vip["ActivePort"] = holder if isinstance(holder, str) else None
            vip_node = ctx.add_node(f"{network}/{ip}", vip)
            ctx.add_edge(ctx.node_of(nb.LSWITCH, network), vip_node, "ownership")
            ctx.add_edge(vip_node, own, "allowed-address-pair", {"Active": holder == obj.id})
            if holder == obj.id:
                holding.append(ip)
        if holding:
            ctx.add_metadata({"ActiveAddresses": holding})
