"""The OpenFlow rules Dragonflow's apps would install on a chassis, from the simulator's
model, and how they compare with the rules a switch really holds.

    >>> rules = expected_flows(NbIndex(snapshot), "compute-1", DEFAULT_APPS, ChassisOvs(...))
    >>> [f.text() for f in rules.flows]            # ovs-ofctl add-flow syntax
    >>> drift(rules, installed_rules).to_json()    # missing / unexpected / differing
"""

from dragonscope.trace.flows.builder import ChassisOvs
from dragonscope.trace.flows.drift import Drift, Unknown, drift
from dragonscope.trace.flows.generate import GENERATED_APPS, FlowSet, expected_flows
from dragonscope.trace.flows.rule import ExpectedFlow, ExpectedGroup, RuleLike, table_name

__all__ = [
    "GENERATED_APPS",
    "ChassisOvs",
    "Drift",
    "ExpectedFlow",
    "ExpectedGroup",
    "FlowSet",
    "RuleLike",
    "Unknown",
    "drift",
    "expected_flows",
    "table_name",
]
