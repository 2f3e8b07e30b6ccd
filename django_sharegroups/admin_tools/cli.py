"""The subcommands of ``manage.py sharegroups``: each returns a :class:`Report`, data for
``--json`` and text for people; the command only parses options and prints."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TextIO

from ..kafka import ShareGroupAdmin, SharePartitionOffsets
from . import actions, serialize
from .overview import (
    ResetRow,
    format_assignment,
    format_host,
    load_overview,
    reset_rows,
    summarize,
    total_lag,
)
from .tables import render_fields, render_table
from .targets import parse_config_changes, parse_reset_target, parse_topics
from .top import read_frame, render, rows

Confirm = Callable[[str, str], bool]
"""``confirm(plan, question)``: show what is about to happen and ask; ``True`` to go ahead."""


class Cancelled(Exception):
    """The person at the terminal answered no."""


@dataclass(frozen=True)
class Report:
    data: Any
    text: str


def terminal_confirmation(stdin: TextIO, stdout: TextIO, interactive: bool) -> Confirm:
    """Ask on a terminal (unless ``--no-input``); scripts and pipes are never prompted."""

    def confirm(plan: str, question: str) -> bool:
        if not interactive or not stdin.isatty():
            return True
        stdout.write(f"{plan}\n\n{question} [y/N] ")
        stdout.flush()
        return stdin.readline().strip().lower() in ("y", "yes")

    return confirm


def _offsets_table(offsets: list[SharePartitionOffsets]) -> str:
    table = render_table(
        ["topic", "partition", "spso", "log end", "lag"],
        [
            (entry.topic, entry.partition, entry.start_offset, entry.log_end_offset, entry.lag)
            for entry in offsets
        ],
    )
    return f"{table}\n\nTotal lag: {_cell(total_lag(offsets))}" if offsets else "No partitions."


def _cell(value: object) -> str:
    return "-" if value is None else str(value)


def _reset_table(rows: list[ResetRow]) -> str:
    return render_table(
        ["topic", "partition", "spso before", "spso after", "log end", "lag before", "lag after"],
        [
            (r.topic, r.partition, r.before, r.after, r.log_end_offset, r.lag_before, r.lag_after)
            for r in rows
        ],
    )


def list_groups(admin: ShareGroupAdmin, options: Mapping[str, Any], **_: Any) -> Report:
    summaries = summarize(admin, admin.list_share_groups(options.get("state") or ()))
    rows = [(s.group_id, s.state, s.members, s.total_lag) for s in summaries]
    text = render_table(["share group", "state", "members", "lag"], rows) if rows else ""
    count = f"{len(rows)} share group{'s' if len(rows) != 1 else ''}"
    return Report(serialize.summaries_data(summaries), f"{text}\n\n{count}".lstrip())


def describe(admin: ShareGroupAdmin, options: Mapping[str, Any], **_: Any) -> Report:
    overview = load_overview(admin, options["name"], with_configs=False)
    description = overview.description
    header = render_fields(
        [
            ("Share group", description.group_id),
            ("State", description.state),
            ("Group epoch", description.group_epoch),
            ("Assignment epoch", description.assignment_epoch),
            ("Assignor", description.assignor_name),
            ("Members", len(description.members)),
            ("Total lag", overview.total_lag),
        ]
    )
    members = (
        render_table(
            ["member id", "client id", "host", "subscribed", "assigned"],
            [
                (
                    member.member_id,
                    member.client_id,
                    format_host(member.client_host),
                    ", ".join(member.subscribed_topic_names),
                    format_assignment(member.assignment),
                )
                for member in description.members
            ],
        )
        if description.members
        else "No members."
    )
    text = f"{header}\n\n{members}\n\n{_offsets_table(overview.offsets)}"
    return Report(serialize.overview_data(overview), text)


def offsets(admin: ShareGroupAdmin, options: Mapping[str, Any], **_: Any) -> Report:
    entries = admin.share_group_offsets(options["name"])
    return Report(serialize.group_offsets_data(options["name"], entries), _offsets_table(entries))


def reset_offsets(
    admin: ShareGroupAdmin,
    options: Mapping[str, Any],
    *,
    actor: actions.Actor,
    confirm: Confirm,
) -> Report:
    name = options["name"]
    target = parse_reset_target(options["to"])
    topics = parse_topics(options.get("topic"))
    dry_run = options.get("dry_run", False)
    current = admin.share_group_offsets(name)
    plan = actions.reset_offsets(admin, name, target, actor=actor, topics=topics, dry_run=True)
    if not dry_run:
        table = _reset_table(reset_rows(plan, current))
        if not confirm(table, f"Reset the offsets of share group {name!r}?"):
            raise Cancelled("Reset cancelled; no offsets changed.")
        plan = actions.reset_offsets(admin, name, target, actor=actor, topics=topics)
    rows = reset_rows(plan, current)
    if not plan.partitions:
        text = f"Share group {name!r} has no partitions to reset."
    elif dry_run:
        text = f"Dry run, no offsets changed. Share group {name!r} would move:\n\n"
        text += _reset_table(rows)
    else:
        text = f"Reset the offsets of share group {name!r}:\n\n{_reset_table(rows)}"
    return Report(serialize.reset_data(plan, rows), text)


def delete(
    admin: ShareGroupAdmin,
    options: Mapping[str, Any],
    *,
    actor: actions.Actor,
    confirm: Confirm,
) -> Report:
    name = options["name"]
    description = admin.describe_share_group(name)
    plan = f"Share group {name!r} ({description.state}, {len(description.members)} members)"
    if not confirm(plan, "Delete it, with its offsets on every partition?"):
        raise Cancelled("Delete cancelled; the share group is unchanged.")
    actions.delete_group(admin, name, actor=actor)
    return Report({"group_id": name, "deleted": True}, f"Deleted share group {name!r}.")


def config(
    admin: ShareGroupAdmin,
    options: Mapping[str, Any],
    *,
    actor: actions.Actor,
    confirm: Confirm,
) -> Report:
    name = options["name"]
    changes = parse_config_changes(options.get("set") or (), options.get("unset") or ())
    if not changes:
        configs = admin.describe_share_group_config(name, include_all=options.get("all", False))
        table = render_table(
            ["config", "value", "source"],
            [(entry.name, entry.value, entry.source) for entry in configs.values()],
        )
        return Report({"group_id": name, "configs": serialize.configs_data(configs)}, table)
    dry_run = options.get("dry_run", False)
    planned = "\n".join(
        f"  {key} = {value}" if value is not None else f"  {key} -> default"
        for key, value in sorted(changes.items())
    )
    if not dry_run and not confirm(planned, f"Change these configs of {name!r}?"):
        raise Cancelled("Config change cancelled; nothing changed.")
    result = actions.alter_config(admin, name, changes, actor=actor, validate_only=dry_run)
    rows: list[tuple[str, Any, Any]] = []
    for key in sorted(changes):
        current = result.get(key) or {}
        if dry_run:
            rows.append((key, current.get("value"), changes[key] or "(default)"))
        else:
            rows.append((key, current.get("value"), current.get("source")))
    headers = (
        ["config", "current value", "would become"] if dry_run else ["config", "value", "source"]
    )
    intro = (
        f"Dry run: the broker accepts these changes to {name!r}; nothing changed."
        if dry_run
        else f"Changed configs of share group {name!r}:"
    )
    data = {"group_id": name, "dry_run": dry_run, "changes": changes, "configs": result}
    return Report(data, f"{intro}\n\n{render_table(headers, rows)}")


def top_frames(admin: ShareGroupAdmin, options: Mapping[str, Any]) -> Iterator[Report]:
    """Frames ``--interval`` seconds apart, each with the rates since the one before (the
    first read only sets the baseline)."""
    if options["interval"] <= 0:
        raise ValueError("--interval must be more than 0 seconds.")
    names = options.get("names") or ()
    previous = read_frame(admin, names)
    while True:
        time.sleep(options["interval"])
        frame = read_frame(admin, names)
        frame_rows = rows(frame, previous)
        stamp = datetime.now().strftime("%H:%M:%S")
        text = f"{stamp}  every {options['interval']:g} s\n\n{render(frame_rows)}"
        yield Report({"partitions": frame_rows}, text)
        previous = frame


def top(admin: ShareGroupAdmin, options: Mapping[str, Any], **_: Any) -> Report:
    """One frame (``--once``); the command refreshes it in place otherwise."""
    return next(top_frames(admin, options))


def audit(admin: ShareGroupAdmin, options: Mapping[str, Any], **_: Any) -> Report:
    from .accounting import account, totals

    accounts = account(admin, options["name"], from_offset=options.get("from_offset"))
    rows = [
        (
            a.topic,
            a.partition,
            f"{a.first_offset}-{a.log_end_offset}",
            a.spso,
            a.accepted,
            a.dead_lettered,
            ", ".join(f"{reason} {count}" for reason, count in sorted(a.archived.items())),
            len(a.unaccounted),
            a.pending,
            a.lag,
            a.in_flight,
        )
        for a in accounts
    ]
    headers = ["topic", "partition", "offsets", "spso", "accepted", "dead-lettered"]
    headers += ["archived (reason)", "unaccounted", "pending", "lag", "in flight"]
    total = totals(accounts)
    summary = render_fields(
        [
            ("Settled below the SPSO", total["settled"]),
            ("Accepted (ProcessedRecord)", total["accepted"]),
            ("Dead-lettered (DeadLetter)", total["dead_lettered"]),
            (
                "Archived with reason",
                ", ".join(f"{r} {n}" for r, n in sorted(total["archived"].items())) or 0,
            ),
            ("Unaccounted (below the SPSO, no row)", total["unaccounted"]),
            ("Pending (from the SPSO on, no row)", total["pending"]),
            ("Not settled yet (lag)", total["lag"]),
        ]
    )
    unaccounted = [
        f"  {a.topic}[{a.partition}]: {', '.join(map(str, a.unaccounted[:20]))}"
        + (" ..." if len(a.unaccounted) > 20 else "")
        for a in accounts
        if a.unaccounted
    ]
    text = f"{render_table(headers, rows)}\n\n{summary}"
    if unaccounted:
        text += "\n\nUnaccounted offsets:\n" + "\n".join(unaccounted)
    data = {"group_id": options["name"], "partitions": [a.data() for a in accounts], **total}
    return Report(data, text)


def dead_letter_queue(
    admin: ShareGroupAdmin,
    options: Mapping[str, Any],
    *,
    actor: actions.Actor,
    confirm: Confirm,
) -> Report:
    """Show or change the group's broker-side DLQ (KIP-1191) as named fields."""
    from ..broker_dlq import settings as names
    from ..broker_dlq.setup import dead_letter_queue_configs, set_dead_letter_queue
    from ..conf import get_settings
    from ..kafka.topics import broker_configs, topic_configs, topic_exists

    name = options["name"]
    topic, copy_record, off = options.get("topic"), options.get("copy_record"), options.get("off")
    cluster = broker_configs(admin, [names.TOPIC_PREFIX, names.AUTO_CREATE])
    prefix = cluster.get(names.TOPIC_PREFIX) or ""
    if off or topic or copy_record is not None:
        current = dead_letter_queue_configs(admin, name)
        target = None if off else topic or current.get(names.TOPIC_NAME)
        if not off and not target:
            raise ValueError("The group has no DLQ topic yet: name one with --topic.")
        plan = "switch the DLQ off" if off else f"DLQ topic {target}, copy record {copy_record}"
        if not confirm(plan, f"Change the dead-letter queue of {name!r}?"):
            raise Cancelled("DLQ change cancelled; nothing changed.")
        set_dead_letter_queue(
            admin, name, target, copy_record, prefix, get_settings(), actor, current
        )
    current = dead_letter_queue_configs(admin, name)
    dlq_topic = current.get(names.TOPIC_NAME) or None
    exists = dlq_topic is not None and topic_exists(admin, dlq_topic)
    opted_in = (
        exists
        and dlq_topic is not None
        and topic_configs(admin, dlq_topic, [names.TOPIC_ENABLE]).get(names.TOPIC_ENABLE) == "true"
    )
    data = {
        "group_id": name,
        "topic": dlq_topic,
        "copy_record": current.get(names.COPY_RECORD) == "true",
        "topic_exists": exists,
        "topic_opted_in": opted_in,
        "broker_topic_prefix": prefix,
        "broker_auto_create": cluster.get(names.AUTO_CREATE) == "true",
        "share_version": admin.finalized_features().get("share.version", 0),
    }
    text = render_fields(
        [
            ("Share group", name),
            ("DLQ topic", dlq_topic or "(none: the broker DLQ is off)"),
            ("Copy record", "yes" if data["copy_record"] else "no (headers only)"),
            ("Topic exists", "yes" if exists else "no"),
            (f"Topic has {names.TOPIC_ENABLE}", "yes" if opted_in else "no"),
            ("Broker's required prefix", prefix or "(none)"),
            ("Broker creates DLQ topics", "yes" if data["broker_auto_create"] else "no"),
            ("share.version", data["share_version"]),
        ]
    )
    return Report(data, text)


SUBCOMMANDS: dict[str, Callable[..., Report]] = {
    "top": top,
    "list": list_groups,
    "describe": describe,
    "offsets": offsets,
    "reset-offsets": reset_offsets,
    "delete": delete,
    "config": config,
    "audit": audit,
    "dlq": dead_letter_queue,
}


def run(
    admin: ShareGroupAdmin,
    options: Mapping[str, Any],
    *,
    actor: actions.Actor | None = None,
    confirm: Confirm | None = None,
) -> Report:
    """Run the subcommand named by ``options["subcommand"]``."""
    return SUBCOMMANDS[options["subcommand"]](
        admin,
        options,
        actor=actor or actions.Actor.os_user(),
        confirm=confirm or terminal_confirmation(sys.stdin, sys.stdout, False),
    )
