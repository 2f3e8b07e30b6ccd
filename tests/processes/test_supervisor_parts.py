"""The supervisor's parts without a broker: settings, identity, exit codes, the probe."""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import re
import signal
import urllib.error
import urllib.request

import pytest
from django.core.management import CommandError, call_command

from django_sharegroups.conf import ShareGroupsSettings, get_settings
from django_sharegroups.exceptions import ConfigurationError
from django_sharegroups.mirroring import writers
from django_sharegroups.runtime import process_identity
from django_sharegroups.runtime.probe import ProbeServer
from django_sharegroups.runtime.supervisor import Child, Supervisor
from django_sharegroups.runtime.supervisor_settings import SupervisorSettings


def test_restart_backoff_doubles_per_death_in_a_row_up_to_its_cap():
    options = SupervisorSettings(restart_backoff=1.0, restart_backoff_max=5.0)
    assert [options.backoff(deaths) for deaths in range(1, 6)] == [1.0, 2.0, 4.0, 5.0, 5.0]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"retries": 3}, "Unknown SHAREGROUPS['SUPERVISOR'] key(s): retries"),
        ({"probe": "8001"}, "Probe address '8001' is not host:port"),
        ({"restart_limit": 0}, "restart_limit must be ≥ 1"),
        ("fast", "must be a dict"),
    ],
)
def test_bad_supervisor_settings_are_refused_with_the_reason(value, message):
    with pytest.raises(ConfigurationError, match=re.escape(message)):
        SupervisorSettings.from_setting(value)


def test_processes_and_supervisor_come_from_the_sharegroups_setting(settings):
    settings.SHAREGROUPS = {"PROCESSES": 3, "SUPERVISOR": {"probe": "127.0.0.1:0"}}
    resolved = get_settings()
    assert resolved.processes == 3
    assert resolved.supervisor.probe == "127.0.0.1:0"


def test_the_in_memory_broker_cannot_be_shared_by_processes():
    with pytest.raises(ConfigurationError, match="in-memory broker lives inside one process"):
        Supervisor(["orders"], 2, settings=ShareGroupsSettings(client="memory"))


def test_demo_is_refused_with_processes():
    with pytest.raises(CommandError, match="--demo feeds an in-memory broker"):
        call_command("runshareconsumers", "--demo", "--processes", "2")


@pytest.mark.parametrize(
    ("exit_code", "consumed", "outcome"),
    [
        (0, True, 0),
        (2, True, 2),  # a child's shutdown timed out
        (1, True, 1),  # a child lost a listener
        (-signal.SIGKILL, True, 2),  # killed after its stop timeout: it held records
        (-signal.SIGTERM, False, 0),  # stopped before it ever consumed
        (None, False, 0),  # never started (the supervisor stopped first)
    ],
)
def test_a_childs_last_exit_decides_its_part_of_the_exit_code(exit_code, consumed, outcome):
    child = Child(0, exit_code=exit_code, consumed=consumed)
    assert Supervisor._outcome(child) == outcome


@pytest.fixture
def child_index():
    """Make this process look like supervised child 2 of 3 for one test."""
    factory = logging.getLogRecordFactory()
    name = multiprocessing.current_process().name
    process_identity.set_process_index(2, 3)
    yield 2
    process_identity._index = None
    multiprocessing.current_process().name = name
    logging.setLogRecordFactory(factory)


def test_a_child_index_goes_into_client_ids_and_log_lines(child_index, caplog):
    assert "-p2-orders-0" in process_identity.client_id("orders", 0)
    with caplog.at_level(logging.INFO, logger="django_sharegroups"):
        logging.getLogger("django_sharegroups.runtime").info("hello %s", "there")
        logging.getLogger("elsewhere").warning("untouched")
    assert "[process 2/3] hello there" in caplog.messages
    assert caplog.records[0].processName == "sharegroups-process-2"
    assert "untouched" in caplog.messages


def test_without_a_supervisor_client_ids_have_no_child_index():
    assert process_identity.process_index() is None
    assert process_identity.client_id("orders", 1).endswith(f"-{os.getpid()}-orders-1")


@pytest.mark.django_db
def test_a_childs_consumer_process_row_carries_its_index(child_index):
    from django.utils import timezone

    from django_sharegroups.models import ConsumerProcess

    pk = writers.register_process(["orders"], 2, timezone.now())
    row = ConsumerProcess.objects.get(pk=pk)
    assert row.process_index == 2
    assert str(row).endswith("(process 2)")


def fetch(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=10) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_the_probe_answers_live_and_ready_from_the_status_it_is_given():
    state = {"live": True, "ready": False, "children": []}
    probe = ProbeServer("127.0.0.1", 0, lambda: dict(state))
    probe.start()
    try:
        assert fetch(probe.url + "live") == (200, state)
        assert fetch(probe.url + "ready")[0] == 503
        state["ready"] = True
        assert fetch(probe.url + "ready")[0] == 200
        state["live"] = False
        assert fetch(probe.url + "live")[0] == 503
        assert fetch(probe.url + "status")[0] == 200
        assert fetch(probe.url + "metrics")[0] == 404
    finally:
        probe.stop()


def test_processes_must_be_at_least_one(settings):
    with pytest.raises(CommandError, match="must be a whole number of at least 1, not '0'"):
        call_command("runshareconsumers", "--processes", "0")
    settings.SHAREGROUPS = {"PROCESSES": 0}
    with pytest.raises(ConfigurationError, match=r"SHAREGROUPS\['PROCESSES'\] must be"):
        get_settings()


def test_bad_supervisor_settings_fail_the_system_checks(settings):
    from django_sharegroups.routing.checks import _check_settings

    settings.SHAREGROUPS = {"SUPERVISOR": {"probe": "localhost"}}
    errors = list(_check_settings())
    assert [error.id for error in errors] == ["sharegroups.E009"]
    assert "Probe address 'localhost' is not host:port" in errors[0].msg
