"""The Order API in-process, as the tests talk to it: httpx over ASGI, with the app's
lifespan run (pool, migrations check, key cache), so a test meets the real wiring without
a port or a subprocess."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping

import httpx

from pos.config import ApiSettings, AuthSettings, KafkaSettings
from pos.order_api.app import create_app


@contextlib.asynccontextmanager
async def in_process_api(
    *,
    api: ApiSettings | None = None,
    auth: AuthSettings | None = None,
    kafka: KafkaSettings | None = None,
    headers: Mapping[str, str] | None = None,
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of a fresh API; settings not given are the environment's. ``headers`` are
    sent with every request (a device's ``Authorization``, say)."""
    app = create_app(api=api, auth=auth, kafka=kafka)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://api.test", headers=headers
        ) as client,
    ):
        yield client
