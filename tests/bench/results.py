"""Benchmark figures, kept together in ``bench/results/latest.json`` and printed as a table.

Each benchmark replaces all its own entries (those whose name starts with its prefix, such as
``"lookup:"``) and keeps the others', so that one file holds the latest figures of every
benchmark, and none that a benchmark no longer reports::

    {"machine": …, "date": …, "ok": true,
     "results": [{"name", "value", "unit", "baseline", "ratio",
                  "target", "target_of", "at_least", "limit", "ok"}, …],
     "context": [{"name", "value", "unit", "baseline", "ratio"}, …]}

``results`` holds one object per figure held to a target, each with its target and whether it
meets it (``ok``); the file's ``ok`` says whether all of them do. ``ratio`` is ``value /
baseline``; ``target`` bounds the ratio (``target_of``: ``"ratio"``: a cost against a
baseline measured in the same run), or, where a figure has no ratio target, the value itself
(``"value"``: a budget the product sets, such as a page of the feed read in under 20 ms); an
upper bound, or a lower one when ``at_least`` (a rate). ``limit`` is a bound of the value kept
besides a ratio target (at least 1,000 feeds polled a second). ``context`` holds what was
measured with no target of its own: the baselines, and what explains the figures (peak
memory, uploads turned away).
"""

from __future__ import annotations

import json
import os
import platform
from dataclasses import dataclass
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

    @property
    def judged(self) -> bool:
        """It is held to a target (of its ratio, or of its value)."""
        return self.ok is not None

    def as_json(self) -> dict[str, Any]:
        ratio = self.ratio
        shown: dict[str, Any] = {
            "name": self.name,
            "value": round(self.value, 3),
            "unit": self.unit,
            "baseline": None if self.baseline is None else round(self.baseline, 3),
            "ratio": None if ratio is None else round(ratio, 2),
        }
        if not self.judged:
            return shown
        of_ratio = self.target is not None and ratio is not None
        return {
            **shown,
            "target": self.target if of_ratio else self.limit,
            "target_of": "ratio" if of_ratio else "value",
            "at_least": self.at_least,
            "limit": self.limit if of_ratio else None,
            "ok": self.ok,
        }


def machine() -> str:
    return f"{platform.node()} {platform.machine()}, {os.cpu_count()} CPUs, {platform.system()}"


def record(figures: list[Figure], prefix: str, path: Path = RESULTS) -> None:
    """Write ``figures`` into ``path``, replacing every earlier entry named ``prefix…``."""
    if not all(figure.name.startswith(prefix) for figure in figures):
        raise ValueError(f"every figure's name must start with {prefix!r}")
    kept: dict[str, list[dict[str, Any]]] = {"results": [], "context": []}
    try:
        earlier = json.loads(path.read_text())
        for part in kept:
            kept[part] = [
                r
                for r in earlier.get(part, [])
                if not str(r.get("name", "")).startswith(prefix)
                and (part != "results" or "ok" in r)
            ]
    except (OSError, ValueError, TypeError, AttributeError):
        pass
    results = kept["results"] + [f.as_json() for f in figures if f.judged]
    document = {
        "machine": machine(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "ok": all(r["ok"] for r in results),
        "results": results,
        "context": kept["context"] + [f.as_json() for f in figures if not f.judged],
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
