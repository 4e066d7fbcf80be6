"""Benchmark figures, kept together in ``bench/results/latest.json`` and printed as a table.

Each benchmark replaces all its own entries (those whose name starts with its prefix, such as
``"lookup:"``) and keeps the others', so that one file holds the latest figures of every
benchmark, and none that a benchmark no longer reports: ``{"machine": …, "date": …,
"results": [{"name", "value", "unit", "baseline", "ratio", "target", "at_least", "ok"}, …]}``.
``ratio`` is ``value / baseline`` and ``ok`` says whether it meets ``target``, when there is
one: an upper bound (a cost against a baseline), or a lower bound when ``at_least`` (a rate);
and ``limit``, where one is set, a bound of the value itself, in the same direction: a budget
the product sets, such as a page of the feed read in under 20 ms, or at least 1,000 feeds
polled a second.
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
    at_least: bool = False
    """``target`` is a lower bound of the ratio (a rate), not an upper one (a cost)."""
    limit: float | None = None
    """A bound of ``value`` itself, in its unit: upper, or lower with ``at_least``."""

    @property
    def ratio(self) -> float | None:
        return self.value / self.baseline if self.baseline else None

    @property
    def ok(self) -> bool | None:
        checks: list[bool] = []
        ratio = self.ratio
        if self.target is not None and ratio is not None:
            checks.append(ratio >= self.target if self.at_least else ratio <= self.target)
        if self.limit is not None:
            checks.append(self.value >= self.limit if self.at_least else self.value <= self.limit)
        return all(checks) if checks else None

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


def record(figures: list[Figure], prefix: str, path: Path = RESULTS) -> None:
    """Write ``figures`` into ``path``, replacing every earlier entry named ``prefix…``."""
    if not all(figure.name.startswith(prefix) for figure in figures):
        raise ValueError(f"every figure's name must start with {prefix!r}")
    try:
        kept = [
            r
            for r in json.loads(path.read_text())["results"]
            if not str(r.get("name", "")).startswith(prefix)
        ]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
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
    rows = [("name", "value", "baseline", "ratio", "target", "limit", "ok")]
    for figure in figures:
        ratio, ok = figure.ratio, figure.ok
        rows.append(
            (
                figure.name,
                f"{figure.value:.2f} {figure.unit}",
                "" if figure.baseline is None else f"{figure.baseline:.2f} {figure.unit}",
                "" if ratio is None else f"{ratio:.2f}",
                ""
                if figure.target is None
                else f"{'≥' if figure.at_least else '≤'} {figure.target:g}",
                ""
                if figure.limit is None
                else f"{'≥' if figure.at_least else '≤'} {figure.limit:g} {figure.unit}",
                "" if ok is None else ("yes" if ok else "NO"),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )
