"""Per-request identity: the request id and the W3C trace context.

Both are accepted from the caller when well formed (a till or gateway may already have
them, and one id should follow the order through every service), and created otherwise.
They travel with the order: the request id on the order row, both as Kafka headers.
"""

from __future__ import annotations

import os
import re
import uuid
from dataclasses import dataclass

# Short and boring on purpose: the id is echoed in headers and logs and stored in a
# varchar(64), so anything that could smuggle a newline or grow a log line is replaced.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
_ZERO_TRACE = "0" * 32
_ZERO_SPAN = "0" * 16


@dataclass(frozen=True, slots=True)
class RequestContext:
    request_id: str
    traceparent: str


def request_id_from(header: str | None) -> str:
    if header is not None and _REQUEST_ID.fullmatch(header):
        return header
    return uuid.uuid4().hex


def traceparent_from(header: str | None) -> str:
    """This request's span: a child of the caller's trace when given, else a new trace.

    Per W3C Trace Context, an invalid header (all-zero ids, version ff) starts a new trace
    rather than failing the request.
    """
    match = _TRACEPARENT.fullmatch(header) if header is not None else None
    span_id = os.urandom(8).hex()
    if match is not None:
        version, trace_id, parent_id, flags = match.groups()
        if version != "ff" and trace_id != _ZERO_TRACE and parent_id != _ZERO_SPAN:
            return f"00-{trace_id}-{span_id}-{flags}"
    return f"00-{os.urandom(16).hex()}-{span_id}-01"
