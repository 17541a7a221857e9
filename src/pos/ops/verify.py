"""`pos verify`: the auditor. Waits for quiet, collects the facts, checks the invariants.

Exit status 0 when every invariant holds, 1 on any breach (the report names the orders),
2 when a source could not be read to the end (no conclusion is possible). A verdict whose
source was not given (no ledger, no commit log) says "not measured" and does not fail.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import orjson
import psycopg
from confluent_kafka import KafkaException

from pos.config import Settings
from pos.exits import CommandError, ExitCode
from pos.ops.audit import collect
from pos.ops.audit.commits import read_commit_log
from pos.ops.audit.facts import Facts
from pos.ops.audit.quiet import QuietOutcome, wait_for_quiet
from pos.ops.audit.records import RecordBound
from pos.ops.audit.repeats import RepeatBound
from pos.ops.audit.report import print_report, to_json
from pos.ops.audit.result import AuditResult, audit
from pos.ops.ledger import read_ledger


@dataclass(frozen=True)
class AuditOptions:
    ledger: Path | None = None
    wait: float = 60.0
    quiet_for: float = 3.0
    receipts: Path | None = None
    commit_log: Path | None = None
    #: Consumer-sized interruptions the run went through (crashes, restarts): each may
    #: repeat up to one consumer's in-flight deliveries at the third party.
    interruptions: int = 0
    #: When the relays' sessions were cut (epoch seconds just before and just after each),
    #: for the bound on duplicate records; None: not recorded, the verdict not measured.
    relay_cuts: tuple[tuple[float, float], ...] | None = None


def collect_facts(options: AuditOptions, settings: Settings) -> Facts:
    dsn = settings.db.dsn
    bound = RepeatBound(options.interruptions, settings.consumer.consumer_max_in_flight)
    return Facts(
        orders=collect.orders(dsn),
        outbox=collect.outbox(dsn),
        kafka=collect.kafka(settings.kafka),
        third_party=collect.third_party(settings.third_party, options.receipts),
        acknowledged=tuple(read_ledger(options.ledger)) if options.ledger else None,
        commits=read_commit_log(options.commit_log),
        repeat_bound=bound,
        record_bound=(
            None
            if options.relay_cuts is None
            else RecordBound(collect.held_at_cuts(dsn, options.relay_cuts))
        ),
    )


def audit_system(options: AuditOptions, settings: Settings) -> tuple[AuditResult, QuietOutcome]:
    """Wait (bounded) for the system ``settings`` name to be quiet, then audit it. Raises
    CollectError."""
    db, tp = settings.db, settings.third_party
    quiet = wait_for_quiet(
        lambda: collect.snapshot(db, tp), timeout=options.wait, quiet_for=options.quiet_for
    )
    return audit(collect_facts(options, settings)), quiet


def run(args: argparse.Namespace) -> int:
    options = AuditOptions(
        ledger=Path(args.ledger) if args.ledger else None,
        wait=args.wait,
        quiet_for=args.quiet_for,
        receipts=Path(args.receipts) if args.receipts else None,
        commit_log=_commit_log(args.commit_log),
        interruptions=args.interruptions,
        # Without a cut the bound is 0: any second record of an event is a finding.
        relay_cuts=tuple((at, at) for at in args.relay_cut or ()),
    )
    try:
        result, quiet = audit_system(options, args.settings)
    except (collect.CollectError, psycopg.Error, KafkaException, OSError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CommandError(
            f"cannot conclude: {reason}; are PostgreSQL, Kafka and the third party up?",
            ExitCode.UNREACHABLE,
        ) from exc
    except ValueError as exc:  # an unreadable ledger or receipts file
        raise CommandError(f"cannot conclude: {exc}", ExitCode.USAGE) from exc
    if args.json:
        sys.stdout.buffer.write(orjson.dumps(to_json(result, quiet), option=orjson.OPT_INDENT_2))
        sys.stdout.write("\n")
    else:
        print_report(result, quiet)
    return 0 if result.passed else 1


def _commit_log(given: str | None) -> Path | None:
    """The consumers' commit log: as given, else where the consumers were told to write it."""
    path = given or os.environ.get("CONSUMER_COMMIT_LOG")
    return Path(path) if path else None
