"""A real trace as text: the side-by-side rows, the first difference, the agreement."""

from __future__ import annotations

from typing import Any


def _cell(hop: dict[str, Any] | None, real: bool) -> str:
    if hop is None:
        return "-"
    if real:
        meaning = "; ".join(hop["meaning"][:3])
        return f"[{hop['app']}] {hop['rule']}" + (f"  ({meaning})" if meaning else "")
    return f"{hop['decision']}: {hop['why']}"


def render_real(out: dict[str, Any]) -> str:
    lines = []
    sim, real = out["simulated"], out["real"]
    lines.append(f"simulated: {sim['verdict']} — {sim['final']['reason']}")
    lines.append(f"real:      {real['verdict']}")
    for row in out["side_by_side"]:
        mark = ">>" if row.get("differs") else "  "
        where = f"{row['chassis'] or '-'}:{row['table'] if row['table'] is not None else '-'}"
        lines.append(f"{mark} {where:16} sim  {_cell(row['simulated'], False)}")
        lines.append(f"   {'':16} real {_cell(row['real'], True)}")
    first = out["first_difference"]
    if first:
        where = f"{first['chassis']} table {first['table']} ({first['table_name']})"
        lines.append(f"first difference at {where}: {first['why']}")
        expected = first.get("expected_rule")
        lines.append(
            f"  expected:  {expected['rule'] if expected else '(no rule of the objects named)'}"
        )
        lines.append(f"  installed: {first.get('installed_rule') or '(none)'}")
    for note in real["notes"]:
        lines.append(f"note: {note}")
    agreement = out["agreement"]
    lines.append(f"agreement: {agreement['status']} — {agreement['why']}")
    return "\n".join(lines)
