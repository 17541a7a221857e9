"""Probes and metrics: ``/healthz`` (alive), ``/readyz`` (dependencies), ``/metrics``."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from pos.order_api import metrics
from pos.order_api import problems as p
from pos.order_api.dependencies import components_of
from pos.order_api.openapi import problem_responses
from pos.order_api.problems import ProblemError
from pos.order_api.readiness import OK
from pos.order_api.schemas import Readiness

router = APIRouter(tags=["operations"])


@router.get("/healthz", operation_id="checkLiveness", summary="The process is alive")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    operation_id="checkReadiness",
    summary="The database and Kafka answer",
    response_model=Readiness,
    responses=problem_responses(p.NOT_READY),
)
async def readyz(request: Request) -> Readiness:
    checks = await components_of(request).readiness.check()
    if any(result != OK for result in checks.values()):
        failing = ", ".join(name for name, result in checks.items() if result != OK)
        raise ProblemError(p.NOT_READY, f"Not ready: {failing}.", extras={"checks": checks})
    return Readiness(status="ready", checks=checks)


@router.get(
    "/metrics",
    operation_id="getMetrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}},
)
async def prometheus_metrics(request: Request) -> Response:
    body, content_type = metrics.exposition(components_of(request).metrics)
    return Response(body, media_type=content_type)
