"""A short-lived in-process cache of verified devices, so auth costs no extra round trip.

Without it every order would need a key lookup before its intake statement: two database
round trips instead of one. Entries live ``ttl`` seconds, which is therefore how long a
revoked key may keep working in a running API process (documented in the README); the
cached value includes the stored hash, so a wrong secret for a cached key id is still
refused by the constant-time comparison.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class _Entry(Generic[V]):
    value: V
    expires_at: float


class TtlCache(Generic[V]):
    """Bounded: when full, expired entries are dropped, then the oldest inserted ones."""

    def __init__(self, *, ttl: float, max_entries: int = 100_000) -> None:
        self._ttl = ttl
        self._max = max_entries
        self._entries: dict[str, _Entry[V]] = {}

    def get(self, key: str, now: float) -> V | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.expires_at <= now:
            del self._entries[key]
            return None
        return entry.value

    def put(self, key: str, value: V, now: float) -> None:
        if self._ttl <= 0:
            return
        if len(self._entries) >= self._max and key not in self._entries:
            self._evict(now)
        self._entries[key] = _Entry(value, now + self._ttl)

    def _evict(self, now: float) -> None:
        for key in [k for k, e in self._entries.items() if e.expires_at <= now]:
            del self._entries[key]
        while len(self._entries) >= self._max:
            del self._entries[next(iter(self._entries))]
