"""The benchmark figures file keeps the latest figures of every benchmark, and only those."""

from __future__ import annotations

import json
from pathlib import Path

from tests.bench.results import Figure, record, table


def _names(path: Path) -> list[str]:
    return [result["name"] for result in json.loads(path.read_text())["results"]]


def test_a_benchmark_replaces_all_its_figures_and_keeps_the_others(tmp_path):
    path = tmp_path / "latest.json"
    record([Figure("lookup: one card", 1.0, "ms")], "lookup:", path)
    record([Figure("avatar burst: uploads answered", 3.0, "per s")], "avatar burst:", path)
    # The next run of the same benchmark names its figure differently: the old name goes.
    record([Figure("avatar burst: uploads decoded", 4.0, "per s")], "avatar burst:", path)
    assert _names(path) == ["lookup: one card", "avatar burst: uploads decoded"]


def test_a_rate_meets_its_target_from_above_and_a_cost_from_below():
    assert Figure("rate", 60.0, "req/s", 100.0, 0.5, at_least=True).ok is True
    assert Figure("rate", 40.0, "req/s", 100.0, 0.5, at_least=True).ok is False
    assert Figure("cost", 40.0, "ms", 100.0, 0.5).ok is True
    assert Figure("cost", 60.0, "ms", 100.0, 0.5).ok is False


def test_a_latency_budget_is_a_limit_on_the_value_itself():
    within = Figure("timeline: p99", 12.0, "ms", baseline=3.0, limit=20.0)
    over = Figure("timeline: p99", 25.0, "ms", baseline=3.0, limit=20.0)
    assert within.ok is True and over.ok is False
    assert Figure("x", 25.0, "ms", baseline=3.0).ok is None
    assert "≤ 20 ms" in table([within])


def test_a_rate_s_limit_is_a_floor():
    fast = Figure("feeds: polled", 1200.0, "sources/s", 2000.0, 0.5, at_least=True, limit=1000.0)
    slow = Figure("feeds: polled", 900.0, "sources/s", 1500.0, 0.5, at_least=True, limit=1000.0)
    assert fast.ok is True and slow.ok is False
    assert "≥ 1000 sources/s" in table([fast])
