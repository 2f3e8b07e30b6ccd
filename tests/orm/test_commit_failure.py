"""An atomic job whose transaction fails at COMMIT (docs/orm.md: "the commit failed" row):
its ACCEPTs become RELEASEs, its REJECTs stand, nothing it wrote stays — on SQLite and
PostgreSQL alike. A foreign key to a user that does not exist is checked only at COMMIT
(Django makes foreign keys deferred on both), so ``consume`` itself returns normally."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import ADDITION, LogEntry
from django.db import IntegrityError

from django_sharegroups import AcknowledgeType, ShareGroupConsumer
from django_sharegroups.instrumentation import EventBus
from django_sharegroups.processing.executor import execute_job

from ..helpers import declare
from .helpers import messages, write_effect
from .models import Effect

pytestmark = pytest.mark.django_db(transaction=True)

MISSING_USER_ID = 987_654_321


class FailsAtCommit(ShareGroupConsumer):
    atomic = True
    returned = False

    def consume(self, messages):
        first, second = messages
        write_effect(self.share_group.name, first)
        LogEntry.objects.create(  # violates its foreign key, which is checked at COMMIT
            user_id=MISSING_USER_ID, action_flag=ADDITION, object_repr="x", change_message=""
        )
        self.mark_accepted(first)
        self.mark_rejected(second)
        type(self).returned = True


@pytest.mark.parametrize("implicit", [False, True])
def test_a_failed_commit_releases_the_accepts_keeps_the_rejects_and_writes_nothing(implicit):
    group = declare("orders", FailsAtCommit)
    route = group.topics[0]
    acknowledgements = execute_job(
        FailsAtCommit(group, route), messages(route, [0, 1]), EventBus(), implicit=implicit
    )
    assert FailsAtCommit.returned  # consume itself succeeded: the COMMIT failed
    acks = {m.offset: ack for m, ack in acknowledgements.items()}
    assert acks == {0: AcknowledgeType.RELEASE, 1: AcknowledgeType.REJECT}
    assert isinstance(acknowledgements.error, IntegrityError)
    assert Effect.objects.count() == 0
    assert not LogEntry.objects.filter(user_id=MISSING_USER_ID).exists()
