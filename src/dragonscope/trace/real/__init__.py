"""Real traces: ``ovs-appctl ofproto/trace`` on each chassis the packet crosses, decoded in
Dragonflow's terms and set beside the simulation.

    >>> run = RealTracer(tracer).begin(request)
    >>> await drive(run, ports_of_chassis, run_ofproto_trace)   # the caller's I/O
    >>> report(run)["agreement"]
"""

from dragonscope.trace.real.follow import (
    ChassisTrace,
    ExpectedCache,
    Probe,
    RealRun,
    RealTracer,
    drive,
)
from dragonscope.trace.real.ofproto import packet_flow
from dragonscope.trace.real.render import render_real
from dragonscope.trace.real.report import report

__all__ = [
    "ChassisTrace",
    "ExpectedCache",
    "Probe",
    "RealRun",
    "RealTracer",
    "drive",
    "packet_flow",
    "render_real",
    "report",
]
