"""Device authentication of the order routes: ``Authorization: Bearer <device key>``.

Cheap on the hot path: a verified key's registry row is cached in-process for
``API_KEY_CACHE_SECONDS``, so a POST still costs its one intake round trip; a revoked key
therefore keeps working for at most that long in a running API. The cache holds the stored
hash, not a verdict, so every request still has its secret compared in constant time.
Unknown key ids are not cached: they cost a primary-key lookup each, and are counted.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Annotated

import asyncpg
from fastapi import Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from pos.domain.devices import Device
from pos.logging import get_logger
from pos.order_api import metrics
from pos.order_api import problems as p
from pos.order_api.problems import ProblemError
from pos.security import keys, registry
from pos.security.keycache import TtlCache
from pos.security.ratelimit import RateLimiter, retry_after_header

log = get_logger(__name__)

BEARER = HTTPBearer(
    auto_error=False,
    scheme_name="DeviceKey",
    description="A device API key issued by `pos devices add --store S --device D`.",
)


def _refused(reason: str, detail: str, *, presented: bool) -> ProblemError:
    """A 401; the reason goes to metrics and the log, never the key itself."""
    metrics.AUTH_FAILURES.labels(reason).inc()
    challenge = 'Bearer error="invalid_token"' if presented else "Bearer"
    return ProblemError(p.UNAUTHORIZED, detail, headers={"WWW-Authenticate": challenge})


class Authenticator:
    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        cache_seconds: float,
        limiter: RateLimiter,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._pool = pool
        self._cache: TtlCache[registry.RegisteredKey] = TtlCache(ttl=cache_seconds)
        self._limiter = limiter
        self._clock = clock

    async def authenticate(self, token: str | None) -> Device:
        """The device the token belongs to, or a 401/429 problem."""
        if token is None:
            raise _refused(
                "missing",
                "Send the device's key as `Authorization: Bearer <key>`.",
                presented=False,
            )
        try:
            key = keys.parse(token)
        except keys.MalformedKeyError:
            raise _refused(
                "malformed", "The bearer token is not a device key.", presented=True
            ) from None
        now = self._clock()
        found = self._cache.get(key.key_id, now)
        if found is None:
            found = await registry.find_active(self._pool, key.key_id)
            if found is None:
                log.info("unknown or revoked device key", key_id=key.key_id)
                raise _refused("unknown", "This key is unknown or revoked.", presented=True)
            self._cache.put(key.key_id, found, now)
        if not keys.verify(key, found.key_hash):
            log.info("wrong secret for device key", key_id=key.key_id)
            raise _refused("wrong_secret", "This key is unknown or revoked.", presented=True)
        device = found.device
        wait = self._limiter.take(device.idempotency_scope, now)
        if wait:
            metrics.RATE_LIMITED.inc()
            raise ProblemError(
                p.RATE_LIMITED,
                f"Device {device.idempotency_scope} sends faster than its limit; slow down.",
                headers={"Retry-After": retry_after_header(wait)},
            )
        return device


async def authenticated_device(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(BEARER)],
) -> Device:
    """The route dependency: declaring it documents the Bearer scheme in the OpenAPI."""
    authenticator: Authenticator = request.app.state.components.auth
    return await authenticator.authenticate(
        credentials.credentials if credentials is not None else None
    )
