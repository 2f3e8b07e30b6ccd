"""OpenTelemetry tracing (the ``otel`` extra): one CONSUMER span per job.

Imported only when ``SHAREGROUPS["TRACING"]`` is on (see ``otel.py``), so a process without
tracing never loads OpenTelemetry. The span's parent is the trace context in the first
record's headers (read with the global propagator, W3C ``traceparent`` by default); the other
records' contexts become links. While ``consume`` runs the span is current, so records produced
through ``ShareGroupConsumer.produce`` (delay-topic copies too) carry it; client-side DLQ copies,
written after the job, get the headers the span left on the job's acknowledgements.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from opentelemetry import context, propagate, trace
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

from ..clients.base import RecordProducer
from ..messages import Message
from ..processing.dead_letter import Headers, replace_headers

logger = logging.getLogger("django_sharegroups.tracing")

#: Most links one span gets (the SDK's default span limit).
MAX_LINKS = 128


class JobTracer:
    """Starts the span of each job, with the tracer provider set up by the project."""

    def __init__(self, tracer_provider: trace.TracerProvider | None = None) -> None:
        self.tracer = trace.get_tracer("django_sharegroups", tracer_provider=tracer_provider)
        #: Whether a failure to read trace context was logged (once per process).
        self.warned = False

    def start(self, share_group: str, topic: str, messages: Sequence[Message]) -> JobSpan:
        first = messages[0]
        try:
            parent = _extract(first.raw_headers)
            links = _links(parent, messages[1:]) if len(messages) > 1 else None
        except Exception:  # a propagator that fails on odd headers must not cost the job
            if not self.warned:
                self.warned = True
                logger.warning("Reading trace context from record headers failed", exc_info=True)
            parent, links = None, None
        attributes: dict[str, str | int] = {
            "messaging.system": "kafka",
            "messaging.operation.type": "process",
            "messaging.operation.name": "process",
            "messaging.destination.name": topic,
            "messaging.consumer.group.name": share_group,
            "messaging.batch.message_count": len(messages),
            "sharegroups.delivery_count": max(m.delivery_count for m in messages),
        }
        if len(messages) == 1:
            attributes["messaging.destination.partition.id"] = str(first.partition)
            attributes["messaging.kafka.offset"] = first.offset
        span = self.tracer.start_span(
            f"process {topic}",
            context=parent,
            kind=SpanKind.CONSUMER,
            attributes=attributes,
            links=links,
        )
        return JobSpan(span)

    def producer(self, inner: Callable[[], RecordProducer]) -> Callable[[], RecordProducer]:
        """``inner`` whose records carry the current trace context (the job's span)."""
        return lambda: TracingProducer(inner())


class JobSpan:
    """The span of one running job: current from ``start`` until :meth:`end`."""

    def __init__(self, span: trace.Span) -> None:
        self.span = span
        self.token = context.attach(trace.set_span_in_context(span))

    def failed(self, exc: BaseException) -> None:
        self.span.record_exception(exc)
        self.span.set_attribute("error.type", type(exc).__qualname__)
        self.span.set_status(Status(StatusCode.ERROR, f"{type(exc).__qualname__}: {exc}"))

    def end(self) -> Headers:
        """End the span; the trace headers that lead to it (for the job's DLQ copies)."""
        try:
            return _inject(trace.set_span_in_context(self.span))
        finally:
            context.detach(self.token)
            self.span.end()


class TracingProducer(RecordProducer):
    """A producer that writes the current trace context into each record's headers."""

    def __init__(self, inner: RecordProducer) -> None:
        self.inner = inner

    def produce(
        self,
        topic: str,
        value: bytes | None,
        *,
        key: bytes | None = None,
        headers: Sequence[tuple[str, bytes | None]] = (),
        timeout: float = 30.0,
    ) -> tuple[int, int]:
        traced = replace_headers(headers, _inject(None))
        return self.inner.produce(topic, value, key=key, headers=traced, timeout=timeout)


def _extract(headers: Sequence[tuple[str, bytes | None]]) -> context.Context | None:
    """The trace context in ``headers`` (None when they carry none)."""
    fields = propagate.get_global_textmap().fields
    carrier = {k: v.decode("latin-1") for k, v in headers if k in fields and v is not None}
    return propagate.extract(carrier) if carrier else None


def _links(parent: context.Context | None, messages: Sequence[Message]) -> list[Link]:
    """Links to the other records' span contexts (each once; not the parent's)."""
    seen: set[tuple[int, int]] = set()
    if parent is not None:
        span_context = trace.get_current_span(parent).get_span_context()
        seen.add((span_context.trace_id, span_context.span_id))
    links: list[Link] = []
    for message in messages:
        found = _extract(message.raw_headers)
        if found is None:
            continue
        span_context = trace.get_current_span(found).get_span_context()
        key = (span_context.trace_id, span_context.span_id)
        if span_context.is_valid and key not in seen:
            seen.add(key)
            links.append(Link(span_context))
            if len(links) >= MAX_LINKS:
                break
    return links


def _inject(ctx: context.Context | None) -> Headers:
    carrier: dict[str, str] = {}
    propagate.inject(carrier, context=ctx)
    return [(name, value.encode("latin-1")) for name, value in carrier.items()]
