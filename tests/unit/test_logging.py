"""Logging: JSON lines with service/level/event, stdlib libraries routed through structlog,
secrets never written."""

from __future__ import annotations

import json
import logging
import sys
import threading
from collections.abc import Iterator

import pytest
import structlog
from hypothesis import given, settings
from hypothesis import strategies as st

from pos.config import LogSettings
from pos.logging import REDACTED, configure, get_logger, redact_text, resolve_format

JSON = LogSettings(log_format="json", log_level="DEBUG")


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """configure() rewires the root logger and structlog; put both back for other tests."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    hooks = sys.excepthook, threading.excepthook
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    sys.excepthook, threading.excepthook = hooks
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()


def _lines(err: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in err.splitlines() if line.strip()]


def test_structlog_lines_are_json_with_service_level_event_and_context(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure("publisher", JSON)
    structlog.contextvars.bind_contextvars(order_id="o-1", request_id="r-1")
    get_logger().info("event published", partition=3, offset=42)
    (line,) = _lines(capsys.readouterr().err)
    assert line["service"] == "publisher"
    assert line["level"] == "info"
    assert line["event"] == "event published"
    assert (line["order_id"], line["request_id"]) == ("o-1", "r-1")
    assert (line["partition"], line["offset"]) == (3, 42)
    assert "timestamp" in line


def test_service_survives_a_cleared_context(capsys: pytest.CaptureFixture[str]) -> None:
    """Request middleware clears the context per request; the service name must stay."""
    configure("api", JSON)
    structlog.contextvars.clear_contextvars()
    get_logger().info("request done")
    assert _lines(capsys.readouterr().err)[0]["service"] == "api"


def test_stdlib_records_become_json_lines_of_the_service(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure("api", JSON)
    structlog.contextvars.bind_contextvars(request_id="r-9")
    logging.getLogger("uvicorn.error").warning("Started server process [%d]", 123)
    (line,) = _lines(capsys.readouterr().err)
    assert line["event"] == "Started server process [123]"
    assert line["logger"] == "uvicorn.error"
    assert (line["service"], line["level"], line["request_id"]) == ("api", "warning", "r-9")


def test_stdlib_exceptions_are_rendered_inside_the_json_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure("consumer", JSON)
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logging.getLogger("aiohttp").exception("call failed")
    (line,) = _lines(capsys.readouterr().err)
    assert "RuntimeError: boom" in str(line["exception"])


def test_configure_twice_installs_one_handler(capsys: pytest.CaptureFixture[str]) -> None:
    configure("api", JSON)
    configure("api", JSON)
    logging.getLogger("alembic").info("once")
    assert len(_lines(capsys.readouterr().err)) == 1


def test_level_filters_both_paths(capsys: pytest.CaptureFixture[str]) -> None:
    configure("api", LogSettings(log_format="json", log_level="WARNING"))
    get_logger().info("hidden")
    logging.getLogger("uvicorn").info("hidden too")
    get_logger().warning("shown")
    assert [line["event"] for line in _lines(capsys.readouterr().err)] == ["shown"]


def test_secrets_are_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    configure("api", JSON)
    get_logger().error(
        "cannot connect to postgresql://postgres:hunter2@db:5432/posdb",
        api_key="pos_live_abc",
        authorization="Bearer xyz",
        idempotency_key="till-7-0001",
    )
    logging.getLogger("asyncpg").error("dsn kafka://u:s3cret@k:9092")
    err = capsys.readouterr().err
    assert "hunter2" not in err
    assert "s3cret" not in err
    assert "pos_live_abc" not in err
    assert "xyz" not in err
    structured, stdlib = _lines(err)
    assert (
        structured["event"] == f"cannot connect to postgresql://postgres:{REDACTED}@db:5432/posdb"
    )
    assert structured["api_key"] == REDACTED
    # The idempotency key is how an operator finds a till's request: it is kept.
    assert structured["idempotency_key"] == "till-7-0001"
    assert stdlib["event"] == f"dsn kafka://u:{REDACTED}@k:9092"


@settings(max_examples=200, deadline=None)
@given(
    user=st.from_regex(r"[a-z0-9_]{0,12}", fullmatch=True),
    password=st.from_regex(r"[A-Za-z0-9!#$%^&*()_+=-]{1,20}", fullmatch=True),
    host=st.from_regex(r"[a-z0-9.-]{1,20}", fullmatch=True),
)
def test_url_passwords_never_survive_redaction(user: str, password: str, host: str) -> None:
    text = f"error: postgresql://{user}:{password}@{host}:5433/posdb failed"
    redacted = redact_text(text)
    assert redacted == f"error: postgresql://{user}:{REDACTED}@{host}:5433/posdb failed"


def test_text_without_credentials_is_untouched() -> None:
    text = "GET http://127.0.0.1:8081/stats took 3 ms; key a:b@c is not a URL"
    assert redact_text(text) == text


def test_console_format_is_readable_not_json(capsys: pytest.CaptureFixture[str]) -> None:
    configure("dev", LogSettings(log_format="console"))
    get_logger().info("hello", order_id="o-1")
    err = capsys.readouterr().err
    assert "hello" in err
    assert "order_id" in err
    with pytest.raises(json.JSONDecodeError):
        json.loads(err)


def test_auto_format_is_json_off_a_terminal() -> None:
    # pytest captures stderr, so it is not a terminal here.
    assert resolve_format(LogSettings(log_format="auto")) == "json"


def test_an_uncaught_exception_is_a_json_line(capsys: pytest.CaptureFixture[str]) -> None:
    configure("consumer", JSON)
    try:
        raise AssertionError("transport is not a Transport")
    except AssertionError as exc:
        sys.excepthook(type(exc), exc, exc.__traceback__)
    (line,) = _lines(capsys.readouterr().err)
    assert (line["event"], line["level"], line["service"]) == (
        "uncaught exception",
        "critical",
        "consumer",
    )
    assert "AssertionError: transport is not a Transport" in str(line["exception"])


def test_an_uncaught_exception_in_a_thread_is_a_json_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure("publisher", JSON)

    def crash() -> None:
        raise RuntimeError("metrics server died")

    thread = threading.Thread(target=crash, name="metrics")
    thread.start()
    thread.join()
    (line,) = _lines(capsys.readouterr().err)
    assert (line["event"], line["thread"]) == ("uncaught exception in thread", "metrics")
    assert "RuntimeError: metrics server died" in str(line["exception"])


def test_alembic_plugin_announcements_are_quiet(capsys: pytest.CaptureFixture[str]) -> None:
    configure("api", JSON)
    logging.getLogger("alembic.runtime.plugins").info("setup plugin alembic.autogenerate.types")
    logging.getLogger("alembic.runtime.migration").info("Running upgrade  -> 0001")
    assert [line["event"] for line in _lines(capsys.readouterr().err)] == [
        "Running upgrade  -> 0001"
    ]
