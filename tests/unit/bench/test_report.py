"""The bench report: median of repetitions, the Markdown table, chart grouping."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench import charts
from bench.run import markdown, median_rows


def _row(metric: str, value: float, **extra: Any) -> dict[str, Any]:
    return {"stage": "api", "metric": metric, "value": value, "unit": "orders/s", **extra}


def test_median_keeps_the_whole_median_row() -> None:
    runs = [
        [_row("create orders/s at 16 clients", 900, limit=1000, ratio=0.9)],
        [_row("create orders/s at 16 clients", 700, limit=1400, ratio=0.5)],
        [_row("create orders/s at 16 clients", 800, limit=800, ratio=1.0)],
    ]
    (row,) = median_rows(runs)
    assert (row["value"], row["limit"], row["ratio"]) == (800, 800, 1.0)
    assert row["repetitions"] == 3


def test_a_single_run_is_reported_as_it_is() -> None:
    rows = [_row("a", 1.0), _row("b", 2.0)]
    assert median_rows([rows]) == rows


def test_markdown_shows_limit_and_baseline() -> None:
    report = {
        "machine": {
            "date": "d",
            "cores": 2,
            "cpu": "c",
            "memoryGiB": 1,
            "python": "3.11",
            "postgres": "15",
            "kafka": "4.3.1",
            "librdkafka": "2",
        },
        "rows": [_row("drain", 37_636.0, limit=157_978.0, baseline=382.0, ratio=0.24)],
    }
    table = markdown(report)
    assert "| api | drain | 37,636 | orders/s | 157,978 (limit), 382 (baseline) | 0.24 |" in table


def test_charts_group_series_by_metric_without_concurrency(tmp_path: Path) -> None:
    rows = [
        _row("orders/s, 50 ms third party, 16 in-flight", 306.0, limit=320.0),
        _row("orders/s, 50 ms third party, 256 in-flight", 2858.0, limit=5120.0),
        _row("create p99 at 64 clients", 205.0, unit="ms"),
    ]
    assert charts.concurrency_of(rows[1]) == 256
    assert charts.series_of(rows[0]) == charts.series_of(rows[1]) == "orders/s, 50 ms third party"
    written = charts.draw({"rows": rows}, tmp_path)
    assert {p.name for p in written} == {"throughput.png", "latency.png"}
    assert all(p.stat().st_size > 1000 for p in written)


def test_markdown_names_the_alternative_measured_in_the_same_run() -> None:
    report = {
        "machine": {"date": "d", "cores": 2, "cpu": "c", "memoryGiB": 1, "python": "3.11",
                    "postgres": "15", "kafka": "4.3.1", "librdkafka": "2"},
        "rows": [_row("drain", 30_000.0, alternative=3_000.0, alternativeName="lib 1.0 (x=1)",
                      ratio=10.0)],
    }  # fmt: skip
    table = markdown(report)
    assert "| api | drain | 30,000 | orders/s | 3,000 (lib 1.0 (x=1)) | 10.00 |" in table
