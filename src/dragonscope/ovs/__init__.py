"""What Open vSwitch actually has on a chassis, explained in Dragonflow's terms.

``ovsdb`` follows the local OVSDB (read-only, live), ``flows`` parses the integration bridge's
OpenFlow rules, ``tables`` knows Dragonflow's pipeline, ``attribution`` ties flows to NB
objects, ``problems`` says what is wrong, ``graph`` draws it in Skydive's OVS conventions and
``probe`` runs it all as one asyncio task. See ``docs/ovs-probe.md``.
"""
