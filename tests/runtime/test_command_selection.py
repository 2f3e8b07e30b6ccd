"""``manage.py runshareconsumers --group / --exclude-group``: which declared share groups the
process runs (the runner is replaced by one that records what it was given)."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from django_sharegroups import ShareGroupConsumer, share_group, topic
from django_sharegroups.conf import ShareGroupsSettings
from django_sharegroups.routing import registry
from django_sharegroups.runtime import launch


class RecordingRunner:
    """Stands in for ShareConsumerRunner: remembers the groups and exits 0 at once."""

    ran: list[list[str]] = []

    def __init__(self, groups) -> None:
        self.groups = groups
        self.settings = ShareGroupsSettings(client="memory")  # what the command reads

    def run(self) -> int:
        type(self).ran.append([group.name for group in self.groups])
        return 0


@pytest.fixture
def declared(monkeypatch):
    """Three declared groups in the project's registry (restored after the test)."""
    monkeypatch.setattr(launch, "ShareConsumerRunner", RecordingRunner)
    RecordingRunner.ran = []
    with registry.isolated():
        for name in ("billing", "emails", "reports"):
            share_group(name, topics=[topic(name, consumer=ShareGroupConsumer)])
        yield RecordingRunner.ran


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ([], ["billing", "emails", "reports"]),
        (["--exclude-group", "emails"], ["billing", "reports"]),
        (["--exclude-group", "emails", "--exclude-group", "billing"], ["reports"]),
        (["--group", "billing", "--group", "emails", "--exclude-group", "emails"], ["billing"]),
    ],
)
def test_exclude_group_skips_the_named_groups(declared, arguments, expected):
    call_command("runshareconsumers", *arguments)
    assert declared == [expected]


def test_excluding_an_undeclared_group_is_a_clear_error(declared):
    with pytest.raises(CommandError, match="No share group named payroll; declared: billing"):
        call_command("runshareconsumers", "--exclude-group", "payroll")
    assert declared == []


def test_excluding_every_group_leaves_nothing_to_run(declared):
    everything = [
        arg for name in ("billing", "emails", "reports") for arg in ("--exclude-group", name)
    ]
    with pytest.raises(CommandError, match="No share group to run"):
        call_command("runshareconsumers", *everything)
