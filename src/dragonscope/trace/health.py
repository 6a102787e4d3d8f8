"""Hints about the control plane behind a trace, from the NB's own runtime tables.

The simulation trusts the NB; these notes say when the datapath may not match it: a
chassis whose local controller stopped sending heartbeats (its flows are frozen or gone),
or a port that Dragonflow has seen plugging in on another chassis (a live migration).
Heartbeats are compared with the newest one in the same snapshot, so no clock is needed.
"""

from __future__ import annotations

from collections.abc import Iterable

from dragonscope.nb.tables import MIGRATION
from dragonscope.trace.index import NbIndex
from dragonscope.trace.objects import Port

CONTROLLER = "df-local-controller"
SERVICE_DOWN_TIME = 80.0  # seconds, Dragonflow's default service_down_time


def controller_notes(index: NbIndex, chassis_ids: Iterable[str]) -> list[str]:
    newest = index.newest_heartbeat
    if newest is None:
        return []
    notes = []
    for chassis in sorted(set(chassis_ids)):
        seen = index.controller_seen.get(chassis)
        if seen is None:
            notes.append(f"chassis {chassis} has no {CONTROLLER} heartbeat in the NB")
        elif newest - seen > SERVICE_DOWN_TIME:
            notes.append(
                f"the {CONTROLLER} of {chassis} looks down: its last heartbeat is "
                f"{newest - seen:.0f} s older than the newest one (limit {SERVICE_DOWN_TIME:.0f} s)"
            )
    return notes


def migration_notes(index: NbIndex, ports: Iterable[Port]) -> list[str]:
    notes = []
    for port in ports:
        record = index.get(MIGRATION, port.id)
        if record and record.get("dest_chassis") and record.get("dest_chassis") != port.chassis:
            notes.append(
                f"{port.name} has a migration record (status {record.get('status')}) towards "
                f"{record.get('dest_chassis')}; the trace uses its binding on {port.chassis}"
            )
    return notes
