"""``manage.py runshareconsumers``: run the declared share groups until SIGTERM/SIGINT."""

import logging
import os
from argparse import ArgumentTypeError

from django.core.management.base import BaseCommand, CommandError

from ...conf import ShareGroupsSettings, get_settings
from ...exceptions import ConfigurationError
from ...instrumentation import events
from ...instrumentation.counts import EventCounts
from ...instrumentation.summary import SummaryLogger
from ...kafka.errors import KafkaError
from ...kafka.hints import connection_hint
from ...runtime.process_identity import process_index
from ...runtime.runner import ShareConsumerRunner
from ...runtime.selection import select_share_groups
from ...runtime.supervisor import supervise


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
        parser.add_argument(
            "--processes",
            type=positive_int,
            metavar="N",
            help="Run N worker processes under a supervisor (default: SHAREGROUPS['PROCESSES']).",
        )
        parser.add_argument(
            "--probe",
            metavar="HOST:PORT",
            help="Serve the supervisor's /live and /ready here (docs/deployment.md).",
        )

    def handle(self, *args, **options):
        log_to_console(options["verbosity"])
        if supervised(options):
            return self.handle_supervised(options)
        try:
            groups = select_share_groups(options["group"], options["exclude_group"])
            runner = ShareConsumerRunner(groups)
            counts = EventCounts()  # what the endpoint and the summary lines read
            names = [group.name for group in groups]
            if serve_metrics(options["metrics_port"], runner.settings, counts, names) or (
                runner.settings.summary_interval > 0
            ):
                counts.subscribe(events)
            if runner.settings.summary_interval > 0:
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
        except KafkaError as exc:  # unreachable, TLS or SASL mismatch: found at preflight
            hint = connection_hint(exc)
            raise CommandError(f"{exc}. {hint}" if hint else str(exc)) from exc
        if exit_code:
            reason = f": {runner.group_down}" if runner.group_down is not None else "."
            raise CommandError(
                f"Share consumers stopped with exit code {exit_code}{reason}", returncode=exit_code
            )

    def handle_supervised(self, options) -> None:
        """``--processes N`` (or a probe): the supervisor starts N children (docs/capacity.md)."""
        if options["demo"]:
            raise CommandError("--demo feeds an in-memory broker, which lives in one process.")
        try:
            groups = select_share_groups(options["group"], options["exclude_group"])
            settings = get_settings()
            processes = options["processes"] or settings.processes
            port = options["metrics_port"]
            if port is not None or settings.metrics_port is not None:
                serve_supervisor_metrics(
                    port, settings, processes, [group.name for group in groups]
                )
            exit_code = supervise(
                [group.name for group in groups],
                processes,
                probe=options["probe"],
            )
        except ConfigurationError as exc:
            raise CommandError(str(exc)) from exc
        if exit_code:
            raise CommandError(
                f"Supervisor stopped with exit code {exit_code}.", returncode=exit_code
            )


def positive_int(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise ArgumentTypeError(f"must be a whole number of at least 1, not {value!r}")
    return int(value)


def supervised(options) -> bool:
    """More than one process, or a probe: the supervisor runs (``--processes 1`` alone: not).
    A supervised child runs this command too, unsupervised."""
    if process_index() is not None:
        return False
    settings = get_settings()
    processes = options["processes"] or settings.processes
    return processes > 1 or bool(options["probe"] or settings.supervisor.probe)


#: The supervisor's metrics port, for its children (they serve on the ports after it).
CHILD_METRICS_PORT = "SHAREGROUPS_SUPERVISOR_METRICS_PORT"


def _prometheus():
    try:
        from ...instrumentation import prometheus
    except ImportError as exc:
        raise ConfigurationError(
            f"Metrics need prometheus-client ({exc}): pip install 'django-sharegroups[metrics]'."
        ) from exc
    return prometheus


def _bind_error(address: str, port: int | None, exc: OSError) -> ConfigurationError:
    return ConfigurationError(f"Cannot serve metrics on {address}:{port}: {exc.strerror or exc}.")


def offsets_reader(settings: ShareGroupsSettings, groups: list[str]):
    """The broker-offsets reader of the process that serves /metrics, or None when the
    interval is 0 or there is no Kafka to ask (the in-memory broker)."""
    if settings.metrics_offsets_interval <= 0 or not settings.bootstrap_servers:
        return None
    if settings.client == "memory":
        return None
    from ...instrumentation.offsets import OffsetsReader

    return OffsetsReader(groups, settings.metrics_offsets_interval, kafka=settings.kafka)


def serve_supervisor_metrics(
    port: int | None, settings: ShareGroupsSettings, processes: int, groups: list[str]
):
    """``--processes N``: one endpoint adding up the children's (each on a port of its own
    after this one, loopback only), plus the broker's offsets read here."""
    port = settings.metrics_port if port is None else port
    os.environ[CHILD_METRICS_PORT] = str(port)  # the children inherit the environment
    prometheus, offsets = _prometheus(), offsets_reader(settings, groups)
    try:
        prometheus.start_supervisor_exporter(port, settings.metrics_address, processes, offsets)
    except OSError as exc:
        raise _bind_error(settings.metrics_address, port, exc) from exc
    if offsets is not None:
        offsets.start()
    logging.getLogger("django_sharegroups").info(
        "Metrics of %d processes on http://%s:%d/metrics", processes, settings.metrics_address, port
    )


def serve_metrics(
    port: int | None, settings: ShareGroupsSettings, counts: EventCounts, groups: list[str]
) -> bool:
    """Start the Prometheus endpoint when a port is given (option first, then the setting);
    a supervised child serves on its own port for the supervisor to read (the supervisor
    reads the broker's offsets, not its children)."""
    port = settings.metrics_port if port is None else port
    index = process_index()
    if index is not None:
        port = int(os.environ[CHILD_METRICS_PORT]) if CHILD_METRICS_PORT in os.environ else None
    if port is None:
        return False
    prometheus, address = _prometheus(), settings.metrics_address
    offsets = None
    if index is not None:
        port, address = prometheus.child_port(port, index), "127.0.0.1"
    else:
        offsets = offsets_reader(settings, groups)
    try:
        prometheus.start_exporter(port, address, counts=counts, offsets=offsets)
    except OSError as exc:
        raise _bind_error(address, port, exc) from exc
    if offsets is not None:
        offsets.start()
    logging.getLogger("django_sharegroups").info("Metrics on http://%s:%d/metrics", address, port)
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
