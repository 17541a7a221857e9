"""Telling broker trouble from refused records, and awaiting a batch's reports from asyncio."""

from __future__ import annotations

import asyncio
import threading

import pytest
from confluent_kafka import KafkaError

from pos.order_publisher.kafka_errors import is_alert, needs_new_producer
from pos.order_publisher.kafka_sender import KafkaSender, PendingBatch, classify, kafka_headers
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
        KafkaError.TOPIC_AUTHORIZATION_FAILED,
        KafkaError.CLUSTER_AUTHORIZATION_FAILED,
        KafkaError.SASL_AUTHENTICATION_FAILED,
        KafkaError._AUTHENTICATION,
        KafkaError.UNKNOWN_TOPIC_OR_PART,
        KafkaError._UNKNOWN_TOPIC,
        KafkaError._UNKNOWN_PARTITION,
        KafkaError._FENCED,
        KafkaError.PRODUCER_FENCED,
        KafkaError.OUT_OF_ORDER_SEQUENCE_NUMBER,
        KafkaError.UNKNOWN_PRODUCER_ID,
        KafkaError._FATAL,
    ],
)
def test_errors_that_refuse_every_row_are_never_the_rows_fault(code: int) -> None:
    err = KafkaError(code)
    assert classify(err) is FailureKind.BROKER
    assert is_alert(err.name()), "a person has to act: said at error level"


def test_any_fatal_error_hits_every_row_and_calls_for_a_new_producer() -> None:
    fatal = KafkaError(KafkaError.INVALID_RECORD, fatal=True)  # a row's code, but fatal
    assert classify(fatal) is FailureKind.BROKER
    assert needs_new_producer(fatal)
    assert needs_new_producer(KafkaError(KafkaError._FATAL))
    assert not needs_new_producer(KafkaError(KafkaError.TOPIC_AUTHORIZATION_FAILED))
    assert not is_alert(KafkaError(KafkaError._MSG_TIMED_OUT).name()), "an outage just passes"


@pytest.mark.parametrize(
    "code",
    [
        KafkaError.MSG_SIZE_TOO_LARGE,
        KafkaError.TOPIC_EXCEPTION,
        KafkaError.INVALID_RECORD,
        KafkaError.INVALID_TIMESTAMP,
        KafkaError.UNSUPPORTED_FOR_MESSAGE_FORMAT,
    ],
)
def test_refusals_of_the_record_and_unknown_errors_are_the_rows_fault(code: int) -> None:
    assert classify(KafkaError(code)) is FailureKind.MESSAGE


async def test_a_fatal_delivery_report_gets_the_next_batch_a_new_producer() -> None:
    # No broker needed: nothing is sent before the producer is swapped.
    sender = KafkaSender({"bootstrap.servers": "127.0.0.1:9", "log_level": 0})
    try:
        first = sender._producer
        reported = await sender.produce([])
        assert await reported == []
        batch = PendingBatch(asyncio.get_running_loop(), 1, sender._mark_fatal)
        batch.settle(1, KafkaError(KafkaError._FATAL, fatal=True))
        [failure] = await batch.future
        assert (failure.kind, failure.code) == (FailureKind.BROKER, "_FATAL")
        await sender.produce([])
        assert sender._producer is not first
    finally:
        await sender.close(flush_seconds=0)


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
