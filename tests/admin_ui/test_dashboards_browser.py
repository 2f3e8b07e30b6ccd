"""The dashboards in headless Chromium, on a real run: a share group consumed on Kafka 4.4 by
the runner with mirroring on, then the overview and the group page checked against what the
consumer did (and, with SHAREGROUPS_UPDATE_SCREENSHOTS=1, photographed for docs/admin.md)."""

from __future__ import annotations

import os
import threading
from collections import Counter
from pathlib import Path

import pytest

from django_sharegroups import ShareGroupConsumer
from django_sharegroups.mirroring.rollups import COLUMNS
from django_sharegroups.models import ArchivedRecord, DeadLetter, Lease, ThroughputMinute
from tests.helpers import declare, kafka_settled, produce, running
from tests.orm.test_mirroring import mirror_settings

from .helpers import wait_for
from .test_browser import browser, images, log_in, staff_user  # noqa: F401

pytestmark = [pytest.mark.kafka, pytest.mark.django_db(transaction=True)]

RECORDS = 30
VIEWER = (
    "view_throughputminute",
    "view_sharegroup",
    "view_lease",
    "view_consumerprocess",
    "view_archivedrecord",
    "view_deadletter",
)


class Mixed(ShareGroupConsumer):
    """Settles record n by n % 10: 0 released once then rejected, 1 released once then
    accepted, 2 sent to the DLQ, the rest accepted; a ``hold`` record waits for ``gate``.
    What it did is counted in ``done`` for the test thread to compare with the pages."""

    done: Counter[str]
    gate: threading.Event

    def consume(self, messages):
        for message in messages:
            n, again = message.payload["n"], message.delivery_count > 1
            if message.payload.get("hold"):
                self.gate.wait(40)
                self.mark_accepted(message)
                continue
            if n % 10 in (0, 1) and not again:
                self.mark_released(message)
                outcome = "released"
            elif n % 10 == 0:
                self.mark_rejected(message)
                outcome = "rejected"
            elif n % 10 == 2:
                self.dispatch_to_dlq(message, ValueError(f"record {n} is bad"))
                outcome = "dead_lettered"
            else:
                self.mark_accepted(message)
                outcome = "accepted"
            self.done[outcome] += 1


def rollup_totals(group: str) -> dict[str, int]:
    found: Counter[str] = Counter()
    for row in ThroughputMinute.objects.filter(share_group=group):
        found.update({column: getattr(row, column) for column in COLUMNS})
    return dict(found)


def number(page, selector: str) -> int:
    return int(page.inner_text(selector).strip())


def test_the_dashboards_show_a_real_run(
    browser,  # noqa: F811
    live_server,
    kafka_settings,
    kafka_bootstrap_servers,
    kafka_topic,
    share_group_config,
    staff_user,  # noqa: F811
    images: Path,  # noqa: F811
) -> None:
    topic = kafka_topic(partitions=2, prefix="dashboard")
    dlq = kafka_topic(partitions=1, prefix="dashboard-dlq")
    name = topic  # declare(): a share group named like the topic it reads
    share_group_config(
        name, {"share.auto.offset.reset": "earliest", "share.record.lock.duration.ms": 60_000}
    )
    consumer = type("Mixed", (Mixed,), {"done": Counter(), "gate": threading.Event()})
    group = declare(
        name,
        consumer,
        topic_options={"dead_letter_queue": {"topic": dlq, "max_retries": 3}},
    )
    produce(kafka_bootstrap_servers, topic, [{"n": n} for n in range(RECORDS)])
    staff_user("watcher", *VIEWER)
    staff_user("outsider", "view_sharegroup", "view_lease")
    # one librdkafka member, so the page's member count is the instances' (a fast group on
    # `confluent` gets a second member once it fetches ahead, docs/native.md)
    with running([group], kafka_bootstrap_servers, confluent_members=1, **mirror_settings()):
        assert wait_for(lambda: kafka_settled(kafka_bootstrap_servers, name), 60)
        done = dict(consumer.done)
        expected = {
            "accepted": done["accepted"],
            "released": done["released"],
            "rejected": done["rejected"] + done["dead_lettered"],  # a DLQ copy is REJECTed
            "archived": done["rejected"] + done["dead_lettered"],
            "dead_lettered": done["dead_lettered"],
        }
        assert expected == {
            "accepted": 24,
            "released": 6,
            "rejected": 6,
            "archived": 6,
            "dead_lettered": 3,
        }
        assert wait_for(lambda: rollup_totals(name) == expected, 20), rollup_totals(name)
        assert wait_for(lambda: DeadLetter.objects.filter(share_group=name).count() == 3, 20)
        assert wait_for(lambda: ArchivedRecord.objects.filter(share_group=name).count() == 6, 20)
        produce(kafka_bootstrap_servers, topic, [{"n": RECORDS, "hold": True}], partition=1)
        assert wait_for(lambda: Lease.objects.filter(share_group=name).exists(), 30)

        page = log_in(browser, live_server, "watcher")
        page.click("#content-main tr.model-throughputminute th a")  # from the admin index
        page.wait_for_selector("#groups")
        row = page.locator(f"#groups tr[data-group='{name}']")
        cells = row.locator("td").all_inner_texts()
        assert cells[0] == name and cells[1] == "Stable" and cells[2] == "1"
        assert cells[3].isdigit()  # the broker's lag (it may not count the held record yet)
        assert [int(c) for c in cells[4:9]] == [expected[c] for c in COLUMNS]
        chart = page.locator("#throughput svg[role=img]")
        assert "All share groups" in (chart.locator("title").first.text_content() or "")
        process = page.locator("#processes tbody tr", has_text=f":{os.getpid()}").inner_text()
        assert "running" in process and name in process and " s ago" in process
        page.screenshot(path=str(images / "dashboard-overview.png"), full_page=True)

        row.locator("a").click()
        page.wait_for_selector("#leases")
        for column in COLUMNS:
            assert number(page, f"#total-{column}") == expected[column], column
        legend = page.inner_text("#throughput figcaption")
        assert f"accepted: {expected['accepted']}" in legend
        assert f"released: {expected['released']}" in legend
        points = page.locator("#throughput polyline").first.get_attribute("points") or ""
        assert len(points.split()) == 60  # one point per minute of the last hour
        assert page.locator("#partitions tbody tr").count() == 2
        assert page.inner_text("#total-lag").strip().isdigit()
        assert page.locator("#partitions svg rect").count() == 2
        delivery = page.locator("#delivery-counts tbody tr").all_inner_texts()
        assert [line.split() for line in delivery] == [["1", "3", "3"], ["2", "3", "0"]]
        leases = page.locator("#leases tbody tr").all_inner_texts()
        assert len(leases) == 1 and f"{topic}[1]@" in leases[0] and "of 60 s" in leases[0]
        assert "Leases in flight: 1 record" in page.inner_text("#leases h2")
        assert page.locator("#recent-archived tbody tr a").count() == 6
        assert page.locator("#recent-dead-letters tbody tr a").count() == 3
        page.screenshot(path=str(images / "dashboard-group.png"), full_page=True)

        page.locator("#recent-dead-letters tbody tr a").first.click()
        page.wait_for_selector("#content-main form")
        assert "record" in page.inner_text("#content-main") and "ValueError" in page.content()

        outsider = log_in(browser, live_server, "outsider")
        response = outsider.goto(f"{live_server.url}/admin/django_sharegroups/throughputminute/")
        assert response is not None and response.status == 403
        consumer.gate.set()
        assert wait_for(lambda: kafka_settled(kafka_bootstrap_servers, name), 60)
