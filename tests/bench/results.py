"""Benchmark figures, kept together in ``bench/results/latest.json`` and printed as a table.

Each benchmark replaces only its own entries (by name) and keeps the others', so that one file
holds the latest figure of every benchmark: ``{"machine": …, "date": …, "results": [{"name",
"value", "unit", "baseline", "ratio", "target", "ok"}, …]}``. ``ratio`` is ``value / baseline``
and ``ok`` says whether it meets ``target`` (an upper bound), when there is one.
"""

from __future__ import annotations

import json
import os
import platform
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parents[2] / "bench" / "results" / "latest.json"


@dataclass(frozen=True)
class Figure:
    name: str
    value: float
    unit: str
    baseline: float | None = None
    target: float | None = None

    @property
    def ratio(self) -> float | None:
        return self.value / self.baseline if self.baseline else None

    @property
    def ok(self) -> bool | None:
        ratio = self.ratio
        return None if self.target is None or ratio is None else ratio <= self.target

    def as_json(self) -> dict[str, Any]:
        ratio = self.ratio
        return {
            **asdict(self),
            "value": round(self.value, 3),
            "baseline": None if self.baseline is None else round(self.baseline, 3),
            "ratio": None if ratio is None else round(ratio, 2),
            "ok": self.ok,
        }


def machine() -> str:
    return f"{platform.node()} {platform.machine()}, {os.cpu_count()} CPUs, {platform.system()}"


def record(figures: list[Figure], path: Path = RESULTS) -> None:
    """Write ``figures`` into ``path``, replacing earlier entries of the same names."""
    names = {figure.name for figure in figures}
    try:
        kept = [r for r in json.loads(path.read_text())["results"] if r.get("name") not in names]
    except (OSError, ValueError, KeyError, TypeError):
        kept = []
    document = {
        "machine": machine(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "results": kept + [figure.as_json() for figure in figures],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")


def table(figures: list[Figure]) -> str:
    """The figures as a plain-text table."""
    rows = [("name", "value", "baseline", "ratio", "target", "ok")]
    for figure in figures:
        ratio, ok = figure.ratio, figure.ok
        rows.append(
            (
                figure.name,
                f"{figure.value:.2f} {figure.unit}",
                "" if figure.baseline is None else f"{figure.baseline:.2f} {figure.unit}",
                "" if ratio is None else f"{ratio:.2f}",
                "" if figure.target is None else f"≤ {figure.target:g}",
                "" if ok is None else ("yes" if ok else "NO"),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )
