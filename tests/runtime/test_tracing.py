"""OpenTelemetry tracing (docs/metrics.md, "Tracing"): a CONSUMER span per job on the memory
broker, its parent read from the record's ``traceparent``, its context written into DLQ and
delay-topic copies; with tracing off nothing of OpenTelemetry is loaded."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from opentelemetry.trace import SpanKind, StatusCode

from django_sharegroups import ShareGroupConsumer
from django_sharegroups.conf import ShareGroupsSettings
from django_sharegroups.exceptions import ConfigurationError
from django_sharegroups.instrumentation.otel import job_tracer
from django_sharegroups.processing.delay_topic import release_to_delay_topic
from django_sharegroups.routing import RouteRegistry
from django_sharegroups.routing.checks import check_routes
from django_sharegroups.runtime.runner import ShareConsumerRunner

from ..helpers import declare, prepare, produce, running, wait_for
from ..tracing import SPAN_ID, TRACE_ID, TRACEPARENT, job_spans, traceparent_of


def test_a_job_span_has_the_records_parent_and_messaging_attributes(memory_broker, spans):
    prepare(memory_broker, "traced")
    done: list[int] = []

    class Accept(ShareGroupConsumer):
        def consume(self, messages):
            for message in messages:
                self.mark_accepted(message)
                done.append(message.offset)

    with running([declare("traced", Accept)], memory_broker, tracing=True):
        produce(memory_broker, "traced", [{"n": 1}], headers=[("traceparent", TRACEPARENT)])
        [span] = wait_for(lambda: job_spans(spans, "traced"))
    assert done == [0]
    assert span.kind is SpanKind.CONSUMER
    assert span.parent is not None and span.parent.is_remote
    assert f"{span.parent.span_id:016x}" == SPAN_ID
    assert f"{span.context.trace_id:032x}" == TRACE_ID
    assert dict(span.attributes or {}) == {
        "messaging.system": "kafka",
        "messaging.operation.type": "process",
        "messaging.operation.name": "process",
        "messaging.destination.name": "traced",
        "messaging.consumer.group.name": "traced",
        "messaging.batch.message_count": 1,
        "sharegroups.delivery_count": 1,
        "messaging.destination.partition.id": "0",
        "messaging.kafka.offset": 0,
    }
    assert span.status.status_code is StatusCode.UNSET


def test_a_raising_job_gives_an_error_span_and_its_dlq_copy_carries_the_jobs_trace(
    memory_broker, spans
):
    prepare(memory_broker, "failing")
    memory_broker.create_topic("failing-dlq", 1)

    class Fail(ShareGroupConsumer):
        def consume(self, messages):
            raise ValueError("no such order")

    dlq = {"topic": "failing-dlq", "max_retries": 1}
    group = declare("failing", Fail, topic_options={"dead_letter_queue": dlq})
    with running([group], memory_broker, tracing=True):
        produce(memory_broker, "failing", [{"n": 1}], headers=[("traceparent", TRACEPARENT)])
        [copy] = wait_for(lambda: memory_broker.read_records("failing-dlq", 0))
    [span] = job_spans(spans, "failing")
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == "ValueError: no such order"
    assert (span.attributes or {})["error.type"] == "ValueError"
    [event] = span.events
    assert event.name == "exception"
    assert (event.attributes or {})["exception.type"] == "ValueError"
    # The copy's trace context is the job span's (one traceparent, not the original's).
    headers = [value for name, value in copy.headers if name == "traceparent"]
    assert headers == [traceparent_of(span)]
    assert f"{span.context.trace_id:032x}" == TRACE_ID


def test_a_delay_topic_copy_carries_the_jobs_trace(memory_broker, spans):
    prepare(memory_broker, "later")
    memory_broker.create_topic("later-delay", 1)

    class Park(ShareGroupConsumer):
        def consume(self, messages):
            for message in messages:
                release_to_delay_topic(self, message, 60_000, "later-delay")

    with running([declare("later", Park)], memory_broker, tracing=True):
        produce(memory_broker, "later", [{"n": 1}], headers=[("traceparent", TRACEPARENT)])
        [copy] = wait_for(lambda: memory_broker.read_records("later-delay", 0))
        [span] = wait_for(lambda: job_spans(spans, "later"))
    assert [v for k, v in copy.headers if k == "traceparent"] == [traceparent_of(span)]


def test_tracing_off_makes_no_spans(memory_broker, spans):
    prepare(memory_broker, "untraced")
    done: list[int] = []

    class Accept(ShareGroupConsumer):
        def consume(self, messages):
            for message in messages:
                self.mark_accepted(message)
                done.append(message.offset)

    with running([declare("untraced", Accept)], memory_broker):
        produce(memory_broker, "untraced", [{"n": 1}], headers=[("traceparent", TRACEPARENT)])
        wait_for(lambda: done)
    assert spans.get_finished_spans() == ()


def test_tracing_off_does_not_import_opentelemetry():
    script = textwrap.dedent(
        """
        import os, sys
        os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
        import django
        django.setup()
        from django_sharegroups import ShareGroupConsumer
        from django_sharegroups.clients.memory import MemoryBroker
        from tests.helpers import declare, prepare, produce, running, wait_for

        done = []

        class Accept(ShareGroupConsumer):
            def consume(self, messages):
                for message in messages:
                    self.mark_accepted(message)
                    done.append(message.offset)

        broker = MemoryBroker()
        prepare(broker, "plain")
        with running([declare("plain", Accept)], broker):
            produce(broker, "plain", [{"n": 1}])
            wait_for(lambda: done)
        print(done, sorted(m for m in sys.modules if m.startswith("opentelemetry")))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[0] []"


def test_tracing_on_without_opentelemetry_is_a_configuration_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "django_sharegroups.instrumentation.tracing", None)
    monkeypatch.setitem(sys.modules, "opentelemetry", None)
    with pytest.raises(ConfigurationError, match=r"pip install 'django-sharegroups\[otel\]'"):
        job_tracer(True)
    with pytest.raises(ConfigurationError, match="TRACING"):
        ShareConsumerRunner([], settings=ShareGroupsSettings(client="memory", tracing=True))
    assert job_tracer(False) is None


def test_the_system_check_reports_tracing_without_opentelemetry(monkeypatch, settings):
    settings.SHAREGROUPS = {"TRACING": True}
    assert [e for e in check_routes(routes=RouteRegistry()) if e.id == "sharegroups.E009"] == []
    monkeypatch.setitem(sys.modules, "django_sharegroups.instrumentation.tracing", None)
    [error] = check_routes(routes=RouteRegistry())
    assert error.id == "sharegroups.E009" and "'otel' extra" in error.msg


def test_the_tracing_setting_is_checked(settings):
    from django_sharegroups.conf import get_settings

    settings.SHAREGROUPS = {"TRACING": "yes"}
    with pytest.raises(ConfigurationError, match="TRACING"):
        get_settings()
    settings.SHAREGROUPS = {"TRACING": "otel"}
    assert get_settings().tracing is True
    settings.SHAREGROUPS = {}
    assert get_settings().tracing is False


def test_a_batch_job_links_the_other_records_contexts(memory_broker, spans):
    prepare(memory_broker, "batched")
    span_ids = ["00000000000000a1", "00000000000000a2", "00000000000000a3"]
    for span_id in [*span_ids, span_ids[1]]:  # the repeated context is linked once
        header = f"00-{TRACE_ID}-{span_id}-01".encode()
        produce(memory_broker, "batched", [{"n": 1}], headers=[("traceparent", header)])
    sizes: list[int] = []

    class Accept(ShareGroupConsumer):
        def consume(self, messages):
            sizes.append(len(messages))
            for message in messages:
                self.mark_accepted(message)

    group = declare(
        "batched", Accept, topic_options={"jobs_builder": "per_batch", "max_messages_per_job": 10}
    )
    with running([group], memory_broker, tracing=True):
        [span] = wait_for(lambda: job_spans(spans, "batched"))
    assert sizes == [4]
    assert f"{span.parent.span_id:016x}" == span_ids[0]
    assert [f"{link.context.span_id:016x}" for link in span.links] == span_ids[1:]
    attributes = dict(span.attributes or {})
    assert attributes["messaging.batch.message_count"] == 4
    assert "messaging.kafka.offset" not in attributes


def test_a_malformed_traceparent_gives_a_root_span_and_the_job_runs(memory_broker, spans):
    prepare(memory_broker, "odd")
    done: list[int] = []

    class Accept(ShareGroupConsumer):
        def consume(self, messages):
            for message in messages:
                self.mark_accepted(message)
                done.append(message.offset)

    with running([declare("odd", Accept)], memory_broker, tracing=True):
        produce(memory_broker, "odd", [{"n": 1}], headers=[("traceparent", b"\xff-not-one")])
        [span] = wait_for(lambda: job_spans(spans, "odd"))
    assert done == [0] and span.parent is None
