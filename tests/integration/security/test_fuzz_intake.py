"""Hostile input at ``POST /orders``: random bytes, wrong types, huge numbers, unicode, broken
JSON, odd headers. Whatever arrives: no 5xx, a problem+json rejection, and no row written.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.integration.security.conftest import LiveApi
from tests.integration.security.fuzzing import check_answer, row_counts

DB = psycopg.Connection[tuple[object, ...]]
FUZZ = settings(
    max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=12,
)
huge_numbers = (
    st.integers()
    | st.integers(-(2**200), 2**200)
    | st.floats()
    | st.decimals(allow_nan=False, allow_infinity=False).map(str)
)
unicode_text = st.text(max_size=300) | st.text(st.characters(codec="utf-8"), min_size=1)


@pytest.fixture(scope="module")
def client(live_api: LiveApi) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_api.base_url, headers=live_api.auth, timeout=10) as c:
        yield c


def _valid_body(api: LiveApi) -> dict[str, Any]:
    return {
        "storeId": api.store_id,
        "deviceId": api.device_id,
        "currency": "EUR",
        "items": [{"sku": "LATTE-L", "name": "Latte", "quantity": 2, "unitPrice": 450}],
    }


def _dumps(value: Any) -> bytes:
    """The stdlib encoder: it writes integers of any size and NaN/Infinity (not JSON)."""
    return json.dumps(value).encode()


def _post(
    client: httpx.Client,
    db: DB,
    suite: str,
    content: bytes,
    headers: dict[str, str | bytes] | None = None,
) -> None:
    sent: dict[str, str | bytes] = {
        "Content-Type": "application/json",
        "Idempotency-Key": f"fz-{uuid.uuid4()}",
    }
    sent.update(headers or {})
    before = row_counts(db)
    response = client.post("/orders", content=content, headers=sent)
    if check_answer(suite, response.status_code, response.headers, response.content):
        assert row_counts(db) == before, f"a rejected request wrote rows: {content[:200]!r}"


@FUZZ
@given(body=st.binary(max_size=1000) | st.binary(min_size=4000, max_size=5000))
def test_random_bytes(client: httpx.Client, db: DB, body: bytes) -> None:
    _post(client, db, "bytes", body)


@FUZZ
@given(body=json_values)
def test_wrong_types_anywhere(client: httpx.Client, db: DB, body: Any) -> None:
    _post(client, db, "json-types", _dumps(body))


@FUZZ
@given(
    field=st.sampled_from(["quantity", "unitPrice"]),
    value=huge_numbers,
)
def test_huge_numbers(
    client: httpx.Client, live_api: LiveApi, db: DB, field: str, value: Any
) -> None:
    body = _valid_body(live_api)
    body["items"][0][field] = value
    _post(client, db, "numbers", _dumps(body))


@FUZZ
@given(
    field=st.sampled_from(["storeId", "deviceId", "currency", "sku", "name"]),
    value=unicode_text,
)
def test_unicode_strings(
    client: httpx.Client, live_api: LiveApi, db: DB, field: str, value: str
) -> None:
    body = _valid_body(live_api)
    target = body["items"][0] if field in ("sku", "name") else body
    target[field] = value
    _post(client, db, "unicode", _dumps(body))


@FUZZ
@given(cut=st.integers(0, 200), junk=st.binary(max_size=8), at=st.integers(0, 200))
def test_broken_json(
    client: httpx.Client, live_api: LiveApi, db: DB, cut: int, junk: bytes, at: int
) -> None:
    text = _dumps(_valid_body(live_api))
    broken = text[: min(cut, len(text) - 1)] + junk + text[min(at, len(text)) :]
    _post(client, db, "broken-json", broken)


@FUZZ
@given(
    # Any key an HTTP client can put on the wire (no control characters, no edge blanks).
    key=st.text(st.characters(exclude_categories=["Cc", "Cs"]), max_size=300).map(str.strip)
    | st.none(),
    content_type=st.sampled_from(["application/json", "text/plain", "", "application/xml"]),
)
def test_odd_headers(
    client: httpx.Client, live_api: LiveApi, db: DB, key: str | None, content_type: str
) -> None:
    headers: dict[str, str | bytes] = {"Content-Type": content_type}
    if key is not None:
        headers["Idempotency-Key"] = key.encode()  # raw UTF-8 bytes on the wire
    _post(client, db, "headers", _dumps(_valid_body(live_api)), headers)


@FUZZ
@given(
    authorization=st.text(st.characters(exclude_categories=["Cc", "Cs"]), max_size=120).map(
        str.strip
    )
    | st.builds(
        lambda k: f"Bearer {k}",
        st.from_regex(r"pos_[0-9a-f]{16}_[A-Za-z0-9_-]{43}", fullmatch=True),
    )
)
def test_random_credentials(
    client: httpx.Client, live_api: LiveApi, db: DB, authorization: str
) -> None:
    _post(
        client,
        db,
        "credentials",
        _dumps(_valid_body(live_api)),
        {"Authorization": authorization.encode()},
    )


def test_keys_never_reach_the_log(live_api: LiveApi) -> None:
    """Runs after the fuzzers above (file order): every request they sent carried the key."""
    log = live_api.process.log(tail=10_000_000)
    assert live_api.key.secret not in log
    assert str(live_api.key) not in log
