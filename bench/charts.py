"""PNG charts of a bench report: throughput against concurrency, and latency percentiles.

Rows may carry ``params`` (e.g. ``{"concurrency": 64}``) and ``samples_ms`` (a sample of
raw latencies); the JSON report keeps neither bulky field (``split_samples``), the charts
use both.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # the Agg backend is chosen above, before this import

_CONCURRENCY = re.compile(r"(\d[\d,]*)\s*(clients|in-flight|inflight|publishers)", re.I)


def concurrency_of(row: dict[str, Any]) -> int | None:
    params = row.get("params") or {}
    if "concurrency" in params:
        return int(params["concurrency"])
    match = _CONCURRENCY.search(str(row.get("metric", "")))
    return int(match.group(1).replace(",", "")) if match else None


def split_samples(rows: list[dict[str, Any]]) -> dict[str, list[float]]:
    """Remove raw samples from the rows (in place) and return them keyed by stage/metric."""
    samples: dict[str, list[float]] = {}
    for row in rows:
        raw = row.pop("samples_ms", None)
        if raw:
            samples[f"{row['stage']}: {row['metric']}"] = [float(x) for x in raw]
    return samples


def draw(
    report: dict[str, Any], out: Path, samples: dict[str, list[float]] | None = None
) -> list[Path]:
    written = [_throughput(report["rows"], out / "throughput.png")]
    written.append(_latency(report["rows"], out / "latency.png", samples or {}))
    return [p for p in written if p is not None]


def _throughput(rows: list[dict[str, Any]], path: Path) -> Path | None:
    series: dict[str, list[tuple[int, float, float | None]]] = defaultdict(list)
    for row in rows:
        conc = concurrency_of(row)
        if conc is None or not str(row.get("unit", "")).endswith("/s"):
            continue
        series[row["stage"]].append((conc, float(row["value"]), row.get("limit")))
    if not series:
        return None
    fig, axes = plt.subplots(1, len(series), figsize=(5 * len(series), 4), squeeze=False)
    for ax, (stage, points) in zip(axes[0], sorted(series.items()), strict=True):
        points.sort()
        xs = [p[0] for p in points]
        ax.plot(xs, [p[1] for p in points], "o-", label="ours")
        limits = [(p[0], float(p[2])) for p in points if p[2] is not None]
        if limits:
            ax.plot([x for x, _ in limits], [y for _, y in limits], "s--", label="limit beside it")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("concurrency")
        ax.set_ylabel("per second")
        ax.set_title(stage)
        ax.grid(True, alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _latency(
    rows: list[dict[str, Any]], path: Path, samples: dict[str, list[float]]
) -> Path | None:
    if samples:
        fig, ax = plt.subplots(figsize=(8, 4.5))
        for name, values in sorted(samples.items()):
            values = sorted(values)
            n = len(values)
            ax.plot(values, [(i + 1) / n for i in range(n)], label=name)
        ax.set_xscale("log")
        ax.set_xlabel("latency (ms, log scale)")
        ax.set_ylabel("share of requests at or below")
        ax.set_title("Latency distributions")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7)
    else:
        picked = [r for r in rows if r.get("unit") == "ms"]
        if not picked:
            return None
        fig, ax = plt.subplots(figsize=(8, max(3, 0.3 * len(picked))))
        labels = [f"{r['stage']}: {r['metric']}" for r in picked]
        ax.barh(labels, [float(r["value"]) for r in picked])
        ax.set_xscale("log")
        ax.set_xlabel("ms (log scale)")
        ax.set_title("Latency percentiles")
        ax.invert_yaxis()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
