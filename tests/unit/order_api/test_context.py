"""Request ids and W3C trace context: accepted when sane, created otherwise."""

from __future__ import annotations

import re

import pytest

from pos.order_api.context import request_id_from, traceparent_from

TRACEPARENT = re.compile(r"00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}")


def test_a_sane_request_id_is_kept() -> None:
    assert request_id_from("till-7:req.42_a") == "till-7:req.42_a"


@pytest.mark.parametrize("header", [None, "", "x" * 65, "two words", "crlf\r\nX-Evil: 1", "é"])
def test_other_request_ids_are_replaced(header: str | None) -> None:
    generated = request_id_from(header)
    assert generated != header
    assert re.fullmatch(r"[0-9a-f]{32}", generated)


def test_a_valid_traceparent_continues_the_trace_with_a_new_span() -> None:
    incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    ours = traceparent_from(incoming)
    assert TRACEPARENT.fullmatch(ours)
    assert ours.split("-")[1] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert ours.split("-")[2] != "00f067aa0ba902b7"
    assert ours.endswith("-01")


@pytest.mark.parametrize(
    "header",
    [
        None,
        "garbage",
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
    ],
)
def test_an_invalid_traceparent_starts_a_new_trace(header: str | None) -> None:
    ours = traceparent_from(header)
    assert TRACEPARENT.fullmatch(ours)
    assert header is None or ours.split("-")[1] not in header.lower()
