"""Structured logging for every service: JSON lines for machines, colour for people.

Context such as the request id, order id or Kafka partition/offset is bound with
``structlog.contextvars`` where it becomes known, so every line logged inside that scope
carries it without being passed around, and one grep follows an order across services.

Libraries that log through the standard ``logging`` module (uvicorn, alembic, asyncio) go
through the same processors, so a log shipper sees one format per service, never a mix of
JSON and plain text, and their lines carry ``service`` too.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
from types import TracebackType
from typing import Any

import structlog
from structlog.types import EventDict, Processor

from pos.config import LogSettings

REDACTED = "***"

#: Field names whose values are credentials. The idempotency key is deliberately not one:
#: it is how an operator finds a till's request, and it carries no authority.
_SECRET_FIELD = re.compile(
    r"pass(word|wd)?|secret|token|authorization|api[_-]?key|cookie|credential", re.IGNORECASE
)
#: ``scheme://user:password@host``: connection URLs end up in error messages (a driver's
#: "cannot connect to ...") that would otherwise carry the database password into the logs.
_URL_CREDENTIALS = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^\s:/@]*:)[^\s@/]+@", re.IGNORECASE)


def redact_text(text: str) -> str:
    """``text`` with the password of every URL in it replaced by ``***``."""
    return _URL_CREDENTIALS.sub(rf"\g<head>{REDACTED}@", text)


def redact_secrets(_: Any, __: str, event_dict: EventDict) -> EventDict:
    """Processor: mask credential fields and URL passwords before anything is rendered."""
    for key, value in event_dict.items():
        if value is None:
            continue
        if _SECRET_FIELD.search(key):
            event_dict[key] = REDACTED
        elif isinstance(value, str):
            event_dict[key] = redact_text(value)
    return event_dict


def _service_adder(service: str) -> Processor:
    """A processor stamping ``service`` on every line.

    A processor rather than a bound context variable: request middleware clears the
    context variables per request, and the service name must survive that.
    """

    def add_service(_: Any, __: str, event_dict: EventDict) -> EventDict:
        event_dict.setdefault("service", service)
        return event_dict

    return add_service


def _shared_processors(service: str) -> list[Processor]:
    """What every line goes through, whether it came from structlog or from ``logging``."""
    return [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        _service_adder(service),
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
    ]


def _renderers(fmt: str) -> list[Processor]:
    if fmt == "console":
        # The console renderer formats exceptions itself (with colour): no format_exc_info.
        return [redact_secrets, structlog.dev.ConsoleRenderer(colors=True)]
    return [
        structlog.processors.format_exc_info,
        redact_secrets,
        structlog.processors.JSONRenderer(),
    ]


def resolve_format(settings: LogSettings) -> str:
    """``json`` or ``console``: ``auto`` is colour on a terminal, JSON lines anywhere else."""
    if settings.log_format in {"json", "console"}:
        return settings.log_format
    return "console" if sys.stderr.isatty() else "json"


class _PosHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The root handler installed by :func:`configure`, recognised on a second call."""


#: Libraries whose INFO lines are noise in a service log (alembic 1.17 announces each of its
#: plugins every time a service checks the schema revision at start-up).
_QUIETER = {"alembic.runtime.plugins": logging.WARNING}


def _log_uncaught(
    kind: type[BaseException], value: BaseException, traceback: TracebackType | None
) -> None:
    """Crashes are log lines too, so a log shipper keeps the traceback with its service."""
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, value, traceback)
        return
    get_logger().critical("uncaught exception", exc_info=(kind, value, traceback))


def _log_uncaught_in_thread(args: threading.ExceptHookArgs) -> None:
    if args.exc_value is not None:
        get_logger().critical(
            "uncaught exception in thread",
            thread=getattr(args.thread, "name", None),
            exc_info=(args.exc_type, args.exc_value, args.exc_traceback),
        )


def _route_stdlib(service: str, fmt: str, level: int) -> None:
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.stdlib.add_logger_name, *_shared_processors(service)],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *_renderers(fmt)],
    )
    handler = _PosHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _PosHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name, quieter in _QUIETER.items():
        logging.getLogger(name).setLevel(max(level, quieter))


def configure(service: str, settings: LogSettings) -> None:
    """Set up logging for one process; calling it again (tests, `pos dev`) replaces it."""
    level = logging.getLevelNamesMapping().get(settings.log_level.upper(), logging.INFO)
    fmt = resolve_format(settings)
    structlog.configure(
        processors=[*_shared_processors(service), *_renderers(fmt)],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.clear_contextvars()
    _route_stdlib(service, fmt, level)
    sys.excepthook = _log_uncaught
    threading.excepthook = _log_uncaught_in_thread


def get_logger(name: str | None = None) -> structlog.stdlib.BoundLogger:
    logger: structlog.stdlib.BoundLogger = structlog.get_logger(name)
    return logger
