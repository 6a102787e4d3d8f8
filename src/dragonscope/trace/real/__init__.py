"""Real traces: ``ovs-appctl ofproto/trace`` on each chassis the packet crosses, decoded in
Dragonflow's terms and set beside the simulation.

    >>> run = RealTracer(tracer, {"compute-1": ChassisOvs(...), ...}).begin(request)
    >>> while (probe := run.next_probe()) is not None:
    ...     run.feed(probe, output_of("ovs-appctl", *probe.args()))
    >>> report(run)["agreement"]
"""

from dragonscope.trace.real.follow import ChassisTrace, Probe, RealRun, RealTracer
from dragonscope.trace.real.ofproto import packet_flow
from dragonscope.trace.real.render import render_real
from dragonscope.trace.real.report import report

__all__ = ["ChassisTrace", "Probe", "RealRun", "RealTracer", "packet_flow", "render_real", "report"]
