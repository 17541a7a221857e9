"""The verified-key cache forgets entries after their TTL and stays bounded."""

from __future__ import annotations

from pos.security.keycache import TtlCache


def test_entries_expire_after_the_ttl() -> None:
    cache: TtlCache[int] = TtlCache(ttl=5.0)
    cache.put("k", 1, now=100.0)
    assert cache.get("k", now=104.9) == 1
    assert cache.get("k", now=105.0) is None


def test_zero_ttl_disables_caching() -> None:
    cache: TtlCache[int] = TtlCache(ttl=0.0)
    cache.put("k", 1, now=0.0)
    assert cache.get("k", now=0.0) is None


def test_bounded_expired_first_then_oldest() -> None:
    cache: TtlCache[int] = TtlCache(ttl=10.0, max_entries=2)
    cache.put("old", 0, now=0.0)
    cache.put("a", 1, now=5.0)
    cache.put("b", 2, now=11.0)  # "old" has expired and makes room
    assert (cache.get("a", now=11.0), cache.get("b", now=11.0)) == (1, 2)
    cache.put("c", 3, now=12.0)  # nothing expired: the oldest ("a") goes
    assert cache.get("a", now=12.0) is None
    assert cache.get("c", now=12.0) == 3
