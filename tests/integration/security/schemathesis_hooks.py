"""Schemathesis hooks for the run in ``test_schemathesis_run``: generated order bodies
name the fuzzing device, so valid ones get past the ownership rule (a key orders only
for its own store and device) and reach intake, replays and the stateful reads.

Generated Idempotency-Key values repeat (shrinking favours ``"0"``), and a key reused
with another body is rightly a 422: a valid generated key is replaced by a fresh one so
each case is a new order, as from a real till. An invalid key is left alone.

Only a body whose ``storeId`` and ``deviceId`` are already valid identifiers is changed:
a negative case that breaks exactly those fields stays broken.
"""

from __future__ import annotations

import os
import re
import uuid
from typing import Any

import schemathesis

_KEY = re.compile(r"^[\x21-\x7E]([\x20-\x7E]*[\x21-\x7E])?$")
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")


def _valid_id(value: object) -> bool:
    return isinstance(value, str) and _SAFE_ID.fullmatch(value) is not None


@schemathesis.hook
def map_body(context: Any, body: Any) -> Any:
    store, device = os.environ.get("FUZZ_STORE_ID"), os.environ.get("FUZZ_DEVICE_ID")
    if (
        store
        and device
        and isinstance(body, dict)
        and _valid_id(body.get("storeId"))
        and _valid_id(body.get("deviceId"))
    ):
        return {**body, "storeId": store, "deviceId": device}
    return body


@schemathesis.hook
def map_headers(context: Any, headers: Any) -> Any:
    if not isinstance(headers, dict):
        return headers
    key = headers.get("Idempotency-Key")
    if isinstance(key, str) and len(key) <= 255 and _KEY.fullmatch(key):
        return {**headers, "Idempotency-Key": f"fuzz-{uuid.uuid4()}"}
    return headers
