"""What Open vSwitch actually has on a chassis, explained in Dragonflow's terms.

``OvsProbe(ProbeSettings(chassis, ovsdb, bridge), nb_snapshot, on_change)`` follows the local
OVSDB (read-only, live, through ``OvsdbMonitor``), scans the integration bridge's OpenFlow rules,
ties flows to NB objects, finds what is wrong and keeps this chassis's OVS graph in Skydive's
conventions (``nodes``, ``edges``, ``patches`` for NB nodes, ``remote_chassis`` at the far end
of the tunnel mesh), reporting after each rebuild which IDs changed. It reads the NB through
``dragonscope.nb`` and names elements through ``dragonscope.topology``; it publishes nothing
itself (the collector does). See ``docs/ovs-probe.md``.
"""

from dragonscope.ovs.flows import Flow
from dragonscope.ovs.nbview import NB_FIELDS
from dragonscope.ovs.ovsdb import OvsdbMonitor
from dragonscope.ovs.probe import DEFAULT_OVSDB, OvsProbe, ProbeSettings
from dragonscope.ovs.switch import Switch, SwitchError

__all__ = [
    "DEFAULT_OVSDB",
    "NB_FIELDS",
    "Flow",
    "OvsProbe",
    "OvsdbMonitor",
    "ProbeSettings",
    "Switch",
    "SwitchError",
]
