"""Changing a group config reads the values back once the broker shows the change: a KRaft
broker may answer a describe right after the alter from a metadata cache that lags it."""

from __future__ import annotations

from django_sharegroups.admin_tools import actions
from django_sharegroups.kafka.results import ConfigEntry


class LaggingAdmin:
    """Describes the old configs ``stale`` times, then the new ones."""

    def __init__(self, stale: int) -> None:
        self.stale, self.describes = stale, 0

    def describe_share_group_config(self, group_id: str, include_all: bool = False):
        self.describes += 1
        fresh = self.describes > self.stale
        limit = ConfigEntry(
            "share.delivery.count.limit",
            "5" if fresh else "3",
            "DEFAULT_CONFIG" if fresh else "GROUP_CONFIG",
            False,
            False,
        )
        lock = ConfigEntry(
            "share.record.lock.duration.ms",
            "20000" if fresh else "30000",
            "GROUP_CONFIG" if fresh else "DEFAULT_CONFIG",
            False,
            False,
        )
        return {entry.name: entry for entry in (limit, lock)}


CHANGES = {"share.delivery.count.limit": None, "share.record.lock.duration.ms": "20000"}


def test_values_are_read_back_until_the_broker_shows_the_change():
    admin = LaggingAdmin(stale=2)
    values = actions._configs_once_applied(admin, "g", CHANGES)  # type: ignore[arg-type]
    assert admin.describes == 3
    assert values == {
        "share.delivery.count.limit": {"value": "5", "source": "DEFAULT_CONFIG"},
        "share.record.lock.duration.ms": {"value": "20000", "source": "GROUP_CONFIG"},
    }


def test_a_broker_that_never_shows_the_change_gets_its_last_answer(monkeypatch):
    monkeypatch.setattr(actions, "CONFIG_READ_BACK_SECONDS", 0.2)
    admin = LaggingAdmin(stale=10**6)
    values = actions._configs_once_applied(admin, "g", CHANGES)  # type: ignore[arg-type]
    assert 2 <= admin.describes <= 10
    assert values["share.delivery.count.limit"] == {"value": "3", "source": "GROUP_CONFIG"}
