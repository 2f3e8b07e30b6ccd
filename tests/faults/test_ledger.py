"""The ledger audit: nothing lost, nothing done twice, through kill -9 and a broker restart.

``runshareconsumers`` runs as a child process on the test database; it is SIGKILLed while it
works, SIGKILLed while it holds the last allowed delivery of one record (so only the broker
sees that record archived: its DLQ must keep it), and the broker is stopped and started once.
Afterwards every record has one Effect row (idempotent consumer) or a DeadLetter row with the
broker's reason, and ``sharegroups audit`` reports nothing unaccounted. Both Kafka adapters.

``LEDGER_RECORDS`` (default 200) sizes the run; see docs/dead-letters.md for the long one.
"""

from __future__ import annotations

import json
import os
from collections import Counter

import pytest

from django_sharegroups.kafka import ShareGroupAdmin
from django_sharegroups.models import DeadLetter
from tests.orm.models import Effect
from tests.services import kafka as kafka_service
from tests.services import require_or_skip

from .helpers import manage, session_database_url
from .ledger import DELIVERY_LIMIT, HOLD, LOCK_DURATION_MS, LedgerRun, produce_ledger, wait_for

RECORDS = int(os.environ.get("LEDGER_RECORDS", "200"))
#: Job threads of the consumer process; the long runs use more (docs/dead-letters.md).
CONCURRENCY = int(os.environ.get("LEDGER_CONCURRENCY", "2"))

pytestmark = [
    pytest.mark.kafka,
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(max(300, RECORDS)),  # the long runs (LEDGER_RECORDS) take longer
]
#: Generous: a loaded 2-core CI machine; each wait ends as soon as its condition holds.
STEP_TIMEOUT = max(120.0, RECORDS / 5)
BUILDER = os.environ.get("LEDGER_BUILDER", "per_message")
#: Seconds between checks of a step's condition.
CHECK_EVERY = 0.25 if RECORDS <= 10_000 else 2.0


def step(condition, what: str, tick=None) -> None:
    """Wait for one step of the run: every step gets the same timeout and check interval."""
    wait_for(condition, STEP_TIMEOUT, what, tick, interval=CHECK_EVERY)


@pytest.fixture
def restartable_broker(kafka_bootstrap_servers: str) -> kafka_service.KafkaBroker:
    port = int(kafka_bootstrap_servers.rsplit(":", 1)[1])
    broker = kafka_service.KafkaBroker(port)
    if broker.pid() is None:
        require_or_skip(
            "kafka",
            f"the broker at {kafka_bootstrap_servers} is not one the tests "
            "started (tests/services/kafka.py), so they cannot restart it",
        )
    return broker


def settled(admin: ShareGroupAdmin, group: str) -> bool:
    offsets = admin.share_group_offsets(group)
    return bool(offsets) and all(o.lag == 0 for o in offsets)


def test_kill_9_and_a_broker_restart_lose_nothing_and_duplicate_nothing(
    kafka_bootstrap_servers, share_topic, adapter, restartable_broker, tmp_path
):
    name = share_topic(
        2,
        share_delivery_count_limit=DELIVERY_LIMIT,
        share_record_lock_duration_ms=LOCK_DURATION_MS,
    )
    bootstrap = kafka_bootstrap_servers
    first, second = RECORDS * 2 // 3, RECORDS - RECORDS * 2 // 3
    placed = produce_ledger(bootstrap, name, range(first))
    run = LedgerRun(
        name,
        adapter,
        {"bootstrap.servers": bootstrap},
        session_database_url(),
        tmp_path,
        concurrency=CONCURRENCY,
    )
    effects = Effect.objects.filter(share_group=name)
    admin = ShareGroupAdmin({"bootstrap.servers": bootstrap})
    try:
        run.start()
        step(lambda: effects.count() >= first // 10, "first effects")
        run.kill()  # 1: mid-work

        run.start()
        step(lambda: settled(admin, name), "backlog done", run.ensure_running)
        # Alone, so it is polled alone: released until its last delivery, which it holds.
        held_record = produce_ledger(bootstrap, name, None, hold=True)
        placed.update(held_record)
        hold = next(iter(held_record))
        step(run.hold_file.exists, "the held last delivery", run.ensure_running)
        run.kill()  # 2: holding the last allowed delivery, so only the broker sees it go

        run.start()
        placed.update(produce_ledger(bootstrap, name, range(first, first + second)))
        step(lambda: effects.count() >= first + second // 4, "more effects")
        run.kill()  # 3: mid-work again
        run.start()
        restartable_broker.stop()  # and the broker goes away under the running consumers
        restartable_broker.start()

        def done() -> bool:
            held_row = DeadLetter.objects.filter(
                share_group=name, partition=hold[0], offset=hold[1]
            )
            return settled(admin, name) and held_row.exists()

        step(done, "all settled, the held record mirrored", run.ensure_running)
        exit_code = run.stop()
    except AssertionError as error:
        raise AssertionError(f"{error}\n{run.logs()}") from None
    finally:
        run.kill_all()
        admin.close()
    assert exit_code == 0, run.logs()
    assert run.kills >= 3

    per_record = Counter(effects.values_list("partition", "offset"))
    duplicates = {coordinates: n for coordinates, n in per_record.items() if n > 1}
    assert duplicates == {}, "duplicate DB effects"
    dead = {(row.partition, row.offset): row for row in DeadLetter.objects.filter(share_group=name)}
    lost = [c for c in placed if c not in per_record and c not in dead]
    assert lost == [], f"{len(lost)} record(s) lost: {lost[:10]}"
    assert all(row.error_message or row.error_class for row in dead.values()), (
        "a DLQ row without reason"
    )

    held = dead[hold]
    assert held.source == DeadLetter.Source.BROKER
    assert held.delivery_count == DELIVERY_LIMIT
    assert held.error_message, "the broker's reason"
    assert bytes(held.payload) == HOLD

    result = manage("sharegroups", "audit", name, "--json", env=run.env(), timeout=STEP_TIMEOUT)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["unaccounted"] == 0, report
    assert report["accepted"] + report["dead_lettered"] == len(placed), report
    print(
        f"\n{adapter} ({BUILDER}): {len(placed)} records, {run.kills} kill -9, 1 broker restart, "
        f"{len(per_record)} accepted once, {len(dead)} dead-lettered "
        f"({Counter(r.error_message for r in dead.values())}), 0 lost, 0 duplicates; "
        f"redeliveries {effects.filter(delivery_count__gt=1).count()}; exits {run.exits}"
    )
