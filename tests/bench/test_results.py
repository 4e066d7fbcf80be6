"""The benchmark figures file keeps the latest figures of every benchmark, and only those."""

from __future__ import annotations

import json
from pathlib import Path

from tests.bench.results import Figure, record, table


def _names(path: Path, part: str = "results") -> list[str]:
    return [result["name"] for result in json.loads(path.read_text())[part]]


def test_a_benchmark_replaces_all_its_figures_and_keeps_the_others(tmp_path: Path) -> None:
    path = tmp_path / "latest.json"
    record([Figure("lookup: one card", 1.0, "ms", 2.0, 1.0)], "lookup:", path)
    record([Figure("avatar burst: uploads answered", 3.0, "per s")], "avatar burst:", path)
    # The next run of the same benchmark names its figure differently: the old name goes.
    record([Figure("avatar burst: uploads decoded", 4.0, "per s")], "avatar burst:", path)
    assert _names(path) == ["lookup: one card"]
    assert _names(path, "context") == ["avatar burst: uploads decoded"]


def test_each_figure_held_to_a_target_says_it_and_whether_it_meets_it(tmp_path: Path) -> None:
    path = tmp_path / "latest.json"
    record(
        [
            Figure("feeds: polled", 1200.0, "sources/s", 2000.0, 0.5, at_least=True, limit=1000.0),
            Figure("feeds: ingest", 500.0, "entries/s", 1000.0, 0.7, at_least=True),
            Figure("feeds: baseline", 2000.0, "sources/s"),
        ],
        "feeds:",
        path,
    )
    record([Figure("timeline: p99", 25.0, "ms", 1.0, limit=20.0)], "timeline:", path)
    document = json.loads(path.read_text())
    by_name = {r["name"]: r for r in document["results"]}
    assert by_name["feeds: polled"] | {"ratio": 0.6} == by_name["feeds: polled"]
    assert (by_name["feeds: polled"]["target"], by_name["feeds: polled"]["target_of"]) == (
        0.5,
        "ratio",
    )
    assert by_name["feeds: polled"]["limit"] == 1000.0 and by_name["feeds: polled"]["ok"] is True
    assert (by_name["feeds: ingest"]["target"], by_name["feeds: ingest"]["ok"]) == (0.7, False)
    # A budget of the value alone is its target.
    assert by_name["timeline: p99"]["target"] == 20.0
    assert by_name["timeline: p99"]["target_of"] == "value"
    assert by_name["timeline: p99"]["ok"] is False
    assert all({"target", "ok"} <= set(r) for r in document["results"])
    assert [r["name"] for r in document["context"]] == ["feeds: baseline"]
    assert "ok" not in document["context"][0]
    assert document["ok"] is False


def test_a_rate_meets_its_target_from_above_and_a_cost_from_below() -> None:
    assert Figure("rate", 60.0, "req/s", 100.0, 0.5, at_least=True).ok is True
    assert Figure("rate", 40.0, "req/s", 100.0, 0.5, at_least=True).ok is False
    assert Figure("cost", 40.0, "ms", 100.0, 0.5).ok is True
    assert Figure("cost", 60.0, "ms", 100.0, 0.5).ok is False


def test_a_latency_budget_is_a_limit_on_the_value_itself() -> None:
    within = Figure("timeline: p99", 12.0, "ms", baseline=3.0, limit=20.0)
    over = Figure("timeline: p99", 25.0, "ms", baseline=3.0, limit=20.0)
    assert within.ok is True and over.ok is False
    assert Figure("x", 25.0, "ms", baseline=3.0).ok is None
    assert "≤ 20 ms" in table([within])


def test_a_rate_s_limit_is_a_floor() -> None:
    fast = Figure("feeds: polled", 1200.0, "sources/s", 2000.0, 0.5, at_least=True, limit=1000.0)
    slow = Figure("feeds: polled", 900.0, "sources/s", 1500.0, 0.5, at_least=True, limit=1000.0)
    assert fast.ok is True and slow.ok is False
    assert "≥ 1000 sources/s" in table([fast])
