"""Schemathesis against the live API's own ``/openapi.json``: valid and invalid requests.

Every order operation gets a bounded number of generated requests, both fitting the
schema (positive) and breaking it (negative), sent with the device's key. Whatever is
sent, the properties of ``fuzzing.check_answer`` hold and a rejection writes no row.
"""

from __future__ import annotations

import psycopg
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from tests.integration.security.conftest import LiveApi
from tests.integration.security.fuzzing import check_answer, row_counts

EXAMPLES_PER_OPERATION = 40


@pytest.fixture(scope="module")
def order_operations(live_api: LiveApi) -> list[schemathesis.APIOperation]:  # type: ignore[name-defined]
    schema = schemathesis.openapi.from_url(live_api.base_url + "/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    return [op for op in operations if op.path.startswith("/orders")]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_order_operations_never_fail_and_rejections_write_nothing(
    live_api: LiveApi,
    order_operations: list[object],
    db: psycopg.Connection[tuple[object, ...]],
    mode: GenerationMode,
) -> None:
    assert {op.path for op in order_operations} >= {"/orders", "/orders/{order_id}"}  # type: ignore[attr-defined]
    strategy = st.one_of(*(op.as_strategy(generation_mode=mode) for op in order_operations))  # type: ignore[attr-defined]

    @settings(
        max_examples=EXAMPLES_PER_OPERATION * len(order_operations),
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    @given(case=strategy)
    def fuzz(case: schemathesis.Case) -> None:
        before = row_counts(db)
        response = case.call(base_url=live_api.base_url, headers=live_api.auth, timeout=10)
        rejected = check_answer(
            f"openapi-{mode.value}",
            response.status_code,
            {k.lower(): v[0] for k, v in response.headers.items()},
            response.content,
        )
        if rejected:
            assert row_counts(db) == before, f"{case.method} {case.path} wrote rows"

    fuzz()
