"""The Order API application: wiring only (settings, pool, components, routes, middleware).

``create_app`` is the factory uvicorn calls in each worker and the tests call in-process;
everything it needs is read from settings when the app starts, never at import.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta

from fastapi import FastAPI

from pos import tracing
from pos.config import ApiSettings, AuthSettings, DatabaseSettings, KafkaSettings
from pos.db.pool import check_migrated
from pos.order_api import errors, metrics, openapi
from pos.order_api.auth import Authenticator
from pos.order_api.cleanup import purge_periodically
from pos.order_api.database import create_api_pool
from pos.order_api.dependencies import AppComponents
from pos.order_api.headers import SecurityHeadersMiddleware
from pos.order_api.idempotency import IdempotentIntake
from pos.order_api.middleware import BodyLimitMiddleware, RequestContextMiddleware
from pos.order_api.pagination import CursorCodec
from pos.order_api.readiness import ReadinessProbe
from pos.order_api.reads import OrderReader
from pos.order_api.routes import health, orders
from pos.order_api.secrets import cursor_secret
from pos.order_api.store import IntakeStore
from pos.security.ratelimit import RateLimiter


def create_app(
    api: ApiSettings | None = None,
    db: DatabaseSettings | None = None,
    kafka: KafkaSettings | None = None,
    auth: AuthSettings | None = None,
) -> FastAPI:
    api_settings = api or ApiSettings()
    auth_settings = auth or AuthSettings()
    db_settings = db or DatabaseSettings()
    kafka_settings = kafka or KafkaSettings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = await create_api_pool(db_settings, api_settings)
        try:
            await check_migrated(pool)
            configured = api_settings.cursor_secret
            secret = await cursor_secret(
                pool, configured.get_secret_value() if configured else None
            )
            store = IntakeStore(pool)
            app.state.components = AppComponents(
                intake=IdempotentIntake(
                    store,
                    topic=kafka_settings.order_topic,
                    retention=timedelta(seconds=api_settings.idempotency_retention_seconds),
                ),
                auth=Authenticator(
                    pool,
                    cache_seconds=auth_settings.api_key_cache_seconds,
                    limiter=RateLimiter(
                        rate=auth_settings.api_rate_limit_per_second,
                        burst=auth_settings.api_rate_limit_burst,
                    ),
                ),
                reader=OrderReader(pool),
                cursors=CursorCodec(secret),
                readiness=ReadinessProbe(
                    pool, kafka_settings, timeout=api_settings.readiness_timeout_seconds
                ),
                metrics=metrics.registry_for(api_settings.prometheus_multiproc_dir),
            )
            cleanup = asyncio.create_task(
                purge_periodically(
                    store,
                    interval=api_settings.idempotency_cleanup_interval_seconds,
                    batch_size=api_settings.idempotency_cleanup_batch_size,
                )
            )
            try:
                yield
            finally:
                cleanup.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await cleanup
        finally:
            await pool.close()

    app = FastAPI(
        title="POS Order API",
        version="1.0.0",
        description="Idempotent order intake for point-of-sale tills.",
        lifespan=lifespan,
    )
    # The routes join the app's own flat route list instead of going through
    # include_router: included routers are matched through an extra layer on every
    # request, and one flat list lets a 405 answer name every method a path serves.
    app.router.routes.extend([*orders.router.routes, *health.router.routes])
    errors.install(app)
    openapi.install(app)
    # Added innermost first: the request context wraps the body limit, so a 413 carries
    # the request id and is counted like any other answer.
    app.add_middleware(BodyLimitMiddleware, max_bytes=api_settings.max_body_bytes)
    app.add_middleware(RequestContextMiddleware)
    # Outermost, so even a 413 or a last-resort 500 carries the security headers.
    app.add_middleware(SecurityHeadersMiddleware)
    if tracing.enabled():
        _trace_requests(app)
    return app


#: Probes and scrapes: a span each would drown the orders' traces.
UNTRACED_PATHS = "/healthz,/readyz,/metrics"


def _trace_requests(app: FastAPI) -> None:
    """A server span for every request, outside every middleware (so a 413 or a 500 has
    one too), continuing the caller's ``traceparent``. The spans FastAPI's instrumentation
    would add for each ASGI receive and send say nothing about an order: left out."""
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=tracing.provider(),
        excluded_urls=UNTRACED_PATHS,
        exclude_spans=["receive", "send"],
    )
