"""OpenTelemetry tracing on Kafka 4.4, both adapters: the parent comes from a real record's
``traceparent`` header, and a client-side DLQ copy written to a real topic carries the job
span's context (docs/metrics.md, "Tracing")."""

from __future__ import annotations

import uuid

import pytest
from confluent_kafka import Consumer
from opentelemetry.trace import StatusCode

from django_sharegroups import ShareGroupConsumer

from ..helpers import declare, produce, running, wait_for
from ..tracing import SPAN_ID, TRACE_ID, TRACEPARENT, job_spans, traceparent_of

pytestmark = pytest.mark.kafka


def read_one(bootstrap: str, topic: str):
    """The first record of ``topic`` (a classic consumer from the earliest offset)."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"read-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([topic])
    try:
        return wait_for(
            lambda: (m := consumer.poll(0.5)) is not None and not m.error() and m, timeout=60
        )
    finally:
        consumer.close()


@pytest.mark.parametrize("client", ["confluent", "native"])
def test_a_kafka_record_parents_the_job_span_and_its_dlq_copy_carries_the_jobs_trace(
    kafka_bootstrap_servers, share_topic, kafka_topic, spans, client
):
    name = share_topic()
    dlq_topic = kafka_topic(1, prefix="traced-dlq")
    accepted: list[int] = []

    class FailOdd(ShareGroupConsumer):
        def consume(self, messages):
            for message in messages:
                if message.payload["n"] % 2:
                    raise ValueError("odd")
                self.mark_accepted(message)
                accepted.append(message.payload["n"])

    group = declare(
        name,
        FailOdd,
        topic_options={"dead_letter_queue": {"topic": dlq_topic, "max_retries": 0}},
    )
    with running([group], kafka_bootstrap_servers, client=client, tracing=True):
        produce(kafka_bootstrap_servers, name, [{"n": 0}], headers=[("traceparent", TRACEPARENT)])
        wait_for(lambda: accepted == [0], timeout=60)
        produce(kafka_bootstrap_servers, name, [{"n": 1}], headers=[("traceparent", TRACEPARENT)])
        copy = read_one(kafka_bootstrap_servers, dlq_topic)
        traced = wait_for(lambda: len(job_spans(spans, name)) >= 2 and job_spans(spans, name))

    ok, failed = traced[0], traced[-1]
    for span in (ok, failed):
        assert span.parent is not None and f"{span.parent.span_id:016x}" == SPAN_ID
        assert f"{span.context.trace_id:032x}" == TRACE_ID
        assert (span.attributes or {})["messaging.destination.name"] == name
    assert ok.status.status_code is StatusCode.UNSET
    assert failed.status.status_code is StatusCode.ERROR
    headers = [value for key, value in copy.headers() or [] if key == "traceparent"]
    assert headers == [traceparent_of(failed)], "the DLQ copy continues the failed job's trace"
