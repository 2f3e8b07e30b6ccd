"""``manage.py sharegroups_cleanup``: delete rows past their retention (run it from cron)."""

from django.core.management.base import BaseCommand, CommandError

from ...exceptions import ConfigurationError
from ...mirroring.retention import expired, purge


class Command(BaseCommand):
    help = (
        "Delete processed records older than SHAREGROUPS['PROCESSED_RECORD_RETENTION'], "
        "dead letters, archived records and processes older than MIRROR['retention'], "
        "per-minute rollups older than MIRROR['rollup_retention'], and leases of processes "
        "without a recent heartbeat."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--older-than",
            type=float,
            metavar="SECONDS",
            help="Use this age instead of every retention setting.",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Only count what would be deleted."
        )

    def handle(self, *args, **options):
        try:
            due = expired(older_than=options["older_than"])
        except ConfigurationError as exc:
            raise CommandError(str(exc)) from exc
        if options["dry_run"]:
            counts = {name: queryset.count() for name, queryset in due.items()}
            verb = "Would delete"
        else:
            counts = purge(due)
            verb = "Deleted"
        for name in sorted(counts):
            self.stdout.write(f"{verb} {counts[name]} {name} row(s)")
