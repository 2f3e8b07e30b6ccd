"""``manage.py runshareconsumers``: run the declared share groups until SIGTERM/SIGINT."""

from argparse import ArgumentTypeError

from django.core.management.base import BaseCommand, CommandError

from ...exceptions import ConfigurationError
from ...kafka.errors import KafkaError
from ...kafka.hints import connection_hint
from ...runtime.console_log import log_to_console
from ...runtime.launch import Launch, run_here, run_supervised


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
        launch = Launch.from_options(options)
        try:
            if launch.supervised():
                exit_code, who, why = run_supervised(launch), "Supervisor", "."
            else:
                exit_code, reason = run_here(launch)
                who, why = "Share consumers", f": {reason}" if reason else "."
        except ConfigurationError as exc:
            raise CommandError(str(exc)) from exc
        except KafkaError as exc:  # unreachable, TLS or SASL mismatch: found at preflight
            hint = connection_hint(exc)
            raise CommandError(f"{exc}. {hint}" if hint else str(exc)) from exc
        if exit_code:
            raise CommandError(
                f"{who} stopped with exit code {exit_code}{why}", returncode=exit_code
            )


def positive_int(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise ArgumentTypeError(f"must be a whole number of at least 1, not {value!r}")
    return int(value)
