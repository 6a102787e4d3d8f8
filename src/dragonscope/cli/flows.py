"""``dragonscope flows``: the OpenFlow rules Dragonflow's apps would install on a chassis for
the current NB, one per line in ``ovs-ofctl add-flow`` syntax with the app that owns it;
``--diff`` compares them with the rules the chassis's switch holds (missing, unexpected,
differing, per port and per app). Exit code: 0, or 1 when ``--diff`` finds drift.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Sequence

from dragonscope.cli.common import CliError, Subparsers
from dragonscope.cli.sources import nb_snapshot
from dragonscope.ovs import Switch, SwitchError
from dragonscope.trace import TraceError, Tracer, parse_apps
from dragonscope.trace.flows import ChassisOvs, FlowSet, RuleLike, drift, expected_flows


def add_ovs_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--ovs",
        action="append",
        default=[],
        metavar="CHASSIS=OVSDB[,appctl=PATH]",
        help="where a chassis's Open vSwitch is, when not at the default places (repeatable)",
    )


def switches(specs: list[str]) -> dict[str, Switch]:
    try:
        return {s.chassis: s for s in (Switch.parse(spec) for spec in specs)}
    except ValueError as exc:
        raise CliError(str(exc)) from None


def register(subparsers: Subparsers) -> None:
    p = subparsers.add_parser(
        "flows", help="the rules Dragonflow should have installed", description=__doc__
    )
    p.add_argument("--nb", required=True, help="read this NB")
    p.add_argument("--chassis", required=True, help="the chassis (its Dragonflow host name)")
    p.add_argument("--apps", help="Dragonflow app set, as for trace")
    add_ovs_argument(p)
    p.add_argument("--diff", action="store_true", help="compare with the chassis's installed rules")
    p.add_argument("--format", choices=("text", "ofctl", "json"), default="text")
    p.set_defaults(func=run_flows)


async def _load(args: argparse.Namespace) -> tuple[FlowSet, Tracer, Sequence[RuleLike]]:
    snapshot = await nb_snapshot(args.nb)
    switch = switches(args.ovs).get(args.chassis) or (Switch(args.chassis) if args.diff else None)
    ovs = ChassisOvs()
    installed: Sequence[RuleLike] = ()
    if switch is not None:
        try:
            ovs = ChassisOvs(*await switch.ports())
            if args.diff:
                installed = await switch.rules()
        except SwitchError as exc:
            raise CliError(f"chassis {args.chassis}: {exc}") from None
    try:
        tracer = Tracer(snapshot, parse_apps(args.apps))
        flows = expected_flows(tracer.index, args.chassis, tracer.apps, ovs)
        return flows, tracer, installed
    except (ValueError, TraceError) as exc:
        raise CliError(str(exc)) from None


def run_flows(args: argparse.Namespace) -> int:
    flows, tracer, installed = asyncio.run(_load(args))
    if args.diff:
        report = drift(flows, installed, {p.key: p.id for p in tracer.index.ports.values()})
        out = report.to_json()
        if args.format == "json":
            print(json.dumps(out, indent=2))
        else:
            counts = out["counts"]
            print(
                f"{args.chassis}: {out['expected']} expected, {out['installed']} installed; "
                f"{counts['missing']} missing, {counts['unexpected']} unexpected, "
                f"{counts['differ']} differ"
            )
            for f in out["missing"]:
                print(f"missing     {f['rule']}  # {f['app']} {f.get('owner', {}).get('name', '')}")
            for text in out["unexpected"]:
                print(f"unexpected  {text}")
            for d in out["differ"]:
                print(f"differs     {d['expected']['rule']}\n  installed {d['installed']}")
            if out["not_generated"]:
                print(f"not checked (rules not generated): {', '.join(out['not_generated'])}")
        return 0 if report.clean else 1
    if args.format == "json":
        print(json.dumps(flows.to_json(), indent=2))
    elif args.format == "ofctl":
        print("\n".join(f.text() for f in flows.flows))
    else:
        for g in flows.groups:  # installed before the rules that name them (add-groups)
            owner = f" {g.owner.name}" if g.owner is not None else ""
            print(f"{g.text()}  # {g.app} select group{owner}")
        for f in flows.flows:
            owner = f" {f.owner.name}" if f.owner is not None else ""
            print(f"{f.text()}  # {f.app}{owner}")
        for note in flows.notes:
            print(f"# note: {note}")
        if flows.missing_apps:
            print(f"# not generated: {', '.join(sorted(flows.missing_apps))}")
    return 0
