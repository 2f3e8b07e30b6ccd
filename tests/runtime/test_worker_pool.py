"""The worker pool wakes its listener only when the listener has something to do."""

from __future__ import annotations

import threading
import time

from django_sharegroups.runtime.workers import JobResult, RenewRequest, WorkerPool

from ..helpers import wait_for


def blocking_pool(*gated: str) -> tuple[WorkerPool, dict[str, threading.Event], list[str]]:
    """One worker; the jobs named in ``gated`` wait for their event before finishing."""
    gates = {name: threading.Event() for name in gated}
    started: list[str] = []

    def run_job(job: str, state: dict) -> str:
        started.append(job)
        if job in gates:
            gates[job].wait(30)
        return job

    return WorkerPool(1, "test", run_job, threading.Event()), gates, started


def jobs_of(items: list) -> list[str]:
    return [item.job for item in items if isinstance(item, JobResult)]


def test_a_job_finished_while_others_are_queued_waits_for_the_listener_to_wake() -> None:
    pool, gates, started = blocking_pool("first", "second")
    for job in ("first", "second", "third"):
        pool.submit(job)
    try:
        wait_for(lambda: started == ["first"])
        gates["first"].set()  # finishes with "second" and "third" still queued: no wake-up
        wait_for(lambda: started == ["first", "second"])
        before = time.monotonic()
        assert jobs_of(pool.wait(0.3)) == ["first"]  # handed over when the wait timed out
        assert time.monotonic() - before >= 0.3
        assert pool.free_slots() == 0  # "second" and "third" are still in flight

        gates["second"].set()  # "third" then ends with nothing queued: the listener wakes
        items: list = []
        wait_for(lambda: items.extend(pool.wait(30)) or len(jobs_of(items)) == 2, timeout=60)
        assert jobs_of(items) == ["second", "third"]
        assert pool.in_flight == 0 and pool.free_slots() == 1
    finally:
        for gate in gates.values():
            gate.set()
        pool.close()


def test_a_renew_request_wakes_the_listener_at_once() -> None:
    pool, gates, started = blocking_pool("first")
    pool.submit("first")
    pool.submit("second")
    try:
        wait_for(lambda: started == ["first"])
        request = RenewRequest(record="record")
        threading.Thread(target=pool.post, args=(request,)).start()
        before = time.monotonic()
        items = pool.wait(30)
        while not items:  # the poster may not have run yet when the wait began
            items = pool.wait(30)
        assert items == [request]
        assert time.monotonic() - before < 20  # woken, not timed out
    finally:
        gates["first"].set()
        pool.close()


def recording(ran_by: dict[str, str], gates: dict[str, threading.Event]):
    """A ``run_job`` that notes which thread ran each job; gated jobs wait for their event."""

    def run(job: str, state: dict) -> str:
        ran_by[job] = threading.current_thread().name
        if job in gates:
            gates[job].wait(30)
        return job

    return run


def test_an_idle_pool_runs_the_jobs_queued_at_a_sibling_and_hands_them_back() -> None:
    """Instances of one group in one process lend idle workers: the busy pool's queued jobs
    run on the idle pool's worker, with the busy pool's ``run_job``, and come back to the
    busy pool (its in-flight count and its settling)."""
    lending: list[WorkerPool] = []
    gate, ran_by = threading.Event(), {}
    busy_run = recording(ran_by, {"slow": gate})

    def idle_run(job: str, state: dict) -> str:
        raise AssertionError("the idle pool got no jobs of its own")

    busy = WorkerPool(1, "busy", busy_run, threading.Event(), lending)
    idle = WorkerPool(1, "idle", idle_run, threading.Event(), lending)
    try:
        assert lending == [busy, idle]
        for job in ("slow", "a", "b", "c"):
            busy.submit(job)
        wait_for(lambda: {"a", "b", "c"} <= set(ran_by))
        assert {ran_by[job] for job in "abc"} == {"idle:worker0"}
        assert ran_by["slow"] == "busy:worker0"
        gate.set()
        items: list = []
        wait_for(lambda: items.extend(busy.drain()) or len(jobs_of(items)) == 4)
        assert sorted(jobs_of(items)) == ["a", "b", "c", "slow"]
        assert busy.in_flight == 0 and idle.in_flight == 0 and idle.drain() == []
    finally:
        gate.set()
        busy.close()
        idle.close()
    assert lending == []


def test_without_lending_a_pool_keeps_its_jobs() -> None:
    gate, ran_by = threading.Event(), {}
    run = recording(ran_by, {"slow": gate})
    busy = WorkerPool(1, "busy", run, threading.Event())
    idle = WorkerPool(1, "idle", run, threading.Event())
    try:
        busy.submit("slow")
        busy.submit("a")
        time.sleep(0.3)  # many lending intervals: nobody takes "a"
        assert ran_by == {"slow": "busy:worker0"}
    finally:
        gate.set()
        busy.close()
        idle.close()


def test_with_lending_free_slots_count_the_siblings_idle_workers() -> None:
    """A member whose partitions still have records fetches for the workers of those whose
    partitions ran dry: their idle workers count, its own jobs they run do not."""
    lending: list[WorkerPool] = []
    gates = {"slow": threading.Event(), "lent": threading.Event()}
    ran_by: dict[str, str] = {}
    run = recording(ran_by, gates)
    busy = WorkerPool(1, "busy", run, threading.Event(), lending)
    idle = WorkerPool(1, "idle", run, threading.Event(), lending)
    try:
        wait_for(lambda: busy.free_slots() == 2)  # its own worker and the idle sibling's
        busy.submit("slow")
        busy.submit("lent")
        wait_for(lambda: set(ran_by) == {"slow", "lent"})
        assert ran_by["lent"] == "idle:worker0"
        assert busy.in_flight == 2 and busy.free_slots() == 0  # both workers busy
        gates["lent"].set()
        wait_for(lambda: busy.drain() is not None and busy.in_flight == 1)
        wait_for(lambda: busy.free_slots() == 1)  # the sibling's worker is idle again
        gates["slow"].set()
        wait_for(lambda: busy.drain() is not None and busy.in_flight == 0)
        wait_for(lambda: busy.free_slots() == 2)
    finally:
        for gate in gates.values():
            gate.set()
        busy.close()
        idle.close()
