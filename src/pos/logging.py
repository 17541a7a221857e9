"""Structured logging for every service: JSON lines for machines, colour for people.

Context such as the request id, order id or Kafka partition/offset is bound with
``structlog.contextvars`` where it becomes known, so every line logged inside that scope
carries it without being passed around, and one grep follows an order across services.
"""

from __future__ import annotations

import logging
import sys

import structlog

from pos.config import LogSettings


def configure(service: str, settings: LogSettings | None = None) -> None:
    settings = settings or LogSettings()
    level = logging.getLevelNamesMapping().get(settings.log_level.upper(), logging.INFO)
    fmt = settings.log_format
    if fmt == "auto":
        fmt = "console" if sys.stderr.isatty() else "json"
    renderer: structlog.types.Processor = (
        structlog.dev.ConsoleRenderer(colors=True)
        if fmt == "console"
        else structlog.processors.JSONRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(service=service)
    # Libraries that use the standard logging module (uvicorn, alembic) go to stderr too.
    logging.basicConfig(level=level, stream=sys.stderr, format="%(levelname)s %(name)s %(message)s")


def get_logger(name: str | None = None) -> structlog.stdlib.BoundLogger:
    logger: structlog.stdlib.BoundLogger = structlog.get_logger(name)
    return logger
