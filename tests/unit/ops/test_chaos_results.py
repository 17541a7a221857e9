"""The chaos figures: headline numbers straight from the audit, every problem spelled out."""

from __future__ import annotations

import dataclasses

from pos.ops.audit.quiet import QuietOutcome
from pos.ops.audit.result import audit
from pos.ops.faults.results import ChaosRun, markdown, problems, to_json
from tests.unit.ops.audit_facts import healthy, order

SIMULATOR = {"salesSent": 4, "acknowledged": 4, "requests": 9, "replays": 3, "conflicts": 1}


def chaos_run(**changes: object) -> ChaosRun:
    run = ChaosRun(
        orders=4,
        rate=50.0,
        rounds=1,
        seconds_sending=12.34,
        simulator=SIMULATOR,
        faults={"kill-api": 2, "kafka-restart": 1},
        fault_failures=[],
        restarts={"api": 2, "consumer": 0},
        quiet=QuietOutcome(True, 7.5),
        audit=audit(healthy()),
        shape={"apiWorkers": 2, "publishers": 2, "consumers": 3},
        rebalance_callbacks={"partitions assigned": 7, "partitions revoked": 4},
        timeline=[{"fault": "kill-consumer", "start": 3.5, "end": 3.6, "target": "consumer-2"}],
    )
    return dataclasses.replace(run, **changes)  # type: ignore[arg-type]


def test_a_clean_run_passes_with_the_required_figures() -> None:
    report = to_json(chaos_run())
    assert report["passed"] is True
    for name in ("ordersSent", "ordersAcknowledged", "ordersLost", "duplicateOrders"):
        assert name in report
    assert (report["ordersLost"], report["duplicateOrders"]) == (0, 0)
    assert report["verdicts"]["thirdPartyRepeats"] == {"passed": True, "count": 2}
    assert all(v["passed"] for v in report["verdicts"].values())
    assert report["faultsInjected"] == {"kafka-restart": 1, "kill-api": 2}
    assert report["secondsToSettle"] == 7.5
    text = markdown(report)
    assert "**PASSED**" in text
    assert "kill-api ×2" in text
    assert "2 publishers, 3 consumers; 7 rebalances" in text
    assert "| kill-consumer | consumer-2 | 3.5 | 3.6 |" in text
    assert report["timeline"][0]["fault"] == "kill-consumer"


def test_breaches_unacknowledged_orders_noise_and_missed_faults_all_fail_the_run() -> None:
    facts = healthy()
    broken = dataclasses.replace(
        facts, orders=(*facts.orders[:2], order(3, "PENDING"), facts.orders[3])
    )
    run = chaos_run(
        audit=audit(broken),
        simulator={**SIMULATOR, "acknowledged": 3},
        quiet=QuietOutcome(False, 600.0),
        fault_failures=["postgres-restart at 37 s: boom"],
    )
    found = problems(run)
    assert any(p.startswith("ordersStuck") for p in found)
    assert "ordersLost = 1" in found
    assert any("never acknowledged" in p for p in found)
    assert any("not quiet" in p for p in found)
    assert any("postgres-restart" in p for p in found)
    report = to_json(run)
    assert report["passed"] is False
    assert "## Problems" in markdown(report)


def test_a_run_without_the_commit_log_fails_as_not_measured() -> None:
    run = chaos_run(audit=audit(dataclasses.replace(healthy(), commits=None)))
    found = problems(run)
    assert found == [
        "offsetsCommittedPastUnfinished was not measured "
        "(not measured: no consumer commit log (CONSUMER_COMMIT_LOG))"
    ]
