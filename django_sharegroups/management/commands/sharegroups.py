"""``manage.py sharegroups``: list, describe and administer the cluster's share groups."""

import argparse
import json
import sys

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from ...admin_tools import cli, serialize
from ...admin_tools.actions import Actor
from ...admin_tools.client import open_admin
from ...admin_tools.targets import RESET_TARGET_HELP
from ...exceptions import ConfigurationError
from ...kafka import KafkaError


class Command(BaseCommand):
    help = (
        "Administer the share groups of the Kafka cluster in SHAREGROUPS['KAFKA']: list, "
        "describe, offsets, reset-offsets, delete, config. Resets, deletes and config changes "
        "are written to the share-group audit log."
    )

    def add_arguments(self, parser):
        subcommands = parser.add_subparsers(dest="subcommand", required=True, metavar="COMMAND")

        def add(name: str, help_text: str, *, named: bool = True, dangerous: bool = False):
            subparser = subcommands.add_parser(name, help=help_text, description=help_text)
            if named:
                subparser.add_argument("name", metavar="NAME", help="Share group name.")
            subparser.add_argument(
                "--json", action="store_true", help="Print JSON instead of tables."
            )
            if dangerous:
                subparser.add_argument(
                    "--no-input",
                    "--noinput",
                    action="store_false",
                    dest="interactive",
                    help="Do not ask for confirmation on a terminal.",
                )
            return subparser

        listing = add("list", "List the cluster's share groups with members and lag.", named=False)
        listing.add_argument(
            "--state",
            action="append",
            metavar="STATE",
            help="Only groups in this state (Empty, Stable, Dead); repeatable.",
        )
        top = add(
            "top",
            "Groups and partitions with SPSO, lag, rates, in-flight and archived counts, "
            "refreshed in place (Ctrl-C ends).",
            named=False,
        )
        top.add_argument("names", nargs="*", metavar="NAME", help="Only these share groups.")
        top.add_argument(
            "--interval", type=float, default=2.0, help="Seconds between frames (default 2)."
        )
        top.add_argument(
            "--once", action="store_true", help="Print one frame (rates over one interval)."
        )
        add("describe", "State, epochs, members and their assignments, offsets and lag.")
        add("offsets", "Per partition: start offset (SPSO), log end offset, lag.")
        reset = add(
            "reset-offsets", "Move the share-partition start offset (SPSO).", dangerous=True
        )
        reset.add_argument("--to", required=True, metavar="TARGET", help=RESET_TARGET_HELP)
        reset.add_argument(
            "--topic",
            action="append",
            metavar="TOPIC",
            help="Only these topics (repeatable); also covers partitions the group has not "
            "started on yet.",
        )
        reset.add_argument(
            "--dry-run", action="store_true", help="Show the new offsets, change nothing."
        )
        add("delete", "Delete the share group (refused while it has members).", dangerous=True)
        config = add(
            "config", "Show the group's configs, or change them with --set/--unset.", dangerous=True
        )
        config.add_argument(
            "--set", action="append", metavar="NAME=VALUE", help="Set a config; repeatable."
        )
        config.add_argument(
            "--unset",
            action="append",
            metavar="NAME",
            help="Restore a config to its default; repeatable.",
        )
        config.add_argument(
            "--all", action="store_true", help="Show every group config, not only share ones."
        )
        config.add_argument(
            "--dry-run", action="store_true", help="Let the broker validate, change nothing."
        )

        audit = add(
            "audit",
            "After an incident: per partition, records settled by the broker (below the SPSO) "
            "as accepted, dead-lettered, archived with a reason, or unaccounted.",
        )
        audit.add_argument(
            "--from-offset",
            type=int,
            metavar="OFFSET",
            help="Start every partition here instead of at its log start offset.",
        )

        dlq = add(
            "dlq",
            "Show the group's broker-side dead-letter queue (KIP-1191), or change it.",
            dangerous=True,
        )
        dlq.add_argument(
            "--topic", metavar="TOPIC", help="DLQ topic (created when missing; broker prefix)."
        )
        dlq.add_argument(
            "--copy-record",
            action=argparse.BooleanOptionalAction,
            default=None,
            help="Copy key and value into the DLQ record (replay needs them).",
        )
        dlq.add_argument("--off", action="store_true", help="Switch the group's broker DLQ off.")

    def handle(self, *args, **options):
        confirm = cli.terminal_confirmation(sys.stdin, sys.stdout, options.get("interactive", True))
        try:
            with open_admin() as admin:
                if options["subcommand"] == "top" and not options["once"]:
                    return self.refresh(admin, options)
                report = cli.run(admin, options, actor=Actor.os_user(), confirm=confirm)
        except DatabaseError as error:
            raise CommandError(
                f"{error} (the audit log needs the database: has `manage.py migrate` run?)"
            ) from error
        except (ConfigurationError, KafkaError, ValueError, cli.Cancelled) as error:
            if options["json"]:
                self.stdout.write(json.dumps(serialize.error_data(error), indent=2))
            hint = serialize.error_data(error)["hint"]
            raise CommandError(f"{error}\n{hint}" if hint else str(error)) from error
        self.write(report, options)

    def write(self, report: cli.Report, options) -> None:
        if options["json"]:
            self.stdout.write(json.dumps(report.data, indent=2))
        else:
            self.stdout.write(report.text)

    def refresh(self, admin, options) -> None:
        """``top``: redraw every interval (JSON: one document per frame) until Ctrl-C."""
        try:
            for report in cli.top_frames(admin, options):
                if not options["json"] and self.stdout.isatty():
                    self.stdout.write("\x1b[H\x1b[2J", ending="")
                self.write(report, options)
                self.stdout.flush()
        except KeyboardInterrupt:
            pass
