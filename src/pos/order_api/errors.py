"""Exception handlers: every error FastAPI or Starlette raises becomes problem+json."""

from __future__ import annotations

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.routing import Match

from pos.logging import get_logger
from pos.order_api import problems as p
from pos.order_api.problems import ProblemError, problem_response
from pos.order_api.schemas import field_errors

log = get_logger(__name__)


def _render(request: Request, error: ProblemError) -> Response:
    return problem_response(
        error, instance=request.url.path, request_id=getattr(request.state, "request_id", None)
    )


async def _on_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ProblemError)
    return _render(request, exc)


async def _on_validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    if any(error.get("type") == "json_invalid" for error in errors):
        return _render(
            request, ProblemError(p.MALFORMED_JSON, "The request body is not valid JSON.")
        )
    fields = field_errors(errors)
    summary = "; ".join(f"{e['field']}: {e['message']}" for e in fields[:5])
    return _render(
        request,
        ProblemError(
            p.VALIDATION_ERROR, f"The request is invalid: {summary}.", extras={"errors": fields}
        ),
    )


#: The database went away under a request: the primary crashed or was failed over (the
#: connection dropped), no writable node answers yet (refused), or a commit waited past the
#: bound for a standby's confirmation (timed out and cancelled). In every case the outcome
#: of a write may be unknown, so the answer is "retry", never "failed": the till's retry
#: with the same Idempotency-Key replays the order if it did commit, or creates it once.
DATABASE_UNAVAILABLE_ERRORS: tuple[type[Exception], ...] = (
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.TargetServerAttributeNotMatched,  # only a standby answers (before promotion)
    asyncpg.OperatorInterventionError,  # admin shutdown, crash shutdown, cannot connect now
    asyncpg.ReadOnlySQLTransactionError,  # a connection still on a node just demoted
    # A connection whose server session was terminated mid-statement (the primary killed)
    # can be left mid-protocol; its next statement fails with "cannot switch to state N;
    # another operation is in progress". The connection is dead (the pool drops it on
    # release) and the write's outcome unknown: the same "retry" as a dropped connection.
    asyncpg.InternalClientError,
    OSError,
    TimeoutError,
)
DATABASE_RETRY_AFTER_SECONDS = "1"


async def _on_database_unavailable(request: Request, exc: Exception) -> Response:
    log.warning(
        "database unavailable; answered 503",
        method=request.method,
        path=request.url.path,
        error=f"{type(exc).__name__}: {exc}",
    )
    return _render(
        request,
        ProblemError(
            p.DATABASE_UNAVAILABLE,
            "The database is unavailable or failing over; retry with the same "
            "Idempotency-Key: an order that was stored is answered, never created twice.",
            headers={"Retry-After": DATABASE_RETRY_AFTER_SECONDS},
        ),
    )


def _allowed_methods(request: Request) -> str:
    """Every method some route serves on this path (Starlette names only the first route's)."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches(request.scope)
        if match is not Match.NONE:
            methods |= getattr(route, "methods", None) or set()
    return ", ".join(sorted(methods))


async def _on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    problem = p.http_problem(exc.status_code, str(exc.detail))
    headers = dict(exc.headers or {})
    detail = str(exc.detail)
    if exc.status_code == 404:
        detail = f"Nothing is served at {request.url.path}."
    elif exc.status_code == 405:
        detail = f"{request.method} is not allowed on {request.url.path}."
        headers["Allow"] = _allowed_methods(request)
    return _render(request, ProblemError(problem, detail, headers=headers))


def install(app: FastAPI) -> None:
    app.add_exception_handler(ProblemError, _on_problem)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(HTTPException, _on_http_error)
    for error in DATABASE_UNAVAILABLE_ERRORS:
        app.add_exception_handler(error, _on_database_unavailable)
