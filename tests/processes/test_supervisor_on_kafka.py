"""``runshareconsumers --processes N`` on a real Kafka 4.4 broker, as a subprocess.

Each test starts real supervisors (``manage.py``), which spawn real children; records are
produced only once every child is consuming (the probe's ``/ready``), so the broker has all
members when the work arrives.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from django_sharegroups.kafka import ShareGroupAdmin

from ..helpers import assigned, wait_assigned, wait_for
from .conftest import accepted, coordinates, produce_spread

pytestmark = pytest.mark.kafka


def test_three_processes_share_the_group_each_record_accepted_once(
    kafka_bootstrap_servers, share_topic, supervised
):
    total = 150
    name = share_topic(partitions=3)
    supervisor = supervised(name, 3, PROCESSES_JOB_SECONDS=0.02)
    status = supervisor.wait_ready()
    assert [child["state"] for child in status["children"]] == ["running"] * 3
    assert supervisor.get("/live")[0] == 200
    assert supervisor.get("/nothing-here")[0] == 404
    members = wait_assigned(kafka_bootstrap_servers, name, 3).members
    for index in range(3):  # the broker sees the child index in the client ids
        assert sum(m.client_id.endswith(f"-p{index}-{name}-0") for m in members) == 1

    produce_spread(kafka_bootstrap_servers, name, total, 3)
    wait_for(lambda: len(coordinates(accepted(supervisor.log))) >= total, timeout=120)
    assert supervisor.stop() == 0, supervisor.output

    rows = accepted(supervisor.log)
    counts = coordinates(rows)
    assert len(counts) == total and set(counts.values()) == {1}, "each record accepted once"
    assert {index for *_, index in rows} == {0, 1, 2}, "every process did some of the work"
    assert {pid for _, _, pid, _ in rows} == {child["pid"] for child in status["children"]}
    output = supervisor.output
    for index in range(3):  # the child index is in log lines and client ids
        assert f"[process {index}/3] {name}: " in output
        assert f"-p{index}-{name}-0 started" in output
    assert output.count("Shutdown: {'clean': True") == 3, output


def test_two_supervisors_standing_for_two_hosts_share_one_group(
    kafka_bootstrap_servers, share_topic, supervised
):
    total = 200
    name = share_topic(partitions=4)
    hosts = [
        supervised(name, 2, log_name=f"host-{n}.log", PROCESSES_JOB_SECONDS=0.02) for n in (1, 2)
    ]
    pids = [{child["pid"] for child in host.wait_ready()["children"]} for host in hosts]
    wait_assigned(kafka_bootstrap_servers, name, 4)

    produce_spread(kafka_bootstrap_servers, name, total, 4)

    def all_rows():
        return [row for host in hosts for row in accepted(host.log)]

    wait_for(lambda: len(coordinates(all_rows())) >= total, timeout=120)
    assert [host.stop() for host in hosts] == [0, 0], [host.output for host in hosts]

    counts = coordinates(all_rows())
    assert len(counts) == total and set(counts.values()) == {1}, "each record accepted once"
    for host, children in zip(hosts, pids, strict=True):
        assert {pid for _, _, pid, _ in accepted(host.log)} == children, "all four processes worked"


def test_a_killed_child_is_restarted_and_nothing_is_lost(
    kafka_bootstrap_servers, share_topic, supervised
):
    total, later = 120, 40
    # the killed child's records come back when their acquisition lock runs out
    name = share_topic(partitions=2, share_record_lock_duration_ms=3000)
    supervisor = supervised(name, 2, PROCESSES_JOB_SECONDS=0.05)
    victim = supervisor.wait_ready()["children"][0]["pid"]
    members = {m.member_id for m in wait_assigned(kafka_bootstrap_servers, name, 2).members}
    produce_spread(kafka_bootstrap_servers, name, total, 2)
    wait_for(lambda: any(pid == victim for _, _, pid, _ in accepted(supervisor.log)), timeout=60)

    os.kill(victim, signal.SIGKILL)
    # not ready while a child is missing (it takes seconds to restart and join again)
    wait_for(lambda: supervisor.get("/ready")[0] == 503, timeout=60, interval=0.1)
    replaced = wait_for(
        lambda: (
            (child := supervisor.status()["children"][0])["pid"] not in (victim, None)
            and child["state"] == "running"
            and child
        ),
        timeout=180,
        interval=0.5,
    )
    assert replaced["restarts"] == 1 and replaced["last_exit_code"] == -signal.SIGKILL
    wait_for(lambda: len(coordinates(accepted(supervisor.log))) >= total, timeout=120)
    # The survivor may have taken everything the victim left; once the broker has dropped the
    # victim's member (session timeout) and given the replacement a partition, more records.
    with ShareGroupAdmin({"bootstrap.servers": kafka_bootstrap_servers}) as admin:

        def rejoined():
            description = assigned(admin, name, 2)
            current = description and {m.member_id for m in description.members}
            return current and len(current & members) == 1

        wait_for(rejoined, timeout=120, interval=0.5)
    produce_spread(kafka_bootstrap_servers, name, later, 2)
    total += later
    wait_for(lambda: len(coordinates(accepted(supervisor.log))) >= total, timeout=120)
    assert supervisor.stop() == 0, supervisor.output

    assert len(coordinates(accepted(supervisor.log))) == total, "nothing lost"
    assert f"(pid {victim}) died with exit code -9" in supervisor.output
    assert "Process 0: restart in 0.2 s (death 1 in a row)" in supervisor.output
    after = {pid for _, _, pid, index in accepted(supervisor.log) if index == 0} - {victim}
    assert after == {replaced["pid"]}, "the replacement consumed"


def test_sigterm_to_the_supervisor_drains_every_child_and_exits_0(
    kafka_bootstrap_servers, share_topic, supervised, tmp_path
):
    total = 60
    name = share_topic(partitions=3)
    first = supervised(name, 3, log_name="first.log", PROCESSES_JOB_SECONDS=0.5)
    first.wait_ready()
    wait_assigned(kafka_bootstrap_servers, name, 3)
    produce_spread(kafka_bootstrap_servers, name, total, 3)
    wait_for(lambda: len({index for *_, index in accepted(first.log)}) == 3, timeout=60)

    assert first.stop(signal.SIGTERM) == 0, first.output
    output = first.output
    for index in range(3):
        assert f"[process {index}/3] SIGTERM received: stopping after the running jobs" in output
    assert output.count("Shutdown: {'clean': True, 'still_running': []") == 3, output
    assert "Supervisor stopped with exit code 0" in output
    first_run = coordinates(accepted(first.log))
    assert 3 <= len(first_run) < total

    # what the first supervisor had not accepted was released: a second one gets all of it
    second = supervised(name, 2, log_name="second.log")
    wait_for(lambda: len(first_run) + len(accepted(second.log)) >= total, timeout=180)
    assert second.stop() == 0, second.output
    second_run = coordinates(accepted(second.log))
    assert not set(first_run) & set(second_run), "accepted records were delivered again"
    assert set(first_run.values()) | set(second_run.values()) == {1}
    assert len(first_run) + len(second_run) == total


def test_sighup_replaces_each_child_without_losing_its_records(
    kafka_bootstrap_servers, share_topic, supervised
):
    total = 80
    name = share_topic(partitions=2)
    supervisor = supervised(name, 2, PROCESSES_JOB_SECONDS=0.2)
    supervisor.wait_ready()
    wait_assigned(kafka_bootstrap_servers, name, 2)
    old = set(supervisor.child_pids())
    produce_spread(kafka_bootstrap_servers, name, total, 2)
    wait_for(lambda: len(accepted(supervisor.log)) >= 4, timeout=60)

    supervisor.process.send_signal(signal.SIGHUP)
    wait_for(lambda: "Rolling restart finished" in supervisor.output, timeout=240, interval=0.5)
    new = set(supervisor.child_pids())
    assert not new & old and len(new) == 2
    wait_for(lambda: len(coordinates(accepted(supervisor.log))) >= total, timeout=120)
    assert supervisor.stop() == 0, supervisor.output

    counts = coordinates(accepted(supervisor.log))
    assert len(counts) == total and set(counts.values()) == {1}, "drained, not dropped"
    assert supervisor.output.count("Shutdown: {'clean': True") == 4, supervisor.output


def test_a_child_that_keeps_dying_makes_the_supervisor_give_up(
    kafka_bootstrap_servers, share_topic, supervised
):
    # one child under a supervisor (a probe asks for one even with --processes 1)
    name = share_topic(share_record_lock_duration_ms=2000)
    supervisor = supervised(name, 1, PROCESSES_RESTART_LIMIT=2)
    supervisor.wait_ready()
    produce_spread(kafka_bootstrap_servers, name, 1, 1, crash=True)

    assert supervisor.stop(signum=None, timeout=240) == 1, supervisor.output
    output = supervisor.output
    assert output.count("died with exit code 3") == 3, output
    assert "Process 0 died 3 times in a row (last exit code 3): giving up" in output
    assert "Supervisor stopped with exit code 1" in output


def gone(pid: int) -> bool:
    """Exited (a zombie waiting for its new parent to reap it counts as exited)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state in ("Z", "X")


def test_children_of_a_killed_supervisor_stop_by_themselves(share_topic, supervised):
    name = share_topic(partitions=2)
    supervisor = supervised(name, 2)
    children = [child["pid"] for child in supervisor.wait_ready()["children"]]

    supervisor.process.kill()
    assert supervisor.stop(signum=None) == -signal.SIGKILL
    wait_for(lambda: all(gone(pid) for pid in children), timeout=60)
    supervisor.reader.join(30)  # the children held the output pipe until they exited
    assert supervisor.output.count("The supervisor (pid") == 2, supervisor.output
    assert supervisor.output.count("Shutdown: {'clean': True") == 2, supervisor.output
