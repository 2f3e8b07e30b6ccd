"""Every event the runtime publishes: its name and the one payload shape it carries.

docs/events.md describes each in words; ``tests/unit/test_events.py`` checks the two agree.
A name missing here cannot be published on a strict bus (the test suite's), so a new event is
registered, typed and documented before it ships.
"""

from __future__ import annotations

from typing import Any, TypedDict


class ConsumerLifecycle(TypedDict):
    share_group: str
    client_id: str


class ConsumerError(TypedDict):
    share_group: str
    error: str
    exception: BaseException | None


class ConsumerFailed(TypedDict):
    share_group: str
    client_id: str
    error: str
    exception: BaseException


class ConsumerRestarted(TypedDict):
    share_group: str
    index: int
    attempt: int
    cause: str


class GroupDown(TypedDict):
    share_group: str
    seconds: float
    cause: str


class Poll(TypedDict):
    share_group: str
    records: int
    asked: int
    seconds: float
    delivery_counts: dict[int, int]


class Throttled(TypedDict):
    share_group: str


class AcquisitionSized(TypedDict):
    share_group: str
    records: int
    ms_per_record: float | None
    lock_ms: int
    workers: int
    renewing: bool
    whole_batches: bool


class AcquisitionExceeded(TypedDict):
    share_group: str
    asked: int
    received: int
    client: str


class RecordsFiltered(TypedDict):
    share_group: str
    topic: str
    count: int


class RecordsFailed(TypedDict):
    share_group: str
    topic: str
    stage: str
    records: str
    error: str
    action: str
    exception: BaseException


class RecordUndeserializable(TypedDict):
    share_group: str
    record: str
    error: str
    action: str


class JobStarted(TypedDict):
    share_group: str
    consumer: str
    size: int


class JobFinished(TypedDict):
    share_group: str
    consumer: str
    size: int
    acknowledgements: dict[str, int]
    #: ``consume`` with its transaction (atomic and idempotent jobs: claim and commit too)
    seconds: float


class JobsTimed(TypedDict):
    share_group: str
    consumer: str
    #: How long each job of this consumer class took (``seconds`` of its ``job.finished`` or
    #: ``job.errored``), for the jobs settled since the last such event.
    seconds: list[float]


class JobErrored(TypedDict):
    share_group: str
    consumer: str
    records: str
    released: int
    rejected: int
    exception: BaseException
    seconds: float


class JobUnacknowledged(TypedDict):
    share_group: str
    consumer: str
    records: str


class LockExpired(TypedDict):
    share_group: str
    consumer: str
    record: str
    processed: bool


class LocksExpired(TypedDict):
    share_group: str
    not_started: int
    processed: int
    records: str


class LockRenewed(TypedDict):
    share_group: str
    record: str


class AcksSent(TypedDict):
    share_group: str
    topic: str
    counts: dict[str, int]


class AcksFailed(TypedDict):
    share_group: str
    failures: list[Any]


class ReleaseDelayed(TypedDict):
    share_group: str
    record: str
    delay_ms: int


class ReleaseClamped(TypedDict):
    share_group: str
    record: str
    asked_ms: int
    honoured_ms: int


class ReleaseOverflow(TypedDict):
    share_group: str
    record: str


class DlqDispatched(TypedDict):
    share_group: str
    topic: str
    partition: int
    offset: int
    key: bytes | None
    headers: list[tuple[str, bytes | None]]
    payload: bytes | None
    delivery_count: int
    error_class: str | None
    error_message: str | None
    dlq_topic: str
    dlq_partition: int
    dlq_offset: int


class DlqFailed(TypedDict):
    share_group: str
    record: str
    dlq_topic: str
    error: str


class RecordArchived(TypedDict):
    share_group: str
    topic: str
    partition: int
    offset: int
    delivery_count: int
    reason: str
    error: str | None


class ProcessStarted(TypedDict):
    runner: Any


class ProcessQuiet(TypedDict):
    listeners: int


class ProcessShutdown(TypedDict):
    clean: bool
    still_running: list[str]
    listeners: int
    restarts: int
    failed: list[str]
    group_down: str | None
    exit_code: int


class BatchCorrupt(TypedDict):
    share_group: str
    topic: str
    partition: int
    base_offset: int
    last_offset: int
    error: str
    action: str
    offsets: list[int]


class SupervisorStarted(TypedDict):
    processes: int
    share_groups: list[str]
    probe: str | None


class ChildStarted(TypedDict):
    index: int
    pid: int
    launch: int


class ChildReady(TypedDict):
    index: int
    pid: int


class ChildExited(TypedDict):
    index: int
    pid: int
    exit_code: int
    expected: bool
    seconds: float


class ChildRestarting(TypedDict):
    index: int
    attempt: int
    delay: float


class SupervisorGaveUp(TypedDict):
    index: int
    deaths: int
    exit_code: int


class SupervisorStopping(TypedDict):
    reason: str
    signal: str
    to: list[int]


class RollingRestart(TypedDict):
    processes: list[int]


class SupervisorStopped(TypedDict):
    exit_code: int
    children: dict[int, int | None]


#: Event name → payload type.
EVENTS: dict[str, type] = {
    "consumer.started": ConsumerLifecycle,
    "consumer.stopped": ConsumerLifecycle,
    "consumer.error": ConsumerError,
    "consumer.failed": ConsumerFailed,
    "consumer.restarted": ConsumerRestarted,
    "group.down": GroupDown,
    "poll": Poll,
    "throttled": Throttled,
    "acquisition.sized": AcquisitionSized,
    "acquisition.exceeded": AcquisitionExceeded,
    "records.filtered": RecordsFiltered,
    "records.failed": RecordsFailed,
    "record.undeserializable": RecordUndeserializable,
    "job.started": JobStarted,
    "job.finished": JobFinished,
    "job.errored": JobErrored,
    "jobs.timed": JobsTimed,
    "job.unacknowledged": JobUnacknowledged,
    "lock.expired": LockExpired,
    "locks.expired": LocksExpired,
    "lock.renewed": LockRenewed,
    "acks.sent": AcksSent,
    "acks.failed": AcksFailed,
    "release.delayed": ReleaseDelayed,
    "release.clamped": ReleaseClamped,
    "release.overflow": ReleaseOverflow,
    "dlq.dispatched": DlqDispatched,
    "dlq.failed": DlqFailed,
    "record.archived": RecordArchived,
    "process.started": ProcessStarted,
    "process.quiet": ProcessQuiet,
    "process.shutdown": ProcessShutdown,
    "batch.corrupt": BatchCorrupt,
    "supervisor.started": SupervisorStarted,
    "supervisor.child_started": ChildStarted,
    "supervisor.child_ready": ChildReady,
    "supervisor.child_exited": ChildExited,
    "supervisor.child_restarting": ChildRestarting,
    "supervisor.gave_up": SupervisorGaveUp,
    "supervisor.stopping": SupervisorStopping,
    "supervisor.rolling_restart": RollingRestart,
    "supervisor.rolling_restart_finished": RollingRestart,
    "supervisor.stopped": SupervisorStopped,
}
