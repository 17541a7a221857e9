"""Problem details: the shape of every error, and the types clients branch on."""

from __future__ import annotations

import orjson

from pos.order_api import problems as p


def test_problem_body_has_the_rfc_9457_members_and_extensions() -> None:
    body = orjson.loads(
        p.problem_body(
            p.KEY_EXPIRED,
            "This key created order x.",
            instance="/orders",
            request_id="req-1",
            extras={"orderId": "x"},
        )
    )
    assert body == {
        "type": "https://pos.example.com/problems/idempotency-key-expired",
        "title": "Idempotency-Key already used",
        "status": 409,
        "detail": "This key created order x.",
        "instance": "/orders",
        "requestId": "req-1",
        "orderId": "x",
    }


def test_every_problem_type_has_its_own_uri() -> None:
    uris = [t.uri for t in p.ALL_TYPES]
    assert len(set(uris)) == len(uris)


def test_framework_statuses_map_to_named_types() -> None:
    assert p.http_problem(404, "Not Found") is p.NOT_FOUND
    assert p.http_problem(405, "Method Not Allowed") is p.METHOD_NOT_ALLOWED
    assert p.http_problem(400, "Bad Request").uri.endswith("/http-400")
