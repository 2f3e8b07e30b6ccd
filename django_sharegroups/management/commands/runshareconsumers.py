"""``manage.py runshareconsumers``: run the declared share groups until SIGTERM/SIGINT."""

from django.core.management.base import BaseCommand, CommandError

from ...exceptions import ConfigurationError
from ...runtime.runner import ShareConsumerRunner
from ...runtime.selection import select_share_groups


class Command(BaseCommand):
    help = "Consume the declared share groups: one thread per share-consumer instance."

    def add_arguments(self, parser):
        parser.add_argument(
            "--group", action="append", default=[], metavar="NAME", help="Run only this group."
        )
        parser.add_argument(
            "--exclude-group", action="append", default=[], metavar="NAME", help="Skip it."
        )
        parser.add_argument(
            "--demo",
            action="store_true",
            help="Feed the in-memory broker sample records (SHAREGROUPS['DEMO_RECORDS']).",
        )

    def handle(self, *args, **options):
        try:
            groups = select_share_groups(options["group"], options["exclude_group"])
            runner = ShareConsumerRunner(groups)
            if options["demo"]:
                from ...runtime.demo import start_demo

                start_demo(runner)
            exit_code = runner.run()
        except ConfigurationError as exc:
            raise CommandError(str(exc)) from exc
        if exit_code:
            reason = f": {runner.group_down}" if runner.group_down is not None else "."
            raise CommandError(
                f"Share consumers stopped with exit code {exit_code}{reason}", returncode=exit_code
            )
