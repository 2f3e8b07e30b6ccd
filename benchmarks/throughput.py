"""Throughput of `runshareconsumers` against hand-written consumers, on a real Kafka 4.4 broker.

``python -m benchmarks.throughput [--quick] [--only backlog,live,scaling,rss,orm,profile]``

Starts a broker (tests/services/kafka.py, ``--kafka-port``) unless ``KAFKA_BOOTSTRAP_SERVERS``
names one; uses PostgreSQL when ``DATABASE_URL`` does (the ORM part needs it), else SQLite.
Parts:

- ``backlog``: the workload is produced once; contenders alternate in rounds, each on a fresh
  share group — the hand-written confluent loop (reference), Java's ShareConsumerPerformance,
  ``runshareconsumers`` per_batch / per_message on the confluent and native adapters, and the
  native adapter without the engine;
- ``live``: a steady stream (1,000 records/s for 30 s), per_message on one instance against the
  loop: kept-up ratio, p50/p99 produce → consume;
- ``scaling``: 20 ms I/O-bound jobs, concurrency × workers_per_consumer up to 32;
- ``rss``: resident memory of `runshareconsumers` over 1,000,000 records;
- ``orm``: an idempotent consumer on PostgreSQL against a loop doing the same transactions;
- ``profile``: py-spy's top frames of `runshareconsumers` on a backlog (also ``--profile``);
- ``metrics``: per_batch with the Prometheus exporter on (``--metrics-port``, scraped every
  second, summary lines and the broker-offsets reader at their defaults) vs off (no port, no
  summary lines), with the loop, on a backlog: the exporter's cost in records/s and in CPU
  time per record.

Raw results go to docs/benchmarks-throughput.json (per part, so ``--only`` keeps the others) and
the section ``throughput`` of docs/benchmarks.md is rendered from them; ``--quick`` leaves docs/
alone and writes its page to the temporary directory.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from . import throughput_report as report
from .harness import ROOT, Bench, Contender, Outcome, record, stop
from .report import write_section

RESULTS = ROOT / "docs" / "benchmarks-throughput.json"
#: Where ``--quick`` writes its page (docs/ keeps the full run's numbers).
QUICK_PAGE = Path(tempfile.gettempdir()) / "sharegroups-throughput-quick.md"
PARTS = ("backlog", "live", "scaling", "rss", "orm", "profile", "metrics")
DEFAULT_PARTS = ("backlog", "live", "scaling", "rss", "orm", "metrics")

LOOP = Contender("loop", "loop")
BACKLOG = [
    LOOP,
    Contender("java", "java"),
    *(
        Contender(f"{builder} {client}", "engine", client, {"consumer": "noop", **route})
        for builder, route in (
            ("per_batch", {"builder": "per_batch", "per_job": 500}),
            ("per_message", {"builder": "per_message", "per_job": 1}),
        )
        for client in ("confluent", "native")
    ),
    Contender("native raw", "native"),
]
LABELS = {
    "loop": "hand-written `confluent_kafka.ShareConsumer` loop",
    "java": "Java `ShareConsumerPerformance` (kafka-tools 4.4.0)",
    "per_batch confluent": "`runshareconsumers`, per_batch(500), confluent adapter",
    "per_batch native": "`runshareconsumers`, per_batch(500), native adapter",
    "per_message confluent": "`runshareconsumers`, per_message, confluent adapter",
    "per_message native": "`runshareconsumers`, per_message, native adapter",
    "native raw": (
        "native adapter polled without the engine (6,000 per poll in whole batches, next poll"
        " prefetched, one acknowledge_all per poll)"
    ),
}
#: (concurrency, workers_per_consumer) of the I/O-bound part; > 3 instances = more than
#: partitions.
SCALING = [(1, 8), (1, 32), (4, 8), (8, 4), (32, 1)]
QUICK_SCALING = [(1, 8), (4, 2)]


class Sizes:
    """How much each part does: ``--quick`` for a smoke run, else the documented full run."""

    def __init__(self, quick: bool) -> None:
        self.mode = "quick" if quick else "full"
        self.rounds = 1 if quick else 3
        #: A million records: runs of seconds, as in a long-running process, not a transient
        #: of startup (docs/benchmarks.md, "Backlog").
        self.backlog = 20_000 if quick else 1_000_000
        self.budget = 5.0 if quick else 20.0
        self.live_rate, self.live_seconds = 1000, (5 if quick else 30)
        self.live_rounds = 1 if quick else 2
        self.scaling = QUICK_SCALING if quick else SCALING
        self.scaling_seconds = 1.5 if quick else 5.0
        self.scaling_rounds = 1 if quick else 2
        self.rss = 50_000 if quick else 1_000_000
        self.orm = 300 if quick else 2_000
        self.orm_budget = 5.0 if quick else 10.0
        self.profile_seconds = 5 if quick else 15
        self.profile_records = 50_000 if quick else 300_000
        self.metrics_rounds = 1 if quick else 9


def say(text: str) -> None:
    print(time.strftime("%H:%M:%S"), text, flush=True)


def describe(name: str, outcome: Outcome) -> str:
    if outcome.error or outcome.rate is None:
        return f"{name}: FAILED ({outcome.error or 'no time measured'})"
    cpu = f", {outcome.cpu / outcome.count * 1e6:.1f} CPU µs/record" if outcome.cpu else ""
    return f"{name}: {outcome.count:,} records, {outcome.rate:,.0f}/s{cpu}"


def as_dict(outcome: Outcome) -> dict:
    """What the page needs of an outcome (latency samples and RSS series are summarised)."""
    return {
        "count": outcome.count,
        "seconds": outcome.seconds,
        "cpu": outcome.cpu,
        "startup": outcome.startup,
        "error": outcome.error,
        "steady": report.steady_rate(outcome.completions),
    }


# -- parts --------------------------------------------------------------------------------------


def alternate(contenders: list[Contender], rounds: int, measure) -> list[dict]:
    """Each round runs every contender once, in the same order: ``measure(contender)``."""
    results = []
    for number in range(rounds):
        outcomes = {}
        for contender in contenders:
            outcome = measure(contender)
            say(f"round {number + 1}: {describe(contender.name, outcome)}")
            outcomes[contender.name] = as_dict(outcome)
        results.append(outcomes)
    return results


def backlog(bench: Bench, sizes: Sizes) -> dict:
    topic = bench.topic(3)
    say(f"producing {sizes.backlog:,} records to {topic}")
    bench.produce_backlog(topic, sizes.backlog)
    rounds = alternate(
        BACKLOG, sizes.rounds, lambda c: bench.measure(c, topic, sizes.backlog, sizes.budget)
    )
    return {
        "records": sizes.backlog,
        "budget": sizes.budget,
        "contenders": {c.name: LABELS[c.name] for c in BACKLOG},
        "rounds": rounds,
    }


def live_run(bench: Bench, contender: Contender, sizes: Sizes) -> dict:
    """One contender on a fresh topic: warm up until it consumes, then the steady stream."""
    topic = bench.topic(3)
    produced = sizes.live_rate * sizes.live_seconds
    process, run = bench.launch(contender, topic, 10**9, 10**9, latency=True)
    started = Path(run["result"]).with_suffix(".started")
    producer = bench.producer(**{"linger.ms": 1})
    try:
        deadline = time.monotonic() + 120
        while not started.exists():  # one record every 0.2 s until the contender has one
            if process.poll() is not None or time.monotonic() > deadline:
                return {"error": f"never consumed: {bench.log_tail(run)}"}
            producer.produce(topic, record(-1))
            producer.poll(0.2)
        producer.flush(10)
        begin = time.monotonic()
        for n in range(produced):
            delay = begin + n / sizes.live_rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            producer.produce(topic, record(n, ts=time.time()))
            producer.poll(0)
        producer.flush(10)
        produce_end = time.time()
        time.sleep(3.0)  # late records still count for latency; kept-up is judged at +1 s
    finally:
        code = stop(process)
    data = json.loads(Path(run["result"]).read_text()) if Path(run["result"]).exists() else {}
    stats = report.live_stats(data, produced, produce_end)
    stats["exit_code"] = code
    return stats


def live(bench: Bench, sizes: Sizes) -> dict:
    engine = Contender(
        "per_message", "engine", None, {"consumer": "live", "builder": "per_message"}
    )
    contenders = [Contender("loop", "loop"), engine]
    rounds, errors = [], []
    for number in range(sizes.live_rounds):
        stats = {}
        for contender in contenders:
            stats[contender.name] = live_run(bench, contender, sizes)
            say(f"live round {number + 1}: {contender.name}: {stats[contender.name]}")
        rounds.append({n: s for n, s in stats.items() if "error" not in s})
        errors += [
            f"round {number + 1}, {n}: {s['error']}" for n, s in stats.items() if "error" in s
        ]
    return {
        "errors": errors,
        "rate": sizes.live_rate,
        "seconds": sizes.live_seconds,
        "engine": engine.name,
        "contenders": {
            "loop": LABELS["loop"],
            engine.name: "`runshareconsumers`, per_message, one instance, default adapter "
            f"({bench.default_adapter})",
        },
        "rounds": rounds,
    }


def scaling(bench: Bench, sizes: Sizes) -> dict:
    job_ms = 20
    configs = [
        {"name": f"{c} × {w}", "concurrency": c, "workers": w, "parallel": c * w}
        for c, w in sizes.scaling
    ]
    rounds = []
    for number in range(sizes.scaling_rounds):
        outcomes = {}
        for config in configs:
            records = int(config["parallel"] * sizes.scaling_seconds / (job_ms / 1000))
            topic = bench.topic(3)
            bench.produce_backlog(topic, records)
            contender = Contender(
                config["name"],
                "engine",
                None,
                {
                    "consumer": "sleep",
                    "builder": "per_message",
                    "job_ms": job_ms,
                    "concurrency": config["concurrency"],
                    "workers": config["workers"],
                },
            )
            # A slow configuration is cut off at 3× its ideal time: its rate is known by then.
            outcome = bench.measure(contender, topic, records, 3 * sizes.scaling_seconds)
            say(f"scaling round {number + 1}: {describe(config['name'], outcome)}")
            outcomes[config["name"]] = as_dict(outcome)
        rounds.append(outcomes)
    return {
        "job_ms": job_ms,
        "adapter": bench.default_adapter,
        "ideal_seconds": sizes.scaling_seconds,
        "configs": configs,
        "rounds": rounds,
    }


def rss(bench: Bench, sizes: Sizes) -> dict:
    topic = bench.topic(3)
    say(f"producing {sizes.rss:,} records to {topic}")
    bench.produce_backlog(topic, sizes.rss)
    contender = Contender(
        "per_batch", "engine", None, {"consumer": "noop", "builder": "per_batch", "per_job": 500}
    )
    outcome = bench.measure(contender, topic, sizes.rss, 1200)
    say(f"rss: {describe('per_batch', outcome)}")
    return {
        "records": sizes.rss,
        "contender": f"per_batch(500), default adapter ({bench.default_adapter}), no-op consumer",
        "outcome": as_dict(outcome),
        "memory": report.rss_summary(outcome.rss, outcome.startup),
    }


def orm(bench: Bench, sizes: Sizes) -> dict | None:
    if not bench.postgres:
        say("orm: skipped, DATABASE_URL is not PostgreSQL")
        return None
    topic = bench.topic(3)
    bench.produce_backlog(topic, sizes.orm)
    contenders = [
        Contender("orm loop", "orm-loop"),
        Contender(
            "idempotent consumer", "engine", None, {"consumer": "orm", "builder": "per_message"}
        ),
    ]
    rounds = alternate(
        contenders, sizes.rounds, lambda c: bench.measure(c, topic, sizes.orm, sizes.orm_budget)
    )
    return {
        "records": sizes.orm,
        "database": "PostgreSQL",
        "contenders": {
            "orm loop": "hand-written loop, one transaction per record",
            "idempotent consumer": "`runshareconsumers`, per_message, `idempotent = True`, "
            f"default adapter ({bench.default_adapter})",
        },
        "rounds": rounds,
    }


def profile(bench: Bench, sizes: Sizes) -> dict | None:
    if shutil.which("py-spy") is None:
        say("profile: skipped, py-spy is not installed (pip install py-spy)")
        return None
    records = sizes.profile_records
    topic = bench.topic(3)
    bench.produce_backlog(topic, records)
    contender = Contender(
        "per_batch", "engine", None, {"consumer": "noop", "builder": "per_batch", "per_job": 500}
    )
    process, run = bench.launch(contender, topic, 10**9, 10**9)
    started = Path(run["result"]).with_suffix(".started")
    output = Path(tempfile.mkdtemp()) / "profile.txt"
    try:
        deadline = time.monotonic() + 120
        while not started.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        command = ["py-spy", "record", "--pid", str(process.pid), "--format", "raw"]
        command += ["--duration", str(sizes.profile_seconds), "--rate", "200"]
        command += ["--output", str(output), "--nonblocking", "--threads"]
        subprocess.run(command, capture_output=True, check=True)
    finally:
        stop(process)
    collapsed = output.read_text().replace(run["group"], "GROUP")
    frames, threads, samples = report.top_frames(collapsed)
    prefixes = [str(ROOT) + "/", *(p + "/" for p in sys.path if p.endswith("-packages"))]
    for prefix in prefixes:
        frames = [(frame.replace(prefix, ""), share) for frame, share in frames]
    return {
        "contender": f"per_batch(500), default adapter ({bench.default_adapter}), no-op consumer",
        "seconds": sizes.profile_seconds,
        "samples": samples,
        "frames": frames,
        "threads": threads,
    }


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Scraper(threading.Thread):
    """Scrapes ``/metrics`` every ``interval`` s (as Prometheus would, more often than the usual
    15-60 s), so the exporter's scrape-time work is part of what is measured."""

    def __init__(self, port: int, interval: float = 1.0) -> None:
        super().__init__(name="scraper", daemon=True)
        self.url, self.interval = f"http://127.0.0.1:{port}/metrics", interval
        self.stopped = threading.Event()
        self.scrapes = 0

    def run(self) -> None:
        from urllib.request import urlopen

        while not self.stopped.wait(self.interval):
            try:
                with urlopen(self.url, timeout=5) as answer:
                    if b"sharegroups_records_received_total" in answer.read():
                        self.scrapes += 1
            except OSError:
                pass  # between contenders nothing listens


def metrics(bench: Bench, sizes: Sizes) -> dict:
    topic = bench.topic(3)
    say(f"producing {sizes.backlog:,} records to {topic}")
    bench.produce_backlog(topic, sizes.backlog)
    port = free_port()
    route = {"consumer": "noop", "builder": "per_batch", "per_job": 500}
    contenders = [
        LOOP,
        Contender("exporter off", "engine", None, {**route, "summary_interval": 0}),
        Contender("exporter on", "engine", None, {**route, "args": ["--metrics-port", str(port)]}),
    ]
    scraper = Scraper(port)
    scraper.start()
    rounds = []
    try:
        for number in range(sizes.metrics_rounds):
            # on and off swap places every round, so neither always follows the other
            order = contenders if number % 2 == 0 else [LOOP, contenders[2], contenders[1]]
            outcomes = {}
            for contender in order:
                outcome = bench.measure(contender, topic, sizes.backlog, sizes.budget)
                say(f"round {number + 1}: {describe(contender.name, outcome)}")
                outcomes[contender.name] = as_dict(outcome)
            rounds.append(outcomes)
    finally:
        scraper.stopped.set()
    return {
        "records": sizes.backlog,
        "budget": sizes.budget,
        "scrapes": scraper.scrapes,
        "own_costs": exporter_own_costs(bench.bootstrap),
        "contenders": {
            "loop": LABELS["loop"],
            "exporter off": "`runshareconsumers`, per_batch(500), default adapter "
            f"({bench.default_adapter}), no metrics port, `SUMMARY_INTERVAL` 0",
            "exporter on": "the same with `--metrics-port` (scraped every second), summary "
            "lines and the broker-offsets reader at their defaults (60 s, 30 s)",
        },
        "rounds": rounds,
    }


def exporter_own_costs(bootstrap: str) -> dict:
    """What the exporter's parts cost on their own, in this process (resolvable where the
    contenders' records/s are not): the listeners per record at 500 and 1 records per job
    (benchmarks/metrics.py), the CPU of one scrape over HTTP and of one broker-offsets read of
    a share group this part consumed with."""
    from prometheus_client import start_http_server

    from django_sharegroups.clients.base import ReceivedRecord
    from django_sharegroups.instrumentation import EventBus
    from django_sharegroups.instrumentation.offsets import OffsetsReader
    from django_sharegroups.instrumentation.prometheus import OffsetsCollector
    from django_sharegroups.kafka.admin import ShareGroupAdmin

    from .metrics import accepted, instrument, job_events, listener_cost

    listeners = {str(size): listener_cost(size) for size in (500, 1)}  # str: as JSON has it
    bus = EventBus()
    metrics = instrument(bus, "g")
    records = [ReceivedRecord("t", 0, n, None, b"") for n in range(500)]
    acknowledgements = accepted(records)
    for _ in range(100):
        job_events(bus, records, acknowledgements)
    with ShareGroupAdmin({"bootstrap.servers": bootstrap}) as admin:
        groups = [g.group_id for g in admin.list_share_groups() if g.group_id.startswith("bench")]
    reader = OffsetsReader(groups[-1:], 30, kafka={"bootstrap.servers": bootstrap})
    reader.read_all()  # connects
    started = time.process_time()
    for _ in range(20):
        reader.read_all()
    read_ms = (time.process_time() - started) / 20 * 1000
    metrics.registry.register(OffsetsCollector(reader))
    # A scrape over HTTP, as Prometheus makes it: this process serves, another one asks.
    port = free_port()
    start_http_server(port, addr="127.0.0.1", registry=metrics.registry)
    client = "import urllib.request as u\nfor _ in range(200): u.urlopen(%r).read()"
    started = time.process_time()
    subprocess.run([sys.executable, "-c", client % f"http://127.0.0.1:{port}/metrics"], check=True)
    scrape_ms = (time.process_time() - started) / 200 * 1000
    reader.stop()
    return {
        "listener_us": listeners,
        "scrape_ms": scrape_ms,
        "read_ms": read_ms,
        "partitions_read": sum(len(o) for o in reader.latest.values()),
    }


RUNNERS = {
    "backlog": backlog,
    "live": live,
    "scaling": scaling,
    "rss": rss,
    "orm": orm,
    "profile": profile,
    "metrics": metrics,
}

# -- the page -----------------------------------------------------------------------------------


def commit() -> str:
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()

    dirty = git("status", "--porcelain", "--", "django_sharegroups", "benchmarks")
    return git("rev-parse", "--short", "HEAD") + (" (with uncommitted changes)" if dirty else "")


def machine() -> str:
    model = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    import confluent_kafka

    return (
        f"{model}, {os.cpu_count()} cores, {memory:.0f} GiB, {platform.system()} "
        f"{platform.release()}; Python {platform.python_version()}, confluent-kafka "
        f"{confluent_kafka.__version__} (librdkafka {confluent_kafka.libversion()[0]}), "
        "Kafka 4.4.0 (one KRaft node on the same machine), Java "
        f"{java_version()}. Shared with other work: see the load averages."
    )


def java_version() -> str:
    result = subprocess.run(["java", "-version"], capture_output=True, text=True)
    first = (result.stderr or result.stdout).splitlines()[:1]
    return first[0].split('"')[1] if first and '"' in first[0] else "unknown"


def load_results(quick: bool) -> dict:
    if quick:  # a smoke run never replaces the page's numbers
        return {}
    return json.loads(RESULTS.read_text()) if RESULTS.exists() else {}


def publish(results: dict, quick: bool) -> None:
    page = report.render(results, machine())
    if quick:
        QUICK_PAGE.write_text(page)
        return
    RESULTS.write_text(json.dumps(results, indent=1) + "\n")
    write_section("throughput", page)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="small sizes, one round (smoke); docs/ untouched"
    )
    parser.add_argument(
        "--only",
        default=",".join(DEFAULT_PARTS),
        help=f"comma-separated parts of {', '.join(PARTS)} (default: all but profile)",
    )
    parser.add_argument(
        "--rounds", type=int, default=None, help="rounds of the backlog and orm parts (default 3)"
    )
    parser.add_argument("--profile", action="store_true", help="also record a py-spy profile")
    parser.add_argument("--kafka-port", type=int, default=19092, help="port of a started broker")
    args = parser.parse_args(argv)
    parts = [p.strip() for p in args.only.split(",") if p.strip()]
    if args.profile and "profile" not in parts:
        parts.append("profile")
    unknown = set(parts) - set(PARTS)
    if unknown:
        parser.error(f"unknown part(s) {', '.join(sorted(unknown))}; choose from {PARTS}")
    sizes = Sizes(args.quick)
    if args.rounds:
        sizes.rounds = args.rounds
    command = "python -m benchmarks.throughput " + " ".join(argv or sys.argv[1:])
    bench = Bench(os.environ.get("KAFKA_BOOTSTRAP_SERVERS"), args.kafka_port)
    results = load_results(args.quick)
    try:
        for part in parts:
            say(f"-- {part} ({sizes.mode})")
            load = os.getloadavg()[0]
            began = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
            started = time.monotonic()
            data = RUNNERS[part](bench, sizes)
            if data is None:
                continue
            data["meta"] = {
                "command": command.strip(),
                "when": began,
                "commit": commit(),
                "mode": sizes.mode,
                "load": [load, os.getloadavg()[0]],
                "seconds": round(time.monotonic() - started),
            }
            results[part] = data
            publish(
                results, args.quick
            )  # after each part, so an interrupted run keeps what it measured
            say(f"-- {part} took {data['meta']['seconds']} s")
    finally:
        bench.close()
        shutil.rmtree(bench.workdir, ignore_errors=True)
    if args.quick:
        say(f"quick mode: docs untouched, the page is in {QUICK_PAGE}")
    for goal in report.goals(results):
        print(f"#{goal.issue} {goal.what}: {goal.measured} — {goal.verdict}")


if __name__ == "__main__":
    threading.current_thread().name = "throughput"
    main()
