"""How every `pos` command ends: documented exit codes and one-line explanations.

A person at a terminal, or a script, needs two things from a failed command: what went
wrong and what to do, in one line on stderr, and an exit code that tells failure kinds
apart (a script retries a dependency outage, not a typo). Tracebacks are for bugs and
for ``--debug``. The driver libraries are looked up in ``sys.modules`` rather than
imported, so a command that never touched PostgreSQL or Kafka does not pay for them.
"""

from __future__ import annotations

import enum
import sys
from typing import Any


class ExitCode(enum.IntEnum):
    """The exit status of every `pos` command (table in the README)."""

    OK = 0
    #: The command ran and the outcome is a failure (unknown id, audit breach, ...).
    FAILURE = 1
    #: The command line or a setting is wrong; nothing was done.
    USAGE = 2
    #: The command ran; something it reports on is not healthy (`pos status`).
    DEGRADED = 3
    #: PostgreSQL or Kafka did not answer, or the schema is not migrated: try again later.
    UNREACHABLE = 4
    #: Interrupted with Ctrl-C (128 + SIGINT, as shells report it).
    INTERRUPTED = 130


class CommandError(Exception):
    """A known failure a command reports as one line: raised instead of printing + return."""

    def __init__(self, message: str, code: ExitCode = ExitCode.FAILURE) -> None:
        super().__init__(message)
        self.code = code


def explain(exc: BaseException) -> tuple[ExitCode, str] | None:
    """The exit code and one line for a known failure, or None for a bug."""
    if isinstance(exc, CommandError):
        return exc.code, str(exc)
    settings_error = _settings_error(exc)
    if settings_error is not None:
        return ExitCode.USAGE, settings_error
    database = _database_error(exc)
    if database is not None:
        return ExitCode.UNREACHABLE, database
    kafka = _kafka_error(exc)
    if kafka is not None:
        return ExitCode.UNREACHABLE, kafka
    if isinstance(exc, (ConnectionError, TimeoutError)):
        return ExitCode.UNREACHABLE, f"a service did not answer: {_redact(str(exc) or repr(exc))}"
    return None


def _settings_error(exc: BaseException) -> str | None:
    pydantic = sys.modules.get("pydantic")
    if pydantic is None or not isinstance(exc, pydantic.ValidationError):
        return None
    problems = []
    for error in exc.errors():
        variable = "_".join(str(part) for part in error["loc"]).upper()
        given = error.get("input")
        shown = f"={_redact(str(given))!r}" if isinstance(given, str | int | float) else ""
        message = error["msg"].removeprefix("Value error, ")
        problems.append(f"{variable}{shown}: {message}" if variable else message)
    return (
        "invalid setting "
        + "; ".join(problems)
        + " (set in the environment or .env; the README's configuration table lists them)"
    )


def _database_error(exc: BaseException) -> str | None:
    if _is_instance(exc, "sqlalchemy", "exc.DBAPIError"):
        # SQLAlchemy (migrations) wraps the driver's error; judge the driver's.
        exc = getattr(exc, "orig", None) or exc
    hint = "is PostgreSQL running and DATABASE_URL right? (`pos infra up`)"
    pool = sys.modules.get("pos.db.pool")
    if pool is not None and isinstance(exc, pool.DatabaseNotReadyError):
        return _redact(str(exc))
    if _is_instance(exc, "psycopg", "errors.UndefinedTable") or _is_instance(
        exc, "asyncpg", "UndefinedTableError"
    ):
        return "the database schema is missing: run `pos migrate`"
    if _is_instance(exc, "psycopg", "OperationalError") or _is_instance(
        exc, "asyncpg", "exceptions.PostgresConnectionError"
    ):
        return f"cannot connect to PostgreSQL: {_first_line(exc)}; {hint}"
    if _is_instance(exc, "asyncpg", "InvalidCatalogNameError") or _is_instance(
        exc, "asyncpg", "InvalidAuthorizationSpecificationError"
    ):
        return f"PostgreSQL refused the connection: {_first_line(exc)}; check DATABASE_URL"
    if "asyncpg" in sys.modules and isinstance(exc, OSError) and _from_module(exc, "asyncpg"):
        return f"cannot connect to PostgreSQL: {_first_line(exc)}; {hint}"
    return None


def _kafka_error(exc: BaseException) -> str | None:
    if not _is_instance(exc, "confluent_kafka", "KafkaException"):
        return None
    return (
        f"Kafka did not answer: {_first_line(exc)}; "
        "is it running and KAFKA_BROKER right? (`pos infra up`)"
    )


def _is_instance(exc: BaseException, module: str, dotted: str) -> bool:
    """``isinstance(exc, module.dotted)`` if ``module`` was imported, without importing it."""
    target: Any = sys.modules.get(module)
    for part in dotted.split("."):
        if target is None:
            return False
        target = getattr(target, part, None)
    return isinstance(target, type) and isinstance(exc, target)


def _from_module(exc: BaseException, module: str) -> bool:
    """Whether the traceback of ``exc`` passed through ``module`` (e.g. a connect call)."""
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_globals.get("__name__", "").startswith(module):
            return True
        tb = tb.tb_next
    return False


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return _redact(text.splitlines()[0])


def _redact(text: str) -> str:
    from pos.logging import redact_text

    return redact_text(text)
