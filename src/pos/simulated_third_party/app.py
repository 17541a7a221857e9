"""The simulated third party as a bare ASGI app.

No framework: this process has to answer well over 1,500 calls a second at 50 ms latency
on a shared 2-core machine, and a routing table of six entries does not need one. Every
handler is a coroutine of the one event loop, so the receipt store needs no locks.

    POST /orders            Idempotency-Key: <order id>, body: the order JSON
    GET  /receipts/{key}    the receipt of an accepted order (for audits)
    GET  /stats             {"received", "unique", "duplicates", "refused", "errors",
                             "timeouts", "conflicts", "overridden"}
    GET  /healthz
    GET  /admin/faults      PUT /admin/faults (partial JSON)      POST /admin/reset
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, MutableMapping
from http import HTTPStatus
from typing import Any

import orjson

from pos.logging import get_logger
from pos.simulated_third_party.counters import Counters
from pos.simulated_third_party.faults import Answer, Faults
from pos.simulated_third_party.store import ReceiptStore

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

MAX_BODY_BYTES = 1 << 20
log = get_logger(__name__)


class _HttpError(Exception):
    def __init__(self, status: int, title: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail = status, title, detail


class ThirdPartyApp:
    def __init__(
        self,
        store: ReceiptStore,
        counters: Counters,
        faults: Faults,
        rng: random.Random | None = None,
    ) -> None:
        self.store = store
        self.counters = counters
        self.faults = faults
        self._rng = rng or random.Random()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        try:
            status, body, headers = await self._route(scope, receive)
        except _HttpError as exc:
            status, headers = exc.status, [(b"content-type", b"application/problem+json")]
            body = orjson.dumps(
                {"type": "about:blank", "title": exc.title, "status": status, "detail": exc.detail}
            )
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [*headers, (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def _route(
        self, scope: Scope, receive: Receive
    ) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
        method, path = scope["method"], scope["path"]
        if path == "/orders" and method == "POST":
            key = _header(scope, b"idempotency-key")
            return await self._post_order(key, await _read_body(receive))
        if path.startswith("/receipts/") and method == "GET":
            receipt = self.store.get(path.removeprefix("/receipts/"))
            if receipt is None:
                raise _HttpError(404, "Not Found", "no receipt for this key")
            return _json(200, receipt.to_json())
        if path == "/stats" and method == "GET":
            return _json(200, {**self.counters.snapshot(), "unique": len(self.store)})
        if path == "/healthz" and method == "GET":
            return _json(200, {"status": "ok"})
        if path == "/admin/faults" and method == "GET":
            return _json(200, self.faults.to_json())
        if path == "/admin/faults" and method == "PUT":
            return self._put_faults(await _read_body(receive))
        if path == "/admin/reset" and method == "POST":
            self.store.clear()
            self.counters.clear()
            return _json(200, {"reset": True})
        raise _HttpError(404, "Not Found", f"no route {method} {path}")

    async def _post_order(
        self, key: str | None, body: bytes
    ) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
        counters = self.counters
        counters.add("received")
        faults = self.faults  # one snapshot per call, even if an admin PUT lands meanwhile
        delay = faults.latency_seconds(self._rng)
        if delay:
            await asyncio.sleep(delay)
        if faults.status_override is not None:
            # Before the key check: a wrong URL or credentials is refused before any parsing.
            counters.add("overridden")
            status = faults.status_override
            raise _HttpError(status, HTTPStatus(status).phrase, "simulated status override")
        if not key:
            counters.add("refused")
            raise _HttpError(400, "Bad Request", "the Idempotency-Key header is required")
        answer = faults.answer(key, self._rng, known=self.store.get(key) is not None)
        if answer is Answer.ERROR:
            counters.add("errors")
            raise _HttpError(503, "Service Unavailable", "simulated failure, try again")
        if answer is Answer.REFUSE:
            counters.add("refused")
            raise _HttpError(422, "Order Refused", "simulated refusal: order rejected")
        if answer is Answer.CONFLICT:
            # As a payment API answers a retry that overlaps the first request with this
            # key: nothing recorded, the caller retries later.
            counters.add("conflicts")
            raise _HttpError(
                409, "key in progress", "a request with this Idempotency-Key is in progress"
            )
        _check_order(key, body, counters)
        receipt, duplicate = self.store.accept(key)
        if duplicate:
            counters.add("duplicates")
        if answer is Answer.TIMEOUT:
            # Recorded (store.accept wrote it above), then silent past the caller's
            # timeout: processed, but the answer is lost, the case only an idempotency key
            # makes safe to retry. GET /receipts/{key} already holds it during the hang.
            counters.add("timeouts")
            await asyncio.sleep(faults.hang_ms / 1000)
        return _json(200 if duplicate else 201, {**receipt.to_json(), "duplicate": duplicate})

    def _put_faults(self, body: bytes) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
        try:
            patch = orjson.loads(body)
            if not isinstance(patch, dict):
                raise ValueError("expected a JSON object")
            self.faults = self.faults.updated(patch)
        except (orjson.JSONDecodeError, ValueError) as exc:
            raise _HttpError(422, "Invalid Faults", str(exc)) from None
        log.info("faults changed", **self.faults.to_json())
        return _json(200, self.faults.to_json())

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                log.info("third party ready", receipts=len(self.store), **self.faults.to_json())
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.store.close()
                self.counters.close()
                await send({"type": "lifespan.shutdown.complete"})
                return


def _check_order(key: str, body: bytes, counters: Counters) -> None:
    """A body that is not an order for this key is refused (4xx), like a real system would."""
    try:
        order = orjson.loads(body)
    except orjson.JSONDecodeError:
        order = None
    if not isinstance(order, dict):
        counters.add("refused")
        raise _HttpError(400, "Bad Request", "the body must be the order as a JSON object")
    if "id" in order and order["id"] != key:
        counters.add("refused")
        raise _HttpError(422, "Order Refused", "Idempotency-Key does not match the order id")


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            text: str = value.decode("latin-1")
            return text
    return None


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise _HttpError(413, "Payload Too Large", f"body above {MAX_BODY_BYTES} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _json(status: int, payload: object) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
    return status, orjson.dumps(payload), [(b"content-type", b"application/json")]
