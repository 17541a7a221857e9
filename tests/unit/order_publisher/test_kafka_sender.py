"""Telling broker trouble from refused records, and awaiting a batch's reports from asyncio."""

from __future__ import annotations

import asyncio
import threading

import pytest
from confluent_kafka import KafkaError

from pos.order_publisher.kafka_sender import PendingBatch, classify, kafka_headers
from pos.order_publisher.model import FailureKind, OutboxRow


def _row(id_: int, headers: dict[str, str]) -> OutboxRow:
    return OutboxRow(id_, f"e-{id_}", f"o-{id_}", "order.created", "t", b"{}", headers, 0.0, 0)


@pytest.mark.parametrize(
    "code",
    [
        KafkaError._MSG_TIMED_OUT,
        KafkaError._TRANSPORT,
        KafkaError._ALL_BROKERS_DOWN,
        KafkaError.REQUEST_TIMED_OUT,
        KafkaError.NOT_ENOUGH_REPLICAS,
        KafkaError.LEADER_NOT_AVAILABLE,
        KafkaError._PURGE_INFLIGHT,
    ],
)
def test_silence_and_unavailability_are_the_brokers_fault(code: int) -> None:
    assert classify(KafkaError(code)) is FailureKind.BROKER


@pytest.mark.parametrize(
    "code",
    [
        KafkaError.MSG_SIZE_TOO_LARGE,
        KafkaError.UNKNOWN_TOPIC_OR_PART,
        KafkaError._UNKNOWN_TOPIC,
        KafkaError.TOPIC_EXCEPTION,
        KafkaError.INVALID_RECORD,
        KafkaError.TOPIC_AUTHORIZATION_FAILED,
    ],
)
def test_refusals_and_unknown_errors_are_the_rows_fault(code: int) -> None:
    assert classify(KafkaError(code)) is FailureKind.MESSAGE


async def test_a_batch_resolves_once_when_its_last_report_arrives_from_another_thread() -> None:
    batch = PendingBatch(asyncio.get_running_loop(), 1000)

    def reports(ids: range) -> None:
        for i in ids:
            err = KafkaError(KafkaError.MSG_SIZE_TOO_LARGE) if i % 100 == 0 else None
            batch.settle(i, err)

    # Reports come from the poll thread while produce() may refuse records on the loop.
    thread = threading.Thread(target=reports, args=(range(0, 900),))
    thread.start()
    reports(range(900, 1000))
    failures = await asyncio.wait_for(batch.future, 5)
    thread.join()
    assert sorted(f.row_id for f in failures) == list(range(0, 1000, 100))
    assert {f.kind for f in failures} == {FailureKind.MESSAGE}
    assert failures[0].reason.startswith("MSG_SIZE_TOO_LARGE")


async def test_an_empty_batch_is_resolved_at_once() -> None:
    batch = PendingBatch(asyncio.get_running_loop(), 0)
    assert await batch.future == []


def test_headers_carry_the_event_identity_then_the_stored_trace_headers() -> None:
    headers = kafka_headers(_row(7, headers={"request-id": "r", "traceparent": "00-a-b-01"}))
    assert headers == [
        ("event-id", "e-7"),
        ("event-type", "order.created"),
        ("request-id", "r"),
        ("traceparent", "00-a-b-01"),
    ]
