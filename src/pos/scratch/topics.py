"""Scratch topics: names of their own, created with the project's settings, deleted after."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable

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
