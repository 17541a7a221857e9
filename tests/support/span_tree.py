"""Spans as a tree of names, to compare a trace with the one the README shows.

Works on plain records, so the in-memory exporter's spans and the ones an OTLP receiver
decoded are compared the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

#: One order's trace, as the README's "Traces" section shows it; ``{topic}`` is the order
#: topic. ``SELECT`` is the device key's lookup (a fresh API process has none cached),
#: ``WITH`` the intake's one statement: order, items, outbox row and key in one transaction.
ORDER_TRACE = [
    "POST /orders [pos-api]",
    "  SELECT [pos-api]",
    "  order intake [pos-api]",
    "    WITH [pos-api]",
    "    send {topic} [pos-publisher]",
    "      process {topic} [pos-consumer]",
    "        POST /orders [pos-consumer]",
]


def expected(topic: str, *, services: bool = True) -> list[str]:
    lines = [line.format(topic=topic) for line in ORDER_TRACE]
    return lines if services else [line.rsplit(" [", 1)[0] for line in lines]


@dataclass(frozen=True, slots=True)
class SpanRecord:
    name: str
    service: str
    trace_id: str
    span_id: str
    parent_id: str | None
    start_ns: int
    attributes: dict[str, object]


def in_trace(spans: Iterable[SpanRecord], trace_id: str) -> list[SpanRecord]:
    return [s for s in spans if s.trace_id == trace_id]


def render(spans: Sequence[SpanRecord], *, services: bool = True) -> list[str]:
    """One line per span, ``"  " * depth + "name [service]"``, children in start order.

    A span whose parent is not among ``spans`` is a root: a broken link shows as a second
    root (or a second trace) instead of disappearing.
    """
    ids = {s.span_id for s in spans}
    children: dict[str | None, list[SpanRecord]] = {}
    for span in spans:
        parent = span.parent_id if span.parent_id in ids else None
        children.setdefault(parent, []).append(span)
    lines: list[str] = []

    def walk(parent: str | None, depth: int) -> None:
        for span in sorted(children.get(parent, []), key=lambda s: (s.start_ns, s.name)):
            service = f" [{span.service}]" if services else ""
            lines.append(f"{'  ' * depth}{span.name}{service}")
            walk(span.span_id, depth + 1)

    walk(None, 0)
    return lines
