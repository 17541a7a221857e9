"""What a JSON request body must be before the order model looks at it.

Two things the fast parser (pydantic's, in one pass) lets through and a till must hear
about: a body that is not declared JSON (a form post or a text/plain body that happens to
parse would otherwise create an order), and an object with the same member twice, where
parsers disagree on which one counts (here the last silently won). The duplicate check is
a second parse with the standard library, only of bodies that are JSON at all; an order
body is a few hundred bytes, so it costs microseconds.
"""

from __future__ import annotations

import json
from typing import Any

from pos.order_api import problems as p
from pos.order_api.problems import ProblemError

JSON_MEDIA_TYPE = "application/json"


def require_json(content_type: str | None) -> None:
    """415 unless the body is declared ``application/json`` (parameters such as charset
    allowed, and ``charset`` must then be utf-8: JSON exchanged between systems is)."""
    media_type, _, params = (content_type or "").partition(";")
    if media_type.strip().lower() != JSON_MEDIA_TYPE:
        shown = media_type.strip() or "no Content-Type"
        raise ProblemError(
            p.UNSUPPORTED_MEDIA_TYPE,
            f"The body must be sent as Content-Type: {JSON_MEDIA_TYPE} (got {shown}).",
            headers={"Accept-Post": JSON_MEDIA_TYPE},
        )
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() != "utf-8":
            raise ProblemError(
                p.UNSUPPORTED_MEDIA_TYPE,
                "JSON bodies must be UTF-8 (charset=utf-8, or no charset).",
                headers={"Accept-Post": JSON_MEDIA_TYPE},
            )


def reject_duplicate_members(raw: bytes) -> None:
    """400 when an object of the body names a member twice; silent for non-JSON (the
    model's parser reports that with its position)."""
    duplicate: list[str] = []

    def check(pairs: list[tuple[str, Any]]) -> None:
        seen: set[str] = set()
        for name, _ in pairs:
            if name in seen and not duplicate:
                duplicate.append(name)
            seen.add(name)

    try:
        json.loads(raw, object_pairs_hook=check)
    except ValueError:
        return
    if duplicate:
        raise ProblemError(
            p.MALFORMED_JSON,
            f"The body names the member {duplicate[0]!r} more than once in one object.",
        )
