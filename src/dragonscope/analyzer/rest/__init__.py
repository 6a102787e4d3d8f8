"""The analyzer's HTTP routes: Skydive's REST API, dragonscope's own, the web UI,
and optionally Skydive's own UI.

Each module mounts its routes on a router with the typed services it needs
(the authenticator, the live graph, a rule book...), never the whole analyzer;
per-resource routes (rules, alerts, nodes, edges) share one registration (``crud``).
"""

from dragonscope.analyzer.rest.alerts import mount_alerts
from dragonscope.analyzer.rest.changes import mount_changes
from dragonscope.analyzer.rest.elements import mount_elements
from dragonscope.analyzer.rest.login import LoginApi
from dragonscope.analyzer.rest.middleware import cors, errors, request_guard
from dragonscope.analyzer.rest.openapi import mount as mount_openapi
from dragonscope.analyzer.rest.problems import mount_problems
from dragonscope.analyzer.rest.projects import mount_projects, project_source
from dragonscope.analyzer.rest.real_trace import mount_real_trace
from dragonscope.analyzer.rest.rules import mount_rules
from dragonscope.analyzer.rest.skydive_compat import mount_skydive_compat
from dragonscope.analyzer.rest.skydive_ui import mount_skydive_ui
from dragonscope.analyzer.rest.status import StatusApi
from dragonscope.analyzer.rest.topology import TopologyApi
from dragonscope.analyzer.rest.trace import TraceService, mount_trace
from dragonscope.analyzer.rest.ui import mount_ui
from dragonscope.analyzer.rest.views import mount_views

__all__ = [
    "LoginApi",
    "StatusApi",
    "TopologyApi",
    "TraceService",
    "cors",
    "errors",
    "mount_alerts",
    "mount_changes",
    "mount_elements",
    "mount_openapi",
    "mount_problems",
    "mount_projects",
    "mount_real_trace",
    "mount_rules",
    "mount_skydive_compat",
    "mount_skydive_ui",
    "mount_trace",
    "mount_ui",
    "mount_views",
    "project_source",
    "request_guard",
]
