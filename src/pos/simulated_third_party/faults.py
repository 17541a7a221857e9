"""Fault injection: which answer a call gets and how long it takes. Pure, no I/O.

The rates are shares of calls, drawn independently per call from one uniform number so
they never overlap: a call is refused, or fails, or meets a key in progress, or times
out, or is accepted. A status override and an outage come before any draw.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from pos.config import ThirdPartySettings


class Answer(Enum):
    ACCEPT = "accept"
    REFUSE = "refuse"  # 4xx: the order is invalid for us; retrying cannot help
    ERROR = "error"  # 5xx: nothing was recorded, the caller should retry
    CONFLICT = "conflict"  # 409 "key in progress": nothing recorded, the caller should retry
    TIMEOUT = "timeout"  # recorded, but the answer comes long after the caller gave up
    OVERRIDE = "override"  # the fixed status of a misconfigured destination, nothing recorded


# Admin JSON field (camelCase, as the rest of the HTTP surface) -> dataclass field.
_JSON_FIELDS = {
    "errorRate": "error_rate",
    "refusalRate": "refusal_rate",
    "timeoutRate": "timeout_rate",
    "conflictRate": "conflict_rate",
    "latencyMs": "latency_ms",
    "jitterMs": "jitter_ms",
    "hangMs": "hang_ms",
    "outage": "outage",
    "errorKeys": "error_keys",
    "statusOverride": "status_override",
}
_RATES = ("error_rate", "refusal_rate", "conflict_rate", "timeout_rate")
#: What a status override may be: an error the caller has to handle. A 2xx that records
#: nothing would tell the caller an order was delivered when it was not.
OVERRIDE_RANGE = range(400, 600)


@dataclass(frozen=True, slots=True)
class Faults:
    error_rate: float = 0.0
    refusal_rate: float = 0.0
    timeout_rate: float = 0.0
    conflict_rate: float = 0.0
    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    hang_ms: float = 30_000.0
    outage: bool = False
    #: Keys answered with 503 while listed: a deterministic "this one order keeps failing"
    #: for tests and demos, where a random rate cannot say which order is hit.
    error_keys: frozenset[str] = frozenset()
    #: Every call answered with this status (e.g. 401, 403, 404): a destination that is
    #: misconfigured (wrong credentials, wrong URL) rather than down. None: off.
    status_override: int | None = None

    def __post_init__(self) -> None:
        for name in _RATES:
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {value}")
        if sum(getattr(self, name) for name in _RATES) > 1.0 + 1e-9:
            raise ValueError(
                "errorRate + refusalRate + conflictRate + timeoutRate must not exceed 1"
            )
        if self.status_override is not None and self.status_override not in OVERRIDE_RANGE:
            raise ValueError(
                f"statusOverride must be a 4xx or 5xx status or null, got {self.status_override}"
            )
        for name in ("latency_ms", "jitter_ms", "hang_ms"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")

    @classmethod
    def from_settings(cls, settings: ThirdPartySettings) -> Faults:
        return cls(
            error_rate=settings.tp_error_rate,
            refusal_rate=settings.tp_refusal_rate,
            timeout_rate=settings.tp_timeout_rate,
            conflict_rate=settings.tp_conflict_rate,
            latency_ms=settings.tp_latency_ms,
            jitter_ms=settings.tp_jitter_ms,
            hang_ms=settings.tp_hang_seconds * 1000,
            outage=settings.tp_outage,
            status_override=settings.tp_status_override,
        )

    def updated(self, patch: Mapping[str, Any]) -> Faults:
        """A copy with the fields named in an admin request changed; ValueError if invalid."""
        unknown = set(patch) - set(_JSON_FIELDS)
        if unknown:
            raise ValueError(f"unknown fields {sorted(unknown)}; known: {sorted(_JSON_FIELDS)}")
        changes: dict[str, Any] = {}
        for key, value in patch.items():
            name = _JSON_FIELDS[key]
            if name == "outage":
                if not isinstance(value, bool):
                    raise ValueError("outage must be true or false")
                changes[name] = value
            elif name == "error_keys":
                if not isinstance(value, list) or not all(isinstance(k, str) for k in value):
                    raise ValueError("errorKeys must be a list of strings")
                changes[name] = frozenset(value)
            elif name == "status_override":
                if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                    raise ValueError("statusOverride must be an integer status or null")
                changes[name] = value
            else:
                if isinstance(value, bool) or not isinstance(value, int | float):
                    raise ValueError(f"{key} must be a number")
                changes[name] = float(value)
        return dataclasses.replace(self, **changes)

    def to_json(self) -> dict[str, Any]:
        return {
            key: sorted(value) if isinstance(value, frozenset) else value
            for key, value in ((k, getattr(self, n)) for k, n in _JSON_FIELDS.items())
        }

    def answer(self, key: str, rng: random.Random, *, known: bool) -> Answer:
        """The answer for one call with Idempotency-Key ``key``.

        A ``known`` key (already accepted) is never refused: a real system does not reject
        an order it has accepted before, it replays the receipt. Infrastructure faults
        (status override, outage, 5xx, key in progress, timeouts) hit known and new keys
        alike.
        """
        if self.status_override is not None:
            return Answer.OVERRIDE
        if self.outage or key in self.error_keys:
            return Answer.ERROR
        draw = rng.random()
        if draw < self.refusal_rate:
            return Answer.ACCEPT if known else Answer.REFUSE
        draw -= self.refusal_rate
        if draw < self.error_rate:
            return Answer.ERROR
        draw -= self.error_rate
        if draw < self.conflict_rate:
            return Answer.CONFLICT
        draw -= self.conflict_rate
        if draw < self.timeout_rate:
            return Answer.TIMEOUT
        return Answer.ACCEPT

    def latency_seconds(self, rng: random.Random) -> float:
        extra = rng.uniform(0.0, self.jitter_ms) if self.jitter_ms else 0.0
        return (self.latency_ms + extra) / 1000.0
