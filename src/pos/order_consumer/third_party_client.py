"""The adapter to the third party: one call in, one :class:`Outcome` out, timed."""

from __future__ import annotations

import asyncio
import time
import uuid

from pos.order_consumer.http_pool import HttpPool
from pos.order_consumer.metrics import ConsumerMetrics
from pos.order_consumer.outcomes import Outcome, Transient, classify


class ThirdPartyClient:
    def __init__(
        self, base_url: str, *, timeout: float, max_in_flight: int, metrics: ConsumerMetrics
    ) -> None:
        self._http = HttpPool(base_url, timeout=timeout)
        self._timeout = timeout
        # The in-flight limit is on calls, not on messages: a message waiting for its
        # status lookup, its back-off or its status write holds no slot here, so up to
        # max_in_flight calls keep the third party busy while those phases overlap them.
        self._slots = asyncio.Semaphore(max_in_flight)
        self._in_flight = metrics.calls_in_flight
        self._seconds = {
            kind: metrics.third_party_seconds.labels(kind)
            for kind in ("delivered", "refused", "transient")
        }

    async def deliver(
        self, order_id: uuid.UUID, body: bytes, trace: dict[str, str] | None = None
    ) -> Outcome:
        """POST the order with its id as Idempotency-Key: a retry after a lost answer is
        recognised by the third party as the same delivery, not a second one. ``trace``
        (request id, W3C traceparent from the event's headers) goes along, so the third
        party's side of the call joins the till's request in a trace."""
        async with self._slots:
            self._in_flight.inc()
            started = time.perf_counter()
            try:
                outcome = await self._call(order_id, body, trace or {})
            finally:
                self._in_flight.dec()
            self._seconds[type(outcome).__name__.lower()].observe(time.perf_counter() - started)
        return outcome

    async def _call(self, order_id: uuid.UUID, body: bytes, trace: dict[str, str]) -> Outcome:
        headers = {"Idempotency-Key": str(order_id), "Content-Type": "application/json", **trace}
        try:
            response = await self._http.post("/orders", body, headers)
        except TimeoutError:
            return Transient(f"no answer within {self._timeout:g} s")
        except OSError as exc:
            return Transient(f"connection error: {exc.__class__.__name__}: {exc}")
        return classify(response.status, response.body, response.headers.get("retry-after"))

    def close(self) -> None:
        self._http.close()
