"""The dangerous share-group actions, each written to the audit log whatever its outcome.

The admin views and the ``sharegroups`` command call these instead of the admin client, so
an executed reset, config change or delete can never skip its audit row. Dry runs change
nothing and are not logged.
"""

from __future__ import annotations

import getpass
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from ..kafka import BrokerError, KafkaError, ShareGroupAdmin, ShareGroupOffsetsReset
from ..kafka.admin import ResetTarget
from ..models import ShareGroupAuditEntry
from .serialize import config_values, offsets_data
from .targets import target_data

Action = ShareGroupAuditEntry.Action
Outcome = ShareGroupAuditEntry.Outcome
Source = ShareGroupAuditEntry.Source


@dataclass(frozen=True)
class Actor:
    """Who acts, for the audit log: an admin user, or the OS user running the command."""

    name: str
    source: str
    user: Any = None

    @classmethod
    def from_request(cls, request) -> Actor:
        return cls(request.user.get_username(), Source.ADMIN, request.user)

    @classmethod
    def os_user(cls) -> Actor:
        try:
            name = getpass.getuser()
        except (KeyError, OSError):  # no passwd entry and no LOGNAME/USER (containers)
            name = f"uid {os.getuid()}"
        return cls(name, Source.CLI)


@contextmanager
def audited(
    actor: Actor,
    action: str,
    share_group: str,
    parameters: Mapping[str, Any],
    before: Any = None,
) -> Iterator[ShareGroupAuditEntry]:
    """Save an audit entry, run the block as the action, save the entry's outcome; the block
    may set ``entry.after``. A failure is saved with Kafka's error name, then re-raised.

    The entry is written first so that a database that cannot take it stops the action
    before anything reaches the broker."""
    entry = ShareGroupAuditEntry(
        actor=actor.name,
        user=actor.user if getattr(actor.user, "pk", None) is not None else None,
        source=actor.source,
        action=action,
        share_group=share_group,
        parameters=dict(parameters),
        before=before,
        outcome=Outcome.STARTED,
    )
    entry.save()
    try:
        yield entry
    except Exception as error:
        entry.outcome = Outcome.FAILED
        if isinstance(error, BrokerError):
            entry.error_name = error.name
            entry.error_message = error.broker_message or str(error)
        else:
            entry.error_name = type(error).__name__
            entry.error_message = str(error)
        entry.save()
        raise
    entry.outcome = Outcome.SUCCEEDED
    entry.save()


def _offsets_or_none(admin: ShareGroupAdmin, group_id: str) -> list[dict[str, Any]] | None:
    """The group's offsets for the audit log, or ``None`` when they cannot be read (the action
    itself then fails with the broker's reason, which is what the log should show)."""
    try:
        return offsets_data(admin.share_group_offsets(group_id))
    except KafkaError:
        return None


def reset_offsets(
    admin: ShareGroupAdmin,
    group_id: str,
    to: ResetTarget,
    *,
    actor: Actor,
    topics: Sequence[str] | None = None,
    dry_run: bool = False,
) -> ShareGroupOffsetsReset:
    """Move the group's SPSO (see :meth:`ShareGroupAdmin.reset_share_group_offsets`).

    The audit entry keeps the offsets read before and after, not just the requested ones.
    """
    if dry_run:
        return admin.reset_share_group_offsets(group_id, to, topics=topics, dry_run=True)
    parameters = {"to": target_data(to), "topics": list(topics) if topics else None}
    before = _offsets_or_none(admin, group_id)
    with audited(actor, Action.RESET_OFFSETS, group_id, parameters, before) as entry:
        result = admin.reset_share_group_offsets(group_id, to, topics=topics)
        entry.parameters["requested"] = {
            f"{partition.topic}:{partition.partition}": partition.after
            for partition in result.partitions
        }
        entry.after = _offsets_or_none(admin, group_id)
    return result


def delete_group(admin: ShareGroupAdmin, group_id: str, *, actor: Actor) -> None:
    """Delete the share group; the audit entry keeps the offsets it had."""
    before = _offsets_or_none(admin, group_id)
    with audited(actor, Action.DELETE_GROUP, group_id, {}, before):
        admin.delete_share_group(group_id)


def alter_config(
    admin: ShareGroupAdmin,
    group_id: str,
    changes: Mapping[str, str | None],
    *,
    actor: Actor,
    validate_only: bool = False,
) -> dict[str, dict[str, Any] | None]:
    """Set (or, for ``None``, restore to default) group configs; returns the new values of
    the changed names. ``validate_only`` asks the broker to check without changing."""
    names = sorted(changes)
    if validate_only:
        admin.alter_share_group_config(group_id, changes, validate_only=True)
        return config_values(admin.describe_share_group_config(group_id, include_all=True), names)
    parameters: dict[str, Any] = {"set": {k: v for k, v in changes.items() if v is not None}}
    parameters["unset"] = [name for name in names if changes[name] is None]
    before = config_values(admin.describe_share_group_config(group_id, include_all=True), names)
    with audited(actor, Action.ALTER_CONFIG, group_id, parameters, before) as entry:
        admin.alter_share_group_config(group_id, changes)
        entry.after = _configs_once_applied(admin, group_id, changes)
    return entry.after


#: How long the values read back after a change may lag it (seconds; KRaft brokers serve
#: configs from their metadata cache, which follows the controller's commit).
CONFIG_READ_BACK_SECONDS = 3.0


def _configs_once_applied(
    admin: ShareGroupAdmin, group_id: str, changes: Mapping[str, str | None]
) -> dict[str, dict[str, Any] | None]:
    """The changed names' values as the broker reports them once it reports the change
    (a value set, or a default restored), or as it last reported them after
    ``CONFIG_READ_BACK_SECONDS``: a describe right after the alter may still show the old
    ones, and the audit log and the output would say nothing changed."""
    names = sorted(changes)
    deadline = time.monotonic() + CONFIG_READ_BACK_SECONDS
    while True:
        values = config_values(admin.describe_share_group_config(group_id, include_all=True), names)
        if all(_shows(values[name], changes[name]) for name in names):
            return values
        if time.monotonic() >= deadline:
            return values
        time.sleep(0.05)


def _shows(value: dict[str, Any] | None, change: str | None) -> bool:
    """Whether a config read back reflects ``change`` (None: restored to its default)."""
    if change is None:
        return value is None or value["source"] != "GROUP_CONFIG"
    return value is not None and value["value"] == change and value["source"] == "GROUP_CONFIG"
