"""Text forms of a trace, from its JSON form (so a result fetched over REST renders the
same). Three levels, like ovn-trace: ``detailed`` (every hop, why, objects, header
changes), ``summary`` (one line per hop), ``minimal`` (header changes and the verdict)."""

from __future__ import annotations

import json
from typing import Any

FORMATS = ("detailed", "summary", "minimal", "json")


def _value(v: Any) -> str:
    return json.dumps(v, separators=(",", ":")) if isinstance(v, dict) else str(v)


def _changes(changes: dict[str, list[Any]]) -> str:
    return ", ".join(f"{k}: {_value(b)} → {_value(a)}" for k, (b, a) in changes.items())


def verdict_line(result: dict[str, Any]) -> str:
    final = result["final"]
    verdict = result["verdict"].upper()
    where = f" on {final['chassis']}" if final.get("chassis") else ""
    if result["verdict"] == "dropped":
        obj = final.get("object")
        by = f" [{obj['table']} {obj['name']}]" if obj else ""
        at = (
            "in the guest"
            if final["table"] is None
            else f"at table {final['table']} {final['table_name']} ({final['stage']})"
        )
        return f"{verdict} {final.get('code')} {at}{where}: {final['reason']}{by}"
    if result["verdict"] == "delivered" and final.get("port"):
        return f"{verdict} to {final['port']['name']}{where}: {final['reason']}"
    return f"{verdict}{where}: {final['reason']}"


def _table(hop: dict[str, Any]) -> str:
    if hop["table"] is None:
        return str(hop["stage"])
    return f"table {hop['table']} {hop['table_name']} ({hop['app']})"


def render(result: dict[str, Any], fmt: str = "detailed") -> str:
    """``result`` is ``TraceResult.to_json()``."""
    if fmt == "json":
        return json.dumps(result, indent=2)
    lines: list[str] = []
    packet = result.get("packet") or {}
    if fmt != "minimal":
        lines.append("packet: " + " ".join(f"{k}={v}" for k, v in packet.items()))
        lines += [f"  assume: {a}" for a in result.get("assumptions", [])]
    for hop in result["hops"]:
        fork = f"[{hop['fork']}] " if hop["fork"] != "0" else ""
        if fmt == "minimal":
            if hop["changes"]:
                lines.append(f"{fork}{_changes(hop['changes'])};")
            continue
        head = f"{hop['seq']:3d}. {fork}{hop['chassis'] or '-'} {_table(hop)}: {hop['decision']}"
        if fmt == "summary":
            lines.append(f"{head}: {hop['why']}")
            continue
        lines.append(head)
        lines.append(f"       {hop['why']}")
        for obj in hop["objects"]:
            detail = f" ({obj['detail']})" if obj.get("detail") else ""
            lines.append(f"       {obj['table']} {obj['name']}{detail} node {obj['node_id']}")
        if hop["changes"]:
            lines.append(f"       {_changes(hop['changes'])}")
    if len(result.get("outcomes", [])) > 1 and fmt != "minimal":
        lines.append("branches:")
        for o in result["outcomes"]:
            port = f" {o['port']['name']}" if o.get("port") else ""
            lines.append(f"  [{o['fork']}] {o['verdict']}{port} on {o['chassis']}: {o['reason']}")
    lines.append(verdict_line(result))
    for note in result.get("notes", []):
        lines.append(f"note: {note}")
    if "reply" in result:
        lines.append("")
        lines.append("reply:")
        lines.append(render(result["reply"], fmt))
    return "\n".join(lines)


GRID_LIMIT = 40  # beyond this many ports a grid no longer fits a terminal


def render_matrix(matrix: dict[str, Any]) -> str:
    """Port-by-port grid (``+`` delivered, ``r`` replied, ``e`` external, ``x`` dropped), or
    one summary line per source port when the tenant is too big for a grid; then the
    drop codes with their counts."""
    names = [p["name"] for p in matrix["ports"]]
    width = max((len(n) for n in names), default=4)
    marks = {"delivered": "+", "replied": "r", "external": "e"}
    lines = [
        f"{matrix['proto']}"
        + (f"/{matrix['dport']}" if matrix.get("dport") else "")
        + f", {len(names)} ports"
    ]
    if len(names) <= GRID_LIMIT:
        lines.append("from/to".ljust(width) + "  " + " ".join(f"{i:>3}" for i in range(len(names))))
        for i, (name, row) in enumerate(zip(names, matrix["rows"], strict=True)):
            cells = ["  ." if c is None else f"{marks.get(c['verdict'], 'x'):>3}" for c in row]
            lines.append(f"{name:<{width}}  " + " ".join(cells) + f"   {i}")
        lines.append("legend: + delivered, r replied, e external, x dropped, . self")
    else:
        for name, row in zip(names, matrix["rows"], strict=True):
            answered = [c for c in row if c is not None]
            ok = sum(1 for c in answered if c["verdict"] in marks)
            why: dict[str, int] = {}
            for c in answered:
                if c["verdict"] not in marks:
                    key = c.get("code") or c["verdict"]
                    why[key] = why.get(key, 0) + 1
            detail = ", ".join(f"{k} {v}" for k, v in sorted(why.items(), key=lambda kv: -kv[1]))
            lines.append(
                f"{name:<{width}}  reaches {ok}/{len(answered)}" + (f"; {detail}" if detail else "")
            )
    codes: dict[str, int] = {}
    for row in matrix["rows"]:
        for cell in row:
            if cell and cell["verdict"] in ("dropped", "error"):
                key = cell.get("code") or cell["verdict"]
                codes[key] = codes.get(key, 0) + 1
    lines += [f"  {code}: {n} cell(s)" for code, n in sorted(codes.items())]
    return "\n".join(lines)
