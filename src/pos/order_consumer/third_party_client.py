"""The adapter to the third party: one call in, one :class:`Outcome` out, timed; and the
receipt lookup that settles an outcome a call left unknown."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

import orjson

from pos.order_consumer.breaker import Admission
from pos.order_consumer.call_gate import CallGate
from pos.order_consumer.http_pool import HttpPool
from pos.order_consumer.metrics import ConsumerMetrics
from pos.order_consumer.outcomes import (
    MAX_RECEIPT_CHARS,
    Outcome,
    Transient,
    Unknown,
    classify,
)


@dataclass(frozen=True, slots=True)
class Held:
    """The destination holds a receipt for the key: the order was delivered."""

    receipt_ref: str | None


@dataclass(frozen=True, slots=True)
class NotHeld:
    """The destination says it holds no receipt for the key."""


@dataclass(frozen=True, slots=True)
class NoAnswer:
    """The lookup is switched off for this destination, or it gave no usable answer."""

    reason: str


Lookup = Held | NotHeld | NoAnswer


@dataclass(frozen=True, slots=True)
class Call:
    outcome: Outcome
    #: Whether a failure of this call may be charged to its order: not for the breaker's
    #: probe, which is a test of the destination rather than an attempt at the order.
    counts: bool


class ThirdPartyClient:
    def __init__(
        self,
        base_url: str,
        *,
        timeout: float,
        gate: CallGate,
        metrics: ConsumerMetrics,
        receipt_path: str | None = "/receipts/{key}",
    ) -> None:
        self._http = HttpPool(base_url, timeout=timeout)
        self._timeout = timeout
        # The in-flight limit is on calls, not on messages (the gate counts them): a
        # message waiting for its status lookup, its back-off or its status write holds
        # no slot, so the calls keep the third party busy while those phases overlap them.
        self._gate = gate
        self._receipt_path = receipt_path
        self._metrics = metrics
        self._in_flight = metrics.calls_in_flight
        self._seconds = {
            kind: metrics.third_party_seconds.labels(kind)
            for kind in ("delivered", "refused", "transient", "unknown", "misconfigured")
        }

    @property
    def looks_up_receipts(self) -> bool:
        return self._receipt_path is not None

    async def deliver(
        self, order_id: uuid.UUID, body: bytes, trace: dict[str, str] | None = None
    ) -> Call:
        """POST the order with its id as Idempotency-Key: a retry after a lost answer is
        recognised by the third party as the same delivery, not a second one. ``trace``
        (request id, W3C traceparent from the event's headers) goes along, so the third
        party's side of the call joins the till's request in a trace. Waits first while
        the breaker holds calls back."""
        admission = await self._gate.enter()
        outcome: Outcome | None = None
        self._in_flight.inc()
        started = time.perf_counter()
        try:
            outcome = await self._call(order_id, body, trace or {})
        finally:
            self._in_flight.dec()
            await self._gate.leave(admission, outcome)
        self._seconds[type(outcome).__name__.lower()].observe(time.perf_counter() - started)
        return Call(outcome, counts=admission is Admission.CALL)

    async def receipt(self, order_id: uuid.UUID) -> Lookup:
        """Ask whether the destination holds a receipt for the order's key. A real
        destination needs an equivalent lookup for this (most payment and fiscal APIs
        have one: "retrieve by idempotency key"); without it, set the path to None."""
        if self._receipt_path is None:
            return NoAnswer("this destination has no receipt lookup")
        path = self._receipt_path.format(key=order_id)
        try:
            response = await self._http.request("GET", path, route=self._receipt_path)
        except (TimeoutError, OSError) as exc:
            result: Lookup = NoAnswer(f"receipt lookup failed: {exc.__class__.__name__}")
        else:
            if response.status == 200:
                ref = _receipt_ref(response.body)
                result = Held(ref[:MAX_RECEIPT_CHARS] if ref is not None else None)
            elif response.status == 404:
                result = NotHeld()
            else:
                result = NoAnswer(f"receipt lookup answered HTTP {response.status}")
        self._metrics.receipt_lookups.labels(type(result).__name__.lower()).inc()
        return result

    async def _call(self, order_id: uuid.UUID, body: bytes, trace: dict[str, str]) -> Outcome:
        headers = {"Idempotency-Key": str(order_id), "Content-Type": "application/json", **trace}
        try:
            response = await self._http.request("POST", "/orders", body, headers, route="/orders")
        except TimeoutError:
            # It may have been processed: the answer, not the work, is what is missing.
            return Unknown(f"no answer within {self._timeout:g} s")
        except ConnectionRefusedError as exc:
            return Transient(f"connection refused: {exc}")  # never reached the destination
        except OSError as exc:
            # The connection broke after the request may have been read: as unknown as a
            # timeout.
            return Unknown(f"connection error: {exc.__class__.__name__}: {exc}")
        return classify(response.status, response.body, response.headers.get("retry-after"))

    def close(self) -> None:
        self._http.close()


def _receipt_ref(body: bytes) -> str | None:
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if isinstance(document, dict) and document.get("receiptRef") is not None:
        return str(document["receiptRef"])
    return None
