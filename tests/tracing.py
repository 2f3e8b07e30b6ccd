"""Test pieces for OpenTelemetry tracing: the process-wide SDK provider with an in-memory
exporter (``tracing_exporter``, the root conftest's ``spans``), a known remote parent, and
span lookups."""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN_ID = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{SPAN_ID}-01".encode()

EXPORTER = InMemorySpanExporter()


def tracing_exporter() -> InMemorySpanExporter:
    """The exporter of the process-wide SDK tracer provider (set once), emptied."""
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    if not getattr(provider, "_sharegroups_test_exporter", False):
        provider.add_span_processor(SimpleSpanProcessor(EXPORTER))
        provider._sharegroups_test_exporter = True  # type: ignore[attr-defined]
    EXPORTER.clear()
    return EXPORTER


def job_spans(exporter: InMemorySpanExporter, topic: str) -> list[ReadableSpan]:
    return [s for s in exporter.get_finished_spans() if s.name == f"process {topic}"]


def traceparent_of(span: ReadableSpan) -> bytes:
    context = span.get_span_context()
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-01".encode()
