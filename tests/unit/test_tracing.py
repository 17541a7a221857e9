"""Traces: when the standard variables turn them on, and what tracing costs when off."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from pos import tracing
from pos.config import PROJECT_ROOT, TraceSettings
from tests.support.span_tree import ORDER_TRACE

OTEL_VARIABLES = (
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_TRACES_EXPORTER",
    "OTEL_SERVICE_NAME",
    "OTEL_SDK_DISABLED",
)


@pytest.fixture(autouse=True)
def _no_otel_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in OTEL_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def settings(**env: str) -> TraceSettings:
    return TraceSettings(_env_file=None, **env)  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("env", "exporter"),
    [
        ({}, "none"),
        ({"otel_exporter_otlp_endpoint": "http://jaeger:4318"}, "otlp"),
        ({"otel_exporter_otlp_traces_endpoint": "http://c:4318/v1/traces"}, "otlp"),
        ({"otel_traces_exporter": "otlp"}, "otlp"),  # then the exporter's default endpoint
        ({"otel_traces_exporter": "CONSOLE"}, "console"),
        ({"otel_exporter_otlp_endpoint": "http://c:4318", "otel_traces_exporter": "none"}, "none"),
        ({"otel_exporter_otlp_endpoint": "http://c:4318", "otel_sdk_disabled": "true"}, "none"),
    ],
)
def test_the_standard_variables_decide(env: dict[str, str], exporter: str) -> None:
    assert settings(**env).exporter == exporter


def test_an_exporter_the_services_do_not_ship_is_refused() -> None:
    with pytest.raises(ValueError, match="otel_traces_exporter"):
        settings(otel_traces_exporter="zipkin")


def test_off_by_default_and_setup_records_nothing() -> None:
    assert tracing.setup("api", settings()) is False
    assert not tracing.enabled()
    assert tracing.current_traceparent() is None


def test_off_no_opentelemetry_sdk_is_imported() -> None:
    """Nothing of the SDK or the exporter is loaded by `pos --help` nor by the services'
    modules while traces are off: they cost neither start-up time nor memory."""
    code = (
        "import sys, contextlib\n"
        "import pos.order_api.app, pos.order_publisher.kafka_sender\n"
        "import pos.order_consumer.processor, pos.tracing, pos.cli\n"
        "with contextlib.suppress(SystemExit): pos.cli.main(['--help'])\n"
        "pos.tracing.setup('api', pos.config.TraceSettings())\n"
        "loaded = [m for m in sys.modules if m.startswith(('opentelemetry.sdk',"
        " 'opentelemetry.exporter', 'opentelemetry.instrumentation'))]\n"
        "assert not loaded, loaded\n"
    )
    env = {"PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    memory = InMemorySpanExporter()
    tracing.install("pos-test", SimpleSpanProcessor(memory))
    try:
        yield memory
    finally:
        tracing.shutdown()


def test_traceparent_names_the_span(exporter: InMemorySpanExporter) -> None:
    with tracing.tracer().start_as_current_span("outer") as span:
        ctx = span.get_span_context()
        assert tracing.current_traceparent() == tracing.traceparent_of(span)
        _, trace_id, span_id, _ = tracing.traceparent_of(span).split("-")
        assert (int(trace_id, 16), int(span_id, 16)) == (ctx.trace_id, ctx.span_id)


def test_a_stored_traceparent_becomes_the_parent(exporter: InMemorySpanExporter) -> None:
    stored = f"00-{'ab' * 16}-{'cd' * 8}-01"
    with tracing.tracer().start_as_current_span("child", context=tracing.context_of(stored)):
        pass
    (child,) = exporter.get_finished_spans()
    assert child.context is not None
    assert child.parent is not None
    assert (f"{child.context.trace_id:032x}", f"{child.parent.span_id:016x}") == (
        "ab" * 16,
        "cd" * 8,
    )
    assert tracing.context_of(None) is None
    assert tracing.context_of("") is None


def test_queries_outside_any_span_are_not_recorded(exporter: InMemorySpanExporter) -> None:
    """A poll of the outbox or a purge of keys is no one's trace: its query span is dropped;
    the same query inside a request is kept."""
    tracer = tracing.tracer()
    with tracer.start_as_current_span("SELECT", kind=SpanKind.CLIENT):
        pass
    with (
        tracer.start_as_current_span("request", kind=SpanKind.SERVER),
        tracer.start_as_current_span("SELECT", kind=SpanKind.CLIENT),
    ):
        pass
    names = [s.name for s in exporter.get_finished_spans()]
    assert names == ["SELECT", "request"]
    (query,) = [s for s in exporter.get_finished_spans() if s.name == "SELECT"]
    assert query.parent is not None


def test_install_is_once_per_process(exporter: InMemorySpanExporter) -> None:
    with pytest.raises(RuntimeError, match="already"):
        tracing.install("again", SimpleSpanProcessor(exporter))
    assert tracing.setup("api", settings(otel_traces_exporter="console")) is True


def test_the_readme_shows_the_tree_the_tests_assert() -> None:
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Traces", 1)[1].split("\n### ", 1)[0]
    assert "```\n" + "\n".join(ORDER_TRACE) + "\n```" in section


@pytest.mark.parametrize(
    ("env", "url"),
    [
        ({}, None),
        ({"otel_exporter_otlp_endpoint": "http://jaeger:4318"}, "http://jaeger:4318/v1/traces"),
        ({"otel_exporter_otlp_endpoint": "http://c:4318/"}, "http://c:4318/v1/traces"),
        (
            {
                "otel_exporter_otlp_endpoint": "http://c:4318",
                "otel_exporter_otlp_traces_endpoint": "http://t:9/spans",
            },
            "http://t:9/spans",
        ),
    ],
)
def test_the_traces_url_follows_the_specification(env: dict[str, str], url: str | None) -> None:
    """Read through the settings, so an endpoint given in `.env` is the one spans go to."""
    assert tracing._traces_url(settings(**env)) == url
