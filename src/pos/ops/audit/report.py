"""The audit for people (a rich report) and for machines (JSON, every offending id)."""

from __future__ import annotations

from typing import Any

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from pos.ops.audit.quiet import QuietOutcome
from pos.ops.audit.result import AuditResult

LISTED = 10  # offending ids shown per breach in the text report (all of them in JSON)


def to_json(result: AuditResult, quiet: QuietOutcome) -> dict[str, Any]:
    return {
        "passed": result.passed,
        "quiet": quiet.quiet,
        "secondsToQuiet": quiet.seconds,
        "figures": result.figures,
        "verdicts": result.verdicts(),
        "checks": [
            {
                "name": o.check.name,
                "invariant": o.check.invariant,
                "passed": o.passed,
                "count": o.finding.count,
                "measured": o.finding.measured,
                "note": o.note,
                "breaches": [{"problem": b.problem, "orders": list(b.orders)} for b in o.breaches],
            }
            for o in result.outcomes
        ],
    }


def render(result: AuditResult, quiet: QuietOutcome) -> RenderableType:
    checks = Table("", "verdict", "invariant", "count", "note", title="audit")
    for o in result.outcomes:
        if not o.finding.measured:
            mark = Text("----", style="yellow")
        elif o.passed:
            mark = Text("PASS", style="green")
        else:
            mark = Text("FAIL", style="bold red")
        checks.add_row(mark, o.check.name, o.check.invariant, f"{o.finding.count:,}", o.note)
    figures = Table("figure", "value", title="figures")
    for name, value in result.figures.items():
        figures.add_row(name, "-" if value is None else f"{value:,}")
    parts: list[RenderableType] = [checks]
    for breach in result.breaches:
        shown = ", ".join(breach.orders[:LISTED])
        more = f" and {len(breach.orders) - LISTED} more" if len(breach.orders) > LISTED else ""
        parts.append(Text(f"✘ {breach.check}: {breach.problem}", style="red"))
        if shown:
            parts.append(Text(f"    {shown}{more}"))
    parts.append(figures)
    state = (
        f"quiet after {quiet.seconds:.1f} s"
        if quiet.quiet
        else f"NOT quiet after {quiet.seconds:.1f} s (audited anyway)"
    )
    verdict = "all invariants hold" if result.passed else f"{len(result.breaches)} breaches"
    parts.append(Text(f"{state}; {verdict}", style="bold green" if result.passed else "bold red"))
    return Group(*parts)


def print_report(result: AuditResult, quiet: QuietOutcome, console: Console | None = None) -> None:
    (console or Console()).print(render(result, quiet))
