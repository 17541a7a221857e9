"""Traces: one OpenTelemetry tracer provider per process, and nothing at all unless asked.

Tracing is off unless the standard variables turn it on (an OTLP endpoint, or
``OTEL_TRACES_EXPORTER``; see ``pos.config.TraceSettings``). Off, nothing of the SDK, the
exporter or the instrumentations is imported: the services check :func:`enabled` (a module
global) and keep propagating the W3C ``traceparent`` they always carried. On,
:func:`setup` builds the provider with the OTLP/HTTP exporter, instruments asyncpg, and
the services record their spans through :func:`tracer`; a span's context replaces the
``traceparent`` the service passes on, so the next service's spans are its children.

The provider is kept here rather than made the global one: tests install one with an
in-memory exporter and remove it again (:func:`install`, :func:`shutdown`), which the
global provider (settable once per process) would not allow.
"""

from __future__ import annotations

import atexit
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pos.config import TraceSettings
from pos.logging import get_logger

if TYPE_CHECKING:
    from opentelemetry.context import Context
    from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
    from opentelemetry.sdk.trace.sampling import Sampler, SamplingResult
    from opentelemetry.trace import Link, Span, SpanKind, Tracer, TraceState
    from opentelemetry.util.types import Attributes

log = get_logger(__name__)

SERVICE_NAMES = {"api": "pos-api", "publisher": "pos-publisher", "consumer": "pos-consumer"}


@dataclass(frozen=True, slots=True)
class _Installed:
    provider: TracerProvider
    tracer: Tracer


_installed: _Installed | None = None
_lock = threading.Lock()


def enabled() -> bool:
    """Whether this process records spans; False until :func:`setup` or :func:`install`."""
    return _installed is not None


def tracer() -> Tracer:
    """The process's tracer; only to be called when :func:`enabled`."""
    assert _installed is not None, "tracing is not set up in this process"
    return _installed.tracer


def provider() -> TracerProvider:
    assert _installed is not None, "tracing is not set up in this process"
    return _installed.provider


def setup(service: str, settings: TraceSettings) -> bool:
    """Turn tracing on for this process if the environment asks for it; once per process.

    ``service`` is the short name (``api``, ``publisher``, ``consumer``); the span's
    ``service.name`` is ``OTEL_SERVICE_NAME`` or ``pos-<service>``. Returns whether spans
    are recorded.
    """
    if _installed is not None:
        return True
    exporter = settings.exporter
    if exporter == "none":
        return False
    processor = _batch_processor(exporter, _traces_url(settings))
    install(settings.otel_service_name or SERVICE_NAMES.get(service, f"pos-{service}"), processor)
    # Spans still queued when the process ends are sent before it exits.
    atexit.register(shutdown)
    log.info("traces on", exporter=exporter)
    return True


def _traces_url(settings: TraceSettings) -> str | None:
    """The traces URL the variables name, as the OTLP/HTTP exporter would read it from the
    process environment; read through the settings, a value from ``.env`` counts too."""
    if settings.otel_exporter_otlp_traces_endpoint:
        return settings.otel_exporter_otlp_traces_endpoint
    if settings.otel_exporter_otlp_endpoint:
        return settings.otel_exporter_otlp_endpoint.rstrip("/") + "/v1/traces"
    return None  # the exporter's default, http://localhost:4318/v1/traces


def _batch_processor(exporter: str, url: str | None) -> SpanProcessor:
    from opentelemetry.sdk.trace.export import (
        BatchSpanProcessor,
        ConsoleSpanExporter,
        SpanExporter,
    )

    span_exporter: SpanExporter
    if exporter == "console":
        span_exporter = ConsoleSpanExporter()
    else:
        # Headers, timeout and compression: the exporter reads their variables itself.
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        span_exporter = OTLPSpanExporter(endpoint=url)
    return BatchSpanProcessor(span_exporter)


def install(service_name: str, processor: SpanProcessor) -> None:
    """Record spans through ``processor`` from now on (tests pass an in-memory exporter's)."""
    global _installed
    from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider

    with _lock:
        if _installed is not None:
            raise RuntimeError("tracing is already set up in this process")
        provider = TracerProvider(
            resource=Resource.create({SERVICE_NAME: service_name}), shutdown_on_exit=False
        )
        provider.sampler = _without_orphan_queries(provider.sampler)
        provider.add_span_processor(processor)
        AsyncPGInstrumentor().instrument(tracer_provider=provider)  # type: ignore[no-untyped-call]
        _installed = _Installed(provider, provider.get_tracer("pos"))


def shutdown() -> None:
    """Send what is queued and stop recording (idempotent)."""
    global _installed
    from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor

    with _lock:
        installed, _installed = _installed, None
        if installed is None:
            return
        AsyncPGInstrumentor().uninstrument()  # type: ignore[no-untyped-call]
        installed.provider.shutdown()


def traceparent_of(span: Span) -> str:
    """The W3C ``traceparent`` naming ``span`` as the parent of what follows."""
    ctx = span.get_span_context()
    return f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-{int(ctx.trace_flags):02x}"


def context_of(traceparent: str | None) -> Context | None:
    """The remote parent a ``traceparent`` header names (None when absent or malformed:
    the span then starts a trace of its own)."""
    if not traceparent:
        return None
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    return TraceContextTextMapPropagator().extract({"traceparent": traceparent})


def current_traceparent() -> str | None:
    """The ``traceparent`` of the span current in this task, if one is recording."""
    if _installed is None:
        return None
    from opentelemetry import trace

    span = trace.get_current_span()
    return traceparent_of(span) if span.get_span_context().is_valid else None


def _without_orphan_queries(root: Sampler) -> Sampler:
    """``root`` (the sampler the standard variables chose), except that a database query
    with no span around it records nothing.

    asyncpg is instrumented for the whole process, so the relay's claim polls, the
    consumer's batch status lookups and the API's key purge would each become a
    one-span trace many times a second; inside a request or an event they are kept.
    """
    from opentelemetry.sdk.trace import sampling
    from opentelemetry.trace import SpanKind, get_current_span

    class WithoutOrphanQueries(sampling.Sampler):
        def should_sample(
            self,
            parent_context: Context | None,
            trace_id: int,
            name: str,
            kind: SpanKind | None = None,
            attributes: Attributes = None,
            links: Sequence[Link] | None = None,
            trace_state: TraceState | None = None,
        ) -> SamplingResult:
            if kind is SpanKind.CLIENT and not get_current_span(parent_context).is_recording():
                return sampling.SamplingResult(sampling.Decision.DROP)
            return root.should_sample(
                parent_context, trace_id, name, kind, attributes, links, trace_state
            )

        def get_description(self) -> str:
            return f"WithoutOrphanQueries{{{root.get_description()}}}"

    return WithoutOrphanQueries()
