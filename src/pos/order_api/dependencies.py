"""What the routes depend on: the per-process components (built once by the app's
lifespan) and the request's context, each read from the request."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry
from starlette.requests import Request

from pos.order_api.auth import Authenticator
from pos.order_api.context import RequestContext
from pos.order_api.idempotency import IdempotentIntake
from pos.order_api.pagination import CursorCodec
from pos.order_api.readiness import ReadinessProbe
from pos.order_api.reads import OrderReader


@dataclass(frozen=True, slots=True)
class AppComponents:
    """The objects every request shares, built once per process."""

    intake: IdempotentIntake
    auth: Authenticator
    reader: OrderReader
    cursors: CursorCodec
    readiness: ReadinessProbe
    metrics: CollectorRegistry


def components_of(request: Request) -> AppComponents:
    found: AppComponents = request.app.state.components
    return found


def request_context(request: Request) -> RequestContext:
    """Set by RequestContextMiddleware for every HTTP request."""
    return RequestContext(request.state.request_id, request.state.traceparent)
