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


def series_of(row: dict[str, Any]) -> str:
    """The row's metric without its concurrency: one line per remaining label."""
    label = _CONCURRENCY.sub("", str(row.get("metric", "")))
    return re.sub(r"\s+(at)?\s*$|,\s*,", "", label).strip(" ,") or str(row["stage"])


def _throughput(rows: list[dict[str, Any]], path: Path) -> Path | None:
    stages: dict[str, dict[str, list[tuple[int, float, float | None]]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for row in rows:
        conc = concurrency_of(row)
        if conc is None or not str(row.get("unit", "")).endswith("/s"):
            continue
        stages[row["stage"]][series_of(row)].append((conc, float(row["value"]), row.get("limit")))
    if not stages:
        return None
    fig, axes = plt.subplots(1, len(stages), figsize=(6 * len(stages), 4.5), squeeze=False)
    for ax, (stage, series) in zip(axes[0], sorted(stages.items()), strict=True):
        for label, points in sorted(series.items()):
            points.sort()
            line = ax.plot([p[0] for p in points], [p[1] for p in points], "o-", label=label)
            limits = [(p[0], float(p[2])) for p in points if p[2] is not None]
            if limits:
                ax.plot(
                    [x for x, _ in limits],
                    [y for _, y in limits],
                    "s--",
                    color=line[0].get_color(),
                    alpha=0.6,
                    label=f"limit beside: {label}",
                )
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("concurrency (clients / in-flight)")
        ax.set_ylabel("per second (log)")
        ax.set_title(stage)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7)
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
