"""The broker-side DLQ (KIP-1191) on the real Kafka 4.4 broker: configured at startup through
the audited admin client, written by the broker, mirrored into DeadLetter rows."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command

from django_sharegroups import ShareGroupConsumer
from django_sharegroups.broker_dlq.settings import BrokerDLQSettings
from django_sharegroups.conf import ShareGroupsSettings
from django_sharegroups.exceptions import ConfigurationError
from django_sharegroups.kafka import ShareGroupAdmin
from django_sharegroups.kafka.topics import create_topic, topic_configs
from django_sharegroups.mirroring.settings import MirrorSettings
from django_sharegroups.models import DeadLetter, ShareGroupAuditEntry
from django_sharegroups.runtime.runner import ShareConsumerRunner
from tests.helpers import declare, produce, wait_for

pytestmark = [pytest.mark.kafka, pytest.mark.django_db(transaction=True)]


class RejectOdd(ShareGroupConsumer):
    def consume(self, messages):
        for message in messages:
            if message.payload["n"] % 2:
                self.mark_rejected(message)
            else:
                self.mark_accepted(message)


def settings_for(bootstrap: str, adapter: str, **broker_dlq) -> ShareGroupsSettings:
    return ShareGroupsSettings(
        client=adapter,
        kafka={"bootstrap.servers": bootstrap},
        poll_timeout=0.2,
        shutdown_timeout=15,
        mirror=MirrorSettings.from_setting({"interval": 0.1}),
        broker_dlq=BrokerDLQSettings.from_setting({"enabled": "auto", **broker_dlq}),
    )


def run_until(runner: ShareConsumerRunner, condition, timeout: float = 60) -> None:
    runner.start()
    try:
        wait_for(condition, timeout)
    finally:
        assert runner.shutdown() == 0


def test_rejected_records_reach_the_broker_dlq_and_become_rows(
    kafka_bootstrap_servers, share_topic, adapter
):
    name = share_topic()
    produce(kafka_bootstrap_servers, name, ({"n": n} for n in range(6)))
    group = declare(name, RejectOdd, dead_letter_queue={"topic": f"dlq.{name}"})
    runner = ShareConsumerRunner([group], settings=settings_for(kafka_bootstrap_servers, adapter))
    run_until(runner, lambda: DeadLetter.objects.filter(share_group=name).count() == 3)

    assert runner.broker_dead_letter_topics == {name: f"dlq.{name}"}
    rows = DeadLetter.objects.filter(share_group=name).order_by("offset")
    assert [row.offset for row in rows] == [1, 3, 5]
    for row in rows:
        assert row.source == DeadLetter.Source.BROKER
        assert row.error_message == "Offset rejected by client."
        assert row.dlq_topic == f"dlq.{name}" and row.delivery_count == 1
        assert json.loads(bytes(row.payload)) == {"n": row.offset}  # copy_record defaults on
    entry = ShareGroupAuditEntry.objects.get(share_group=name)
    assert entry.source == ShareGroupAuditEntry.Source.RUNTIME
    assert entry.outcome == ShareGroupAuditEntry.Outcome.SUCCEEDED
    assert entry.parameters["created_topic"] == f"dlq.{name}"
    assert entry.parameters["set"] == {
        "errors.deadletterqueue.topic.name": f"dlq.{name}",
        "errors.deadletterqueue.copy.record.enable": "true",
    }
    with ShareGroupAdmin({"bootstrap.servers": kafka_bootstrap_servers}) as admin:
        assert topic_configs(admin, f"dlq.{name}", ["errors.deadletterqueue.group.enable"]) == {
            "errors.deadletterqueue.group.enable": "true"
        }


def test_the_project_default_names_the_topic_after_the_group_and_keeps_an_operators_choice(
    kafka_bootstrap_servers, share_topic, group_configs
):
    first, second = share_topic(), share_topic()
    group_configs(second, {"errors.deadletterqueue.topic.name": "dlq.chosen-by-ops"})
    groups = [declare(first, RejectOdd), declare(second, RejectOdd)]
    runner = ShareConsumerRunner(groups, settings=settings_for(kafka_bootstrap_servers, "native"))
    runner.preflight()
    assert runner.broker_dead_letter_topics == {
        first: f"dlq.{first}",
        second: "dlq.chosen-by-ops",
    }
    assert not ShareGroupAuditEntry.objects.filter(share_group=second).exists()
    # A second start changes nothing and writes no audit entry.
    again = ShareConsumerRunner(groups, settings=settings_for(kafka_bootstrap_servers, "native"))
    again.preflight()
    assert ShareGroupAuditEntry.objects.filter(share_group=first).count() == 1


def test_explicit_dlq_topics_that_cannot_work_stop_startup(kafka_bootstrap_servers, share_topic):
    name = share_topic()
    settings = settings_for(kafka_bootstrap_servers, "native")
    wrong_prefix = declare(name, RejectOdd, dead_letter_queue={"topic": f"{name}-dlq"})
    with pytest.raises(ConfigurationError, match="does not start with the broker's prefix 'dlq.'"):
        ShareConsumerRunner([wrong_prefix], settings=settings).preflight()
    with ShareGroupAdmin({"bootstrap.servers": kafka_bootstrap_servers}) as admin:
        create_topic(admin, f"dlq.plain-{name}")
    not_opted_in = declare(name, RejectOdd, dead_letter_queue={"topic": f"dlq.plain-{name}"})
    with pytest.raises(ConfigurationError, match="errors.deadletterqueue.group.enable=true"):
        ShareConsumerRunner([not_opted_in], settings=settings).preflight()


def test_switched_off_the_group_configs_are_left_alone(kafka_bootstrap_servers, share_topic):
    name = share_topic()
    settings = settings_for(kafka_bootstrap_servers, "confluent", enabled=False)
    runner = ShareConsumerRunner([declare(name, RejectOdd)], settings=settings)
    runner.preflight()
    assert runner.broker_dead_letter_topics == {}
    with ShareGroupAdmin({"bootstrap.servers": kafka_bootstrap_servers}) as admin:
        configs = admin.describe_share_group_config(name)
    assert configs["errors.deadletterqueue.topic.name"].value == ""


@pytest.fixture
def cli_settings(settings, kafka_bootstrap_servers):
    settings.SHAREGROUPS = {
        **settings.SHAREGROUPS,
        "KAFKA": {"bootstrap.servers": kafka_bootstrap_servers},
    }


def sharegroups(*args: str) -> dict:
    output = StringIO()
    call_command("sharegroups", *args, "--json", stdout=output)
    return json.loads(output.getvalue())


def test_the_cli_shows_and_edits_the_dlq_as_named_fields(cli_settings, share_topic):
    name = share_topic()
    assert sharegroups("dlq", name)["topic"] is None
    shown = sharegroups("dlq", name, "--topic", f"dlq.cli-{name}", "--no-copy-record", "--no-input")
    assert shown["topic"] == f"dlq.cli-{name}" and shown["copy_record"] is False
    assert shown["topic_exists"] and shown["topic_opted_in"]
    entry = ShareGroupAuditEntry.objects.get(share_group=name)
    assert entry.source == ShareGroupAuditEntry.Source.CLI
    assert entry.parameters["created_topic"] == f"dlq.cli-{name}"
    assert sharegroups("dlq", name, "--copy-record", "--no-input")["copy_record"] is True
    assert sharegroups("dlq", name, "--off", "--no-input")["topic"] is None
    assert ShareGroupAuditEntry.objects.filter(share_group=name).count() == 3


def test_audit_counts_records_without_rows_as_unaccounted(
    cli_settings, kafka_bootstrap_servers, share_topic
):
    """A consumer that keeps no ProcessedRecord rows leaves its accepted records unprovable;
    the rejected ones are dead-lettered by the broker and accounted for."""
    name = share_topic()
    produce(kafka_bootstrap_servers, name, ({"n": n} for n in range(6)))
    group = declare(name, RejectOdd, dead_letter_queue=True)
    runner = ShareConsumerRunner([group], settings=settings_for(kafka_bootstrap_servers, "native"))
    run_until(runner, lambda: DeadLetter.objects.filter(share_group=name).count() == 3)
    with ShareGroupAdmin({"bootstrap.servers": kafka_bootstrap_servers}) as admin:
        wait_for(lambda: admin.share_group_offsets(name)[0].lag == 0)
    report = sharegroups("audit", name)
    assert (report["dead_lettered"], report["accepted"], report["lag"]) == (3, 0, 0)
    # Below the broker's persisted SPSO they are unaccounted; above it (the SPSO is persisted
    # lazily) pending: either way not counted as accepted.
    assert report["unaccounted"] + report["pending"] == 3
    assert set(report["partitions"][0]["unaccounted_offsets"]) <= {0, 2, 4}
