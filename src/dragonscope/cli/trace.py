"""``dragonscope trace`` and ``dragonscope reach``: thin wrappers around the Tracer.

The snapshot comes from the NB (``--nb URL``) or from an analyzer's graph
(``--analyzer HOST:PORT``, rebuilt from each node's ``Dragonflow`` metadata). The exit
code says the verdict: 0 delivered/replied/external, 1 dropped, 2 bad input.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import Any

from dragonscope.cli.common import CliError, Subparsers, operator_errors
from dragonscope.cli.flows import add_ovs_argument, switches
from dragonscope.cli.sources import add_source_arguments, analyzer_http, analyzer_project_names
from dragonscope.cli.sources import snapshot as source_snapshot
from dragonscope.config import ConfigError
from dragonscope.graph import Json
from dragonscope.nb import ProjectNames, read_project_names
from dragonscope.ovs import Switch, SwitchError
from dragonscope.skydive import AnalyzerError
from dragonscope.trace import (
    FORMATS,
    PROTOCOLS,
    TraceError,
    Tracer,
    TraceRequest,
    apply_patch,
    matrix,
    parse_apps,
    render,
    render_matrix,
)
from dragonscope.trace.flows import ChassisOvs
from dragonscope.trace.real import Probe, RealTracer, drive, render_real, report


def _source_args(parser: argparse.ArgumentParser) -> None:
    add_source_arguments(
        parser,
        required=True,
        nb_help="read this NB",
        analyzer_help="read the analyzer's graph (each node keeps its NB object)",
    )
    parser.add_argument(
        "--patch",
        metavar="FILE",
        help="what-if: JSON patch of NB objects "
        "applied to a copy of the snapshot (see docs/trace.md)",
    )
    parser.add_argument(
        "--apps",
        help="Dragonflow app set: a,b,c exactly, or +app/-app "
        "relative to the devstack default (e.g. +chassis_snat)",
    )


def register(subparsers: Subparsers) -> None:
    p = subparsers.add_parser(
        "trace", help="simulate a packet through Dragonflow's pipeline", description=__doc__
    )
    _source_args(p)
    p.add_argument(
        "--from",
        dest="source",
        required=True,
        metavar="SRC",
        help="lport id or name, IP, IP@network, or 'external'",
    )
    p.add_argument(
        "--to",
        dest="destination",
        metavar="DST",
        help="lport id or name, IP (a port's, a floating IP, or outside), 'metadata'",
    )
    p.add_argument("--proto", choices=PROTOCOLS)
    for name in ("sport", "dport", "ttl", "vlan"):
        p.add_argument(f"--{name}", type=int)
    p.add_argument("--icmp-type", type=int)
    p.add_argument("--icmp-code", type=int)
    for name in ("eth-src", "eth-dst", "ip-src", "ip-dst"):
        p.add_argument(f"--{name}", help="override the derived header field")
    p.add_argument("--chassis", help="arrival chassis for an external or VTEP source")
    p.add_argument("--reply", action="store_true", help="also simulate the reply")
    p.add_argument("--ct", action="store_true", help="assume an established connection")
    p.add_argument("--format", choices=FORMATS, default="detailed")
    p.add_argument(
        "--real",
        action="store_true",
        help="also trace it with ovs-appctl ofproto/trace on each chassis it crosses "
        "(locally, --ovs says where each switch is; or through --analyzer, which asks each "
        "chassis's collector: admins only) and set both side by side",
    )
    add_ovs_argument(p)
    p.set_defaults(func=run_trace)

    r = subparsers.add_parser("reach", help="port-by-port reachability matrix of a tenant")
    _source_args(r)
    r.add_argument("--tenant", help="project name or id (the objects' topic)")
    r.add_argument(
        "--tenant-names",
        metavar="FILE",
        help="project names: 'project_id name' lines (with --analyzer, its names are used)",
    )
    r.add_argument("--network", help="network id or name")
    r.add_argument("--proto", choices=("tcp", "udp", "icmp"), default="tcp")
    r.add_argument("--dport", type=int, default=22)
    r.add_argument("--ct", action="store_true", help="assume established connections")
    r.add_argument("--format", choices=("table", "json"), default="table")
    r.set_defaults(func=run_reach)


def load_tracer(args: argparse.Namespace) -> Tracer:
    snapshot = asyncio.run(source_snapshot(args))
    if args.patch:
        with operator_errors(OSError, ValueError, what=f"cannot read patch {args.patch}"):
            patch = json.loads(Path(args.patch).read_text())
        with operator_errors(TraceError):
            snapshot = apply_patch(snapshot, patch)
    with operator_errors(ValueError):
        return Tracer(snapshot, parse_apps(args.apps))


def run_trace(args: argparse.Namespace) -> int:
    if args.real and args.analyzer:
        return _run_real_analyzer(args)
    tracer = load_tracer(args)
    with operator_errors(TraceError):
        request = _request(args)
        if args.real:
            return _run_real(args, tracer, request)
        result = tracer.trace(request).to_json()
    print(render(result, args.format))
    return 1 if result["verdict"] == "dropped" else 0


def _request(args: argparse.Namespace) -> TraceRequest:
    return TraceRequest(
        source=args.source,
        destination=args.destination,
        proto=args.proto,
        sport=args.sport,
        dport=args.dport,
        icmp_type=args.icmp_type,
        icmp_code=args.icmp_code,
        ttl=args.ttl,
        vlan=args.vlan,
        chassis=args.chassis,
        eth_src=args.eth_src,
        eth_dst=args.eth_dst,
        ip_src=args.ip_src,
        ip_dst=args.ip_dst,
        ct=args.ct,
        reply=args.reply,
    )


def _run_real_analyzer(args: argparse.Namespace) -> int:
    """The analyzer asks each chassis's collector (an admin's request)."""
    if args.patch or args.ovs:
        raise CliError("--real with --analyzer traces the switches as they are: no --patch/--ovs")
    with operator_errors(TraceError):
        body: dict[str, Json] = {**_request(args).to_json()}
    if args.apps:
        body["apps"] = args.apps

    async def ask() -> Json:
        async with analyzer_http(args) as http:
            return await http.real_trace(body)

    with operator_errors(AnalyzerError):
        out = asyncio.run(ask())
    if not isinstance(out, dict):
        raise CliError("the analyzer's real trace is not a JSON object")
    print(json.dumps(out, indent=2) if args.format == "json" else render_real(out))
    agreement = out.get("agreement")
    return 1 if isinstance(agreement, dict) and agreement.get("status") == "disagree" else 0


def _run_real(args: argparse.Namespace, tracer: Tracer, request: TraceRequest) -> int:
    """Exit code 1 when the real trace disagrees with the simulation."""
    named = switches(args.ovs)
    if not named:
        start = tracer.resolver.resolve(request)
        if start.chassis is None:
            raise CliError("--real needs --ovs CHASSIS=OVSDB: the source has no chassis")
        named = {start.chassis: Switch(start.chassis)}
    out = asyncio.run(_real(tracer, request, named))
    print(json.dumps(out, indent=2) if args.format == "json" else render_real(out))
    return 1 if out["agreement"]["status"] == "disagree" else 0


async def _real(tracer: Tracer, request: TraceRequest, named: dict[str, Switch]) -> dict[str, Any]:
    async def ports(chassis: str) -> ChassisOvs | None:
        switch = named.get(chassis)
        return ChassisOvs(*await switch.ports()) if switch is not None else None

    async def trace(probe: Probe) -> str:
        return await named[probe.chassis].trace(probe.args())

    with operator_errors(SwitchError):
        run = await drive(RealTracer(tracer).begin(request), ports, trace)
    return report(run)


def project_names(args: argparse.Namespace) -> ProjectNames:
    """``--tenant-names FILE``, else the analyzer's names when reading from one."""
    if args.tenant_names:
        try:
            return read_project_names(args.tenant_names)
        except ConfigError as exc:
            raise CliError(str(exc)) from None
    if args.analyzer:
        return asyncio.run(analyzer_project_names(args))
    return ProjectNames()


def run_reach(args: argparse.Namespace) -> int:
    tracer = load_tracer(args)
    projects = project_names(args) if args.tenant else ProjectNames()
    with operator_errors(TraceError):
        grid = matrix(
            tracer, args.tenant, args.network, args.proto, args.dport, args.ct, projects=projects
        )
    print(json.dumps(grid, indent=2) if args.format == "json" else render_matrix(grid))
    return 0
