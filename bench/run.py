"""`make bench`: every stage, one after the other, into one report.

Stages run sequentially (never two at once on a 2-core machine) and each measures its
physical limit beside its own figure in the same run. Each stage runs ``--repeat`` times
(3 by default, 1 with ``--quick``; a stage may cap it with ``MAX_REPEAT``, as the long ones
do) and the median row of every metric is reported; stages exclude their own warm-up. A
stage with ``QUICK = False`` is left out of ``--quick``. The report leads with the ratios.
Output: bench/results/latest.json, latest.md and PNG charts.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import subprocess
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
STAGES = (
    "api",
    "publisher",
    "consumer",
    "e2e",
    "capacity",
    "vs_faststream_outbox",
    "vs_faststream_consumer",
    "growth",
)


def _version(cmd: list[str]) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    text = (out.stdout or out.stderr).strip().splitlines()
    return text[0] if text else "unknown"


def machine() -> dict[str, Any]:
    import confluent_kafka

    from pos.infra import postgres

    pg = _version([str(postgres.bin_dir(install=False) / "postgres"), "--version"])
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return {
        "cores": os.cpu_count(),
        "memoryGiB": round(mem / 2**30, 1),
        "cpu": _cpu_model(),
        "python": platform.python_version(),
        "postgres": pg,
        "kafka": "4.3.1 (KRaft, single node)",
        "java": _version(["java", "-version"]),
        "confluentKafka": confluent_kafka.version()[0],
        "librdkafka": confluent_kafka.libversion()[0],
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _fmt(value: Any) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def markdown(report: dict[str, Any]) -> str:
    m = report["machine"]
    lines = [
        "# Benchmark results",
        "",
        f"{m['date']} · {m['cores']} cores ({m['cpu']}), {m['memoryGiB']} GiB · "
        f"Python {m['python']} · {m['postgres']} · Kafka {m['kafka']} · "
        f"librdkafka {m['librdkafka']}" + (" · QUICK run" if report.get("quick") else ""),
        "",
        "| stage | metric | ours | unit | limit / baseline beside it | ratio |",
        "|---|---|---:|---|---:|---:|",
    ]
    for r in report["rows"]:
        beside = ", ".join(f"{_fmt(r[k])} ({k})" for k in ("limit", "baseline") if k in r)
        if "alternative" in r:  # another library measured in the same run
            beside = ", ".join(
                x for x in (beside, f"{_fmt(r['alternative'])} ({r['alternativeName']})") if x
            )
        lines.append(
            f"| {r['stage']} | {r['metric']} | {_fmt(r['value'])} | {r['unit']} | "
            f"{beside} | {_fmt(r.get('ratio'))} |"
        )
    if report.get("errors"):
        lines += ["", "## Stages that failed", ""]
        lines += [f"- {name}: {err}" for name, err in report["errors"].items()]
    return "\n".join(lines) + "\n"


def median_rows(runs: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Per metric, the row of the run whose value is the median (the upper one for an even
    count): a whole row is kept, so its limit and ratio stay those measured beside it."""
    by_metric: dict[str, list[dict[str, Any]]] = {}
    for rows in runs:
        for row in rows:
            by_metric.setdefault(row["metric"], []).append(row)
    picked = []
    for rows in by_metric.values():
        ordered = sorted(rows, key=lambda r: float(r["value"]))
        row = dict(ordered[len(ordered) // 2])
        if len(rows) > 1:
            row["repetitions"] = len(rows)
        picked.append(row)
    return picked


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smoke run, under 3 minutes")
    parser.add_argument("--stages", default=",".join(STAGES))
    parser.add_argument(
        "--repeat", type=int, default=None, help="runs per stage, median kept (default 3; 1 quick)"
    )
    args = parser.parse_args(argv)
    repeat = args.repeat or (1 if args.quick else 3)

    report: dict[str, Any] = {
        "machine": machine(),
        "quick": args.quick,
        "repetitions": repeat,
        "rows": [],
        "errors": {},
    }
    for stage in args.stages.split(","):
        started = time.monotonic()
        print(f"== {stage}", flush=True)
        try:
            module = importlib.import_module(f"bench.{stage}")
            if args.quick and not getattr(module, "QUICK", True):
                print("   left out of a quick run", flush=True)
                continue
            times = min(repeat, getattr(module, "MAX_REPEAT", repeat))
            runs = [module.run(args.quick) for _ in range(times)]
        except Exception as exc:  # one broken stage must not lose the others' figures
            traceback.print_exc()
            report["errors"][stage] = f"{type(exc).__name__}: {exc}"
            continue
        rows = median_rows(runs)
        report["rows"].extend(rows)
        print(f"   {len(rows)} rows in {time.monotonic() - started:.0f} s", flush=True)

    from bench import charts

    samples = charts.split_samples(report["rows"])
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps(report, indent=2) + "\n")
    (RESULTS / "latest.md").write_text(markdown(report))
    try:
        charts.draw(report, RESULTS, samples)
    except Exception:  # charts are a view of the JSON; never fail the run for them
        traceback.print_exc()
    print(markdown(report))
    return 1 if report["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
