"""The chaos run's figures: `chaos-latest.json` for machines, `chaos-latest.md` for people.

Pure: built from what the run measured (the simulator's summary, the faults injected, the
audit), so the JSON's headline figures are exactly the auditor's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pos.ops.audit.quiet import QuietOutcome
from pos.ops.audit.result import AuditResult

MUST_BE_ZERO = ("ordersLost", "duplicateOrders")
#: Verdicts a chaos run must measure: without their source it proves nothing about them.
MUST_MEASURE = (
    "acknowledgedOrdersLost",
    "offsetsCommittedPastUnfinished",
    "thirdPartyRepeats",
    "duplicateRecords",
)
#: On the replicated topology the faults the run exists for must be in its timeline.
REPLICATED_MUST_STRIKE = (
    "kafka-leader-kill",
    "kafka-two-brokers-down",
    "kafka-rolling-restart",
    "postgres-primary-kill-failover",
    "postgres-rejoin",
)


@dataclass(frozen=True)
class ChaosRun:
    orders: int
    rate: float
    rounds: int
    seconds_sending: float
    simulator: dict[str, Any]
    faults: dict[str, int]
    fault_failures: list[str]
    restarts: dict[str, int]
    quiet: QuietOutcome
    audit: AuditResult
    shape: dict[str, int] = field(default_factory=dict)
    #: The consumers' rebalance callbacks by kind (`faults.rebalances`).
    rebalance_callbacks: dict[str, int] = field(default_factory=dict)
    timeline: list[dict[str, Any]] = field(default_factory=list)
    faults_skipped: list[str] = field(default_factory=list)
    topology: str = "single"


def problems(run: ChaosRun) -> list[str]:
    """Why the run failed, in words; empty when it passed."""
    found = [f"{b.check}: {b.problem}" for b in run.audit.breaches]
    found += [
        f"{name} = {run.audit.figures[name]}" for name in MUST_BE_ZERO if run.audit.figures[name]
    ]
    verdicts = run.audit.verdicts()
    replicated = run.topology == "replicated"
    found += [
        f"{name} was not measured ({verdicts[name].get('note', '')})"
        for name in MUST_MEASURE
        if verdicts[name].get("measured") is False
    ]
    struck = {e["fault"] for e in run.timeline}
    found += [
        f"{kind} is not in the timeline"
        for kind in (REPLICATED_MUST_STRIKE if replicated else ())
        if kind not in struck
    ]
    unacked = run.simulator.get("salesSent", 0) - run.simulator.get("acknowledged", 0)
    if unacked:
        found.append(f"{unacked} orders sent were never acknowledged (the system did not recover)")
    if not run.quiet.quiet:
        found.append(f"the system was not quiet {run.quiet.seconds:.0f} s after the fleet stopped")
    found += [f"fault not injected: {f}" for f in run.fault_failures]
    return found


def to_json(run: ChaosRun) -> dict[str, Any]:
    f = run.audit.figures
    sim = run.simulator
    return {
        "passed": not problems(run),
        "topology": run.topology,
        "ordersRequested": run.orders,
        "ordersSent": sim.get("salesSent", 0),
        "ordersAcknowledged": sim.get("acknowledged", 0),
        "shape": run.shape,
        "rebalances": run.rebalance_callbacks.get("partitions assigned", 0),
        "rebalanceCallbacks": run.rebalance_callbacks,
        "faultsInjected": dict(sorted(run.faults.items())),
        "faultsSkipped": run.faults_skipped,
        "timeline": run.timeline,
        "ordersLost": f["ordersLost"],
        "duplicateOrders": f["duplicateOrders"],
        "verdicts": run.audit.verdicts(),
        "secondsToSettle": run.quiet.seconds,
        "secondsSending": round(run.seconds_sending, 1),
        "ratePlanned": run.rate,
        "rounds": run.rounds,
        "ordersSuccess": f["ordersSuccess"],
        "ordersFailed": f["ordersFailed"],
        "serviceRestarts": run.restarts,
        "requests": sim.get("requests", 0),
        "replays": sim.get("replays", 0),
        "conflicts": sim.get("conflicts", 0),
        "clientTimeouts": sim.get("timeouts", 0),
        "clientTransientErrors": sim.get("transient", 0),
        "malformedRejected": sim.get("rejectedMalformed", 0),
        "kafkaRedeliveredEvents": f["kafkaRedeliveredEvents"],
        "kafkaRecords": f["kafkaEvents"],
        "kafkaDistinctEvents": f["kafkaDistinctEvents"],
        "duplicateRecords": f["kafkaRedeliveredEvents"],
        "duplicateRecordsAllowed": f["duplicateRecordsAllowed"],
        "thirdPartyRepeats": f["thirdPartyRepeats"],
        "thirdPartyRepeatsAllowed": f["thirdPartyRepeatsAllowed"],
        "thirdPartyLateAnswers": f["thirdPartyLateAnswers"],
        "deadLetters": f["deadLetters"],
        "problems": problems(run),
    }


def markdown(report: dict[str, Any]) -> str:
    faults = ", ".join(f"{kind} ×{n}" for kind, n in report["faultsInjected"].items())
    shape = report.get("shape") or {}
    restarts = ", ".join(f"{name} ×{n}" for name, n in report["serviceRestarts"].items())
    rows = [
        ("orders sent", report["ordersSent"]),
        ("orders acknowledged", report["ordersAcknowledged"]),
        ("orders lost", report["ordersLost"]),
        ("duplicate orders", report["duplicateOrders"]),
        ("SUCCESS / FAILED", f"{report['ordersSuccess']:,} / {report['ordersFailed']:,}"),
        (
            "seconds to ready / sending / to settle",
            f"{report.get('secondsToReady', '-')} / {report['secondsSending']} / "
            f"{report['secondsToSettle']}",
        ),
        (
            "requests (replays, 409s)",
            f"{report['requests']:,} ({report['replays']:,}, {report['conflicts']:,})",
        ),
        (
            "client timeouts / transient errors",
            f"{report['clientTimeouts']:,} / {report['clientTransientErrors']:,}",
        ),
        ("malformed requests rejected", report["malformedRejected"]),
        (
            "records on the order topic / distinct events",
            f"{report.get('kafkaRecords', 0):,} / {report.get('kafkaDistinctEvents', 0):,}",
        ),
        (
            "duplicate records (allowed)",
            f"{report['kafkaRedeliveredEvents']:,} ("
            + _or_dash(report.get("duplicateRecordsAllowed"))
            + ")",
        ),
        (
            "third-party calls repeating a held key (allowed)",
            f"{report['thirdPartyRepeats']:,} ({report['thirdPartyRepeatsAllowed']:,})",
        ),
        ("dead letters", report["deadLetters"]),
    ]
    title = "# Chaos run" + (
        " (replicated topology)" if report.get("topology") == "replicated" else ""
    )
    lines = [
        title,
        "",
        f"**{'PASSED' if report['passed'] else 'FAILED'}**: {report['ordersRequested']:,} orders "
        f"at {report['ratePlanned']:,.0f}/s planned, {report['rounds']} fault rounds.",
        "",
        f"Shape: API with {shape.get('apiWorkers', '?')} workers, "
        f"{shape.get('publishers', '?')} publishers, {shape.get('consumers', '?')} consumers; "
        f"{report.get('rebalances', 0):,} rebalances (partition assignments).",
        "",
        f"Faults injected: {faults}.",
        *(f"Fault skipped: {s}." for s in report.get("faultsSkipped", [])),
        f"Service restarts seen by the supervisor: {restarts}.",
        "",
        "| figure | value |",
        "|---|---:|",
        *(
            f"| {name} | {value:,} |" if isinstance(value, int) else f"| {name} | {value} |"
            for name, value in rows
        ),
    ]
    verdicts = report.get("verdicts", {})
    if verdicts:
        lines += ["", "| verdict | passed | count |", "|---|---|---:|"]
        lines += [
            f"| {name} | {'not measured' if v.get('measured') is False else v['passed']} "
            f"| {v['count']:,} |"
            for name, v in verdicts.items()
        ]
    timeline = report.get("timeline", [])
    if timeline:
        lines += ["", "| fault | target | start s | end s |", "|---|---|---:|---:|"]
        lines += [
            f"| {e['fault']} | {e.get('target', '')} | {e['start']} | {e['end']} |"
            for e in timeline
        ]
    if report["problems"]:
        lines += ["", "## Problems", "", *(f"- {p}" for p in report["problems"])]
    return "\n".join(lines) + "\n"


def _or_dash(value: int | None) -> str:
    return "not measured" if value is None else f"{value:,}"
