"""Which Kafka errors are a row's fault and which hit every row: pure, no I/O.

Only an error about the record itself (too large, invalid) may be charged to its outbox
row, counted toward parking it. Everything else says nothing about the row: the broker
does not answer, or it answers "no" to every record this producer sends (credentials,
ACLs, a topic that does not exist yet, a producer it fenced or whose sequence it lost).
Parking rows for those would park perfectly good events by the thousand for a fault an
operator fixes once, so the whole relay backs off instead and says so loudly.
"""

from __future__ import annotations

from confluent_kafka import KafkaError

# The broker or the path to it is unwell: an outage, resolved by waiting.
OUTAGE_ERRORS = frozenset(
    {
        KafkaError._MSG_TIMED_OUT,
        KafkaError._TIMED_OUT,
        KafkaError._TRANSPORT,
        KafkaError._ALL_BROKERS_DOWN,
        KafkaError._RESOLVE,
        KafkaError._QUEUE_FULL,
        KafkaError._PURGE_QUEUE,
        KafkaError._PURGE_INFLIGHT,
        KafkaError._DESTROY,
        KafkaError._STATE,
        KafkaError.REQUEST_TIMED_OUT,
        KafkaError.NETWORK_EXCEPTION,
        KafkaError.BROKER_NOT_AVAILABLE,
        KafkaError.LEADER_NOT_AVAILABLE,
        KafkaError.NOT_LEADER_FOR_PARTITION,
        KafkaError.NOT_ENOUGH_REPLICAS,
        KafkaError.NOT_ENOUGH_REPLICAS_AFTER_APPEND,
        KafkaError.KAFKA_STORAGE_ERROR,
    }
)

# The broker answers, and refuses every record of this producer or topic: a fault of the
# set-up (ACLs, credentials, a missing topic) or of the producer's session with the broker
# (fenced, sequence lost), never of one row. Resolved by an operator or a new producer.
BROKER_WIDE_ERRORS = frozenset(
    {
        KafkaError.TOPIC_AUTHORIZATION_FAILED,
        KafkaError.CLUSTER_AUTHORIZATION_FAILED,
        KafkaError.TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
        KafkaError.SASL_AUTHENTICATION_FAILED,
        KafkaError.ILLEGAL_SASL_STATE,
        KafkaError.UNSUPPORTED_SASL_MECHANISM,
        KafkaError._AUTHENTICATION,
        KafkaError._SSL,
        KafkaError.UNKNOWN_TOPIC_OR_PART,
        KafkaError._UNKNOWN_TOPIC,
        KafkaError._UNKNOWN_PARTITION,
        KafkaError._FENCED,
        KafkaError.PRODUCER_FENCED,
        KafkaError.INVALID_PRODUCER_EPOCH,
        KafkaError.OUT_OF_ORDER_SEQUENCE_NUMBER,
        KafkaError.UNKNOWN_PRODUCER_ID,
        KafkaError.INVALID_PRODUCER_ID_MAPPING,
        KafkaError._GAPLESS_GUARANTEE,
        KafkaError._INCONSISTENT,
        KafkaError._FATAL,
    }
)


def is_row_fault(err: KafkaError) -> bool:
    """True only for an error about this record; an unknown code counts as the row's, so it
    ends in a parked row an operator can re-queue, never in a relay stalled for ever."""
    code = err.code()
    return not (err.fatal() or code in OUTAGE_ERRORS or code in BROKER_WIDE_ERRORS)


def needs_new_producer(err: KafkaError) -> bool:
    """A fatal error leaves the producer refusing everything until it is replaced."""
    return bool(err.fatal()) or err.code() == KafkaError._FATAL


def is_alert(code: str) -> bool:
    """Whether a broker-side error code (by name) needs a person rather than patience."""
    return code not in _OUTAGE_NAMES


_OUTAGE_NAMES = frozenset(KafkaError(code).name() for code in OUTAGE_ERRORS)
