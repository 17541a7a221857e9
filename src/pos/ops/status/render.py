"""The status screen: a :class:`StatusReport` drawn with rich. No I/O: what to draw only.

In ``--watch`` mode the previous report is passed too, so the screen says whether the
backlog and the lag are growing or shrinking, which is what an operator watching a broker
outage or its recovery wants to know.
"""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from pos.ops.status.facts import Probe, StatusReport

UNKNOWN = "[dim]?[/]"


def number(value: int | None) -> str:
    return UNKNOWN if value is None else f"{value:,}"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def percent(share: float | None) -> str:
    return UNKNOWN if share is None else f"{share:.1%}"


def trend(now: int | None, before: int | None) -> str:
    """``▲ +120`` / ``▼ -40`` since the previous refresh; empty when unchanged or unknown."""
    if now is None or before is None or now == before:
        return ""
    arrow, colour = ("▲", "red") if now > before else ("▼", "green")
    return f" [{colour}]{arrow} {now - before:+,}[/]"


def _state(probe: Probe) -> str:
    return "[green]● up[/]" if probe.up else "[bold red]● DOWN[/]"


def _key_values(title: str) -> Table:
    table = Table(title=title, title_justify="left", show_header=False)
    table.add_column()
    table.add_column(justify="right")
    return table


def _components(report: StatusReport) -> Table:
    table = Table(
        "component", "state", "address", "detail", title="Components", title_justify="left"
    )
    for probe in report.components:
        table.add_row(
            Text(probe.name), _state(probe), Text(probe.address), Text(probe.detail, style="dim")
        )
    return table


def _orders(report: StatusReport) -> Table:
    table = Table("status", "orders", title="Orders", title_justify="left")
    colours = {"PENDING": "yellow", "SUCCESS": "green", "FAILED": "red"}
    if report.orders is None:
        table.add_row("unknown (no figures from PostgreSQL)", UNKNOWN)
    for status, count in (report.orders or {}).items():
        table.add_row(f"[{colours.get(status, 'white')}]{status}[/]", number(count))
    if report.orders is not None:
        table.add_row("oldest PENDING", duration(report.oldest_pending_age_seconds))
    return table


def _outbox(report: StatusReport, previous: StatusReport | None) -> Table:
    table = _key_values("Outbox")
    box = report.outbox
    before = previous.outbox.backlog if previous and previous.outbox else None
    backlog = None if box is None else box.backlog
    style = "bold red" if backlog and not report.probe("kafka").up else ""
    table.add_row(
        "backlog", Text.from_markup(number(backlog) + trend(backlog, before), style=style)
    )
    table.add_row(
        "oldest unpublished", duration(box.oldest_unpublished_age_seconds if box else None)
    )
    parked = None if box is None else box.parked
    table.add_row("parked", f"[red]{parked:,}[/]" if parked else number(parked))
    return table


def _lag(report: StatusReport, previous: StatusReport | None) -> Table:
    lag = report.consumer
    members = "?" if lag.members is None else lag.members
    table = Table(
        "partition",
        "committed",
        "end offset",
        "lag",
        title="Consumer lag",
        title_justify="left",
        caption=Text(f"group {lag.group} on {lag.topic}: {lag.state or '?'}, {members} members"),
        caption_justify="left",
        show_footer=True,
    )
    if lag.partitions is None:
        table.add_row("unknown (Kafka down or topic missing)", "", "", UNKNOWN)
    for p in lag.partitions or []:
        committed = "[dim]none[/]" if p.committed is None else f"{p.committed:,}"
        table.add_row(str(p.partition), committed, f"{p.end:,}", f"{p.lag:,}")
    before = previous.consumer.total_lag if previous else None
    table.columns[0].footer = "total"
    table.columns[3].footer = Text.from_markup(number(lag.total_lag) + trend(lag.total_lag, before))
    return table


def _dead_letters_and_third_party(report: StatusReport) -> Table:
    table = _key_values("Dead letters and third party")
    table.add_row("FAILED orders", number(report.dlq.failed_orders))
    table.add_row(Text(f"messages on {report.dlq.topic}"), number(report.dlq.messages))
    third = report.third_party
    for key, value in (third.stats or {}).items():
        table.add_row(Text(f"third party {key}"), f"{value:,}")
    table.add_row("third party error rate", percent(third.error_rate))
    table.add_row("third party refusal rate", percent(third.refusal_rate))
    if report.breaker is not None:
        open_for = report.breaker.open_for_seconds
        held = "" if open_for is None else f" ({duration(open_for)})"
        table.add_row("third party breaker", report.breaker.state + held)
    return table


def render(report: StatusReport, previous: StatusReport | None = None) -> RenderableType:
    verdict = "[green]OK[/]" if report.healthy else "[bold red]DEGRADED[/]"
    header = Text.from_markup(
        f"[bold]pos status[/]  {report.taken_at:%Y-%m-%d %H:%M:%S} UTC  {verdict}"
    )
    parts: list[RenderableType] = [header]
    if report.warnings:
        warnings = Text("\n".join(report.warnings))  # data, not markup: "[Errno 111]" stays
        parts.append(Panel(warnings, title="attention", border_style="red"))
    database = Table.grid(padding=(0, 4))
    database.add_row(_orders(report), _outbox(report, previous))
    delivery = Table.grid(padding=(0, 4))
    delivery.add_row(_lag(report, previous), _dead_letters_and_third_party(report))
    parts += [_components(report), database, delivery]
    return Group(*parts)
