"""Dragonflow's NB table names, spelled once.

Every other module names a table through these constants (or ``nb.schema.TABLES``), so a
typo is an import error, not a silently empty lookup, and a search for a table finds every use.
"""

from typing import Final

CHASSIS: Final = "chassis"
LSWITCH: Final = "lswitch"
LSUBNET: Final = "lsubnet"
LPORT: Final = "lport"
LROUTER: Final = "lrouter"
FLOATINGIP: Final = "floatingip"
SECGROUP: Final = "secgroup"
QOSPOLICY: Final = "qospolicy"
CHILD_PORT_SEGMENTATION: Final = "child_port_segmentation"
SFC_PORTPAIR: Final = "sfc_portpair"
SFC_PORTPAIRGROUP: Final = "sfc_portpairgroup"
SFC_FLOWCLASSIFIER: Final = "sfc_flowclassifier"
SFC_PORTCHAIN: Final = "sfc_portchain"
BGP_PEER: Final = "bgp_peer"
BGP_SPEAKER: Final = "bgp_speaker"
ACTIVEPORT: Final = "activeport"
MIGRATION: Final = "migration"
SERVICE: Final = "service"
PUBLISHER: Final = "publisher"
LISTENER: Final = "listener"
SWITCH_PORT: Final = "switch_port"
UNIQUE_KEY: Final = "unique_key"
PUBSUB: Final = "pubsub"

NON_OBJECT_TABLES: Final = frozenset({UNIQUE_KEY, PUBSUB})
"""Key prefixes that share the NB keyspace but hold no JSON objects (counters, pub/sub)."""
