"""Scratch topics: names of their own, created with the project's settings, deleted after."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterable, Iterator

from pos.config import KafkaSettings
from pos.infra import kafka


def drop_topics(settings: KafkaSettings, names: Iterable[str], timeout: float = 30) -> None:
    """Delete ``names``, waiting for the broker's answer (best effort: a topic already gone
    is fine). The admin client is held until its futures resolve: a client garbage
    collected earlier drops its requests and leaves the topics behind."""
    names = list(names)
    if not names:
        return
    client = kafka.admin(settings)
    for future in client.delete_topics(names, request_timeout=timeout).values():
        with contextlib.suppress(Exception):
            future.result(timeout=timeout)


@contextlib.contextmanager
def own_topics(
    settings: KafkaSettings, prefix: str, partitions: int | None = None
) -> Iterator[KafkaSettings]:
    """``settings`` with an order topic and a DLQ of their own (``prefix`` and a random
    suffix), created with the project's topic settings and deleted after; ``partitions``
    for the order topic, else the settings' own count."""
    name = f"{prefix}.{uuid.uuid4().hex[:8]}"
    scratch = settings.model_copy(
        update={
            "order_topic": name,
            "dlq_topic": f"{name}.dlq",
            "order_topic_partitions": partitions or settings.order_topic_partitions,
        }
    )
    kafka.ensure_topics(scratch)
    try:
        yield scratch
    finally:
        drop_topics(scratch, [scratch.order_topic, scratch.dlq_topic])
