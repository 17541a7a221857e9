"""The Order Consumer: delivers every `order.created` event to the third party, in parallel,
exactly once in effect, and records the outcome on the order.

    kafka_loop          poll thread, assignment, pause/resume, commits, drain on revoke/exit
    processor           per message: decode, skip final orders, deliver, retry, DLQ, status
    offsets             pure: per-partition commit position = lowest unfinished offset
    retry, outcomes     pure: what an answer means, back-off with full jitter, the budget
    third_party_client  the in-flight limit and timing around http_pool (HTTP/1.1, httptools)
    repository          asyncpg: batched status lookups, group-committed status writes
    dead_letters        the DLQ producer, acknowledged before FAILED is written
    failed_orders       `pos dlq list|redrive` queries
    runner, main        wiring; `pos consumer`
"""
