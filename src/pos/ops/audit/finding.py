"""What one check concludes: a count, the breaches it names, and whether it could measure.

Every check reports a count even when it passes (the chaos results show them all), and
says so when its source was missing, so "nothing found" is never confused with "nothing
looked at".
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pos.ops.audit.facts import Facts


@dataclass(frozen=True)
class Breach:
    check: str
    problem: str
    orders: tuple[str, ...]  # order ids, or the ids of what is at fault where no order exists


@dataclass(frozen=True)
class Finding:
    count: int
    breaches: tuple[Breach, ...] = ()
    measured: bool = True
    note: str = ""

    @property
    def passed(self) -> bool:
        return not self.breaches


@dataclass(frozen=True)
class Check:
    name: str  # the verdict's name in the JSON (camelCase)
    invariant: str
    run: Callable[[Facts], Finding]


def not_measured(why: str) -> Finding:
    return Finding(0, measured=False, note=f"not measured: {why}")


def breach(check: str, problem: str, orders: Iterable[str]) -> tuple[Breach, ...]:
    """One breach naming ``orders`` (sorted), or none when there are none."""
    listed = tuple(sorted(orders))
    return (Breach(check, problem.format(n=len(listed)), listed),) if listed else ()


def counted(check: str, problem: str, orders: Iterable[str], note: str = "") -> Finding:
    """The common case: the count is the number of offending orders."""
    found = breach(check, problem, orders)
    return Finding(len(found[0].orders) if found else 0, found, note=note)
