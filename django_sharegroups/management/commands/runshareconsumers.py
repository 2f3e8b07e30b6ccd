"""``manage.py runshareconsumers``: run the declared share groups until SIGTERM/SIGINT."""

import logging

from django.core.management.base import BaseCommand, CommandError

from ...conf import ShareGroupsSettings
from ...exceptions import ConfigurationError
from ...instrumentation import events
from ...instrumentation.counts import EventCounts
from ...instrumentation.summary import SummaryLogger
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
        parser.add_argument(
            "--records",
            type=int,
            metavar="N",
            help="With --demo: stop producing after N records.",
        )
        parser.add_argument(
            "--exit-when-done",
            action="store_true",
            help="With --demo --records N: exit once every record is settled.",
        )
        parser.add_argument(
            "--metrics-port",
            type=int,
            metavar="PORT",
            help="Serve Prometheus metrics on this port (default: SHAREGROUPS['METRICS_PORT']).",
        )

    def handle(self, *args, **options):
        log_to_console(options["verbosity"])
        try:
            groups = select_share_groups(options["group"], options["exclude_group"])
            runner = ShareConsumerRunner(groups)
            counts = EventCounts()  # what the endpoint and the summary lines read
            if serve_metrics(options["metrics_port"], runner.settings, counts) or (
                runner.settings.summary_interval > 0
            ):
                counts.subscribe(events)
            if runner.settings.summary_interval > 0:
                names = [group.name for group in groups]
                SummaryLogger(counts, runner.settings.summary_interval, names).start()
            if options["demo"]:
                from ...runtime.demo import start_demo

                start_demo(
                    runner, records=options["records"], exit_when_done=options["exit_when_done"]
                )
            elif options["records"] is not None or options["exit_when_done"]:
                raise ConfigurationError("--records and --exit-when-done work with --demo only.")
            exit_code = runner.run()
        except ConfigurationError as exc:
            raise CommandError(str(exc)) from exc
        if exit_code:
            raise CommandError(
                f"Share consumers stopped with exit code {exit_code}.", returncode=exit_code
            )


def serve_metrics(port: int | None, settings: ShareGroupsSettings, counts: EventCounts) -> bool:
    """Start the Prometheus endpoint when a port is given (option first, then the setting)."""
    port = settings.metrics_port if port is None else port
    if port is None:
        return False
    try:
        from ...instrumentation.prometheus import start_exporter
    except ImportError as exc:
        raise ConfigurationError(
            f"Metrics need prometheus-client ({exc}): pip install 'django-sharegroups[metrics]'."
        ) from exc
    try:
        start_exporter(port, settings.metrics_address, counts=counts)
    except OSError as exc:
        raise ConfigurationError(
            f"Cannot serve metrics on {settings.metrics_address}:{port}: {exc.strerror or exc}."
        ) from exc
    logging.getLogger("django_sharegroups").info(
        "Metrics on http://%s:%d/metrics", settings.metrics_address, port
    )
    return True


#: ``--verbosity`` → level of the ``django_sharegroups`` logger when the project set none.
VERBOSITY_LEVELS = {0: logging.WARNING, 1: logging.INFO}


def log_to_console(verbosity: int) -> None:
    """A project that configured no logging for ``django_sharegroups`` still sees what the
    process does (started instances, archives, shutdown) on stderr, as ``runserver`` shows its
    requests; a project's own LOGGING setting always wins."""
    logger = logging.getLogger("django_sharegroups")
    if logger.handlers or logger.level != logging.NOTSET or logging.getLogger().handlers:
        return
    handler = logging.StreamHandler()
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)-7s %(threadName)s %(name)s: %(message)s")
    )
    logger.addHandler(handler)
    logger.setLevel(VERBOSITY_LEVELS.get(verbosity, logging.DEBUG))
