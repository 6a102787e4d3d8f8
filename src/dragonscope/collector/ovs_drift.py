"""Flow drift on a chassis: the rules Dragonflow's apps should have installed (``trace.flows``,
from the NB) against the rules the OVS probe last dumped, per port and per app.

Cheap by construction: the probe dumps the bridge anyway and keeps the same parsed list while
the dump's hash is unchanged, so a check runs only when that list, the bridge's ports or the
NB changed, at most once every ``min_interval`` and, for a chassis whose rules take seconds to
generate, less often still; the expected rules are generated again only after an NB or port
change, in a worker thread. The result is a ``Drift`` section (and a
problem line, which the UI shows as a badge) on the chassis node and on each drifting port.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from dragonscope.nb import NbObject, Snapshot, tables
from dragonscope.ovs import Flow, OvsProbe
from dragonscope.topology import Skeleton, node_id
from dragonscope.trace import DEFAULT_APPS, Tracer
from dragonscope.trace.flows import ChassisOvs, Drift, FlowSet, Unknown, drift, expected_flows

log = logging.getLogger("dragonscope.collector")

RULES_SHOWN = 20  # drifting rules listed in a node's details
IDLE_RATIO = 5  # seconds idle for each second a check takes
KEPT_FIELDS = {tables.LROUTER: ("unique_key",)}
"""What a compact slice keeps of routers it does not draw, for the drift: the rules that
name such a router's key are told from the rest (counted as not checked)."""

Generated = tuple[ChassisOvs, FlowSet, dict[int, str], Unknown]
"""The expected rules, what they were made for, lport unique_key -> id, and the ports the
NB view holds only as skeletons."""


class DriftWatch:
    """``patches`` (node ID -> metadata to add) after each check; ``on_change(ids)`` gets the
    node IDs whose patch changed. ``ready()`` says the NB is wholly read (and not being read
    again): a check against part of it would report the rules of what is to come as
    unexpected."""

    def __init__(
        self,
        probe: OvsProbe,
        snapshot: Callable[[], Mapping[tuple[str, str], NbObject]],
        on_change: Callable[[set[str]], None],
        apps: frozenset[str] = DEFAULT_APPS,
        min_interval: float = 5.0,
        ready: Callable[[], bool] = lambda: True,
    ) -> None:
        self.probe, self._snapshot, self._on_change = probe, snapshot, on_change
        self._ready = ready
        self.apps, self.min_interval = apps, min_interval
        self.patches: dict[str, dict[str, Any]] = {}
        self.last: Drift | None = None
        self.checks = 0
        # The expected rules, what they were made for, and lport unique_key -> id.
        self._expected: Generated | None = None
        self._nb_changes = 0  # NB changes so far: tells a generation the NB moved under it
        # The dump and the expected rules last compared (kept: compared by identity).
        self._checked: tuple[list[Flow], FlowSet] | None = None
        self._wake = asyncio.Event()
        self._wake.set()

    def nb_changed(self) -> None:
        self._expected = None
        self._nb_changes += 1
        self._wake.set()

    def poke(self) -> None:
        """The probe rebuilt: its flows or ports may have moved, even when its graph did not
        (a rule whose actions changed keeps its place in the per-table counts)."""
        self._wake.set()

    async def run(self) -> None:
        """Check when woken, at most once every ``min_interval`` and never busier than one
        part in ``IDLE_RATIO + 1``: under a stream of NB changes a large chassis, whose rules
        take seconds to generate, checks less often instead of using a core for it. A wake
        that finds nothing moved (most probe rebuilds: counters, OVSDB statistics) costs an
        identity check and does not hold back the next real check."""
        ready = 0.0
        while True:
            await self._wake.wait()
            await asyncio.sleep(max(0.0, ready - time.monotonic()))
            self._wake.clear()
            started = time.monotonic()
            try:
                worked = await self.check()
            except Exception:  # a bug here must not stop the collector: say it, go on
                log.exception("flow drift check failed")
                worked = True
            if worked:
                took = time.monotonic() - started
                ready = started + max(self.min_interval, took * (IDLE_RATIO + 1))

    async def check(self) -> bool:
        """Compare the installed rules with the expected ones if either moved; whether it did
        (or had to make the expected rules again)."""
        installed = self.probe.flows
        if installed is None or self.probe.state is None or not self._ready():
            return False
        ovs = ChassisOvs(*self.probe.ports())
        chassis = self.probe.settings.chassis
        current = self._expected
        if current is None or current[0] != ovs:
            snapshot = dict(self._snapshot())
            if (tables.CHASSIS, chassis) not in snapshot:
                return False
            changes = self._nb_changes
            current = await asyncio.to_thread(generate, snapshot, chassis, self.apps, ovs)
            # The NB moved while the rules were made: they serve this check, but are not kept
            # as the NB's, so the check that change woke makes them again.
            if self._nb_changes == changes:
                self._expected = current
        _, expected, ports, unknown = current
        last = self._checked
        if last is not None and last[0] is installed and last[1] is expected:
            return False  # nothing moved since the last check
        self.checks += 1
        report = await asyncio.to_thread(drift, expected, installed, ports, unknown)
        self._checked = (installed, expected)
        self.last = report
        self._publish(report)
        return True

    def _publish(self, report: Drift) -> None:
        patches: dict[str, dict[str, Any]] = {}
        chassis = node_id(tables.CHASSIS, report.chassis)
        counts = _counts(report.missing, report.unexpected, report.differ)
        section: dict[str, Any] = {
            "Expected": report.expected,
            "Installed": report.installed,
            **counts,
            "PerApp": {app: dict(c) for app, c in sorted(report.per_app.items())},
            "Rules": [
                {"Kind": kind, "Rule": rule, "App": app}
                for kind, rule, app, _ in itertools.islice(report.rules(), RULES_SHOWN)
            ],
            "NotChecked": report.not_generated,
        }
        if report.unchecked:
            section["Unchecked"] = report.unchecked
        patches[chassis] = {"Drift": section}
        if not report.clean:
            patches[chassis]["Problems"] = [_problem(counts)]
        by_lport = report.rules_by_lport(RULES_SHOWN)
        for lport, c in report.per_lport.items():
            port_counts = {k.capitalize(): c.get(k, 0) for k in ("missing", "unexpected", "differ")}
            rules = [
                {"Kind": kind, "Rule": rule, "App": app}
                for kind, rule, app in by_lport.get(lport, [])
            ]
            patches[node_id(tables.LPORT, lport)] = {
                "Drift": {**port_counts, "Rules": rules},
                "Problems": [_problem(port_counts)],
            }
        changed = {nid for nid in patches.keys() | self.patches.keys()
                   if patches.get(nid) != self.patches.get(nid)}  # fmt: skip
        for nid in self.patches.keys() & patches.keys():
            if nid not in changed:
                patches[nid] = self.patches[nid]  # the same object: nothing to republish
        self.patches = patches
        if changed:
            self._on_change(changed)


def generate(snapshot: Snapshot, chassis: str, apps: frozenset[str], ovs: ChassisOvs) -> Generated:
    """The rules to check on ``chassis``: those of the ports held only as skeletons (a slice
    read from etcd) could not be checked, so they are not made at all, nor kept."""
    index = Tracer(snapshot, apps).index
    ports = {p.key: p.id for p in index.ports.values()}
    skeletons = {tables.LPORT: set[str](), tables.LROUTER: set[str]()}
    for (table, object_id), obj in snapshot.items():
        if table in skeletons and isinstance(obj, Skeleton):
            skeletons[table].add(object_id)
    # A router port is an lport too: the rules of one held as a skeleton are not made.
    skip = frozenset(skeletons[tables.LPORT])
    expected = expected_flows(index, chassis, apps, ovs, skip=skip)
    return ovs, expected, ports, Unknown.of(index, skip, skeletons[tables.LROUTER])


def _counts(missing: list[Any], unexpected: list[Any], differ: list[Any]) -> dict[str, int]:
    return {"Missing": len(missing), "Unexpected": len(unexpected), "Differ": len(differ)}


def _problem(counts: dict[str, int]) -> str:
    said = ", ".join(f"{n} {kind.lower()}" for kind, n in counts.items() if n)
    return f"flow drift: {said} (installed rules against those the NB asks for)"
