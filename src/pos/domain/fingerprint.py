"""The fingerprint of a request: what "the same request" means for an Idempotency-Key.

A till that retries re-serialises its order, possibly with other key order or whitespace,
so the raw bytes cannot be compared. The fingerprint is taken over a canonical form of the
*validated* body instead: JSON with sorted keys and no whitespace. Item order is kept: it
is the order of the receipt lines, and a reordered receipt is a different request.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import orjson

#: Bumped if the canonical form ever changes: a stored fingerprint of the old form must
#: not silently turn a legitimate retry into a "different request" (422).
CANONICAL_FORM_VERSION = b"pos.request.v1\n"


def canonical_form(document: Mapping[str, Any]) -> bytes:
    return orjson.dumps(document, option=orjson.OPT_SORT_KEYS)


def fingerprint(document: Mapping[str, Any]) -> bytes:
    """SHA-256 of the canonical form: 32 bytes, stored beside the idempotency key."""
    return hashlib.sha256(CANONICAL_FORM_VERSION + canonical_form(document)).digest()
