"""One figure of one benchmark, and the table they all print into."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Figure:
    """A measured number. ``baseline`` names what it is compared with in the same run."""

    name: str
    value: float
    unit: str
    size: str
    note: str = ""

    def cells(self) -> list[str]:
        value = f"{self.value:,.0f}" if abs(self.value) >= 100 else f"{self.value:.3g}"
        return [self.name, value, self.unit, self.size, self.note]


HEADER = ["figure", "value", "unit", "size", "note"]


def markdown_table(figures: list[Figure]) -> str:
    rows = [HEADER, ["---"] * len(HEADER), *[f.cells() for f in figures]]
    return "\n".join("| " + " | ".join(r) + " |" for r in rows)


def text_table(figures: list[Figure]) -> str:
    rows = [HEADER, *[f.cells() for f in figures]]
    widths = [max(len(r[i]) for r in rows) for i in range(len(HEADER))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows)
