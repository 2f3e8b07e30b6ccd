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
